package awsint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
)

// TestUnconfirmedBreakGlassIsContainedAndQuarantined: a run given an
// exemption baseline where none is old enough (what serve passes on a fresh
// store) trusts no exemption by tag or wildcard pattern, since anyone with
// IAM rights can tag a principal or name one like break-glass. The plan
// says so and names each such principal with how to exempt it deliberately;
// lockdown contains them like any other (the guardrail, their credentials
// cut) and quarantines them first among the cuts: their every session is
// denied, whenever issued. The bot's own role, service-linked and Identity
// Center roles stay exempt. Undo gives back what AWS can.
func TestUnconfirmedBreakGlassIsContainedAndQuarantined(t *testing.T) {
	org := reseed(t, defaultSeed)
	e := newEngine(t, newFactory(t), nil)
	ctx := context.Background()
	rb := time.Now().UTC().Truncate(time.Second)
	opt := actions.Options{RequestID: "ks-it-unconfirmed", RevokeBefore: rb, Baseline: &actions.Baseline{Accounts: map[string]actions.Recorded{}}}
	x := NewExpect(t, org, e, rb)
	x.Unconfirm(t, e)
	before := readState(t, org, nil)

	plan, err := e.Plan(ctx, actions.Lockdown, org.IDs(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, ap := range plan.Accounts {
		all := strings.Join(ap.Warnings, "\n")
		if !strings.Contains(all, "no exemption baseline older than 24h: principals exempt only by tag or pattern are contained") {
			t.Errorf("%s: the plan does not say no baseline is old enough; warnings:\n%s", ap.Account, all)
		}
		a := org.Accounts[ap.Account]
		targets := map[string]string{}
		for _, tg := range ap.Targets {
			targets[tg.Principal] = strings.Join(tg.Changes, "; ")
		}
		exempt := map[string]bool{}
		for _, ex := range ap.Exempt {
			exempt[ex.Principal] = true
		}
		for _, p := range append(append([]Principal(nil), a.Users...), a.Roles...) {
			claimed := p.Exempt == ExemptTag || p.Exempt == ExemptPattern
			if !claimed {
				if p.Exempt != "" && !exempt[p.ARN] {
					t.Errorf("%s: %s (%s) is not exempt any more", ap.Account, p.ARN, p.Exempt)
				}
				continue
			}
			if exempt[p.ARN] {
				t.Errorf("%s: %s is exempt by %s with no baseline to confirm it", ap.Account, p.ARN, p.Exempt)
			}
			if want := p.ARN + " is contained although it is exempt by " + reason(p.Exempt) + ": there is no exemption baseline older than 24h; to exempt it deliberately, list its ARN in break_glass.principals in the configuration"; !strings.Contains(all, want) {
				t.Errorf("%s: no warning %q; warnings:\n%s", ap.Account, want, all)
			}
			if !strings.Contains(targets[p.ARN], "quarantine: deny every session, whenever issued") {
				t.Errorf("%s: the plan does not quarantine %s: %q", ap.Account, p.ARN, targets[p.ARN])
			}
		}
	}

	rec := &stepRecorder{}
	res, err := e.Apply(ctx, actions.Lockdown, org.IDs(), opt, rec)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 || res.Status != actions.StatusSucceeded {
		t.Fatalf("apply: status %s:\n  %s", res.Status, strings.Join(p, "\n  "))
	}
	ended := time.Now()
	CheckGuardrailUnconfirmed(t, res)
	CheckLockdownOrder(t, res)
	quarantined := 0
	for _, s := range res.Steps() {
		if s.Status == actions.StepDone && strings.HasPrefix(s.Change, "quarantine:") {
			quarantined++
			if !x.claims(s.Account, s.Principal) {
				t.Errorf("%s quarantined %s, which the seed did not make look exempt", s.Key, s.Principal)
			}
		}
	}
	if want := 2 * len(org.IDs()); quarantined != want { // breakglass-oncall and BreakGlassAdmin in each account
		t.Errorf("%d principals quarantined, want %d", quarantined, want)
	}
	after := readState(t, org, nil)
	x.SetRevokeCutoffs(t, CheckLockdownRevokeTime(t, after, rb, ended, res))
	AssertState(t, "after lockdown with no baseline old enough", x.Applied(t, actions.Lockdown, opt.RequestID, before, after), after)
	CheckBotRoleUntouched(t, org, before, after)

	undo, err := e.Undo(ctx, actions.Lockdown, rec.all(), actions.Options{RequestID: opt.RequestID + "-undo"}, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := undo.Problems(); len(p) > 0 || undo.Status != actions.StatusSucceeded {
		t.Fatalf("undo: status %s:\n  %s", undo.Status, strings.Join(p, "\n  "))
	}
	AssertState(t, "after undo", x.Undone(t, actions.Lockdown, opt.RequestID, before, after), readState(t, org, nil))
	CheckUndoWarnings(t, actions.Lockdown, res, undo)
}
