package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/store"
)

// TestRevokeSessionsCutsEverySessionIssuedBeforeThePin: a request's
// revoke-sessions denies every session issued before the instant the
// request was pinned (CONTRACT.md: "inline deny on aws:TokenIssueTime older
// than now"), including one issued a millisecond before it, in the same
// second; a session issued after the cut-off (the pin rounded up to
// aws:TokenIssueTime's one-second precision) keeps working. The simulated
// organization evaluates the documents with the session's exact issue time.
func TestRevokeSessionsCutsEverySessionIssuedBeforeThePin(t *testing.T) {
	e := newEnv(t, options{})
	e.slash(requester, "revoke-sessions --all --incident INC-9 stolen session cookies", "r")
	card := e.card(0)
	id := card.Buttons()[bot.ActionApprove]
	if code := e.click(approver, bot.ActionApprove, id, card.TS); code != http.StatusOK {
		t.Fatalf("click: %d", code)
	}
	done := e.waitState(id, store.Succeeded, store.Partial, store.Failed)
	if done.State != store.Succeeded {
		t.Fatalf("revoke-sessions %s: %s", done.State, done.Error)
	}
	pin := done.PinnedAt
	user, ok := e.org.UserARN(acct, "ops-admin")
	if !ok {
		t.Fatal("no user ops-admin")
	}
	session := func(issued time.Time) error {
		return e.org.Authorize(sim.Credential{Account: acct, Principal: user, SessionIssued: issued}, "iam:CreateUser", "*")
	}
	if err := session(pin.Add(-time.Minute)); err == nil {
		t.Error("a session issued a minute before the pin still works")
	}
	if err := session(pin.Add(-time.Millisecond)); err == nil {
		t.Errorf("a session issued 1ms before the pin (%s) still works: the cut-off must be the pin rounded up to the second, %s",
			pin.Format(time.RFC3339Nano), ceilSecond(pin).Format(time.RFC3339))
	}
	if err := session(ceilSecond(pin).Add(time.Second)); err != nil {
		t.Errorf("a session issued after the cut-off is denied: %v", err)
	}
}
