package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/slackfake"
)

// slowEngine records one step as started and takes its time before its outcome.
type slowEngine struct {
	stubEngine
	take time.Duration
}

func (e slowEngine) Apply(ctx context.Context, action string, accounts []string, _ actions.Options, rec actions.Recorder) (*actions.Result, error) {
	st := actions.Step{Key: "deny-delete/111122223333/attach-scp/x", Action: action, Account: "111122223333", Op: "attach-scp",
		Principal: "account 111122223333", Change: "attach SCP KillSwitchDenyDelete", Status: actions.StepStarted, At: time.Now()}
	if err := rec.Record(ctx, st); err != nil {
		return nil, err
	}
	time.Sleep(e.take)
	st.Status = actions.StepDone
	if err := rec.Record(ctx, st); err != nil {
		return nil, err
	}
	return &actions.Result{Action: action, Status: actions.StatusSucceeded}, nil
}

// A step that takes too long is reported in the log and in the thread while
// it runs; a quick one is not.
func TestSlowStepIsReported(t *testing.T) {
	defer func(d time.Duration) { slowStepAfter = d }(slowStepAfter)
	slowStepAfter = 200 * time.Millisecond
	f := newFixture(t, slowEngine{take: time.Second})
	if code, r := f.slash(t, requester, "deny-delete --all attacker deleting snapshots"); code != http.StatusOK {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	id, ts := f.postedCard(t)
	f.click(t, approver, ts, ActionApprove, id)
	msg := f.slack.WaitNth(t, 10*time.Second, "the slow-step message", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.ThreadTS == ts && strings.Contains(c.Text, "Still working on")
	})
	if !strings.Contains(msg.Text, "Still working on attach SCP KillSwitchDenyDelete (account 111122223333) in 111122223333 after 200ms") {
		t.Errorf("thread message: %q", msg.Text)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(f.logs.String(), "step taking long") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(f.logs.String(), "step taking long") {
		t.Error("no log line for the slow step")
	}

	quick := newFixture(t, slowEngine{take: time.Millisecond})
	quick.slash(t, requester, "deny-delete --all attacker deleting snapshots")
	id, ts = quick.postedCard(t)
	quick.click(t, approver, ts, ActionApprove, id)
	time.Sleep(600 * time.Millisecond)
	for _, c := range quick.slack.Thread(ts) {
		if strings.Contains(c.Text, "Still working on") {
			t.Errorf("a quick step was reported as slow: %q", c.Text)
		}
	}
}
