package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// TestIrreversibleActionNeedsOneMoreApproval: lock-backups cannot be undone
// before its unlock delay, so with approval.required 1 it needs two
// approvals; its card says it cannot be undone and counts to two, and one
// approval leaves it pending.
func TestIrreversibleActionNeedsOneMoreApproval(t *testing.T) {
	f := newFixture(t, stubEngine{})
	if code, r := f.slash(t, requester, "lock-backups --all the intruder is deleting snapshots"); code != http.StatusOK {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	id, ts := f.postedCard(t)
	card := f.slack.WaitNth(t, 10*time.Second, "the card", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.ThreadTS == ""
	})
	text := card.AllText()
	for _, want := range []string{"This cannot be undone", "It needs 2 approvals, 1 more than other actions", "Approvals*: 0 of 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("card:\n%s\nwant %q", text, want)
		}
	}
	f.click(t, approver, ts, ActionApprove, id)
	deadline := time.Now().Add(10 * time.Second)
	for {
		as, _ := f.st.Approvals(context.Background(), id)
		if len(as) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r, _ := f.st.GetRequest(context.Background(), id); r == nil || r.State != store.Pending {
		t.Fatalf("after one approval: %+v; want still pending", r)
	}
	if rep := f.svc.status(context.Background(), id); !strings.Contains(rep.Text, "Approvals (1 of 2)") {
		t.Errorf("status:\n%s\nwant Approvals (1 of 2)", rep.Text)
	}
	f.click(t, approver2, ts, ActionApprove, id)
	if r := f.waitState(t, id); !r.State.Terminal() || r.State == store.Pending {
		t.Fatalf("after two approvals: %s; want it run", r.State)
	}
}
