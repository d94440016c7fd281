package drill

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

var reResponders = regexp.MustCompile(`(?s)\nresponders:.*$`)

// TestSSOSessionLosesAgainstLockdown: in org-takeover the intruder uses
// the phished Identity Center user's access-portal sign-in to get sessions
// in the member accounts and destroy data with them; lockdown (guardrail
// SCP binding the reserved SSO roles, assignments removed, the sessions
// revoked by the SSO SCP) leaves it nothing: the technique wins nothing
// and no Identity Center session still works. Without a response, the
// same technique destroys the snapshots: the test can fail.
func TestSSOSessionLosesAgainstLockdown(t *testing.T) {
	icCfg := cfg
	icCfg.BreakGlassICUsers, icCfg.BreakGlassICGroups = []string{"breakglass-ic"}, []string{"BreakGlass"}
	r, err := Run(context.Background(), builtin(t, "org-takeover"), 0, icCfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(triedIn(r), ","), "sso-session") {
		t.Fatal("org-takeover does not try sso-session")
	}
	for _, w := range r.Won {
		if w.Technique == "sso-session" {
			t.Errorf("sso-session won against lockdown: %+v", w)
		}
	}
	for _, w := range r.Working {
		if strings.Contains(w, "AWSReservedSSO_") {
			t.Errorf("an Identity Center session still works: %s", w)
		}
	}
	if !r.Contained || !r.BreakGlassIntact {
		t.Errorf("contained %v (lost %d, working %v), break-glass intact %v", r.Contained, r.ResourcesLost, r.Working, r.BreakGlassIntact)
	}

	src, _ := BuiltinSource("org-takeover")
	doc := reResponders.ReplaceAllString(string(src), "")
	doc = reSetupLine.ReplaceAllString(doc, "  setup: [sso-session]\n")
	s, err := Parse([]byte(doc), "org-takeover-unanswered.yaml", "")
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	un, err := Run(context.Background(), s, 0, icCfg)
	if err != nil {
		t.Fatal(err)
	}
	won := false
	for _, w := range un.Won {
		won = won || w.Technique == "sso-session"
	}
	if !won || un.ResourcesLost == 0 {
		t.Errorf("unanswered, sso-session won %v and destroyed %d resources: %+v", won, un.ResourcesLost, un.Won)
	}
}
