package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// otherTeamClick is a correctly signed click whose team is the configured
// workspace but whose user belongs to userTeam (a Slack Connect channel).
func otherTeamClick(t *testing.T, f *fixture, user, userTeam, ts, actionID, id string) {
	t.Helper()
	form, err := url.ParseQuery(slackfake.BlockAction(team, user, channel, ts, actionID, id, f.slack.HookURL(user)))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
		t.Fatal(err)
	}
	p["user"].(map[string]any)["team_id"] = userTeam
	raw, _ := json.Marshal(p)
	body := url.Values{"payload": {string(raw)}}.Encode()
	if code, out := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/interactions", testSecret, time.Now(), body)); code != http.StatusOK {
		t.Fatalf("click: %d %s", code, out)
	}
}

// TestSlackConnectUserCannotDecide: in a shared channel the click's team
// is the configured workspace, but the clicking user's team is another
// one: the approval (or rejection) is refused, audited, and the user is
// told why; the request stays pending, and an approver of the workspace
// can still approve it.
func TestSlackConnectUserCannotDecide(t *testing.T) {
	f := newFixture(t, stubEngine{})
	if code, r := f.slash(t, requester, "deny-delete --all attacker deleting snapshots"); code != http.StatusOK {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	id, ts := f.postedCard(t)
	for _, action := range []string{ActionApprove, ActionReject} {
		otherTeamClick(t, f, approver, "T0OTHER", ts, action, id)
	}
	hook := f.slack.WaitNth(t, 10*time.Second, "the refusal", 1, func(c slackfake.Call) bool {
		return c.Method == slackfake.ResponseURL && c.Hook == approver
	})
	if !strings.Contains(hook.Text, "another Slack workspace (T0OTHER)") || !strings.Contains(hook.Text, "Nothing was done") {
		t.Errorf("the refusal says %q", hook.Text)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(f.refusals(t, id)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.refusals(t, id); len(got) != 2 || !strings.Contains(got[0], "another Slack workspace") {
		t.Errorf("audited refusals: %v", got)
	}
	time.Sleep(100 * time.Millisecond) // let a (wrong) decision show
	r, err := f.st.GetRequest(context.Background(), id)
	if err != nil || r.State != store.Pending {
		t.Fatalf("after clicks from another workspace's user: %+v, %v; want pending", r, err)
	}
	if as, _ := f.st.Approvals(context.Background(), id); len(as) != 0 {
		t.Fatalf("approvals recorded: %+v", as)
	}
	f.click(t, approver, ts, ActionApprove, id) // the same user id, from this workspace
	for time.Now().Before(deadline) {
		if r, _ = f.st.GetRequest(context.Background(), id); r.State.Terminal() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.State != store.Succeeded {
		t.Fatalf("approved from this workspace: %s", r.State)
	}
}
