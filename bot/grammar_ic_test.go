package bot

import (
	"slices"
	"strings"
	"testing"
)

// TestGrammarPrincipals: contain-identity-center takes --principals
// user:NAME,group:NAME in plan and request; anything else is refused with
// a clear message, and other actions refuse the flag.
func TestGrammarPrincipals(t *testing.T) {
	accts := []string{"111122223333"}
	c, err := ParseCommand("contain-identity-center --all --principals user:alice,group:Admins --incident IR-1 alice was phished", accts)
	if err != nil || c.Verb != VerbRequest || !slices.Equal(c.Principals, []string{"user:alice", "group:Admins"}) || c.Reason != "alice was phished" {
		t.Fatalf("request: %+v, %v", c, err)
	}
	p, err := ParseCommand("plan contain-identity-center --principals=user:ops@example.com", accts)
	if err != nil || p.Verb != VerbPlan || !slices.Equal(p.Principals, []string{"user:ops@example.com"}) {
		t.Fatalf("plan: %+v, %v", p, err)
	}
	if c, err := ParseCommand("contain-identity-center --all everyone out", accts); err != nil || c.Principals != nil {
		t.Errorf("no --principals: %+v, %v", c, err)
	}
	for text, want := range map[string]string{
		"contain-identity-center --principals role:x why":                                      "user:NAME or group:NAME",
		"contain-identity-center --principals user:alice,,group:x why":                         "empty entry",
		"contain-identity-center --principals user: why":                                       "user:NAME or group:NAME",
		"contain-identity-center --principals user:a --principals user:b why":                  "once",
		"contain-identity-center --principals why":                                             "user:NAME or group:NAME",
		"lockdown --all --principals user:alice why":                                           "contain-identity-center only",
		"contain-identity-center --principals user:a\u202e why":                                "",
		"contain-identity-center --principals " + strings.Repeat("user:a,", 60) + "user:a why": "at most",
	} {
		_, err := ParseCommand(text, accts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", text, err, want)
		}
	}
}
