package bot

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// countingEngine counts Apply calls and makes each one slow, so that two
// replicas that both resume a request would overlap.
type countingEngine struct {
	stubEngine
	applies atomic.Int32
}

func (c *countingEngine) Apply(ctx context.Context, action string, accounts []string, opt actions.Options, rec actions.Recorder) (*actions.Result, error) {
	c.applies.Add(1)
	time.Sleep(300 * time.Millisecond)
	return c.stubEngine.Apply(ctx, action, accounts, opt, rec)
}

// TestTwoReplicasResumeARunningRequestOnce: a request left running by a dead
// process is resumed by exactly one of two replicas starting together.
func TestTwoReplicasResumeARunningRequestOnce(t *testing.T) {
	dsn := storetest.NewDSN(t, store.DriverPostgres)
	ctx := context.Background()
	policy := approval.Policy{Requesters: []string{requester}, Approvers: []string{approver}, Required: 1, Expiry: 15 * time.Minute}
	st0 := storetest.OpenDSN(t, store.DriverPostgres, dsn)
	appr0 := &approval.Service{Store: st0, Audit: audit.New(st0, nil), Policy: policy}
	r, err := appr0.Submit(ctx, approval.NewRequest{Kind: store.KindAction, Action: actions.DisableUsers, Accounts: []string{"111122223333"},
		Reason: "attacker", Requester: requester, Team: team, Plan: []byte(`{"action":"disable-users","accounts":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appr0.Approve(ctx, r.ID, approver); err != nil {
		t.Fatal(err)
	}
	if _, err := appr0.Start(ctx, r.ID); err != nil { // the process that started it died here
		t.Fatal(err)
	}
	eng := &countingEngine{}
	fake := slackfake.New(t, testToken)
	var svcs []*Service
	for i := 0; i < 2; i++ {
		st := storetest.OpenDSN(t, store.DriverPostgres, dsn)
		al := audit.New(st, nil)
		log := logrus.New()
		log.SetOutput(&lockedBuffer{})
		svc, err := New(Config{TeamID: team, Channel: channel, SigningSecret: testSecret, Requesters: policy.Requesters, Approvers: policy.Approvers,
			Required: 1, Expiry: policy.Expiry, Accounts: []string{"111122223333"}, SweepInterval: 50 * time.Millisecond},
			Deps{Engine: eng, Store: st, Audit: al, Approval: &approval.Service{Store: st, Audit: al, Policy: policy},
				Slack: slack.New(testToken, slack.OptionAPIURL(fake.APIURL()+"/")), Log: log})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	for _, s := range svcs {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := st0.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request never finished: %s", got.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // give a second (wrong) run the chance to show up
	for _, s := range svcs {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
	if n := eng.applies.Load(); n != 1 {
		t.Fatalf("the request ran %d times across two replicas, want once", n)
	}
}
