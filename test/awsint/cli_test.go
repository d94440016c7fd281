package awsint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/test/moto"
)

// The killswitch binary, built once per test binary, on first use.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func killswitchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "killswitch-awsint-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "killswitch")
		start := time.Now()
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/killswitch/killswitch/cmd/killswitch").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/killswitch: %v\n%s", err, out)
		}
		t.Logf("built the killswitch binary in %s", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cleanBinary removes the built binary (TestMain, after every test).
func cleanBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// TestCLIPlanLockdownOnTheEmulator runs the real binary, `killswitch plan
// lockdown --config FILE --json`, with backend aws on the emulator: the SDK's
// default credential chain (environment credentials only), the accounts
// discovered with ListAccounts. The JSON plan lists all three accounts with
// the same targets and exemptions the engine plans, and nothing changes.
func TestCLIPlanLockdownOnTheEmulator(t *testing.T) {
	bin := killswitchBinary(t)
	org := reseed(t, defaultSeed)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "killswitch.yaml")
	conf := fmt.Sprintf(`break_glass:
  principals: [%q]
  tag: %q
aws:
  backend: aws
  endpoint_url: %q
  region: %s
  management_account: %q
  organization: true
  role_name: %s
  confirm_timeout: 1s
  regions: [%s]
store:
  driver: sqlite
  dsn: %q
`, BreakGlassPattern, BreakGlassTag, shim.URL, moto.Region, moto.DefaultAccount, ResponderRole, moto.Region, filepath.Join(dir, "killswitch.db"))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	before := readState(t, org, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "plan", "lockdown", "--config", cfg, "--json")
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_ACCESS_KEY_ID=" + moto.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + moto.SecretAccessKey,
		"AWS_REGION=" + moto.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("killswitch plan lockdown: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var plan actions.Plan
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plan); err != nil {
		t.Fatalf("plan --json output is not a plan: %v\n%s", err, stdout.String())
	}
	if plan.Action != actions.Lockdown {
		t.Errorf("action %q", plan.Action)
	}
	var got []string
	for _, ap := range plan.Accounts {
		got = append(got, ap.Account)
	}
	if strings.Join(got, ",") != strings.Join(org.IDs(), ",") {
		t.Fatalf("accounts %v, want the organization's %v (discovered with ListAccounts)", got, org.IDs())
	}

	// The same targets and exemptions the engine plans.
	var rb time.Time
	re := regexp.MustCompile(`^deny sessions issued before (\S+) `)
	for _, ap := range plan.Accounts {
		for _, tg := range ap.Targets {
			for _, c := range tg.Changes {
				if m := re.FindStringSubmatch(c); m != nil && rb.IsZero() {
					var err error
					if rb, err = time.Parse(time.RFC3339, m[1]); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if rb.IsZero() {
		t.Fatalf("no revoke-sessions change in the plan:\n%s", mustJSON(t, plan))
	}
	parts := GuardrailParts(t, org, newEngine(t, newFactory(t), nil))
	roots := rootID(t)
	for _, ap := range plan.Accounts {
		if ap.Error != "" || len(ap.Targets) == 0 {
			t.Errorf("%s: error %q, %d targets", ap.Account, ap.Error, len(ap.Targets))
		}
		checkPlanAccount(t, ap, wantPlan(org, ap.Account, actions.Lockdown, roots, rb, parts, RCPParts(t, org, motoConfig())))
		checkPlanWarnings(t, org, actions.Lockdown, ap, parts)
	}
	AssertState(t, "after the CLI's plan (read-only)", before, readState(t, org, nil))
}
