package awsint

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/actions"
)

// TestApplyAndUndoEveryMutatingAction applies each mutating action, then
// lockdown, through the engine and the real factory on a fresh emulated
// organization, and checks every effect through the SDK with the test's own
// administrator clients: the state after Apply is exactly the state before
// plus the action's effects (nothing else changed, exempt principals and the
// bot's role untouched, the data still there); a second Apply changes
// nothing; Undo gives back everything AWS can give back.
func TestApplyAndUndoEveryMutatingAction(t *testing.T) {
	for _, action := range []string{actions.DenyDelete, actions.RevokeSessions, actions.DisableUsers, actions.RotateKeys, actions.Lockdown} {
		t.Run(action, func(t *testing.T) {
			org := reseed(t, defaultSeed)
			e := newEngine(t, newFactory(t), nil)
			ctx := context.Background()
			rb := time.Now().UTC().Truncate(time.Second)
			opt := actions.Options{RequestID: "ks-it-" + action, RevokeBefore: rb}
			x := NewExpect(t, org, e, rb)

			before := readState(t, org, nil)
			plan, err := e.Plan(ctx, action, org.IDs(), opt)
			if err != nil {
				t.Fatal(err)
			}

			rec := &stepRecorder{}
			res, err := e.Apply(ctx, action, org.IDs(), opt, rec)
			if err != nil {
				t.Fatal(err)
			}
			if p := res.Problems(); len(p) > 0 || res.Status != actions.StatusSucceeded {
				t.Fatalf("apply %s: status %s:\n  %s", action, res.Status, strings.Join(p, "\n  "))
			}
			if got, want := len(rec.all()), len(res.Steps()); got != want || want == 0 {
				t.Fatalf("recorded %d steps, the result has %d", got, want)
			}
			if unplanned, notDone := actions.Diff(plan, res); len(unplanned)+len(notDone) > 0 {
				t.Errorf("apply differs from the plan on an unchanged organization:\nunplanned: %v\nnot done: %v", unplanned, notDone)
			}
			ended := time.Now()
			after := readState(t, org, nil)
			switch action {
			case actions.RevokeSessions:
				CheckPinnedRevokeTime(t, after, rb)
			case actions.Lockdown:
				x.SetRevokeCutoffs(t, CheckLockdownRevokeTime(t, after, rb, ended, res))
				CheckLockdownOrder(t, res)
			}
			if action == actions.DenyDelete || action == actions.Lockdown {
				CheckGuardrailUnconfirmed(t, res)
			}
			AssertState(t, "after apply", x.Applied(t, action, opt.RequestID, before, after), after)
			CheckBotRoleUntouched(t, org, before, after)

			// A second Apply of the same request finds everything contained.
			res2, err := e.Apply(ctx, action, org.IDs(), opt, &stepRecorder{})
			if err != nil {
				t.Fatal(err)
			}
			if p := res2.Problems(); len(p) > 0 || res2.Status != actions.StatusSucceeded || res2.Changed() != 0 {
				t.Errorf("second apply: status %s, %d change(s), problems %v:\n%s", res2.Status, res2.Changed(), p, mustJSON(t, res2.Steps()))
			}
			AssertState(t, "after the second apply", after, readState(t, org, nil))

			// Undo from the recorded steps alone.
			urec := &stepRecorder{}
			undo, err := e.Undo(ctx, action, rec.all(), actions.Options{RequestID: opt.RequestID + "-undo"}, urec)
			if err != nil {
				t.Fatal(err)
			}
			if p := undo.Problems(); len(p) > 0 || undo.Status != actions.StatusSucceeded {
				t.Fatalf("undo %s: status %s:\n  %s", action, undo.Status, strings.Join(p, "\n  "))
			}
			reversible := 0
			for _, s := range res.Steps() {
				if s.Reversible {
					reversible++
				}
			}
			if undo.Changed() != reversible {
				t.Errorf("undo changed %d steps, apply made %d reversible ones", undo.Changed(), reversible)
			}
			restored := readState(t, org, nil)
			AssertState(t, "after undo", x.Undone(t, action, opt.RequestID, before, after), restored)
			CheckUndoWarnings(t, action, res, undo)

		})
	}
}

// TestStandaloneAccountLockdown: an account outside any organization (the
// Code Spaces case) gets deny-delete as the IAM managed policy on every
// non-exempt user, group and role; lockdown and its undo work there too.
func TestStandaloneAccountLockdown(t *testing.T) {
	org := reseed(t, SeedOptions{Standalone: true, ExtraUsers: 1})
	e := newEngine(t, newFactory(t), nil)
	ctx := context.Background()
	rb := time.Now().UTC().Truncate(time.Second)
	opt := actions.Options{RequestID: "ks-it-standalone", RevokeBefore: rb}
	x := NewExpect(t, org, e, rb)
	before := readState(t, org, nil)

	plan, err := e.Plan(ctx, actions.Lockdown, org.IDs(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Accounts) != 1 || plan.Accounts[0].Kind != actions.KindStandalone || plan.Accounts[0].Error != "" {
		t.Fatalf("plan: %s", mustJSON(t, plan))
	}
	if w, want := strings.Join(plan.Accounts[0].Warnings, "\n"), IAMFallbackWarning(GuardrailParts(t, org, e), "standalone account: no Organization, so no SCP"); !strings.Contains(w, want) {
		t.Errorf("the plan does not say why deny-delete is an IAM policy here (want %q): %s", want, w)
	}
	rec := &stepRecorder{}
	res, err := e.Apply(ctx, actions.Lockdown, org.IDs(), opt, rec)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 || res.Status != actions.StatusSucceeded {
		t.Fatalf("apply: status %s: %v", res.Status, p)
	}
	ended := time.Now()
	CheckGuardrailUnconfirmed(t, res)
	CheckLockdownOrder(t, res)
	after := readState(t, org, nil)
	x.SetRevokeCutoffs(t, CheckLockdownRevokeTime(t, after, rb, ended, res))
	AssertState(t, "after lockdown", x.Applied(t, actions.Lockdown, opt.RequestID, before, after), after)
	CheckBotRoleUntouched(t, org, before, after)

	undo, err := e.Undo(ctx, actions.Lockdown, rec.all(), actions.Options{RequestID: "ks-it-standalone-undo"}, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := undo.Problems(); len(p) > 0 || undo.Status != actions.StatusSucceeded {
		t.Fatalf("undo: status %s: %v", undo.Status, p)
	}
	AssertState(t, "after undo", x.Undone(t, actions.Lockdown, opt.RequestID, before, after), readState(t, org, nil))
}

// TestSCPLimitFallsBackToIAMPolicy: a member that already has AWS's limit
// of five SCPs (FullAWSAccess and four of its own) gets deny-delete as the
// IAM managed policy instead; the other member gets the SCP. Undo removes
// both.
func TestSCPLimitFallsBackToIAMPolicy(t *testing.T) {
	org := reseed(t, defaultSeed)
	full := org.Members[0]
	ctx := context.Background()
	orgs := organizations.NewFromConfig(motoConfig())
	if _, err := orgs.EnablePolicyType(ctx, &organizations.EnablePolicyTypeInput{RootId: aws.String(rootID(t)), PolicyType: orgtypes.PolicyTypeServiceControlPolicy}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		p, err := orgs.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(fmt.Sprintf("guardrail-%d", i)), Type: orgtypes.PolicyTypeServiceControlPolicy,
			Description: aws.String("existing guardrail"),
			Content:     aws.String(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"guardduty:Delete%d*","Resource":"*"}]}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := orgs.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: p.Policy.PolicySummary.Id, TargetId: aws.String(full)}); err != nil {
			t.Fatal(err)
		}
	}
	e := newEngine(t, newFactory(t), nil)
	rb := time.Now().UTC().Truncate(time.Second)
	opt := actions.Options{RequestID: "ks-it-scp-limit", RevokeBefore: rb}
	x := NewExpect(t, org, e, rb)
	x.IAMDenyDelete[full] = true
	before := readState(t, org, nil)
	if n := len(before.Accounts[full].AttachedSCPs); n != 5 {
		t.Fatalf("%s has %d SCPs, want 5", full, n)
	}

	rec := &stepRecorder{}
	res, err := e.Apply(ctx, actions.DenyDelete, org.IDs(), opt, rec)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 || res.Status != actions.StatusSucceeded {
		t.Fatalf("apply: status %s: %v", res.Status, p)
	}
	var warnings []string
	for _, a := range res.Accounts {
		if a.Account == full {
			warnings = a.Warnings
		}
	}
	parts := GuardrailParts(t, org, e)
	for _, want := range []string{
		fmt.Sprintf("account %s has 5 SCPs attached and the guardrail needs %d more", full, len(parts)),
		IAMFallbackWarning(parts, "SCP limit reached"),
	} {
		if w := strings.Join(warnings, "\n"); !strings.Contains(w, want) {
			t.Errorf("%s: no warning %q about the SCP limit: %s", full, want, w)
		}
	}
	CheckGuardrailUnconfirmed(t, res)
	after := readState(t, org, nil)
	AssertState(t, "after deny-delete", x.Applied(t, actions.DenyDelete, opt.RequestID, before, after), after)

	undo, err := e.Undo(ctx, actions.DenyDelete, rec.all(), actions.Options{RequestID: "ks-it-scp-limit-undo"}, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := undo.Problems(); len(p) > 0 {
		t.Fatalf("undo: %v", p)
	}
	AssertState(t, "after undo", x.Undone(t, actions.DenyDelete, opt.RequestID, before, after), readState(t, org, nil))
}

// TestUndoTwiceChangesNothing: Undo is documented as idempotent ("undoing
// something already undone succeeds"), so a request's undo can be retried
// after a crash or a timeout. Lockdown covers every kind of step.
func TestUndoTwiceChangesNothing(t *testing.T) {
	org := reseed(t, defaultSeed)
	e := newEngine(t, newFactory(t), nil)
	ctx := context.Background()
	opt := actions.Options{RequestID: "ks-it-undo-twice"}
	rec := &stepRecorder{}
	res, err := e.Apply(ctx, actions.Lockdown, org.IDs(), opt, rec)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 {
		t.Fatalf("apply: %v", p)
	}
	undo, err := e.Undo(ctx, actions.Lockdown, rec.all(), actions.Options{RequestID: "ks-it-undo-twice-1"}, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := undo.Problems(); len(p) > 0 {
		t.Fatalf("first undo: %v", p)
	}
	restored := readState(t, org, nil)
	again, err := e.Undo(ctx, actions.Lockdown, rec.all(), actions.Options{RequestID: "ks-it-undo-twice-2"}, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := again.Problems(); len(p) > 0 || again.Status != actions.StatusSucceeded {
		t.Errorf("second undo of the same steps: status %s:\n  %s", again.Status, strings.Join(p, "\n  "))
	}
	AssertState(t, "after the second undo", restored, readState(t, org, nil))
}
