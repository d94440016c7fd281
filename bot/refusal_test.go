package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// postedCard waits for the approval card and returns its request id and ts.
func (f *fixture) postedCard(t *testing.T) (id, ts string) {
	t.Helper()
	card := f.slack.WaitNth(t, 20*time.Second, "the approval card", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.ThreadTS == "" && c.Buttons()[ActionApprove] != ""
	})
	return card.Buttons()[ActionApprove], card.TS
}

func (f *fixture) click(t *testing.T, user, ts, actionID, id string) {
	t.Helper()
	body := slackfake.BlockAction(team, user, channel, ts, actionID, id, "")
	if code, out := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/interactions", testSecret, time.Now(), body)); code != http.StatusOK {
		t.Fatalf("click %s by %s: %d %s", actionID, user, code, out)
	}
}

// refusals returns "actor verb" of the refused entries of request id.
func (f *fixture) refusals(t *testing.T, id string) []string {
	t.Helper()
	recs, err := f.audit.Entries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Event == approval.EventRefused {
			out = append(out, r.Actor+" "+string(r.Data))
		}
	}
	return out
}

// A self-approval click, a cancel by someone not allowed and an undo of a
// request that has not run are in the audit log, not only in the JSON log.
func TestRefusalsThroughSlackAreAudited(t *testing.T) {
	f := newFixture(t, stubEngine{})
	if code, r := f.slash(t, requester, "deny-delete --all attacker deleting snapshots"); code != http.StatusOK {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	id, ts := f.postedCard(t)
	f.click(t, requester, ts, ActionApprove, id)
	f.slash(t, requester, "undo "+id+" roll back")
	f.slash(t, requester, "undo ks-00000000 roll back")
	deadline := time.Now().Add(10 * time.Second)
	for len(f.refusals(t, id)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := strings.Join(f.refusals(t, id), "\n")
	for _, want := range []string{
		requester + ` {"refusal":"you cannot approve your own request; ask another approver","verb":"approve"}`,
		requester + ` {"refusal":"request ` + id + ` has not run (it is pending)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("audit refusals of %s:\n%s\nwant %s", id, got, want)
		}
	}
	for len(f.refusals(t, "ks-00000000")) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.refusals(t, "ks-00000000"); len(got) != 1 || !strings.Contains(got[0], "not found") {
		t.Errorf("the undo of an unknown request: %v", got)
	}
	if r, _ := f.st.GetRequest(context.Background(), id); r == nil || r.State != store.Pending {
		t.Errorf("the request after refusals: %+v", r)
	}
}
