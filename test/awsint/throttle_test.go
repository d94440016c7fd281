package awsint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
)

// activeKeys counts the access keys of the non-exempt users of an account:
// the UpdateAccessKey calls disable-users makes there.
func activeKeys(a *Account) int {
	n := 0
	for _, u := range a.Users {
		if u.Exempt == "" {
			n += len(u.AccessKeys)
		}
	}
	return n
}

// TestThrottledAccountIsPartialOthersContainedRerunCompletes: IAM throttles
// every UpdateAccessKey attempt in one member account for longer than the
// retryer tries (moto never throttles: the fault is injected into the real
// SDK client's retry loop). Lockdown ends partial; only that account's key
// deactivations fail, each naming the throttling; every other account is
// fully contained, as read back through the SDK. Once the throttling stops,
// rerunning the same request completes the rest and changes nothing in the
// accounts already contained.
func TestThrottledAccountIsPartialOthersContainedRerunCompletes(t *testing.T) {
	org := reseed(t, defaultSeed)
	victim := org.Members[0]
	keys := activeKeys(org.Accounts[victim])
	times := maxAttempts * keys
	if times < maxAttempts {
		t.Fatal("the seed gave the victim account no access key")
	}
	rules := awsapi.NewFaultRules(awsapi.FaultRule{Account: victim, Service: "IAM", Operation: "UpdateAccessKey", Code: "Throttling", Times: times})
	e := newEngine(t, newFactory(t, awsapi.InjectFaults(rules)), nil)
	ctx := context.Background()
	rb := time.Now().UTC().Truncate(time.Second)
	opt := actions.Options{RequestID: "ks-it-throttle", RevokeBefore: rb}
	x := NewExpect(t, org, e, rb)
	before := readState(t, org, nil)

	res, err := e.Apply(ctx, actions.Lockdown, org.IDs(), opt, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != actions.StatusPartial {
		t.Errorf("lockdown status %s, want partial:\n%s", res.Status, mustJSON(t, res))
	}
	for _, ar := range res.Accounts {
		var failed []actions.Step
		for _, s := range ar.Steps {
			if s.Status != actions.StepDone {
				failed = append(failed, s)
			}
		}
		if ar.Account != victim {
			if ar.Status != actions.StatusSucceeded || len(failed) > 0 || ar.Error != "" {
				t.Errorf("%s (not throttled): status %s, error %q, failed %v", ar.Account, ar.Status, ar.Error, failed)
			}
			continue
		}
		if ar.Status != actions.StatusPartial {
			t.Errorf("throttled account %s: status %s, want partial", ar.Account, ar.Status)
		}
		if len(failed) != keys {
			t.Errorf("throttled account %s: %d failed steps, want the %d key deactivations:\n%s", ar.Account, len(failed), keys, mustJSON(t, failed))
		}
		for _, s := range failed {
			if s.Op != "deactivate-access-key" || s.Status != actions.StepFailed || !strings.Contains(s.Error, "Throttling") {
				t.Errorf("failed step %s (%s): error %q, want a deactivation failed by Throttling", s.Key, s.Status, s.Error)
			}
		}
	}
	if got := rules.Injected(); got != times {
		t.Errorf("%d faults injected, want %d: %d attempts (MaxAttempts) for each of %d keys", got, times, maxAttempts, keys)
	}
	for _, in := range rules.Injections() {
		if in.Account != victim || in.Operation != "UpdateAccessKey" {
			t.Errorf("fault injected into %+v", in)
		}
	}

	CheckGuardrailUnconfirmed(t, res)

	// Through the SDK: everything is contained but the victim's keys; each
	// account's sessions are revoked from after the last credential cut there.
	throttled := readState(t, org, nil)
	cutoffs := CheckLockdownRevokeTime(t, throttled, rb, time.Now(), res)
	x.SetRevokeCutoffs(t, cutoffs)
	contained := x.Applied(t, actions.Lockdown, opt.RequestID, before, nil)
	want := contained.Clone()
	for arn, p := range want.Accounts[victim].Principals {
		if b := before.Accounts[victim].Principals[arn]; b != nil && p.Kind == "user" {
			for k, st := range b.Keys {
				p.Keys[k] = st
			}
		}
	}
	AssertState(t, "after the throttled lockdown", want, throttled)

	// The throttling has stopped (the rules are spent): the same request again.
	res2, err := e.Apply(ctx, actions.Lockdown, org.IDs(), opt, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := res2.Problems(); len(p) > 0 || res2.Status != actions.StatusSucceeded {
		t.Fatalf("rerun: status %s: %v", res2.Status, p)
	}
	rerunEnded := time.Now()
	after := readState(t, org, nil)
	// The rerun cut the victim's keys: its sessions are revoked again, from
	// after those cuts; the other accounts keep their cut-off (a rerun never
	// moves one earlier, and one that cut nothing does not move it).
	cutoffs2 := CheckLockdownRevokeTime(t, after, rb, rerunEnded, res, res2)
	cut := LastDisableUsers(res2)
	for id, c := range cutoffs2 {
		switch {
		case c.Before(cutoffs[id]):
			t.Errorf("the rerun moved the cut-off of %s earlier: %s, was %s", id, c.Format(time.RFC3339), cutoffs[id].Format(time.RFC3339))
		case cut[id].IsZero() && !c.Equal(cutoffs[id]):
			t.Errorf("the rerun cut nothing in %s but moved its cut-off from %s to %s", id, cutoffs[id].Format(time.RFC3339), c.Format(time.RFC3339))
		case !cut[id].IsZero() && !c.After(cutoffs[id]):
			t.Errorf("the rerun cut credentials in %s at %s but left its cut-off at %s", id, cut[id].Format(time.RFC3339Nano), c.Format(time.RFC3339))
		}
	}
	if cut[victim].IsZero() || len(cut) != 1 {
		t.Errorf("the rerun cut credentials in %v, want only in the throttled %s", sortedKeys(cut), victim)
	}
	revoked := map[string]bool{} // the victim's principals carrying the revocation
	for arn, p := range contained.Accounts[victim].Principals {
		if _, ok := p.Inline[actions.RevokePolicyName]; ok {
			revoked[arn] = true
		}
	}
	for _, ar := range res2.Accounts {
		done, reput := 0, map[string]bool{}
		for _, s := range ar.Steps {
			if s.Status != actions.StepDone {
				continue
			}
			switch {
			case s.Op == "deactivate-access-key":
				done++
			case s.Action == actions.RevokeSessions && s.Resource == actions.RevokePolicyName && !cut[ar.Account].IsZero() &&
				strings.Contains(s.Change, "deny sessions issued before "+cutoffs2[ar.Account].Format(time.RFC3339)+" "):
				reput[s.Principal] = true
			case s.Action == actions.RevokeSessions && s.Op == "update-scp" && ar.Account == victim &&
				strings.Contains(s.Change, "sessions issued before "+cutoffs2[ar.Account].Format(time.RFC3339)+" denied"):
				// the victim's IAM Identity Center sessions: its SCP takes the later cut-off too
			default:
				t.Errorf("rerun redid %s: %s", s.Key, s.Change)
			}
		}
		want := 0
		if ar.Account == victim {
			want = keys
			for arn := range revoked {
				if !reput[arn] {
					t.Errorf("the rerun cut credentials in %s but did not revoke the sessions of %s from after the cut", victim, arn)
				}
			}
		}
		if done != want {
			t.Errorf("rerun in %s: %d key deactivations, want %d", ar.Account, done, want)
		}
		for arn := range reput {
			if ar.Account != victim || !revoked[arn] {
				t.Errorf("rerun in %s revoked the sessions of %s again", ar.Account, arn)
			}
		}
	}
	if got := rules.Injected(); got != times {
		t.Errorf("the rerun met %d more faults", got-times)
	}
	x.SetRevokeCutoffs(t, cutoffs2)
	AssertState(t, "after the rerun", x.Applied(t, actions.Lockdown, opt.RequestID, before, nil), after)
}

// TestShortThrottleIsRetried: fewer throttled attempts than MaxAttempts are
// absorbed by the SDK's retryer: the lockdown succeeds everywhere.
func TestShortThrottleIsRetried(t *testing.T) {
	org := reseed(t, defaultSeed)
	victim := org.Members[1]
	rules := awsapi.NewFaultRules(awsapi.FaultRule{Account: victim, Service: "IAM", Operation: "UpdateAccessKey", Code: "Throttling", Times: maxAttempts - 1})
	e := newEngine(t, newFactory(t, awsapi.InjectFaults(rules)), nil)
	rb := time.Now().UTC().Truncate(time.Second)
	opt := actions.Options{RequestID: "ks-it-short-throttle", RevokeBefore: rb}
	before := readState(t, org, nil)
	res, err := e.Apply(context.Background(), actions.Lockdown, org.IDs(), opt, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 || res.Status != actions.StatusSucceeded {
		t.Fatalf("lockdown: status %s: %v", res.Status, p)
	}
	if got := rules.Injected(); got != maxAttempts-1 {
		t.Errorf("%d faults injected, want %d", got, maxAttempts-1)
	}
	ended := time.Now()
	after := readState(t, org, nil)
	x := NewExpect(t, org, e, rb)
	x.SetRevokeCutoffs(t, CheckLockdownRevokeTime(t, after, rb, ended, res))
	AssertState(t, "after the retried lockdown", x.Applied(t, actions.Lockdown, opt.RequestID, before, nil), after)
}
