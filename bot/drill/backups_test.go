package drill

import (
	"regexp"
	"strings"
	"testing"
)

// In org-takeover the intruder deletes prod's unlocked Recycle Bin rule,
// then its snapshots: lockdown's guardrail refuses both. Before the
// response (the same technique in the intruder's setup) the rule goes and
// the snapshots are lost, not recycled.
func TestDeleteRecycleBinRuleLosesToLockdown(t *testing.T) {
	r := play(t, builtin(t, "org-takeover"))
	refused := false
	for _, e := range r.Timeline {
		if e.Actor == ActorAttacker && strings.HasPrefix(e.Event, "delete-recycle-bin-rule is refused") && strings.Contains(e.Event, "222222222222") {
			refused = true
		}
		if e.Actor == ActorAttacker && strings.Contains(e.Event, "deleted Recycle Bin rule") {
			t.Errorf("the rule was deleted under lockdown: %s", e.Event)
		}
	}
	if !refused || !r.Contained || r.ResourcesLost != 0 {
		t.Errorf("refused %v, contained %v, lost %d %+v", refused, r.Contained, r.ResourcesLost, r.Lost)
	}

	src, _ := BuiltinSource("org-takeover")
	doc := regexp.MustCompile(`setup: \[[a-z, -]*\]`).ReplaceAllString(string(src), "setup: [delete-recycle-bin-rule]")
	if !strings.Contains(doc, "setup: [delete-recycle-bin-rule]") {
		t.Fatalf("scenario not rewritten:\n%s", doc)
	}
	s, err := Parse([]byte(doc), "org-takeover-early.yaml", "")
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	open := play(t, s)
	lostProd := 0
	for _, l := range open.Lost {
		if l.Account == "222222222222" && strings.HasPrefix(l.Resource, "snapshot ") && l.Technique == "delete-recycle-bin-rule" {
			lostProd++
		}
	}
	if lostProd != 2 {
		t.Errorf("before the response: %d prod snapshots lost to delete-recycle-bin-rule, want 2; lost %+v", lostProd, open.Lost)
	}
}
