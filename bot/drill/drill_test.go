package drill

import (
	"context"
	"strings"
	"testing"
)

var cfg = Config{BreakGlassPatterns: []string{"arn:aws:iam::*:role/BreakGlass*"}, BreakGlassTag: "killswitch:break-glass"}

func TestLockdownContainsTheCodeSpacesIntrusion(t *testing.T) {
	r, err := Run(context.Background(), "codespaces", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Contained || r.ResourcesLost != 0 || r.ResourcesTotal == 0 {
		t.Fatalf("lockdown: contained %v, lost %d of %d\n%+v", r.Contained, r.ResourcesLost, r.ResourcesTotal, r.Timeline)
	}
	if r.BackdoorsCreated != 2 || r.BackdoorsDisabled != 2 {
		t.Errorf("backdoors created %d, disabled %d; want 2 and 2", r.BackdoorsCreated, r.BackdoorsDisabled)
	}
	if !r.BreakGlassIntact {
		t.Error("break-glass was locked out")
	}
	if r.TimeToContainmentS < 180 {
		t.Errorf("time to containment %.1fs: the responders move after 180s", r.TimeToContainmentS)
	}
	actors := map[string]bool{}
	for _, e := range r.Timeline {
		actors[e.Actor] = true
	}
	if !actors["attacker"] || !actors["responder"] || !actors["bot"] {
		t.Errorf("timeline lacks an actor: %v", actors)
	}
}

func TestThe2014ResponseLosesEverything(t *testing.T) {
	r, err := Run(context.Background(), "codespaces-manual", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Contained || r.ResourcesLost != r.ResourcesTotal || r.BackdoorsDisabled != 0 {
		t.Fatalf("manual response: contained %v, lost %d of %d, backdoors disabled %d", r.Contained, r.ResourcesLost, r.ResourcesTotal, r.BackdoorsDisabled)
	}
}

func TestUnknownScenario(t *testing.T) {
	if _, err := Run(context.Background(), "nope", cfg); err == nil || !strings.Contains(err.Error(), "codespaces-manual") {
		t.Fatalf("want an error listing the scenarios, got %v", err)
	}
}
