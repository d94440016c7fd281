package bot

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// fastCardRetries makes the card retries quick for a test.
func fastCardRetries(t *testing.T, d time.Duration) {
	t.Helper()
	old := cardRetryDelays
	cardRetryDelays = []time.Duration{d, d, d, d}
	t.Cleanup(func() { cardRetryDelays = old })
}

func (f *fixture) hookSays(t *testing.T, user, what string, n int, want string) slackfake.Call {
	t.Helper()
	return f.slack.WaitNth(t, 20*time.Second, what, n, func(c slackfake.Call) bool {
		return c.Method == slackfake.ResponseURL && c.Hook == user && strings.Contains(c.Text, want)
	})
}

func (f *fixture) cards() []slackfake.Call {
	var out []slackfake.Call
	for _, c := range f.slack.Of(slackfake.PostMessage) {
		if c.OK() && c.ThreadTS == "" && c.Buttons()[ActionApprove] != "" {
			out = append(out, c)
		}
	}
	return out
}

// TestCardRetriedWhenSlackFails: the approval card cannot be posted; the
// requester is told so and that it is retried, the retry posts it (once),
// and the requester is told it is waiting for approval.
func TestCardRetriedWhenSlackFails(t *testing.T) {
	fastCardRetries(t, 100*time.Millisecond)
	f := newFixture(t, stubEngine{})
	f.slack.FailNext(slackfake.PostMessage, "service_unavailable")
	if code, r := f.slash(t, requester, "deny-delete --all attacker deleting snapshots"); code != http.StatusOK || !strings.Contains(r.Text, "the approval card will be posted") {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	told := f.hookSays(t, requester, "the failure", 0, "could not be posted")
	for _, want := range []string{"service_unavailable", "approvers cannot see it yet", "retries posting it (5 attempts", "Nothing runs without approval"} {
		if !strings.Contains(told.Text, want) {
			t.Errorf("the requester is told %q; want it to say %q", told.Text, want)
		}
	}
	id, _ := f.postedCard(t)
	f.hookSays(t, requester, "the card is up", 0, "Request "+id+" (deny-delete on 1 account) is waiting for approval")
	time.Sleep(300 * time.Millisecond)
	if n := len(f.cards()); n != 1 {
		t.Errorf("%d cards posted, want 1", n)
	}
	if r, _ := f.st.GetRequest(context.Background(), id); r == nil || r.MessageTS == "" || r.State != store.Pending {
		t.Errorf("the request after the retry: %+v", r)
	}
}

// TestCardRetriesRunOut: Slack refuses every attempt: after five, the
// requester is told that the card could not be posted and to cancel.
func TestCardRetriesRunOut(t *testing.T) {
	fastCardRetries(t, 300*time.Millisecond)
	f := newFixture(t, stubEngine{})
	rejected := func() int {
		n := 0
		for _, c := range f.slack.Of(slackfake.PostMessage) {
			if !c.OK() {
				n++
			}
		}
		return n
	}
	f.slack.FailNext(slackfake.PostMessage, "service_unavailable")
	f.slash(t, requester, "deny-delete --all attacker deleting snapshots")
	for n := 1; n < 5; n++ {
		deadline := time.Now().Add(10 * time.Second)
		for rejected() < n && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		f.slack.FailNext(slackfake.PostMessage, "service_unavailable")
	}
	final := f.hookSays(t, requester, "the final failure", 0, "still could not be posted")
	if !strings.Contains(final.Text, "after 5 attempts") || !strings.Contains(final.Text, "/killswitch cancel ks-") {
		t.Errorf("the requester is told %q", final.Text)
	}
	if n := rejected(); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
	if n := len(f.cards()); n != 0 {
		t.Errorf("%d cards posted", n)
	}
}

// TestCardRetryStopsAtShutdown: a shutdown does not wait for the retries.
func TestCardRetryStopsAtShutdown(t *testing.T) {
	fastCardRetries(t, time.Minute)
	f := newFixture(t, stubEngine{})
	f.slack.FailNext(slackfake.PostMessage, "service_unavailable")
	f.slash(t, requester, "deny-delete --all attacker deleting snapshots")
	f.hookSays(t, requester, "the failure", 0, "could not be posted")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	f.hookSays(t, requester, "the shutdown", 0, "shutting down, so it stopped retrying")
}

// TestPermanentCardFailureIsNotRetried: a failure a retry cannot fix
// (the bot is not in the channel) is said at once.
func TestPermanentCardFailureIsNotRetried(t *testing.T) {
	fastCardRetries(t, 50*time.Millisecond)
	f := newFixture(t, stubEngine{})
	f.slack.FailNext(slackfake.PostMessage, "not_in_channel")
	f.slash(t, requester, "deny-delete --all attacker deleting snapshots")
	told := f.hookSays(t, requester, "the failure", 0, "could not be posted")
	if !strings.Contains(told.Text, "not_in_channel") || !strings.Contains(told.Text, "/killswitch cancel ks-") || strings.Contains(told.Text, "retries") {
		t.Errorf("the requester is told %q", told.Text)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(f.slack.Of(slackfake.PostMessage)); n != 1 {
		t.Errorf("%d attempts to post the card, want 1", n)
	}
}

// TestUndoSaysWhatCannotComeBack: after the undo of a lockdown, the result
// in the thread and status say how many of the lockdown's changes were
// undone and that the console passwords cannot come back, with the command
// that issues new ones.
func TestUndoSaysWhatCannotComeBack(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.slash(t, requester, "lockdown --all --incident INC-1 attacker has console access")
	id, ts := f.postedCard(t)
	f.click(t, approver, ts, ActionApprove, id)
	lock := f.waitState(t, id)
	if lock.State != store.Succeeded {
		t.Fatalf("lockdown: %s %s", lock.State, lock.Error)
	}
	steps, err := f.svc.loadSteps(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	total, passwords := 0, 0
	for _, s := range steps {
		if s.Status == actions.StepDone {
			total++
			if s.Op == "delete-login-profile" {
				passwords++
			}
		}
	}
	if passwords == 0 {
		t.Fatal("the lockdown deleted no console password")
	}
	f.slash(t, requester, "undo "+id+" contained, restoring access")
	card := f.slack.WaitNth(t, 20*time.Second, "the undo card", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.ThreadTS == "" && c.Buttons()[ActionApprove] != "" && c.Buttons()[ActionApprove] != id
	})
	undoID := card.Buttons()[ActionApprove]
	f.click(t, approver, card.TS, ActionApprove, undoID)
	if u := f.waitState(t, undoID); u.State != store.Succeeded {
		t.Fatalf("undo: %s %s", u.State, u.Error)
	}
	headline := fmt.Sprintf("%d of %d changes undone, %d cannot come back", total-passwords, total, passwords)
	advice := fmt.Sprintf("%d console passwords cannot come back (AWS never reveals a password): issue new passwords with `aws iam create-login-profile --user-name NAME --password-reset-required` for ", passwords)
	result := f.slack.WaitNth(t, 10*time.Second, "the undo's result", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.ThreadTS == card.TS && strings.Contains(c.Text, "undone")
	})
	if !strings.Contains(result.Text, headline) {
		t.Errorf("the undo's result text %q; want %q", result.Text, headline)
	}
	if all := result.AllText(); !strings.Contains(all, advice) || !regexp.MustCompile(`for [a-z-]+, [a-z-]+`).MatchString(all) {
		t.Errorf("the undo's result:\n%s\nwant %q and the users", all, advice)
	}
	rep := f.svc.status(ctx, undoID)
	if !strings.Contains(rep.Text, "Undo: "+headline) || !strings.Contains(rep.Text, advice) {
		t.Errorf("status of the undo:\n%s\nwant %q and %q", rep.Text, headline, advice)
	}
}

// waitState waits until request id is finished and returns it.
func (f *fixture) waitState(t *testing.T, id string) *store.Request {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := f.st.GetRequest(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State.Terminal() || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStatusDoesNotCountTheRequester: status counts approvals as the rule
// does: a requester's own approval record (which Approve never writes) is
// not one of them.
func TestStatusDoesNotCountTheRequester(t *testing.T) {
	f := newFixture(t, stubEngine{})
	f.slash(t, approver, "deny-delete --all attacker deleting snapshots") // approver is also a requester
	id, _ := f.postedCard(t)
	if err := f.st.AddApproval(context.Background(), store.Approval{RequestID: id, Approver: approver, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if rep := f.svc.status(context.Background(), id); !strings.Contains(rep.Text, "Approvals: 0 of 1") {
		t.Errorf("status:\n%s\nwant Approvals: 0 of 1", rep.Text)
	}
}
