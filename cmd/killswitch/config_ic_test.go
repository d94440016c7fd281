package main

import (
	"slices"
	"strings"
	"testing"
)

// TestBreakGlassIdentityCenterConfig: break_glass accepts Identity Center
// users and groups, and refuses a user name that would exempt other
// sessions (a wildcard) or a group name that cannot be one.
func TestBreakGlassIdentityCenterConfig(t *testing.T) {
	base := "aws:\n  backend: sim\nbreak_glass:\n  principals: [\"arn:aws:iam::*:role/BreakGlass*\"]\n"
	cfg, err := parseConfig([]byte(base + "  identity_center_users: [breakglass-ic, ops@example.com]\n  identity_center_groups: [BreakGlass]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.BreakGlass.IdentityCenterUsers, []string{"breakglass-ic", "ops@example.com"}) || !slices.Equal(cfg.BreakGlass.IdentityCenterGroups, []string{"BreakGlass"}) {
		t.Fatalf("read %+v", cfg.BreakGlass)
	}
	if _, err := newEnv(t.Context(), cfg, "org", nil); err != nil {
		t.Fatalf("engine from config: %v", err)
	}
	for extra, want := range map[string]string{
		"  identity_center_users: [\"*\"]\n":         "break_glass.identity_center_users/groups",
		"  identity_center_users: [\"a:b\"]\n":       "no wildcards",
		"  identity_center_groups: [\"x,y\"]\n":      "group:NAME",
		"  identity_center_groups: [\" padded \"]\n": "group:NAME",
	} {
		if _, err := parseConfig([]byte(base + extra)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", strings.TrimSpace(extra), err, want)
		}
	}
}
