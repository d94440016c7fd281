package actions_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// Exemptions the intruder cannot grant itself: a tag or a name counts only
// when an exemption baseline older than 24h confirms it.

const (
	csAcct      = "111122223333" // the codespaces account
	bgUser      = "arn:aws:iam::111122223333:user/breakglass-admin"
	bgRole      = "arn:aws:iam::111122223333:role/BreakGlassAdmin"
	opsAdmin    = "arn:aws:iam::111122223333:user/ops-admin"
	evilRole    = "arn:aws:iam::111122223333:role/BreakGlass-evil"
	csBotRole   = "arn:aws:iam::111122223333:role/" + actions.DefaultBotRoleName
	contain     = "list its ARN in break_glass.principals in the configuration"
	noBaseline  = "no exemption baseline older than 24h"
	baselineAge = 24 * time.Hour
)

// vclock is a settable clock shared by the simulation and the engine.
type vclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vclock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// calm is the codespaces organization and an engine on a virtual clock.
func calm(t *testing.T, patterns ...string) (*sim.Org, *actions.Engine, *vclock) {
	t.Helper()
	org := builtin(t, "codespaces")
	clock := &vclock{t: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
	org.SetClock(clock.Now)
	if len(patterns) == 0 {
		patterns = breakGlass
	}
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: patterns, BreakGlassTag: bgTag, Concurrency: 4, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return org, e, clock
}

// record takes a baseline now, as the service does while nothing is pending.
func record(t *testing.T, e *actions.Engine, clock *vclock) *actions.Baseline {
	t.Helper()
	got, err := e.ExemptBaseline(context.Background(), []string{csAcct})
	if err != nil {
		t.Fatal(err)
	}
	return &actions.Baseline{Accounts: map[string]actions.Recorded{csAcct: {At: clock.Now(), Principals: got[csAcct]}}}
}

func plan(t *testing.T, e *actions.Engine, action string, opt actions.Options) actions.AccountPlan {
	t.Helper()
	p, err := e.Plan(context.Background(), action, []string{csAcct}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Accounts[0].Error != "" {
		t.Fatalf("plan %s: %s", action, p.Accounts[0].Error)
	}
	return p.Accounts[0]
}

func targeted(ap actions.AccountPlan, arn string) bool {
	for _, tg := range ap.Targets {
		if tg.Principal == arn {
			return true
		}
	}
	return false
}

func exemptReason(ap actions.AccountPlan, arn string) string {
	for _, x := range ap.Exempt {
		if x.Principal == arn {
			return x.Reason
		}
	}
	return ""
}

// warned returns the warning naming arn (all of want in it), or "".
func warned(ws []string, arn string, want ...string) string {
	for _, w := range ws {
		if strings.Contains(w, arn) {
			ok := true
			for _, s := range want {
				ok = ok && strings.Contains(w, s)
			}
			if ok {
				return w
			}
		}
	}
	return ""
}

func touched(res *actions.Result, arn string) bool {
	for _, s := range res.Steps() {
		if s.Principal == arn && s.Status == actions.StepDone {
			return true
		}
	}
	return false
}

func TestExemptBaselineIsReadOnlyAndListsOnlyTagAndPatternExemptions(t *testing.T) {
	org, e, _ := calm(t)
	org.ResetCalls()
	got, err := e.ExemptBaseline(context.Background(), org.Accounts())
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, entry := range got[csAcct] {
		arn, fp, ok := strings.Cut(entry, " fp=")
		if !ok || len(fp) != 16 {
			t.Errorf("baseline entry %q has no fingerprint", entry)
		}
		arns = append(arns, arn)
	}
	if want := []string{bgRole, bgUser}; !slices.Equal(arns, want) {
		t.Fatalf("baseline %v, want %v (the bot, service-linked and Identity Center roles are exempt anyway)", got[csAcct], want)
	}
	for op := range org.Calls() {
		name := op[strings.Index(op, ".")+1:]
		if !strings.HasPrefix(name, "List") && !strings.HasPrefix(name, "Get") && !strings.HasPrefix(name, "Describe") && op != "STS.AssumeRole" {
			t.Errorf("recording a baseline called %s", op)
		}
	}
	if _, err := e.ExemptBaseline(context.Background(), []string{"999999999999"}); err == nil || !strings.Contains(err.Error(), "999999999999") {
		t.Errorf("an unreadable account is not named: %v", err)
	}
}

func TestUserTaggingItselfAfterTheBaselineIsContained(t *testing.T) {
	org, e, clock := calm(t)
	base := record(t, e, clock)
	clock.Add(time.Hour)
	tech, ok := sim.LookupTechnique("tag-break-glass")
	if !ok {
		t.Fatal("no tag-break-glass technique")
	}
	if _, err := tech.Run(context.Background(), sim.Attempt{Org: org, Cred: userKey(t, org, csAcct, "ops-admin")}); err != nil {
		t.Fatalf("ops-admin tags itself: %v", err)
	}
	clock.Add(baselineAge) // the baseline is now 25h old
	opt := actions.Options{RequestID: "ks-base1", Baseline: base}

	ap := plan(t, e, actions.DisableUsers, opt)
	if !targeted(ap, opsAdmin) {
		t.Errorf("ops-admin tagged itself after the baseline and is not contained: exempt as %q", exemptReason(ap, opsAdmin))
	}
	if w := warned(ap.Warnings, opsAdmin, "break-glass tag "+bgTag, contain); w == "" {
		t.Errorf("no warning names ops-admin with how to exempt it: %q", ap.Warnings)
	}
	if r := exemptReason(ap, bgUser); r != "break-glass tag "+bgTag {
		t.Errorf("breakglass-admin, tagged before a 25h-old baseline, is not exempt by its tag: %q", r)
	}
	res, _ := apply(t, e, actions.DisableUsers, []string{csAcct}, opt)
	if !touched(res, opsAdmin) || touched(res, bgUser) {
		t.Errorf("disable-users touched ops-admin %v (want true), breakglass-admin %v (want false)", touched(res, opsAdmin), touched(res, bgUser))
	}
	if warned(res.Accounts[0].Warnings, opsAdmin, contain) == "" {
		t.Errorf("the result does not warn about ops-admin: %q", res.Accounts[0].Warnings)
	}
}

func TestRoleNamedLikeBreakGlassAfterTheBaselineIsContained(t *testing.T) {
	org, e, clock := calm(t)
	base := record(t, e, clock)
	clock.Add(2 * time.Hour)
	if err := org.AddRole(csAcct, sim.Role{Name: "BreakGlass-evil", ManagedPolicies: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}); err != nil {
		t.Fatal(err)
	}
	clock.Add(baselineAge)
	opt := actions.Options{RequestID: "ks-base2", Baseline: base}
	ap := plan(t, e, actions.RevokeSessions, opt)
	if !targeted(ap, evilRole) {
		t.Errorf("BreakGlass-evil, created after the baseline, is not contained: exempt as %q", exemptReason(ap, evilRole))
	}
	if warned(ap.Warnings, evilRole, "break-glass pattern", contain) == "" {
		t.Errorf("no warning names BreakGlass-evil: %q", ap.Warnings)
	}
	if exemptReason(ap, bgRole) == "" {
		t.Errorf("BreakGlassAdmin, in the baseline, is not exempt")
	}
	res, _ := apply(t, e, actions.RevokeSessions, []string{csAcct}, opt)
	if !touched(res, evilRole) || touched(res, bgRole) {
		t.Errorf("revoke-sessions touched BreakGlass-evil %v (want true), BreakGlassAdmin %v (want false)", touched(res, evilRole), touched(res, bgRole))
	}
}

func TestNoBaselineOldEnoughMeansTagsAndPatternsDoNotProtect(t *testing.T) {
	cases := map[string]func(*testing.T, *actions.Engine, *vclock) *actions.Baseline{
		"none": func(*testing.T, *actions.Engine, *vclock) *actions.Baseline { return &actions.Baseline{} },
		"only 23h old": func(t *testing.T, e *actions.Engine, c *vclock) *actions.Baseline {
			b := record(t, e, c)
			c.Add(23 * time.Hour)
			return b
		},
		"other account": func(*testing.T, *actions.Engine, *vclock) *actions.Baseline {
			return &actions.Baseline{Accounts: map[string]actions.Recorded{"444455556666": {At: time.Unix(0, 0), Principals: []string{bgUser}}}}
		},
	}
	for name, base := range cases {
		t.Run(name, func(t *testing.T) {
			_, e, clock := calm(t)
			opt := actions.Options{RequestID: "ks-base3", Baseline: base(t, e, clock)}
			ap := plan(t, e, actions.Lockdown, opt)
			if !slices.ContainsFunc(ap.Warnings, func(w string) bool { return strings.HasPrefix(w, noBaseline) }) {
				t.Errorf("the plan does not say there is no baseline: %q", ap.Warnings)
			}
			for _, arn := range []string{bgUser, bgRole} {
				if !targeted(ap, arn) || warned(ap.Warnings, arn, contain) == "" {
					t.Errorf("%s is not contained and named in a warning: exempt as %q", arn, exemptReason(ap, arn))
				}
			}
			if !strings.HasPrefix(exemptReason(ap, csBotRole), "the bot's own role") {
				t.Errorf("the bot's role is not exempt: %q", exemptReason(ap, csBotRole))
			}
			res, _ := apply(t, e, actions.DisableUsers, []string{csAcct}, opt)
			if !touched(res, bgUser) {
				t.Errorf("disable-users did not touch breakglass-admin with no baseline")
			}
		})
	}
}

func TestNilBaselineLeavesExemptionsUnchecked(t *testing.T) {
	_, e, _ := calm(t)
	ap := plan(t, e, actions.Lockdown, actions.Options{})
	if exemptReason(ap, bgUser) == "" || exemptReason(ap, bgRole) == "" {
		t.Errorf("without a baseline to check against, break-glass is not exempt: %v", ap.Exempt)
	}
	if warned(ap.Warnings, "", noBaseline) != "" {
		t.Errorf("a plan that checks no baseline warns about one: %q", ap.Warnings)
	}
}

func TestConfiguredARNIsExemptWithoutABaseline(t *testing.T) {
	_, e, _ := calm(t, "arn:aws:iam::*:role/BreakGlass*", bgRole)
	opt := actions.Options{RequestID: "ks-base4", Baseline: &actions.Baseline{}}
	ap := plan(t, e, actions.RevokeSessions, opt)
	if r := exemptReason(ap, bgRole); !strings.Contains(r, "listed in the configuration") {
		t.Errorf("the configured ARN %s is not exempt: %q", bgRole, r)
	}
	if !targeted(ap, bgUser) {
		t.Errorf("breakglass-admin (only tagged) is exempt with no baseline")
	}
	res, _ := apply(t, e, actions.RevokeSessions, []string{csAcct}, opt)
	if touched(res, bgRole) {
		t.Errorf("revoke-sessions touched the configured ARN %s", bgRole)
	}
}

func TestRoleNamedLikeTheBotButNotTheCallerIsContained(t *testing.T) {
	org := builtin(t, "codespaces")
	// the bot runs as IncidentBot; KillSwitchResponder is the intruder's
	if err := org.AddRole(csAcct, sim.Role{Name: actions.DefaultBotRoleName, ManagedPolicies: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}); err != nil {
		t.Fatal(err)
	}
	e, err := actions.New(org.Provider("IncidentBot"), actions.Config{BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag})
	if err != nil {
		t.Fatal(err)
	}
	ap := plan(t, e, actions.RevokeSessions, actions.Options{}) // whatever the baseline
	if !targeted(ap, csBotRole) {
		t.Errorf("%s is exempt by its name alone: %q", csBotRole, exemptReason(ap, csBotRole))
	}
	if warned(ap.Warnings, csBotRole, "named like the bot's role but is not the bot") == "" {
		t.Errorf("no warning names the look-alike: %q", ap.Warnings)
	}
	if r := exemptReason(ap, "arn:aws:iam::111122223333:role/IncidentBot"); r != "the bot's own role (IncidentBot)" {
		t.Errorf("the caller's role is not exempt as the bot: %q", r)
	}
	res, _ := apply(t, e, actions.RevokeSessions, []string{csAcct}, actions.Options{RequestID: "ks-base5"})
	if !touched(res, csBotRole) {
		t.Errorf("revoke-sessions did not touch the look-alike %s", csBotRole)
	}
}
