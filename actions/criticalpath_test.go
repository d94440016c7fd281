package actions_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// The critical-path bound of a lockdown on the simulation, computed from
// what the run did (never written in):
//
//	bound = max over accounts a of  Σ_s accepted_a,s ÷ rate_s      (1)
//	      + mgmt_org_calls × latency_organizations                  (2)
//	      + barrier                                                 (3)
//
//  1. the busiest account's rate-limited work: per account, the calls each
//     service accepted (calls made minus calls throttled: a throttled call
//     takes no token) divided by the service's per-account rate
//     (sim.DefaultRateLimits: IAM 20/s, STS 100/s, EC2 20/s,
//     Organizations 10/s); the management account's Organizations calls are
//     left out of this term because (2) counts them;
//  2. the serial Organizations work: the management account's Organizations
//     calls (reading the organization, creating, attaching and checking the
//     guardrail SCP) run one after another, each waiting its latency
//     (100 ms), and every account's guardrail part waits for them;
//  3. the phase barrier: the guardrail is confirmed everywhere before any
//     access is cut; its cost is the wait from an account's last guardrail
//     change to its confirmation (propagation, then the canary's dry run),
//     the longest over accounts.
//
// The measured figure is the virtual time from the start of Apply to its
// last change. The bound is the yardstick, not a lower bound: its
// terms overlap in time (the management account's own guardrail work runs
// while the Organizations calls do), and it ignores the latency of calls
// that depend on each other and the burst each bucket starts with. The
// benchmark also reports a tighter figure, the critical path through the
// barrier:
//
//	tight = mgmt_org_calls ÷ rate_organizations             (the SCPs cannot all be attached earlier)
//	      + barrier                                          (3), propagation then the canary
//	      + max over accounts a of Σ_s after_a,s ÷ rate_s    (what a does after the barrier)
//
// where after_a,s counts a's calls that returned after the last account's
// guardrail was confirmed.

// cpRun is what one lockdown on the virtual clock did.
type cpRun struct {
	res      *actions.Result
	virtual  time.Duration // start to the last change
	calls    map[string]map[string]int
	thr      map[string]map[string]int
	timeline map[string][]cpCall // per account, in order
}

type cpCall struct {
	at      time.Duration // virtual time the call returned
	service string
	op      string
	ok      bool
}

var cpLatency = map[string]time.Duration{"iam": 30 * time.Millisecond, "organizations": 100 * time.Millisecond, "*": 30 * time.Millisecond}

// cpSlowIAM is cpLatency with IAM at 100 ms, slower than its rate's 50 ms a
// token: calls made one after another would wait on latency, not the rate.
var cpSlowIAM = map[string]time.Duration{"iam": 100 * time.Millisecond, "organizations": 100 * time.Millisecond, "*": 30 * time.Millisecond}

// runCriticalPath applies lockdown to org at the engine's default settings
// on a drill's virtual clock with the default rate limits.
func runCriticalPath(tb testing.TB, org *sim.Org, latency map[string]time.Duration, prop time.Duration) *cpRun {
	tb.Helper()
	if err := org.SetRateLimits(sim.DefaultRateLimits()); err != nil {
		tb.Fatal(err)
	}
	clock := sim.NewClock(t0, 24*time.Hour)
	sched := sim.Schedule{Clock: clock, Latency: latency}
	if prop > 0 {
		sched.Propagation = map[string]time.Duration{"*": prop}
	}
	org.SetSchedule(sched)
	run := &cpRun{timeline: map[string][]cpCall{}}
	var mu sync.Mutex
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag,
		Runner: clock, Now: clock.Now, Sleep: clock.Sleep,
		OnCall: func(c actions.Call) {
			mu.Lock()
			defer mu.Unlock()
			run.timeline[c.Account] = append(run.timeline[c.Account], cpCall{clock.Now().Sub(t0), c.Service, c.Operation, c.Outcome == "ok"})
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	org.ResetCalls()
	clock.Run(context.Background(), func(ctx context.Context) {
		res, err := e.Apply(ctx, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ks-critical", RevokeBefore: t0}, nil)
		if err != nil || res.Status != actions.StatusSucceeded {
			tb.Errorf("lockdown: %v %s %v", err, res.Status, res.Problems())
		}
		run.res = res
	})
	if run.res == nil {
		tb.FailNow()
	}
	for _, s := range run.res.Steps() {
		run.virtual = max(run.virtual, s.At.Sub(t0))
	}
	run.calls, run.thr = org.AccountCalls(), org.Throttled()
	return run
}

// cpBound is the bound's terms (see the comment above).
type cpBound struct {
	busiest     string
	rateTerm    time.Duration
	serialOrg   time.Duration
	barrier     time.Duration
	total       time.Duration
	mgmtOrgCall int

	barrierEnd time.Duration // the last account's guardrail confirmed
	afterAcct  string        // the account with the most work after it
	after      time.Duration // that work ÷ the rates
	tight      time.Duration
}

// rateOf maps the simulation's service names to sim.DefaultRateLimits.
func rateOf(svc string) float64 {
	l, ok := sim.DefaultRateLimits()[strings.ToLower(svc)]
	if !ok {
		l = sim.DefaultRateLimits()["iam"]
	}
	return l.Rate
}

func (r *cpRun) bound(mgmt string) cpBound {
	var b cpBound
	for acct, svcs := range r.calls {
		var t time.Duration
		for svc, n := range svcs {
			accepted := n - r.thr[acct][svc]
			if acct == mgmt && svc == "Organizations" {
				b.mgmtOrgCall = accepted
				continue
			}
			t += time.Duration(float64(accepted) / rateOf(svc) * float64(time.Second))
		}
		if t > b.rateTerm {
			b.rateTerm, b.busiest = t, acct
		}
	}
	b.serialOrg = time.Duration(b.mgmtOrgCall) * cpLatency["organizations"]
	for _, ar := range r.res.Accounts {
		var last time.Time
		for _, s := range ar.Steps {
			if s.Action == actions.DenyDelete && s.Status == actions.StepDone && s.At.After(last) {
				last = s.At
			}
		}
		// the confirmation ends with the account's last canary call
		var confirmed time.Duration
		for _, c := range r.timeline[ar.Account] {
			if c.op == "DeleteSnapshot" {
				confirmed = c.at
			}
		}
		if !last.IsZero() && confirmed > last.Sub(t0) {
			b.barrier = max(b.barrier, confirmed-last.Sub(t0))
		}
		b.barrierEnd = max(b.barrierEnd, confirmed)
	}
	b.total = b.rateTerm + b.serialOrg + b.barrier
	for acct, calls := range r.timeline {
		var t time.Duration
		for _, c := range calls {
			if c.at > b.barrierEnd {
				t += time.Duration(float64(time.Second) / rateOf(c.service))
			}
		}
		if t > b.after {
			b.after, b.afterAcct = t, acct
		}
	}
	b.tight = time.Duration(float64(b.mgmtOrgCall)/rateOf("Organizations")*float64(time.Second)) + b.barrier + b.after
	return b
}

// profile describes where the critical account's time went: its phases'
// spans, its calls per operation and the seconds in which its IAM calls
// ran below the rate.
func (r *cpRun) profile(acct string) string {
	var sb strings.Builder
	spans := map[string][2]time.Duration{}
	var order []string
	for _, ar := range r.res.Accounts {
		if ar.Account != acct {
			continue
		}
		for _, s := range ar.Steps {
			d := s.At.Sub(t0)
			sp, ok := spans[s.Action]
			if !ok {
				order = append(order, s.Action)
				sp = [2]time.Duration{d, d}
			}
			sp[0], sp[1] = min(sp[0], d), max(sp[1], d)
			spans[s.Action] = sp
		}
		if ar.Guardrail != nil {
			fmt.Fprintf(&sb, "guardrail confirmed=%v after %.1fs; ", ar.Guardrail.Confirmed, ar.Guardrail.AfterS)
		}
	}
	for _, a := range order {
		fmt.Fprintf(&sb, "%s changes %.2f-%.2fs; ", a, spans[a][0].Seconds(), spans[a][1].Seconds())
	}
	ops := map[string]int{}
	perSec := map[int]int{}
	var last time.Duration
	for _, c := range r.timeline[acct] {
		ops[c.service+"."+c.op]++
		if c.service == "IAM" {
			perSec[int(c.at/time.Second)]++
		}
		last = max(last, c.at)
	}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sb.WriteString("calls:")
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%d", k, ops[k])
	}
	sb.WriteString("; IAM calls per second below 20:")
	for s := 0; s <= int(last/time.Second); s++ {
		if perSec[s] < 20 {
			fmt.Fprintf(&sb, " [%ds:%d]", s, perSec[s])
		}
	}
	return sb.String()
}

// lastChange is the virtual time of each account's last change.
func (r *cpRun) lastChange() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, ar := range r.res.Accounts {
		for _, s := range ar.Steps {
			out[ar.Account] = max(out[ar.Account], s.At.Sub(t0))
		}
	}
	return out
}

// BenchmarkLockdownCriticalPath: lockdown of 50 accounts x 200 principals
// at the default settings (the engine's default Config, every account at
// once, 8 principals at a time per account), the default rate limits and
// latency (IAM 30 ms, Organizations 100 ms), on the drill's virtual clock,
// with policy changes in effect at once and after 5 s of propagation, and
// with IAM at 100 ms a call (slower than its rate allows) as well. It
// reports the virtual seconds to the last change, the critical-path bound
// computed from the run's own calls (see above), their ratio, and the
// tighter critical path through the barrier with its ratio; the figures
// are in the README's performance section.
func BenchmarkLockdownCriticalPath(b *testing.B) {
	for _, prop := range []time.Duration{0, 5 * time.Second} {
		b.Run(fmt.Sprintf("propagation=%s", prop), func(b *testing.B) { benchCriticalPath(b, cpLatency, prop) })
	}
	b.Run("propagation=0s/iam_latency=100ms", func(b *testing.B) { benchCriticalPath(b, cpSlowIAM, 0) })
}

func benchCriticalPath(b *testing.B, latency map[string]time.Duration, prop time.Duration) {
	var virt, bound, tight time.Duration
	var last *cpRun
	var lb cpBound
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		org := bigOrg(b, 50, 200)
		b.StartTimer()
		r := runCriticalPath(b, org, latency, prop)
		b.StopTimer()
		cb := r.bound(org.Accounts()[0])
		virt += r.virtual
		bound += cb.total
		tight += cb.tight
		last, lb = r, cb
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(virt.Seconds()/n, "virtual_s/op")
	b.ReportMetric(bound.Seconds()/n, "bound_s/op")
	b.ReportMetric(virt.Seconds()/bound.Seconds(), "ratio")
	b.ReportMetric(tight.Seconds()/n, "tight_s/op")
	b.ReportMetric(virt.Seconds()/tight.Seconds(), "tight_ratio")
	ends := last.lastChange()
	crit := ""
	for a, d := range ends {
		if crit == "" || d > ends[crit] || d == ends[crit] && a < crit {
			crit = a
		}
	}
	b.Logf("bound %.2fs = busiest account %s %.2fs + serial Organizations %d x %s = %.2fs + barrier %.2fs; last change %.2fs in %s",
		lb.total.Seconds(), lb.busiest, lb.rateTerm.Seconds(), lb.mgmtOrgCall, cpLatency["organizations"],
		lb.serialOrg.Seconds(), lb.barrier.Seconds(), last.virtual.Seconds(), crit)
	b.Logf("tight %.2fs = Organizations %d ÷ %.0f/s + barrier %.2fs + %s's work after the barrier (lifted at %.2fs) %.2fs",
		lb.tight.Seconds(), lb.mgmtOrgCall, rateOf("Organizations"), lb.barrier.Seconds(), lb.afterAcct, lb.barrierEnd.Seconds(), lb.after.Seconds())
	b.Logf("calls %v; throttled %v", last.calls[crit], last.thr[crit])
	b.Logf("critical account %s: %s", crit, last.profile(crit))
	if crit != lb.busiest {
		b.Logf("busiest account %s: calls %v; %s", lb.busiest, last.calls[lb.busiest], last.profile(lb.busiest))
	}
}
