package main

import (
	"net/http"
	"net/http/httptest"
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
		"  baseline: 24h\n":          `configuration:5: unknown key "baseline" in break_glass (valid keys there: principals, tag, baseline_age, baseline_interval, identity_center_users, identity_center_groups)`,
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

func TestUnknownKeyNamesFileLineAndValidKeys(t *testing.T) {
	path := writeConfig(t, "aws:\n  backend: sim\n\nbogus: 1\n")
	code, _, stderr := runCLI(t, "plan", "lockdown", "--config", path)
	want := path + `:4: unknown key "bogus" at the top level (valid keys there: listen, slack, approval, break_glass, aws, store, audit, service)`
	if code != exitUsage || !strings.Contains(stderr, want) || strings.Contains(stderr, "main.Config") {
		t.Errorf("exit %d %q; want 2 with %q", code, stderr, want)
	}
	path = writeConfig(t, "aws:\n  backend: sim\n  sim: codespaces\n  regoin: eu-west-1\n")
	code, _, stderr = runCLI(t, "plan", "lockdown", "--config", path)
	if code != exitUsage || !strings.Contains(stderr, path+`:4: unknown key "regoin" in aws (valid keys there: backend, sim, region,`) {
		t.Errorf("nested: exit %d %q", code, stderr)
	}
}

func TestRelativeDSNIsResolvedAgainstTheConfigFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "killswitch.yaml")
	os.MkdirAll(filepath.Dir(path), 0o700)
	for dsn, want := range map[string]string{
		"killswitch.db":                         filepath.Join(dir, "etc", "killswitch.db"),
		"data/ks.db":                            filepath.Join(dir, "etc", "data", "ks.db"),
		"file:ks.db?_pragma=busy_timeout(5000)": "file:" + filepath.Join(dir, "etc", "ks.db") + "?_pragma=busy_timeout(5000)",
		"/var/lib/ks.db":                        "/var/lib/ks.db",
		":memory:":                              ":memory:",
		"file:x?mode=memory":                    "file:x?mode=memory",
	} {
		os.WriteFile(path, []byte("aws:\n  backend: sim\nstore:\n  dsn: \""+dsn+"\"\n"), 0o600)
		cfg, err := loadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Store.DSN != want {
			t.Errorf("dsn %q in %s: %q, want %q", dsn, path, cfg.Store.DSN, want)
		}
	}
	cfg, err := loadConfig("")
	if err != nil || cfg.Store.DSN != "killswitch.db" {
		t.Errorf("the embedded default keeps its store in the working directory: %v %q", err, cfg.Store.DSN)
	}
}

func TestCallTimeoutKey(t *testing.T) {
	base := "aws:\n  backend: sim\n"
	cfg, err := parseConfig([]byte(base))
	if err != nil || cfg.AWS.CallTimeout != 30*time.Second {
		t.Fatalf("default aws.call_timeout: %v %v, want 30s", cfg, err)
	}
	if cfg, err = parseConfig([]byte(base + "  call_timeout: 5s\n")); err != nil || cfg.AWS.CallTimeout != 5*time.Second {
		t.Fatalf("call_timeout 5s: %v", err)
	}
	for _, v := range []string{"100ms", "11m", "-1s"} {
		if _, err := parseConfig([]byte(base + "  call_timeout: " + v + "\n")); err == nil || !strings.Contains(err.Error(), "aws.call_timeout") {
			t.Errorf("call_timeout %s: %v", v, err)
		}
	}
}

// TestPlanAgainstAHungEndpointEnds: every AWS call of a plan against an
// endpoint that never answers fails after aws.call_timeout, so the plan
// ends (exit 1, naming the timeout) instead of hanging.
func TestPlanAgainstAHungEndpointEnds(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	path := writeConfig(t, "aws:\n  backend: aws\n  accounts: [\"111122223333\", \"444455556666\"]\n  endpoint_url: \""+srv.URL+"\"\n  call_timeout: 1s\n")
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		code, out, stderr := runCLI(t, "plan", "lockdown", "--config", path)
		done <- result{code, out, stderr}
	}()
	select {
	case r := <-done:
		if r.code != exitFailure || !strings.Contains(r.out, "no answer from AWS within 1s (aws.call_timeout)") {
			t.Errorf("exit %d after %s:\n%s\n%s", r.code, time.Since(start), r.out, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("plan still waiting for a hung endpoint after 20s")
	}
}
