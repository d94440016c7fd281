package actions_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

const (
	orgMgmt = "111111111111"
	orgProd = "222222222222" // its root has a password, an access key and no MFA in the built-in org
	orgStg  = "333333333333"
)

func hasLine(lines []string, parts ...string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	})
}

func accountPlan(t *testing.T, p *actions.Plan, id string) actions.AccountPlan {
	t.Helper()
	for _, a := range p.Accounts {
		if a.Account == id {
			return a
		}
	}
	t.Fatalf("no plan for %s", id)
	return actions.AccountPlan{}
}

// TestFindBackdoorsReportsRootStatusPerAccount: find-backdoors reads each
// root user (a root session in members, the account summary everywhere)
// and says what only the owner can do in the management account.
func TestFindBackdoorsReportsRootStatusPerAccount(t *testing.T) {
	org := builtin(t, "org")
	e := engine(t, org)
	res, err := e.Apply(context.Background(), actions.FindBackdoors, []string{orgMgmt, orgProd, orgStg}, actions.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := func(id string) (actions.AccountResult, []string) {
		for _, a := range res.Accounts {
			if a.Account == id {
				for _, f := range a.Findings {
					if f.Principal == "arn:aws:iam::"+id+":root" {
						return a, f.Changes
					}
				}
				return a, nil
			}
		}
		t.Fatalf("no result for %s", id)
		return actions.AccountResult{}, nil
	}
	prodKey := rootState(t, org, orgProd).AccessKeys[0]
	ar, prod := root(orgProd)
	for _, want := range [][]string{{"root console password: yes"}, {"root access keys: 1", prodKey[:4] + "..." + prodKey[len(prodKey)-4:], "Active"}, {"root MFA: no"}, {"root signing certificates: 0"}} {
		if !hasLine(prod, want...) {
			t.Errorf("prod's root finding lacks %q: %q (warnings %q)", want, prod, ar.Warnings)
		}
	}
	_, stg := root(orgStg)
	if !hasLine(stg, "root MFA: yes") || !hasLine(stg, "root access keys: 0") {
		t.Errorf("staging's root finding: %q", stg)
	}
	mg, m := root(orgMgmt)
	if !hasLine(m, "root access keys: no") || !hasLine(m, "root MFA: yes") || !hasLine(m, "root console password: not known") {
		t.Errorf("management's root finding (account summary only): %q", m)
	}
	if !hasLine(mg.Warnings, "nothing but the account owner can contain it", "management account") {
		t.Errorf("the management account does not say only the owner can contain root: %q", mg.Warnings)
	}
	calls := org.Calls()
	if calls["STS.AssumeRoot"] != 2 || calls["IAM.GetAccountSummary"] != 3 {
		t.Errorf("AssumeRoot %d (want 2: one per member), GetAccountSummary %d (want 3)", calls["STS.AssumeRoot"], calls["IAM.GetAccountSummary"])
	}
}

// TestLockdownPlanWarnsAboutRoot: the plan of lockdown warns where root has
// access keys or no MFA, and says what only the owner of a standalone
// account can do.
func TestLockdownPlanWarnsAboutRoot(t *testing.T) {
	org := builtin(t, "org")
	p, err := engine(t, org).Plan(context.Background(), actions.Lockdown, []string{orgProd, orgStg}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prod := accountPlan(t, p, orgProd).Warnings
	if !hasLine(prod, "root user of "+orgProd+" has access keys", "remove-root-credentials") || !hasLine(prod, "root user of "+orgProd+" has no MFA") {
		t.Errorf("prod: no warning about root's keys and MFA: %q", prod)
	}
	if stg := accountPlan(t, p, orgStg).Warnings; hasLine(stg, "has access keys") || hasLine(stg, "has no MFA") || !hasLine(stg, "root user of "+orgStg, "root MFA: yes") {
		t.Errorf("staging: %q", stg)
	}
	cs := builtin(t, "codespaces")
	must(t, cs.SetRoot("111122223333", sim.Root{Password: true, AccessKeys: []sim.AccessKey{{Active: true}}}))
	p, err = engine(t, cs).Plan(context.Background(), actions.Lockdown, cs.Accounts(), actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := p.Accounts[0].Warnings
	if !hasLine(w, "has access keys", "only the account owner") || !hasLine(w, "nothing but the account owner can contain it", "standalone") {
		t.Errorf("standalone: %q", w)
	}
}

// TestRemoveRootCredentials removes a member root's password, keys,
// certificates and MFA through a root session, read back from the
// simulation; undo reports every step as not reversible.
func TestRemoveRootCredentials(t *testing.T) {
	org := builtin(t, "org")
	must(t, org.SetRoot(orgStg, sim.Root{Password: true, AccessKeys: []sim.AccessKey{{Active: true}, {Active: false}}, MFA: 1, SigningCertificates: 2}))
	e := engine(t, org)
	p, err := e.Plan(context.Background(), actions.RemoveRootCredentials, []string{orgStg}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ap := accountPlan(t, p, orgStg); ap.Error != "" || len(ap.Targets) != 1 || len(ap.Targets[0].Changes) != 7 {
		t.Fatalf("plan: %+v", ap) // 2 keys, password, 2 certificates, deactivate and delete the virtual MFA
	}
	if st := rootState(t, org, orgStg); !st.Password || len(st.AccessKeys) != 2 {
		t.Fatalf("the plan changed the root user: %+v", st)
	}
	before := org.Calls()["STS.AssumeRoot"]
	res, rec := apply(t, e, actions.RemoveRootCredentials, []string{orgStg}, actions.Options{RequestID: "ks-root"})
	if res.Status != actions.StatusSucceeded {
		t.Fatalf("apply: %+v", res)
	}
	if st := rootState(t, org, orgStg); st.Password || len(st.AccessKeys)+len(st.MFA)+len(st.VirtualMFA)+len(st.SigningCertificates) != 0 {
		t.Errorf("root of %s after remove-root-credentials: %+v", orgStg, st)
	}
	if n := org.Calls()["STS.AssumeRoot"] - before; n != 2 {
		t.Errorf("%d root sessions: want one audit and one delete session", n)
	}
	for _, s := range res.Steps() {
		if s.Reversible || s.Status != actions.StepDone {
			t.Errorf("step %s: reversible %v, status %s", s.Key, s.Reversible, s.Status)
		}
	}
	// the intruder's stolen root password no longer signs in
	if err := org.Authorize(sim.Credential{Account: orgStg, Principal: "arn:aws:iam::" + orgStg + ":root", Console: true}, "s3:ListAllMyBuckets", "*"); err == nil {
		t.Error("the root password still signs in")
	}
	u, err := e.Undo(context.Background(), actions.RemoveRootCredentials, rec.steps, actions.Options{RequestID: "ks-root-undo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := u.Accounts[0].Warnings
	if len(u.Accounts[0].Steps) != 0 || len(w) != 7 || !hasLine(w, "console password of the root user", "cannot come back", "IAMCreateRootUserPassword") || !hasLine(w, "root access key", "cannot come back") {
		t.Errorf("undo: steps %v, warnings %q", u.Accounts[0].Steps, w)
	}
	if res2, _ := apply(t, e, actions.RemoveRootCredentials, []string{orgStg}, actions.Options{RequestID: "ks-root-2"}); res2.Changed() != 0 {
		t.Errorf("a second run changed %d things", res2.Changed())
	}
}

// TestRemoveRootCredentialsRefusals: standalone and management accounts
// are refused with what only the owner can do; an Organization without
// centralised root access is told how to enable it.
func TestRemoveRootCredentialsRefusals(t *testing.T) {
	cs := builtin(t, "codespaces")
	p, err := engine(t, cs).Plan(context.Background(), actions.RemoveRootCredentials, cs.Accounts(), actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Accounts[0].Warnings; !hasLine(w, "refused", "standalone", "nothing but the account owner can contain its root user", "signs in as root", "joins an Organization with centralised root access") {
		t.Errorf("standalone plan: %q", w)
	}
	res, err := engine(t, cs).Apply(context.Background(), actions.RemoveRootCredentials, cs.Accounts(), actions.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ar := res.Accounts[0]; ar.Status != actions.StatusFailed || !strings.Contains(ar.Error, "nothing but the account owner") || len(ar.Steps) != 0 {
		t.Errorf("standalone apply: %+v", ar)
	}
	org := builtin(t, "org")
	e := engine(t, org)
	p, err = e.Plan(context.Background(), actions.RemoveRootCredentials, []string{orgMgmt}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := accountPlan(t, p, orgMgmt).Warnings; !hasLine(w, "refused", "management account", "sts:AssumeRoot cannot target", "nothing but the account owner") {
		t.Errorf("management plan: %q", w)
	}
	must(t, org.EnableCentralRootAccess(false, false))
	p, err = e.Plan(context.Background(), actions.RemoveRootCredentials, []string{orgProd}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := accountPlan(t, p, orgProd).Warnings; !hasLine(w, "not enabled", "enable-aws-service-access --service-principal iam.amazonaws.com", "enable-organizations-root-credentials-management") {
		t.Errorf("no centralised root access: %q", w)
	}
	if org.Calls()["STS.AssumeRoot"] != 0 {
		t.Error("AssumeRoot was called for the management account or without centralised root access")
	}
}

// TestRemoveRootCredentialsCatalogEntry: one approval more, not
// reversible, and the card's text says it cannot be undone.
func TestRemoveRootCredentialsCatalogEntry(t *testing.T) {
	i, err := actions.Lookup(actions.RemoveRootCredentials)
	if err != nil {
		t.Fatal(err)
	}
	if i.ExtraApprovals != 1 || i.Reversible || !i.Mutating || !strings.Contains(i.Undo, "cannot be undone") || !strings.Contains(i.Summary, "cannot be undone") {
		t.Errorf("%+v", i)
	}
}

// TestGuardrailBindsMemberRoot: the guardrail SCP binds a member's root
// user (no exemption matches arn:aws:iam::ACCT:root), and never the
// management account's.
func TestGuardrailBindsMemberRoot(t *testing.T) {
	org := builtin(t, "org")
	res, _ := apply(t, engine(t, org), actions.DenyDelete, []string{orgMgmt, orgProd}, actions.Options{RequestID: "ks-dd"})
	if res.Status != actions.StatusSucceeded {
		t.Fatalf("%+v", res.Problems())
	}
	member := sim.Credential{Account: orgProd, Principal: "arn:aws:iam::" + orgProd + ":root", Console: true}
	for _, act := range []string{"ec2:DeleteSnapshot", "iam:CreateUser", "iam:CreateAccessKey"} {
		if err := org.Authorize(member, act, "*"); err == nil {
			t.Errorf("member root may %s under the guardrail", act)
		}
	}
	if err := org.Authorize(sim.Credential{Account: orgMgmt, Principal: "arn:aws:iam::" + orgMgmt + ":root", Console: true}, "ec2:DeleteSnapshot", "*"); err != nil {
		t.Errorf("the management account's root is bound (SCPs never bind it): %v", err)
	}
}

func rootState(t *testing.T, org *sim.Org, id string) sim.RootState {
	t.Helper()
	st, err := org.RootStatus(id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRemoveRootCredentialsAfterLockdown: the guardrail freezes IAM for a
// member's root user, but not for the root session killswitch opens
// (aws:AssumedRoot), so root credentials can still be removed after
// lockdown; a stolen root password stays bound.
func TestRemoveRootCredentialsAfterLockdown(t *testing.T) {
	org := builtin(t, "org")
	e := engine(t, org)
	if res, _ := apply(t, e, actions.Lockdown, []string{orgMgmt, orgProd}, actions.Options{RequestID: "ks-lock"}); res.Status == actions.StatusFailed {
		t.Fatalf("lockdown: %v", res.Problems())
	}
	stolen := sim.Credential{Account: orgProd, Principal: "arn:aws:iam::" + orgProd + ":root", Console: true}
	if err := org.Authorize(stolen, "iam:DeleteAccessKey", "*"); err == nil {
		t.Fatal("the guardrail does not bind prod's root user")
	}
	res, _ := apply(t, e, actions.RemoveRootCredentials, []string{orgProd}, actions.Options{RequestID: "ks-root"})
	if res.Status != actions.StatusSucceeded || len(res.Steps()) != 2 {
		t.Fatalf("remove-root-credentials after lockdown: %v %v", res.Status, res.Problems())
	}
	if st := rootState(t, org, orgProd); st.Password || len(st.AccessKeys) != 0 {
		t.Errorf("prod's root after the removal: %+v", st)
	}
}
