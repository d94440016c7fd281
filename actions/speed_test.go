package actions_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// minimumCalls is the least a lockdown of org can make: every change made
// (steps done), plus what each account needs read: assuming the role, who
// the bot is, the organization, one page of IAM's authorization details per
// phase that reads principals (revoke-sessions, disable-users, and the
// fallback guardrail's re-check), and per non-exempt user its four kinds of
// credentials (AWS has no batch read of them that is current: the
// credential report can be four hours old).
func minimumCalls(res *actions.Result, users map[string]int) int {
	n := 0
	for _, s := range res.Steps() {
		if s.Status == actions.StepDone {
			n++
		}
	}
	for _, ar := range res.Accounts {
		n += 3 + 2 + 4*users[ar.Account]
	}
	return n
}

// TestCallsPerLockdownWithinBound counts the simulation's calls for one
// lockdown and fails when they exceed 1.2x the minimum.
func TestCallsPerLockdownWithinBound(t *testing.T) {
	const accounts, principals = 4, 40
	org := bigOrg(t, accounts, principals)
	e := engine(t, org)
	org.ResetCalls()
	res, err := e.Apply(context.Background(), actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ks-calls", RevokeBefore: t0}, nil)
	if err != nil || res.Status != actions.StatusSucceeded {
		t.Fatalf("%v %s %v", err, res.Status, res.Problems())
	}
	users := map[string]int{}
	for _, a := range org.Accounts() {
		users[a] = principals * 3 / 4
	}
	total := 0
	for _, n := range org.Calls() {
		total += n
	}
	min := minimumCalls(res, users)
	t.Logf("calls %d, minimum %d (%.2fx); by operation %v", total, min, float64(total)/float64(min), org.Calls())
	if float64(total) > 1.2*float64(min) {
		t.Errorf("%d calls for a lockdown whose minimum is %d: more than 1.2x", total, min)
	}
}

// TestThrottledAccountSlowsOnlyItself: on a drill's virtual clock with the
// simulation's rate limits, one account whose IAM bucket is a tenth of the
// others' is still contained; only it is throttled more, the others make
// the calls an unthrottled run makes, and their guardrail phase and their
// whole lockdown end when they end without the throttled account (past
// the guardrail's barrier no account waits for another).
func TestThrottledAccountSlowsOnlyItself(t *testing.T) {
	run := func(slow string) (map[string]time.Duration, map[string]time.Duration, map[string]map[string]int, map[string]map[string]int) {
		t.Helper()
		org := bigOrg(t, 4, 40)
		limits := sim.DefaultRateLimits()
		if err := org.SetRateLimits(limits); err != nil {
			t.Fatal(err)
		}
		clock := sim.NewClock(t0, 24*time.Hour)
		org.SetSchedule(sim.Schedule{Clock: clock, Latency: map[string]time.Duration{"*": 20 * time.Millisecond}})
		if slow != "" {
			if err := org.SetAccountRateLimit(slow, "iam", sim.RateLimit{Rate: 2, Burst: 2}); err != nil {
				t.Fatal(err)
			}
		}
		e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
			BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, Concurrency: 8,
			Runner: clock, Now: clock.Now, Sleep: clock.Sleep, ConfirmEvery: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		done, last := map[string]time.Duration{}, map[string]time.Duration{}
		clock.Run(context.Background(), func(ctx context.Context) {
			res, err := e.Apply(ctx, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ks-slow", RevokeBefore: t0}, nil)
			if err != nil || res.Status != actions.StatusSucceeded {
				t.Errorf("%v %s %v", err, res.Status, res.Problems())
				return
			}
			for _, ar := range res.Accounts {
				for _, s := range ar.Steps {
					d := s.At.Sub(t0)
					if s.Action == actions.DenyDelete && d > done[ar.Account] {
						done[ar.Account] = d
					}
					last[ar.Account] = max(last[ar.Account], d)
				}
			}
		})
		return done, last, org.AccountCalls(), org.Throttled()
	}
	base, baseLast, baseCalls, baseThrottled := run("")
	slow := bigOrg(t, 4, 40).Accounts()[2]
	got, gotLast, calls, throttled := run(slow)
	t.Logf("guardrail phase's last change per account, unthrottled %v, account %s throttled %v; last change %v, throttled %v; throttled calls %v; calls %v", base, slow, got, baseLast, gotLast, throttled, calls)
	if throttled[slow]["IAM"] == 0 {
		t.Fatalf("account %s was never throttled", slow)
	}
	for a, d := range got {
		if a == slow {
			if throttled[a]["IAM"] <= baseThrottled[a]["IAM"] || calls[a]["IAM"] <= baseCalls[a]["IAM"] {
				t.Errorf("throttled account %s: %d throttled of %d IAM calls: its bucket did not throttle it", a, throttled[a]["IAM"], calls[a]["IAM"])
			}
			continue
		}
		if throttled[a]["IAM"] > baseThrottled[a]["IAM"] {
			t.Errorf("account %s was throttled %d times, %d without %s throttled", a, throttled[a]["IAM"], baseThrottled[a]["IAM"], slow)
		}
		if calls[a]["IAM"] != baseCalls[a]["IAM"] {
			t.Errorf("account %s made %d IAM calls, %d without %s throttled", a, calls[a]["IAM"], baseCalls[a]["IAM"], slow)
		}
		if d != base[a] {
			t.Errorf("account %s's guardrail phase ended at %s with %s throttled, %s without", a, d, slow, base[a])
		}
		if gotLast[a] != baseLast[a] {
			t.Errorf("account %s's lockdown ended at %s with %s throttled, %s without", a, gotLast[a], slow, baseLast[a])
		}
	}
}

// BenchmarkLockdownRateLimited: lockdown on the simulation with latency
// (IAM 30 ms, Organizations 100 ms) and the default rate limits, on the
// drill's virtual clock, at 10, 50 and 200 accounts x 40 principals. It
// reports the virtual time to the last change, the calls, the throttled
// calls and the peak heap.
func BenchmarkLockdownRateLimited(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			var virt time.Duration
			var calls, throttled int
			var peak uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				org := bigOrg(b, n, 40)
				if err := org.SetRateLimits(sim.DefaultRateLimits()); err != nil {
					b.Fatal(err)
				}
				clock := sim.NewClock(t0, 24*time.Hour)
				org.SetSchedule(sim.Schedule{Clock: clock, Latency: map[string]time.Duration{"iam": 30 * time.Millisecond, "organizations": 100 * time.Millisecond, "*": 30 * time.Millisecond}})
				e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
					BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, Concurrency: n,
					Runner: clock, Now: clock.Now, Sleep: clock.Sleep,
				})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				b.StartTimer()
				stop := sampleHeap(&peak)
				clock.Run(context.Background(), func(ctx context.Context) {
					res, err := e.Apply(ctx, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ks-bench", RevokeBefore: t0}, nil)
					if err != nil || res.Status != actions.StatusSucceeded {
						b.Errorf("%v %s", err, res.Status)
					}
				})
				stop()
				b.StopTimer()
				virt += clock.Now().Sub(t0)
				for _, svc := range org.AccountCalls() {
					for _, c := range svc {
						calls += c
					}
				}
				for _, svc := range org.Throttled() {
					for _, c := range svc {
						throttled += c
					}
				}
			}
			nf := float64(b.N)
			b.ReportMetric(virt.Seconds()/nf, "virtual_s/op")
			b.ReportMetric(float64(calls)/nf, "calls/op")
			b.ReportMetric(float64(throttled)/nf, "throttled/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
		})
	}
}

// sampleHeap records the peak heap in use until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var m runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > *peak {
				*peak = m.HeapInuse
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
