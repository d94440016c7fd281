package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExit2WithAHint(t *testing.T) {
	dir := t.TempDir()
	unknownKey := filepath.Join(dir, "bad.yaml")
	os.WriteFile(unknownKey, []byte("aws:\n  backend: sim\n  signing_secret: hunter2\n"), 0o600)
	badAccount := filepath.Join(dir, "acct.yaml")
	os.WriteFile(badAccount, []byte("aws:\n  backend: aws\n  accounts: ['12345']\n"), 0o600)
	selfOnly := filepath.Join(dir, "self.yaml")
	os.WriteFile(selfOnly, []byte("approval:\n  requesters: [U0001]\n  approvers: [U0001]\naws:\n  backend: sim\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"frobnicate"}, "unknown verb"},
		{[]string{"plan"}, "killswitch plan lockdown --all"},
		{[]string{"plan", "nuke"}, "choose one of"},
		{[]string{"plan", "lockdown", "--accounts", "12ab"}, "12 digits"},
		{[]string{"plan", "lockdown", "--accounts", "999999999999"}, "not one of the configured accounts"},
		{[]string{"plan", "lockdown", "--accounts", "111122223333", "--all"}, "not both"},
		{[]string{"plan", "lockdown", "--bogus"}, "flag provided but not defined"},
		{[]string{"plan", "lockdown", "--sim", "nowhere"}, "not a built-in organization"},
		{[]string{"plan", "find-backdoors", "--since", "yesterday"}, "duration like 24h"},
		{[]string{"plan", "lockdown", "--config", unknownKey}, "signing_secret"},
		{[]string{"plan", "lockdown", "--config", badAccount}, "12 digits"},
		{[]string{"plan", "lockdown", "--config", selfOnly}, "can never get 1 approval"},
		{[]string{"plan", "lockdown", "--config", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{[]string{"policy", "show", "nope"}, "killswitch policy list"},
		{[]string{"policy"}, "list | show NAME"},
		{[]string{"actions", "extra"}, "killswitch actions --json"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "hunter2") {
			t.Errorf("%v: stderr leaks a stack trace or a secret: %s", tc.args, stderr)
		}
	}
}

func TestActionsJSON(t *testing.T) {
	code, out, _ := runCLI(t, "actions", "--json")
	if code != 0 {
		t.Fatal(code)
	}
	var list []struct {
		Name                 string
		Mutating, Reversible bool
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range list {
		got[a.Name] = a.Mutating
	}
	for _, n := range []string{"deny-delete", "revoke-sessions", "disable-users", "rotate-keys", "lockdown"} {
		if !got[n] {
			t.Errorf("%s missing or not mutating", n)
		}
	}
	if m, ok := got["find-backdoors"]; !ok || m {
		t.Error("find-backdoors must be listed as read-only")
	}
}

func TestPlanJSONContract(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "disable-users", "--sim", "codespaces", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var plan struct {
		Action   string `json:"action"`
		Accounts []struct {
			Account string `json:"account"`
			Targets []struct {
				Principal string   `json:"principal"`
				Changes   []string `json:"changes"`
			} `json:"targets"`
			Exempt []struct {
				Principal string `json:"principal"`
				Reason    string `json:"reason"`
			} `json:"exempt"`
			Warnings []string `json:"warnings"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Action != "disable-users" || len(plan.Accounts) != 1 || plan.Accounts[0].Account != "111122223333" {
		t.Fatalf("unexpected plan: %s", out)
	}
	text := out
	for _, want := range []string{`"delete login profile"`, `"deactivate key AKIA...`, "break-glass"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan JSON lacks %s", want)
		}
	}
	if len(plan.Accounts[0].Exempt) == 0 || plan.Accounts[0].Exempt[0].Reason == "" {
		t.Error("exemptions must carry a reason")
	}
}

func TestPlanTextAndDefaultConfig(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "lockdown")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"plan lockdown on 1 account(s)", "account 111122223333 (standalone)", "attach managed policy KillSwitchDenyDelete", "exempt:",
		"cost until undo: IAM is frozen", "cost until undo: every session", "cost until undo: the bot waits"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text lacks %q", want)
		}
	}
}

func TestPolicyVerbs(t *testing.T) {
	code, out, _ := runCLI(t, "policy", "list")
	if code != 0 || !strings.HasPrefix(out, "bot-policy") || !strings.Contains(out, "\ndeny-delete") {
		t.Fatalf("policy list: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "policy", "show", "revoke-older-sessions")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || !strings.Contains(out, "aws:TokenIssueTime") {
		t.Fatalf("policy show: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "policy", "validate")
	if code != 0 || !strings.Contains(out, "deny-delete: ok") {
		t.Fatalf("policy validate: %d %q", code, out)
	}
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`), 0o600)
	code, out, _ = runCLI(t, "policy", "validate", "deny-delete", broken)
	if code != exitFailure || !strings.Contains(out, "INVALID") {
		t.Fatalf("a broken deny document must fail validation: %d %q", code, out)
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":"ec2:DeleteSnapshot","Resource":"*"}]}`), 0o600)
	if code, out, _ = runCLI(t, "policy", "validate", "deny-delete", good); code != 0 {
		t.Fatalf("a good document failed: %q", out)
	}
}

func TestDrillRunsOnTheEmbeddedDefault(t *testing.T) {
	code, out, stderr := runCLI(t, "drill")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Scorecard: CONTAINED", "resources lost: 0 of", "backdoor-user: created user", "clicks Approve", "types /killswitch lockdown"} {
		if !strings.Contains(out, want) {
			t.Fatalf("drill output lacks %q:\n%s", want, out)
		}
	}
}

func TestDrillReportJSONContract(t *testing.T) {
	for _, tc := range []struct {
		scenario  string
		contained bool
		exit      int
	}{{"codespaces", true, 0}, {"codespaces-manual", false, exitFailure}} {
		code, out, stderr := runCLI(t, "drill", "--scenario", tc.scenario, "--json")
		if code != tc.exit {
			t.Fatalf("%s: exit %d, want %d: %s", tc.scenario, code, tc.exit, stderr)
		}
		var r struct {
			Scenario        string   `json:"scenario"`
			Seed            *int64   `json:"seed"`
			Contained       *bool    `json:"contained"`
			TimeToApprovalS *float64 `json:"time_to_approval_s"`
			ResourcesTotal  int      `json:"resources_total"`
			ResourcesLost   *int     `json:"resources_lost"`
			Lost            []struct {
				Resource, Technique, Credential string
				T                               *float64
			} `json:"lost"`
			BackdoorsCreated   int   `json:"backdoors_created"`
			BackdoorsDisabled  *int  `json:"backdoors_disabled"`
			TechniquesTried    int   `json:"techniques_tried"`
			TechniquesWon      *int  `json:"techniques_won"`
			CredentialsWorking *int  `json:"credentials_working"`
			BreakGlassIntact   *bool `json:"break_glass_intact"`
			Timeline           []struct {
				T     *float64 `json:"t"`
				Actor string   `json:"actor"`
				Event string   `json:"event"`
			} `json:"timeline"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Scenario != tc.scenario || r.Seed == nil || r.Contained == nil || *r.Contained != tc.contained || r.ResourcesLost == nil || r.TechniquesWon == nil ||
			r.CredentialsWorking == nil || r.BackdoorsDisabled == nil || r.BreakGlassIntact == nil || r.ResourcesTotal == 0 || r.BackdoorsCreated == 0 ||
			r.TechniquesTried == 0 || len(r.Timeline) == 0 || r.Timeline[0].T == nil {
			t.Errorf("%s: report does not follow the contract: %.2000s", tc.scenario, out)
		}
		if tc.contained && r.TimeToApprovalS == nil {
			t.Errorf("%s: no time to approval", tc.scenario)
		}
		if !tc.contained && (len(r.Lost) == 0 || r.Lost[0].Technique == "" || r.Lost[0].T == nil) {
			t.Errorf("%s: losses without technique or time: %+v", tc.scenario, r.Lost)
		}
	}
	if code, _, stderr := runCLI(t, "drill", "--scenario", "nope"); code != exitUsage || !strings.Contains(stderr, "codespaces-manual") {
		t.Errorf("unknown scenario: exit %d, %q", code, stderr)
	}
}

func TestDrillScenarioFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mine.yaml")
	os.WriteFile(good, []byte("name: mine\norg: codespaces\nintruder:\n  holds: [{user: ops-admin}]\n  playbook: [delete-snapshots]\n  notices: {on: first-change}\nresponders:\n  - {at: 1m, manual: change-password ops-admin}\n"), 0o600)
	if code, out, stderr := runCLI(t, "drill", "--scenario", good); code != exitFailure || !strings.Contains(out, "NOT CONTAINED") {
		t.Errorf("a file whose responders only change a password: exit %d %q %q", code, out, stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\norg: codespaces\nintruder:\n  holds: [{user: ops-admin}]\n  playbok: [delete-snapshots]\n"), 0o600)
	code, _, stderr := runCLI(t, "drill", "--scenario", bad)
	if code != exitUsage || !strings.Contains(stderr, bad+":5:") || !strings.Contains(stderr, "playbook") || strings.Contains(stderr, "goroutine") {
		t.Errorf("a misspelt key: exit %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "drill", "--scenario", filepath.Join(dir, "missing.yaml")); code != exitUsage || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("a missing file: exit %d %q", code, stderr)
	}
}
