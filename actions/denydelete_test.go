package actions_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// manyPatterns make the guardrail too large for one SCP.
var manyPatterns = []string{
	"arn:aws:iam::*:role/BreakGlass*",
	"arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*",
	"arn:aws:iam::*:role/OrganizationAccountAccessRole",
	"arn:aws:iam::*:role/IncidentResponse*",
	"arn:aws:iam::*:user/breakglass",
}

func splitEngine(t *testing.T, org *sim.Org) *actions.Engine {
	t.Helper()
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{BreakGlassPatterns: manyPatterns, BreakGlassTag: bgTag, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDenyDeleteAttachesEveryPartAndUndoRemovesThem(t *testing.T) {
	org := builtin(t, "org")
	e := splitEngine(t, org)
	parts, err := e.DenyDeleteParts()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("the guardrail with %d patterns is %d part(s); the test needs it split", len(manyPatterns), len(parts))
	}
	members := []string{}
	for _, id := range org.Accounts() {
		if id != org.ManagementAccount() {
			members = append(members, id)
		}
	}
	before := map[string]int{}
	for _, id := range members {
		before[id] = orgSCPCount(t, org, id)
	}
	res, rec := apply(t, e, actions.DenyDelete, org.Accounts(), actions.Options{RequestID: "ks-parts"})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	for _, id := range members {
		names := map[string]bool{}
		for _, pid := range org.SCPsFor(id) {
			name, _, _ := org.SCPContent(pid)
			names[name] = true
		}
		fellBack := false
		for _, a := range res.Accounts {
			if a.Account != id {
				continue
			}
			for _, w := range a.Warnings {
				fellBack = fellBack || strings.Contains(w, "IAM managed-policy fallback")
				if strings.Contains(w, "SCP slots") {
					t.Logf("%s: %s", id, w)
				}
			}
		}
		for i := range parts {
			if !names[actions.DenyDeletePartName(i)] && !fellBack {
				t.Errorf("account %s: SCP %s not attached (has %v)", id, actions.DenyDeletePartName(i), names)
			}
		}
		// every part denies what it holds: the intruder is stopped by part 2 too
		intruder := sim.Credential{Account: id, Principal: "arn:aws:iam::" + id + ":root"}
		for _, action := range []string{"ec2:DeleteSnapshot", "iam:CreateUser", "sts:GetSessionToken", "organizations:LeaveOrganization", "securityhub:DisableSecurityHub"} {
			if err := org.Authorize(intruder, action, "*"); !denied(err) {
				t.Errorf("account %s: %s allowed to the root user with the guardrail in %d parts: %v", id, action, len(parts), err)
			}
		}
		bg := roleSession(id, "BreakGlassAdmin", time.Now())
		if err := org.Authorize(bg, "ec2:DeleteSnapshot", "*"); err != nil {
			t.Errorf("account %s: break-glass denied: %v", id, err)
		}
	}
	// the management account gets every part as a managed policy
	mg := org.Snapshot(org.ManagementAccount())
	for _, u := range mg.Users {
		if exemptPrincipal(u.Arn) || strings.HasPrefix(strings.ToLower(u.Name), "breakglass") {
			continue
		}
		for i := range parts {
			want := "/killswitch/" + actions.DenyDeletePartName(i)
			found := false
			for _, p := range u.ManagedPolicies {
				found = found || strings.HasSuffix(p, want)
			}
			if !found {
				t.Errorf("management user %s lacks %s (has %v)", u.Name, want, u.ManagedPolicies)
			}
		}
	}
	// idempotent: a second apply changes nothing
	again, _ := apply(t, e, actions.DenyDelete, org.Accounts(), actions.Options{RequestID: "ks-parts-2"})
	if n := len(again.Steps()); n != 0 {
		t.Errorf("second apply made %d changes", n)
	}

	undo, err := e.Undo(context.Background(), actions.DenyDelete, rec.steps, actions.Options{RequestID: "ks-parts-undo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := undo.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	for _, id := range members {
		if n := orgSCPCount(t, org, id); n != before[id] {
			t.Errorf("account %s: %d SCPs after undo, %d before", id, n, before[id])
		}
		for _, pid := range org.SCPsFor(id) {
			if name, _, _ := org.SCPContent(pid); actions.IsDenyDeletePart(name) {
				t.Errorf("account %s: %s still attached after undo", id, name)
			}
		}
	}
	for _, u := range org.Snapshot(org.ManagementAccount()).Users {
		for _, p := range u.ManagedPolicies {
			if strings.Contains(p, "/killswitch/") {
				t.Errorf("management user %s keeps %s after undo", u.Name, p)
			}
		}
	}
}

func TestDenyDeleteFallsBackWhenNotEveryPartFits(t *testing.T) {
	org := builtin(t, "org")
	e := splitEngine(t, org)
	parts, err := e.DenyDeleteParts()
	if err != nil {
		t.Fatal(err)
	}
	// fill the account so that one slot fewer than the parts need is free
	fillSCPs(t, org, "333333333333", 5-len(parts)+1)
	res, _ := apply(t, e, actions.DenyDelete, []string{"333333333333"}, actions.Options{RequestID: "ks-full"})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	warned := false
	for _, a := range res.Accounts {
		for _, w := range a.Warnings {
			warned = warned || strings.Contains(w, "IAM managed-policy fallback")
		}
	}
	if !warned {
		t.Error("no fallback warning when the parts do not all fit")
	}
	for _, pid := range org.SCPsFor("333333333333") {
		if name, _, _ := org.SCPContent(pid); actions.IsDenyDeletePart(name) {
			t.Errorf("%s attached although not every part fits", name)
		}
	}
	intruder := userKey(t, org, "333333333333", "admin-staging")
	if err := org.Destroy(intruder, "snapshot", snapshotID(t, org, "333333333333", 0)); !denied(err) {
		t.Fatalf("the IAM fallback did not protect the member: %v", err)
	}
}

func TestIsDenyDeletePart(t *testing.T) {
	for name, want := range map[string]bool{
		"KillSwitchDenyDelete": true, "KillSwitchDenyDelete-2": true, "KillSwitchDenyDelete-12": true,
		"KillSwitchDenyDelete-": false, "KillSwitchDenyDelete-02": false, "KillSwitchDenyDelete-x": false, "KillSwitchDenyDeleteX": false, "Other": false,
	} {
		if got := actions.IsDenyDeletePart(name); got != want {
			t.Errorf("IsDenyDeletePart(%q) = %v", name, got)
		}
	}
}
