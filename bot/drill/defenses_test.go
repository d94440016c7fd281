package drill

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// defenseCase is a scenario in which one defense of lockdown is what stops
// a named technique: with the defense on, lockdown contains the intruder;
// with it off (scenario without:), the technique wins.
type defenseCase struct {
	defense, technique        string
	propagation, holds, extra string
	setup, notice, playbook   string
}

func (c defenseCase) scenario(off bool) string {
	without := ""
	if off {
		without = "without: [" + c.defense + "]"
	}
	return fmt.Sprintf(`
name: defense-%s
org: codespaces
duration: 1h
latency: {iam: 120ms, sts: 80ms, "*": 150ms}
propagation: {iam: %s}
%s
%s
intruder:
  holds: %s
  setup: %s
  notices: {on: %s, after: 500ms}
  rate: 10
  playbook: %s
responders:
  - {at: 3m, user: U0RESP01, command: "lockdown --all --incident IR-1 intruder"}
  - {approve: true, after: 60s, user: U0RESP02}
`, c.defense, c.propagation, without, c.extra, c.holds, c.setup, c.notice, c.playbook)
}

var defenseCases = []defenseCase{
	// the guardrail freezes IAM: without it the intruder detaches the
	// guardrail from the role whose session it holds, then deletes
	{defense: actions.DefenseFreeze, technique: "delete-snapshots", propagation: "4s", holds: "[{user: ops-admin}, {role: ci-deploy}]",
		setup: "[]", notice: "first-denied", playbook: "[detach-guardrail, delete-snapshots]"},
	// the guardrail covers blinding: without it, between the first cut and
	// the revocation, a session deletes the trail and the logs
	{defense: actions.DefenseCoverage, technique: "delete-cloudtrail", propagation: "4s", holds: "[{user: ops-admin}, {role: ci-deploy}]",
		setup: "[]", notice: "first-denied", playbook: "[delete-cloudtrail, delete-log-groups]"},
	// credentials are cut before the cut-off is taken: without it, the
	// still-active key mints a session after the cut-off, which survives
	{defense: actions.DefenseOrder, technique: "get-session-token", propagation: "4s", holds: "[{role: ci-deploy}, {user: ops-admin}]",
		setup: "[]", notice: "first-denied", playbook: "[get-session-token]"},
	// the guardrail is confirmed before the first cut: without it, the
	// cut tips the intruder off while the guardrail is still propagating
	{defense: actions.DefenseConfirm, technique: "delete-snapshots", propagation: "30s", holds: "[{user: ops-admin}, {role: ci-deploy}]",
		setup: "[]", notice: "first-denied", playbook: "[delete-snapshots, deregister-amis]"},
	// exemptions need the baseline: without it, a user that tagged itself
	// as break-glass before the request is never cut
	{defense: actions.DefenseBaseline, technique: "tag-break-glass", propagation: "4s", holds: "[{user: ops-admin}]",
		setup: "[tag-break-glass]", notice: "first-denied", playbook: "[delete-snapshots]"},
	// failure is per principal: without it, one throttled read leaves the
	// whole account uncut and the backdoor user works
	{defense: actions.DefensePerPrincipal, technique: "backdoor-user", propagation: "4s", holds: "[{user: ops-admin}]",
		extra: "faults: [{operation: ListServiceSpecificCredentials, throttle: true}]", // every user: keys are still cut
		setup: "[backdoor-user]", notice: "first-denied", playbook: "[delete-snapshots]"},
}

func won(r *Report, technique string) bool {
	for _, w := range r.Won {
		if w.Technique == technique {
			return true
		}
	}
	return false
}

// TestEveryDefenseIsLoadBearing: for each defense of lockdown, a scenario
// where it is on contains the intruder, and the same scenario with it off
// lets a named technique win (data lost or a credential that still works).
func TestEveryDefenseIsLoadBearing(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range defenseCases {
		covered[c.defense] = true
		t.Run(c.defense, func(t *testing.T) {
			on := play(t, parse(t, c.scenario(false)))
			if won(on, c.technique) || on.ResourcesLost > 0 {
				t.Fatalf("with %s on, %s still wins: lost %d, won %+v\n%s", c.defense, c.technique, on.ResourcesLost, on.Won, timeline(on))
			}
			off := play(t, parse(t, c.scenario(true)))
			if !won(off, c.technique) || off.Contained {
				t.Fatalf("with %s off, %s does not win (lost %d, working %v, won %+v): the defense is not shown to be load-bearing\n%s",
					c.defense, c.technique, off.ResourcesLost, off.Working, off.Won, timeline(off))
			}
		})
	}
	for _, d := range actions.Defenses() {
		if !covered[d] {
			t.Errorf("defense %s has no scenario showing what it buys", d)
		}
	}
}

// TestBuiltinsContainEveryTechnique: lockdown contains the built-in
// scenarios (the 2014 response does not), and fast-intruder, which tries
// every technique, wins nothing.
func TestBuiltinsContainEveryTechnique(t *testing.T) {
	for _, name := range Scenarios() {
		t.Run(name, func(t *testing.T) {
			r := play(t, builtin(t, name))
			if name == "codespaces-manual" {
				return // TestThe2014ResponseLosesDataAndLeavesBackdoorsWorking
			}
			if !r.Contained || r.ResourcesLost != 0 || r.TechniquesWon != 0 || r.CredentialsWorking != 0 || !r.BreakGlassIntact {
				t.Fatalf("%s: contained %v, lost %d, won %+v, working %v, break-glass %v %v", name, r.Contained, r.ResourcesLost, r.Won, r.Working, r.BreakGlassIntact, r.BreakGlassProblems)
			}
		})
	}
	tried := triedIn(play(t, builtin(t, "fast-intruder")))
	tried = append(tried, triedIn(play(t, builtin(t, "org-takeover")))...)
	for _, id := range techniqueIDs() {
		if !slices.Contains(tried, id) {
			t.Errorf("no built-in scenario tries %s against lockdown", id)
		}
	}
}

// triedIn lists the techniques the intruder used (with a credential) in a
// drill.
func triedIn(r *Report) []string {
	var tried []string
	for _, e := range r.Timeline {
		for _, id := range techniqueIDs() {
			if e.Actor == ActorAttacker && (strings.HasPrefix(e.Event, id+" is refused") || strings.HasPrefix(e.Event, id+": ") && !strings.Contains(e.Event, "cannot be tried")) {
				tried = append(tried, id)
			}
		}
	}
	return tried
}

// TestEveryTechniqueAtEveryPoint: the intruder of a built-in scenario uses
// every persistence and evasion technique before the first step (its setup),
// and every technique once it notices the response — its first refused call,
// or the bot's first change once the guardrail can have propagated — after
// delays that put its moves before, between and during lockdown's later
// phases. Lockdown loses nothing and leaves no working credential.
func TestEveryTechniqueAtEveryPoint(t *testing.T) {
	// Before the response nothing stops the intruder destroying, blinding
	// or exfiltrating; and a password it changes on a break-glass user
	// leaves no trace IAM's API can show (README, "What lockdown cannot
	// do"). Everything else it does then must not survive lockdown.
	preResponseOnly := map[string]bool{"change-password": true, "delete-cloudtrail": true, "stop-cloudtrail": true,
		"delete-log-groups": true, "delete-guardduty-detector": true, "stop-config-recorder": true}
	var early []string
	for _, tq := range sim.Techniques() {
		if tq.Tactic != "impact" && tq.Tactic != "exfiltration" && tq.Needs == "" && !preResponseOnly[tq.ID] {
			early = append(early, tq.ID)
		}
	}
	for _, name := range []string{"codespaces", "org-takeover"} {
		for _, notice := range []string{"first-denied", "first-change"} {
			for _, after := range []string{"500ms", "5s", "15s", "45s"} {
				src, _ := BuiltinSource(name)
				doc := string(src)
				if notice == "first-change" {
					after = map[string]string{"500ms": "30s", "5s": "45s", "15s": "60s", "45s": "120s"}[after] // past the propagation delay and the attachments
				}
				doc = reNotices.ReplaceAllString(doc, fmt.Sprintf("notices: {on: %s, after: %s}", notice, after))
				doc = reSetupLine.ReplaceAllString(doc, "")
				doc = rePlaybook.ReplaceAllString(doc, "playbook: [all]\n  setup: ["+strings.Join(early, ", ")+"]\n")
				if !strings.Contains(doc, "setup: [add-access-key") {
					t.Fatalf("the scenario was not rewritten:\n%s", doc)
				}
				s, err := Parse([]byte(doc), name+".yaml", "")
				if err != nil {
					t.Fatalf("%v\n%s", err, doc)
				}
				r := play(t, s)
				if !r.Contained || r.TechniquesWon > 0 || r.ResourcesLost > 0 {
					t.Errorf("%s, noticing on %s after %s: lost %d, won %+v, working %v", name, notice, after, r.ResourcesLost, r.Won, r.Working)
				}
			}
		}
	}
}

var (
	reNotices   = regexp.MustCompile(`notices: \{[^}]*\}`)
	rePlaybook  = regexp.MustCompile(`(?s)playbook:\n(\s+- [a-z0-9-]+\n)+`)
	reSetupLine = regexp.MustCompile(`(?m)^  setup: \[[a-z0-9, -]*\]\n`)
)
