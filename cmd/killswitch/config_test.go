package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBaselineConfigKeys(t *testing.T) {
	base := "aws:\n  backend: sim\nbreak_glass:\n  principals: [\"arn:aws:iam::*:role/BreakGlass*\"]\n"
	cfg, err := parseConfig([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BreakGlass.BaselineAge != 24*time.Hour || cfg.BreakGlass.BaselineInterval != time.Hour {
		t.Fatalf("defaults: baseline_age %s, baseline_interval %s; want 24h and 1h", cfg.BreakGlass.BaselineAge, cfg.BreakGlass.BaselineInterval)
	}
	cfg, err = parseConfig([]byte(base + "  baseline_age: 72h\n  baseline_interval: 15m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BreakGlass.BaselineAge != 72*time.Hour || cfg.BreakGlass.BaselineInterval != 15*time.Minute {
		t.Fatalf("set: %s %s", cfg.BreakGlass.BaselineAge, cfg.BreakGlass.BaselineInterval)
	}
	for extra, want := range map[string]string{
		"  baseline_age: 30m\n":      "break_glass.baseline_age 30m0s: between 1h and 720h",
		"  baseline_age: 1000h\n":    "break_glass.baseline_age",
		"  baseline_age: -1h\n":      "break_glass.baseline_age",
		"  baseline_interval: 1s\n":  "break_glass.baseline_interval 1s: between 1m and 24h",
		"  baseline_interval: 48h\n": "break_glass.baseline_interval",
		"  baseline: 24h\n":          "field baseline not found",
	} {
		if _, err := parseConfig([]byte(base + extra)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", strings.TrimSpace(extra), err, want)
		}
	}
}

func TestDuplicateApproversAreRefused(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"approval:\n  requesters: [U0001]\n  approvers: [U0002, U0002]\n  required: 2\naws:\n  backend: sim\n", "approval.approvers lists U0002 more than once"},
		{"approval:\n  requesters: [U0001, U0001]\n  approvers: [U0002, U0003]\n  required: 2\naws:\n  backend: sim\n", "approval.requesters lists U0001 more than once"},
	} {
		_, err := parseConfig([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error with %q", tc.yaml, err, tc.want)
		}
	}
	// the two-person rule counts people, not entries
	_, err := parseConfig([]byte("approval:\n  requesters: [U0001]\n  approvers: [U0002, U0002]\n  required: 2\naws:\n  backend: sim\n"))
	if err == nil || !strings.Contains(err.Error(), "requester U0001 can never get 2 approval(s)") {
		t.Errorf("U0002 twice counts as one approver: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "dup.yaml")
	os.WriteFile(path, []byte("approval:\n  requesters: [U0001]\n  approvers: [U0002, U0002]\n  required: 2\naws:\n  backend: sim\n"), 0o600)
	if code, _, stderr := runCLI(t, "plan", "lockdown", "--config", path); code != exitUsage || !strings.Contains(stderr, "more than once") {
		t.Errorf("plan with duplicate approvers: exit %d %q; want 2", code, stderr)
	}
}
