package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions"
)

func TestHelpPerVerb(t *testing.T) {
	code, viaHelp, stderr := runCLI(t, "help", "plan")
	if code != exitOK {
		t.Fatalf("help plan: exit %d %q", code, stderr)
	}
	code, viaFlag, _ := runCLI(t, "plan", "--help")
	if code != exitOK || viaFlag != viaHelp {
		t.Fatalf("plan --help (exit %d) differs from help plan:\n%s\n---\n%s", code, viaFlag, viaHelp)
	}
	for _, want := range []string{"usage: killswitch plan ACTION", "--since 24h|RFC3339", "--accounts ID,ID", "--sim ORG", "--config FILE", "--json"} {
		if !strings.Contains(viaHelp, want) {
			t.Errorf("help plan lacks %q:\n%s", want, viaHelp)
		}
	}
	for _, a := range actions.Names() {
		if !strings.Contains(viaHelp, "\n  "+a+" ") {
			t.Errorf("help plan does not list the action %s:\n%s", a, viaHelp)
		}
	}
	for _, line := range strings.Split(viaHelp, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
			t.Errorf("a single-dash flag: %q", line)
		}
	}
	if strings.Contains(viaHelp, "contain an AWS account takeover\n\nusage: killswitch VERB") {
		t.Error("help plan printed the general usage")
	}
	for _, verb := range []string{"actions", "policy", "serve", "drill", "audit", "version", "help"} {
		code, out, stderr := runCLI(t, "help", verb)
		if code != exitOK || !strings.HasPrefix(out, "usage: killswitch "+verb) {
			t.Errorf("help %s: exit %d %q %q", verb, code, out, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "help", "nope"); code != exitUsage || !strings.Contains(stderr, `unknown verb "nope"`) {
		t.Errorf("help nope: exit %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "plan", "lockdown", "-bogus"); code != exitUsage || !strings.Contains(stderr, "--bogus") {
		t.Errorf("an unknown flag is named as typed with two dashes: exit %d %q", code, stderr)
	}
	if code, out, _ := runCLI(t, "plan", "lockdown", "--bogus"); code != exitUsage || out != "" {
		t.Errorf("a flag error prints the usage on stdout: %q", out)
	}
}

func TestVersion(t *testing.T) {
	defer func(f func() (*debug.BuildInfo, bool)) { readBuildInfo = f }(readBuildInfo)
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "758dc20c0ffee"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, stderr := runCLI(t, args...)
		if code != exitOK || out != "killswitch v1.4.0, commit 758dc20c0ffee of 2026-12-01T10:00:00Z, with uncommitted changes\n" {
			t.Errorf("%v: exit %d %q %q", args, code, out, stderr)
		}
	}
	readBuildInfo = func() (*debug.BuildInfo, bool) { return nil, false }
	if code, out, _ := runCLI(t, "version"); code != exitOK || !strings.Contains(out, "killswitch (devel), commit unknown") {
		t.Errorf("no build information: exit %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "version", "extra"); code != exitUsage {
		t.Errorf("version extra: exit %d", code)
	}
}

func TestExtraArgumentsAreNamed(t *testing.T) {
	code, _, stderr := runCLI(t, "plan", "lockdown", "extra")
	if code != exitUsage || !strings.Contains(stderr, "plan takes one action") || !strings.Contains(stderr, `"extra"`) {
		t.Errorf("plan lockdown extra: exit %d %q", code, stderr)
	}
	// policy validate: the usage line and the behaviour agree
	_, help, _ := runCLI(t, "help", "policy")
	_, general, _ := runCLI(t, "help")
	for _, u := range []string{help, general} {
		if !strings.Contains(u, "validate [NAME FILE]") {
			t.Errorf("usage does not say validate [NAME FILE]: %s", u)
		}
	}
	code, _, stderr = runCLI(t, "policy", "validate", "my-policy.json")
	if code != exitUsage || !strings.Contains(stderr, "NAME FILE") || !strings.Contains(stderr, "killswitch policy validate deny-delete") {
		t.Errorf("policy validate FILE: exit %d %q", code, stderr)
	}
}

func TestPolicyShowSaysWhatIsAnExample(t *testing.T) {
	code, out, stderr := runCLI(t, "policy", "show", "revoke-older-sessions")
	var doc map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("policy show must print the rendered JSON alone: exit %d %q", code, out)
	}
	if !strings.Contains(stderr, "cut-off 2026-11-30T17:41:03Z is an example") {
		t.Errorf("the example cut-off is not labelled: stderr %q", stderr)
	}
	// deny-delete: what serve and plan attach for the configuration
	for _, cfgPath := range []string{"", writeConfig(t, "break_glass:\n  principals: [\"arn:aws:iam::*:role/Emergency*\"]\naws:\n  backend: sim\n  role_name: MyResponder\n")} {
		args := []string{"policy", "show", "deny-delete"}
		if cfgPath != "" {
			args = append(args, "--config", cfgPath)
		}
		code, out, stderr := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d %q", args, code, stderr)
		}
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		e, err := newEnv(context.Background(), cfg, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		attached, err := e.engine.DenyDeleteDocument()
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		json.Unmarshal([]byte(attached), &a)
		json.Unmarshal([]byte(out), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%v shows another document than the engine attaches:\n%s\n---\n%s", args, out, attached)
		}
		if strings.Contains(stderr, "example") {
			t.Errorf("%v: nothing of deny-delete is an example, yet: %q", args, stderr)
		}
	}
	if _, out, _ := runCLI(t, "policy", "show", "deny-delete"); !strings.Contains(out, "breakglass-*") {
		t.Error("deny-delete without --config does not carry the embedded default's exemptions")
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "killswitch.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanWithoutCredentialsFailsAndSaysHowToProvideThem(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{"HOME": home, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"), "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": ""} {
		t.Setenv(k, v)
	}
	path := writeConfig(t, "aws:\n  backend: aws\n  accounts: [\"111122223333\", \"444455556666\"]\n  endpoint_url: \"http://127.0.0.1:1\"\n")
	for _, extra := range [][]string{nil, {"--json"}} {
		args := append([]string{"plan", "lockdown", "--config", path}, extra...)
		code, out, stderr := runCLI(t, args...)
		if code != exitFailure {
			t.Errorf("%v: exit %d, want 1: %q", args, code, stderr)
		}
		for _, want := range []string{"no usable AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "instance"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q: %q", args, want, stderr)
			}
		}
		if extra != nil {
			var p map[string]any
			if json.Unmarshal([]byte(out), &p) != nil {
				t.Errorf("--json: stdout is not the plan JSON: %q", out)
			}
		}
	}
}

func TestPlanOnABadSimFileExits2NamingIt(t *testing.T) {
	bad := writeConfig(t, "accounts:\n  - bogus: 1\n")
	code, _, stderr := runCLI(t, "plan", "lockdown", "--sim", bad)
	if code != exitUsage || !strings.Contains(stderr, bad) {
		t.Errorf("plan --sim BADFILE: exit %d %q; want 2 naming the file", code, stderr)
	}
}

func TestFindBackdoorsCountsFindings(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "find-backdoors", "--sim", "org")
	if code != exitOK {
		t.Fatalf("exit %d %q", code, stderr)
	}
	first := strings.SplitN(out, "\n", 2)[0]
	if strings.Contains(first, "change(s)") || !strings.Contains(first, "0 finding(s)") {
		t.Errorf("find-backdoors on the simulation: %q; want its findings counted as findings (none: the bot's own roles are not backdoors)", first)
	}
	code, out, _ = runCLI(t, "plan", "rotate-keys", "--sim", "org")
	if code != exitOK || strings.Count(out, "IAM's limit") > 5 {
		t.Errorf("rotate-keys --sim org: exit %d, %d lines about the two-key limit; want one per account", code, strings.Count(out, "IAM's limit"))
	}
}
