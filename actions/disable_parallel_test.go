package actions_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// TestDisableUsersReadsCredentialsInParallel: on a drill's virtual clock
// with IAM latency, disable-users reads different users' credentials at
// once (never more than Config.PerAccount users at a time), instead of one
// user after another, and still cuts every user's password and key.
func TestDisableUsersReadsCredentialsInParallel(t *testing.T) {
	const perAccount = 4
	org := bigOrg(t, 1, 40)
	clock := sim.NewClock(t0, 24*time.Hour)
	org.SetSchedule(sim.Schedule{Clock: clock, Latency: map[string]time.Duration{"*": 100 * time.Millisecond}})
	var mu sync.Mutex
	users := map[time.Time]map[string]bool{} // virtual time a credential read returned -> users
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, PerAccount: perAccount,
		Runner: clock, Now: clock.Now, Sleep: clock.Sleep,
		OnCall: func(c actions.Call) {
			if c.Operation != "GetLoginProfile" && !strings.HasPrefix(c.Operation, "List") {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			at := clock.Now()
			if users[at] == nil {
				users[at] = map[string]bool{}
			}
			users[at][c.Target] = true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res *actions.Result
	clock.Run(context.Background(), func(ctx context.Context) {
		res, err = e.Apply(ctx, actions.DisableUsers, org.Accounts(), actions.Options{RequestID: "ks-par", RevokeBefore: t0}, nil)
	})
	if err != nil || res.Status != actions.StatusSucceeded {
		t.Fatalf("%v %v", err, res)
	}
	most := 0
	for _, us := range users {
		most = max(most, len(us))
	}
	if most < 2 || most > perAccount {
		t.Errorf("at most %d users' credential reads returned at one virtual instant; want 2 to %d (PerAccount)", most, perAccount)
	}
	cut := map[string]int{}
	for _, s := range res.Steps() {
		if s.Status == actions.StepDone {
			cut[s.Principal]++
		}
	}
	if len(cut) != 30 {
		t.Errorf("%d users cut, want the 30 users", len(cut))
	}
	for p, n := range cut {
		if n != 2 {
			t.Errorf("%s: %d credentials cut, want its password and its key", p, n)
		}
	}
}
