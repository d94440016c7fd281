package actions_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

const (
	icProd    = "222222222222"
	icSandbox = "555555555555"
	icMgmt    = "111111111111"
)

// icClock is a settable clock shared by the simulation and the engine.
type icClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *icClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *icClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func icEngine(t *testing.T) (*sim.Org, *actions.Engine, *icClock) {
	t.Helper()
	org := builtin(t, "org")
	clk := &icClock{now: t0}
	org.SetClock(clk.Now)
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, Concurrency: 4, Now: clk.Now,
		BreakGlassICUsers: []string{"breakglass-ic"}, BreakGlassICGroups: []string{"BreakGlass"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return org, e, clk
}

func ssoSession(t *testing.T, org *sim.Org, user, ps, acct string) sim.Credential {
	t.Helper()
	c, err := org.SSORoleCredentials(context.Background(), user, ps, acct)
	if err != nil {
		t.Fatalf("%s gets no %s session in %s: %v", user, ps, acct, err)
	}
	return c
}

func deniedBy(err error, policy string) bool {
	var d *sim.Denied
	return errors.As(err, &d) && strings.Contains(d.Policy+d.Reason, policy)
}

// TestIdentityCenterSessionRevokedByCutoff: in a member account, an IAM
// Identity Center session issued before revoke-sessions' cut-off is denied
// afterwards by the SSO SCP, one issued after is allowed, a break-glass
// Identity Center user's session is untouched; a rerun never moves the
// cut-off earlier; the management account is warned about; undo lifts it.
func TestIdentityCenterSessionRevokedByCutoff(t *testing.T) {
	org, e, clk := icEngine(t)
	old := ssoSession(t, org, "alice", "AdministratorAccess", icProd)
	bg := ssoSession(t, org, "breakglass-ic", "BreakGlassAccess", icProd)
	if err := org.Authorize(old, "ec2:DeleteSnapshot", "*"); err != nil {
		t.Fatalf("before: %v", err)
	}
	clk.set(t0.Add(time.Minute))
	cut := t0.Add(30 * time.Second)
	res, rec := apply(t, e, actions.RevokeSessions, org.Accounts(), actions.Options{RequestID: "r1", RevokeBefore: cut})
	clk.set(t0.Add(2 * time.Minute))
	fresh := ssoSession(t, org, "alice", "AdministratorAccess", icProd)
	if err := org.Authorize(old, "s3:ListAllMyBuckets", "*"); !deniedBy(err, actions.RevokeSSOPolicyName(icProd)) {
		t.Errorf("session issued before the cut-off: %v, want denied by %s", err, actions.RevokeSSOPolicyName(icProd))
	}
	if err := org.Authorize(fresh, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Errorf("session issued after the cut-off: %v", err)
	}
	if err := org.Authorize(bg, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Errorf("break-glass Identity Center session: %v", err)
	}
	var mgmtWarned bool
	for _, a := range res.Accounts {
		for _, w := range a.Warnings {
			mgmtWarned = mgmtWarned || a.Account == icMgmt && strings.Contains(w, "SCPs do not bind a management account") && strings.Contains(w, "contain-identity-center")
		}
	}
	if !mgmtWarned {
		t.Error("the management account's result does not say its Identity Center sessions stay alive")
	}
	// a rerun with an earlier cut-off changes nothing
	again, _ := apply(t, e, actions.RevokeSessions, org.Accounts(), actions.Options{RequestID: "r2", RevokeBefore: t0})
	for _, s := range again.Steps() {
		if strings.Contains(s.Principal, actions.RevokeSSOPolicyPrefix) || strings.Contains(s.Resource, actions.RevokeSSOPolicyPrefix) {
			t.Errorf("rerun with an earlier cut-off changed the SSO SCP: %s", s.Change)
		}
	}
	if err := org.Authorize(old, "s3:ListAllMyBuckets", "*"); err == nil {
		t.Error("the rerun moved the cut-off earlier")
	}
	undo(t, e, actions.RevokeSessions, rec.steps)
	if err := org.Authorize(old, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Errorf("after undo: %v", err)
	}
	for _, id := range org.SCPsFor(icProd) {
		if name, _, _ := org.SCPContent(id); strings.HasPrefix(name, actions.RevokeSSOPolicyPrefix) {
			t.Errorf("undo left SCP %s attached", name)
		}
	}
}

func undo(t *testing.T, e *actions.Engine, action string, steps []actions.Step) *actions.Result {
	t.Helper()
	res, err := e.Undo(context.Background(), action, steps, actions.Options{RequestID: "undo"}, nil)
	if err != nil || res.Status != actions.StatusSucceeded {
		t.Fatalf("undo %s: %v %+v", action, err, res)
	}
	return res
}

// TestContainIdentityCenterRemovesAndRestoresExactly: the plan names who
// loses which permission set where and the break-glass exemptions; apply
// removes every other assignment in scope; undo restores exactly them.
func TestContainIdentityCenterRemovesAndRestoresExactly(t *testing.T) {
	org, e, _ := icEngine(t)
	before := org.ICAssignments()
	plan, err := e.Plan(context.Background(), actions.ContainIdentityCenter, org.Accounts(), actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sandbox, exempt bool
	for _, a := range plan.Accounts {
		for _, tg := range a.Targets {
			for _, c := range tg.Changes {
				sandbox = sandbox || a.Account == icSandbox && tg.Principal == "Identity Center user alice" && strings.Contains(c, "AdministratorAccess")
			}
		}
		for _, x := range a.Exempt {
			exempt = exempt || x.Principal == "Identity Center user breakglass-ic" && strings.Contains(x.Reason, "BreakGlassAccess")
		}
	}
	if !sandbox || !exempt {
		t.Fatalf("plan: alice loses AdministratorAccess in sandbox %v, breakglass-ic exempt %v: %+v", sandbox, exempt, plan.Accounts)
	}
	_, rec := apply(t, e, actions.ContainIdentityCenter, org.Accounts(), actions.Options{RequestID: "c1"})
	for _, as := range org.ICAssignments() {
		if as.Principal != "breakglass-ic" {
			t.Errorf("assignment left: %+v", as)
		}
	}
	bgLeft := 0
	for _, as := range before {
		if as.Principal == "breakglass-ic" {
			bgLeft++
		}
	}
	if got := len(org.ICAssignments()); got != bgLeft || bgLeft != len(org.Accounts()) {
		t.Errorf("break-glass assignments %d after, %d before, want one per account", got, bgLeft)
	}
	if _, err := org.SSORoleCredentials(context.Background(), "alice", "AdministratorAccess", icProd); err == nil {
		t.Error("alice still gets sessions")
	}
	ssoSession(t, org, "breakglass-ic", "BreakGlassAccess", icProd)
	undo(t, e, actions.ContainIdentityCenter, rec.steps)
	if after := org.ICAssignments(); !reflect.DeepEqual(after, before) {
		t.Errorf("undo restored\n%+v\nwant\n%+v", after, before)
	}
}

// TestContainIdentityCenterNamedPrincipals: only the named principal's
// assignments go; an unknown or break-glass name is refused in the plan.
func TestContainIdentityCenterNamedPrincipals(t *testing.T) {
	org, e, _ := icEngine(t)
	before := len(org.ICAssignments())
	apply(t, e, actions.ContainIdentityCenter, org.Accounts(), actions.Options{RequestID: "c2", IdentityCenter: []string{"user:alice"}})
	after := org.ICAssignments()
	for _, as := range after {
		if as.Principal == "alice" {
			t.Errorf("alice's assignment left: %+v", as)
		}
	}
	if len(after) != before-1 {
		t.Errorf("%d assignments after, want %d (alice's one direct assignment removed, her group's kept)", len(after), before-1)
	}
	for _, bad := range []string{"user:mallory", "group:BreakGlass"} {
		plan, err := e.Plan(context.Background(), actions.ContainIdentityCenter, []string{icProd}, actions.Options{IdentityCenter: []string{bad}})
		if err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(plan.Accounts[0].Warnings, "|"); len(plan.Accounts[0].Targets) != 0 || !strings.Contains(w, strings.SplitN(bad, ":", 2)[1]) {
			t.Errorf("%s: targets %v, warnings %s", bad, plan.Accounts[0].Targets, w)
		}
	}
	if _, err := actions.ParseICPrincipals([]string{"role:x"}); err == nil {
		t.Error("role:x accepted")
	}
}

// TestLockdownContainsHeldIdentityCenterSession: the intruder holding
// alice's session (issued before the run) and her access-portal sign-in is
// contained by lockdown: the session is denied, no new one can be had;
// break-glass Identity Center keeps its assignments and sessions.
func TestLockdownContainsHeldIdentityCenterSession(t *testing.T) {
	org, e, clk := icEngine(t)
	held := ssoSession(t, org, "alice", "AdministratorAccess", icProd)
	bg := ssoSession(t, org, "breakglass-ic", "BreakGlassAccess", icProd)
	clk.set(t0.Add(time.Minute))
	res, _ := apply(t, e, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "l1"})
	if res.Status != actions.StatusSucceeded {
		t.Fatalf("lockdown %s: %v", res.Status, res.Problems())
	}
	for _, act := range []string{"s3:ListAllMyBuckets", "ec2:DeleteSnapshot", "iam:CreateAccessKey"} {
		if err := org.Authorize(held, act, "*"); err == nil {
			t.Errorf("held Identity Center session may still %s", act)
		}
	}
	if _, err := org.SSORoleCredentials(context.Background(), "alice", "AdministratorAccess", icProd); err == nil {
		t.Error("alice can still get a session after lockdown")
	}
	if err := org.Authorize(bg, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Errorf("break-glass Identity Center session after lockdown: %v", err)
	}
	ssoSession(t, org, "breakglass-ic", "BreakGlassAccess", icProd)
}
