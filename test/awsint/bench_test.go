package awsint

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
)

// benchSeed: 3 accounts of 23 users, 11-12 roles and 2 groups each (36-37
// principals per account).
var benchSeed = SeedOptions{Members: 2, ExtraUsers: 18, ExtraRoles: 4}

// BenchmarkLockdownEmulator applies lockdown to a freshly seeded emulated
// organization (seeding is not timed) through the real factory and SDK
// clients. It reports:
//
//   - aws_calls/op: API operations the bot made (RecordOperations: one per
//     operation, retries not counted; AssumeRole into each account included);
//   - min_calls/op: the least any containment of the same organization needs:
//     one call per change actually made (steps done) plus one list call per
//     account to find what to change;
//   - ms/call: wall time of the Apply divided by aws_calls (accounts are
//     worked on concurrently, so this is below the emulator's latency per
//     call);
//   - steps/op: changes made.
func BenchmarkLockdownEmulator(b *testing.B) {
	ctx := context.Background()
	var calls, minCalls, steps int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		org := reseed(b, benchSeed)
		counter := newOpCounter()
		e := newEngine(b, newFactory(b, awsapi.RecordOperations(counter.record)), nil)
		b.StartTimer()
		start := time.Now()
		res, err := e.Apply(ctx, actions.Lockdown, org.IDs(), actions.Options{RequestID: fmt.Sprintf("ks-bench-%d", i)}, nil)
		d := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if p := res.Problems(); len(p) > 0 || res.Status != actions.StatusSucceeded {
			b.Fatalf("lockdown: %s: %v", res.Status, p)
		}
		done := 0
		for _, s := range res.Steps() {
			if s.Status == actions.StepDone {
				done++
			}
		}
		elapsed += d
		calls += counter.total()
		steps += done
		minCalls += done + len(org.IDs())
		if i == b.N-1 {
			b.Logf("lockdown of %d accounts: %d steps in %s; operations: %v", len(org.IDs()), done, d.Round(time.Millisecond), counter.snapshot())
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(calls)/n, "aws_calls/op")
	b.ReportMetric(float64(minCalls)/n, "min_calls/op")
	b.ReportMetric(float64(steps)/n, "steps/op")
	if calls > 0 {
		b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(calls), "ms/call")
	}
}
