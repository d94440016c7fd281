package drill

import (
	"strings"
	"testing"
)

// TestRootCredentialsLosesAgainstLockdown: in org-takeover the intruder
// signs in as the root user of the member accounts it holds a foothold in
// (prod's root has a password and an access key); the guardrail SCP binds
// a member's root user, so every move is refused and nothing is lost.
// Without a response the same technique destroys data: the test has teeth.
func TestRootCredentialsLosesAgainstLockdown(t *testing.T) {
	s := builtin(t, "org-takeover")
	r := play(t, s)
	if !r.Contained {
		t.Fatalf("org-takeover not contained: lost %v, won %v", r.Lost, r.Won)
	}
	refused := 0
	for _, ev := range r.Timeline {
		if ev.Actor == ActorAttacker && strings.HasPrefix(ev.Event, "root-credentials is refused") && strings.Contains(ev.Event, "explicit deny in SCP") {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("root-credentials was never refused by the guardrail SCP: %v", r.Timeline)
	}
	for _, w := range r.Won {
		if w.Technique == "root-credentials" {
			t.Errorf("root-credentials won: %+v", w)
		}
	}

	s = builtin(t, "org-takeover")
	s.Intruder.Setup = []string{"root-credentials"}
	s.Responders = nil
	r = play(t, s)
	lost := 0
	for _, l := range r.Lost {
		if l.Technique == "root-credentials" {
			lost++
		}
	}
	if lost == 0 {
		t.Fatalf("without a response root-credentials destroys nothing: %v", r.Lost)
	}
}
