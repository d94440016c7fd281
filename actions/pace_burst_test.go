package actions_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// TestBurstOfThrottlesHalvesThePaceOnce: lockdown of 200 accounts at the
// default rate limits on a drill's virtual clock; the members' guardrail
// parts make the management account's Organizations calls in parallel and
// are throttled together. The calls throttled together are one overshoot:
// the pacer slows down by halvings spaced at least a second apart, never
// below a quarter of its rate (halving once per throttled call took it to
// its floor of 1 call/s, and lockdown from 79 s to 330 s), and lockdown
// succeeds.
func TestBurstOfThrottlesHalvesThePaceOnce(t *testing.T) {
	org := bigOrg(t, 200, 4)
	mgmt := org.Accounts()[0]
	if err := org.SetRateLimits(sim.DefaultRateLimits()); err != nil {
		t.Fatal(err)
	}
	clock := sim.NewClock(t0, 24*time.Hour)
	org.SetSchedule(sim.Schedule{Clock: clock, Latency: map[string]time.Duration{"*": 30 * time.Millisecond, "organizations": 100 * time.Millisecond}})
	var e *actions.Engine
	var mu sync.Mutex
	slowest := 1e9
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag,
		Runner: clock, Now: clock.Now, Sleep: clock.Sleep,
		OnCall: func(c actions.Call) {
			if c.Account != mgmt || c.Service != "Organizations" {
				return
			}
			p := e.Pace(mgmt, "Organizations")
			mu.Lock()
			defer mu.Unlock()
			if p > 0 && p < slowest {
				slowest = p
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res *actions.Result
	clock.Run(context.Background(), func(ctx context.Context) {
		res, err = e.Apply(ctx, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ks-burst", RevokeBefore: t0}, nil)
	})
	if err != nil || res.Status != actions.StatusSucceeded {
		t.Fatalf("%v %s %v", err, res.Status, res.Problems())
	}
	if thr := org.Throttled()[mgmt]["Organizations"]; thr < 2 {
		t.Fatalf("%d Organizations calls throttled: the test needs a burst of throttles", thr)
	}
	if floor := actions.DefaultRates["Organizations"] / 4; slowest < floor {
		t.Errorf("the Organizations pace fell to %.2f calls/s after %d throttles: more than two halvings from %.0f/s", slowest, org.Throttled()[mgmt]["Organizations"], actions.DefaultRates["Organizations"])
	}
	t.Logf("slowest pace %.2f calls/s; throttled %v; virtual %s", slowest, org.Throttled()[mgmt], clock.Now().Sub(t0))
}
