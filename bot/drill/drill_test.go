package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var cfg = Config{BreakGlassPatterns: []string{"arn:aws:iam::*:role/BreakGlass*"}, BreakGlassTag: "killswitch:break-glass"}

func play(t *testing.T, s *Scenario) *Report {
	t.Helper()
	r, err := Run(context.Background(), s, 0, cfg)
	if err != nil {
		t.Fatalf("drill %s: %v", s.Name, err)
	}
	return r
}

func builtin(t *testing.T, name string) *Scenario {
	t.Helper()
	s, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parse(t *testing.T, doc string) *Scenario {
	t.Helper()
	s, err := Parse([]byte(doc), "test.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestThe2014ResponseLosesDataAndLeavesBackdoorsWorking(t *testing.T) {
	r := play(t, builtin(t, "codespaces-manual"))
	if r.Contained || r.ResourcesLost == 0 || r.CredentialsWorking == 0 {
		t.Fatalf("manual response: contained %v, lost %d of %d, %d credentials working", r.Contained, r.ResourcesLost, r.ResourcesTotal, r.CredentialsWorking)
	}
	if r.BackdoorsCreated == 0 || r.BackdoorsDisabled == r.BackdoorsCreated {
		t.Errorf("backdoors: %d created, %d disabled; the password change disables none", r.BackdoorsCreated, r.BackdoorsDisabled)
	}
	if r.TimeToGuardrailS != nil || r.RequestT != nil {
		t.Errorf("no guardrail and no killswitch request in the 2014 response: %v %v", r.TimeToGuardrailS, r.RequestT)
	}
	for _, l := range r.Lost {
		if l.Technique == "" || l.Credential == "" {
			t.Errorf("loss without its technique and credential: %+v", l)
		}
	}
}

func TestSameScenarioSameReport(t *testing.T) {
	for _, name := range Scenarios() {
		t.Run(name, func(t *testing.T) {
			a, _ := json.Marshal(play(t, builtin(t, name)))
			b, _ := json.Marshal(play(t, builtin(t, name)))
			if string(a) != string(b) {
				t.Fatalf("two runs of %s differ:\n%s\n%s", name, a, b)
			}
		})
	}
}

// tuning is a scenario whose outcome depends on timing: the responders
// change a password at 60s (the first change the intruder sees), then
// request lockdown; the intruder deletes data from when it notices until
// the guardrail is in effect.
func tuning(rate, noticeAfter, approveAfter, propagation string) string {
	return fmt.Sprintf(`
name: tuning
org: codespaces
duration: 1h
latency: {"*": 100ms}
propagation: {iam: %s}
intruder:
  holds: [{user: ops-admin}]
  notices: {on: first-change, after: %s}
  rate: %s
  playbook: [delete-snapshots, deregister-amis, delete-volumes, delete-s3-buckets, delete-recovery-points]
responders:
  - {at: 60s, manual: change-password alice}
  - {at: 120s, user: U0RESP01, command: "lockdown --all --incident IR-1 intruder"}
  - {approve: true, after: %s, user: U0RESP02}
`, propagation, noticeAfter, rate, approveAfter)
}

func TestTimingChangesTheOutcome(t *testing.T) {
	base := play(t, parse(t, tuning("0.1", "20s", "60s", "4s")))
	if base.ResourcesLost == 0 || base.ResourcesLost == base.ResourcesTotal {
		t.Fatalf("the base case should lose some data, not all: lost %d of %d", base.ResourcesLost, base.ResourcesTotal)
	}
	for _, c := range []struct {
		name, doc string
		more      bool
	}{
		{"a faster intruder", tuning("0.2", "20s", "60s", "4s"), true},
		{"a later notice", tuning("0.1", "200s", "60s", "4s"), false},
		{"a slower approval", tuning("0.1", "20s", "150s", "4s"), true},
		{"a longer propagation delay", tuning("0.1", "20s", "60s", "60s"), true},
	} {
		r := play(t, parse(t, c.doc))
		if c.more && r.ResourcesLost <= base.ResourcesLost || !c.more && r.ResourcesLost >= base.ResourcesLost {
			t.Errorf("%s: lost %d, base lost %d", c.name, r.ResourcesLost, base.ResourcesLost)
		}
	}
}

// TestTheIntruderActsWhileLockdownRuns: once it notices the first change,
// its calls come between the bot's.
func TestTheIntruderActsWhileLockdownRuns(t *testing.T) {
	r := play(t, parse(t, strings.Replace(tuning("5", "0s", "30s", "0s"), "  - {at: 60s, manual: change-password alice}\n", "", 1)))
	first, last := -1, -1
	for i, e := range r.Timeline {
		if e.Actor == ActorBot {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	between := 0
	for _, e := range r.Timeline[max(first, 0):max(last, 0)] {
		if e.Actor == ActorAttacker {
			between++
		}
	}
	if first < 0 || between == 0 {
		t.Fatalf("no intruder move between the bot's first (%d) and last (%d) change:\n%s", first, last, timeline(r))
	}
	var sawSlack, sawResponder bool
	for _, e := range r.Timeline {
		sawSlack = sawSlack || e.Actor == ActorSlack && strings.Contains(e.Event, "waiting for approval")
		sawResponder = sawResponder || e.Actor == ActorResponder && strings.Contains(e.Event, "clicks Approve")
	}
	if !sawSlack || !sawResponder {
		t.Errorf("the Slack conversation is missing from the timeline (card %v, click %v)", sawSlack, sawResponder)
	}
}

func timeline(r *Report) string {
	var b strings.Builder
	for _, e := range r.Timeline {
		fmt.Fprintf(&b, "  %8.3f %-9s %s\n", e.T, e.Actor, e.Event)
	}
	return b.String()
}

func TestTimelineIsInSimulatedTimeOrder(t *testing.T) {
	r := play(t, builtin(t, "codespaces"))
	for i := 1; i < len(r.Timeline); i++ {
		if r.Timeline[i].T < r.Timeline[i-1].T {
			t.Fatalf("event %d at %.3f comes after one at %.3f", i, r.Timeline[i].T, r.Timeline[i-1].T)
		}
	}
	if r.RequestT == nil || *r.RequestT != 180 || r.TimeToApprovalS == nil || *r.TimeToApprovalS < 90 {
		t.Errorf("request at %v, approval after %v: the scenario requests at 3m and approves 90s after the card", r.RequestT, r.TimeToApprovalS)
	}
}

func TestScenarioMistakesNameTheLine(t *testing.T) {
	for _, c := range []struct {
		name, doc, want string
		line            int
	}{
		{"unknown key", "name: x\norg: codespaces\nintruder:\n  holds: [{user: a}]\n  rat: 2\n", `unknown key "rat" in intruder: valid keys are holds, setup`, 5},
		{"bad duration", "name: x\norg: codespaces\nduration: soon\nintruder:\n  holds: [{user: a}]\n", "not a duration", 3},
		{"unknown technique", "name: x\norg: codespaces\nintruder:\n  holds: [{user: a}]\n  playbook:\n    - delete-snapshots\n    - steal-the-moon\n", `unknown technique "steal-the-moon"`, 7},
		{"bad account", "name: x\norg: codespaces\nintruder:\n  holds:\n    - {account: \"12\", user: a}\n", "12 digits", 5},
		{"bad slack user", "name: x\norg: codespaces\nintruder:\n  holds: [{user: a}]\nresponders:\n  - {at: 1m, user: bob, command: lockdown --all x}\n", "Slack user id", 6},
		{"two kinds of move", "name: x\norg: codespaces\nintruder:\n  holds: [{user: a}]\nresponders:\n  - {at: 1m, user: U0A1, command: x, approve: true}\n", "a move is one of", 6},
		{"bad notice", "name: x\norg: codespaces\nintruder:\n  holds: [{user: a}]\n  notices: {on: telepathy}\n", "first-change", 5},
		{"negative rate", "name: x\norg: codespaces\nintruder:\n  holds: [{user: a}]\n  rate: -3\n", "between 0.01", 5},
		{"no credential", "name: x\norg: codespaces\nintruder: {}\n", "intruder.holds", 3},
		{"bad name", "name: \"Drop Table\"\norg: codespaces\nintruder:\n  holds: [{user: a}]\n", "lower-case", 1},
		{"not yaml", "name: [x\n", "", 1},
		{"a list, not a mapping", "- a\n- b\n", "mapping", 1},
		{"bad latency service", "name: x\norg: codespaces\nlatency: {\"i am\": 1s}\nintruder:\n  holds: [{user: a}]\n", "not a service", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), "bad.yaml", "")
			fe, ok := err.(*FileError)
			if !ok {
				t.Fatalf("want a *FileError, got %T %v", err, err)
			}
			if fe.File != "bad.yaml" || fe.Line != c.line || !strings.Contains(fe.Msg, c.want) {
				t.Fatalf("got %q (line %d); want line %d containing %q", err, fe.Line, c.line, c.want)
			}
		})
	}
}

func TestBuiltinScenariosParse(t *testing.T) {
	want := []string{"codespaces", "codespaces-manual", "fast-intruder", "org-takeover"}
	if got := Scenarios(); !reflect.DeepEqual(got, want) {
		t.Fatalf("built-ins %v, want %v", got, want)
	}
	if _, err := Open("nope"); err == nil || !strings.Contains(err.Error(), "codespaces-manual") {
		t.Fatalf("an unknown scenario should list the built-ins: %v", err)
	}
}
