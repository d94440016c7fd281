package awsint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/test/moto"
)

// The side-by-side comparison on the emulator: the same seeded organization
// contained once by a plain sequential boto3 script (test/baseline/
// lockdown.py, doing less than killswitch) and once by killswitch's lockdown
// through the real factory. TestBaselineAndLockdownBothContain checks only
// behaviour (both leave the organization contained);
// BenchmarkLockdownSideBySide times them.

// baselineScript is the baseline, relative to this package's directory.
const baselineScript = "../baseline/lockdown.py"

// baselineRun is what the script reports, plus its process's wall time.
type baselineRun struct {
	Seconds  float64 `json:"seconds"` // from after boto3's import to the last change
	Calls    int     `json:"calls"`
	Accounts int     `json:"accounts"`
	Users    int     `json:"users"`
	Roles    int     `json:"roles"`
	Process  time.Duration
}

// runBaseline runs the script against the test's moto server with the
// test's own credentials (the management account's).
func runBaseline(tb testing.TB) baselineRun {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", baselineScript, "--endpoint", srv.Endpoint, "--region", moto.Region,
		"--role", ResponderRole, "--break-glass-tag", BreakGlassTag, "--break-glass-role-prefix", strings.TrimSuffix(strings.TrimPrefix(BreakGlassPattern, "arn:aws:iam::*:role/"), "*"))
	cmd.Env = baselineEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("baseline script: %v\n%s", err, tail(errOut.String(), 3000))
	}
	r := baselineRun{Process: time.Since(start)}
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		tb.Fatalf("baseline script output %q: %v", tail(out.String(), 500), err)
	}
	return r
}

// baselineEnv is the environment without any AWS settings but moto's
// static credentials.
func baselineEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ACCESS_KEY_ID="+moto.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+moto.SecretAccessKey,
		"AWS_DEFAULT_REGION="+moto.Region, "AWS_EC2_METADATA_DISABLED=true")
}

// runKillswitch applies lockdown through the real factory and returns its
// wall time; without lists defenses turned off (the confirmation's wait).
func runKillswitch(tb testing.TB, org *Org, reqID string, without ...string) (*actions.Result, time.Duration) {
	tb.Helper()
	e, err := actions.New(newFactory(tb), actions.Config{
		BreakGlassPatterns: []string{BreakGlassPattern},
		BreakGlassTag:      BreakGlassTag,
		BotRoleName:        ResponderRole,
		ConfirmTimeout:     ConfirmTimeout,
		Without:            without,
	})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	res, err := e.Apply(context.Background(), actions.Lockdown, org.IDs(), actions.Options{RequestID: reqID}, nil)
	d := time.Since(start)
	if err != nil {
		tb.Fatal(err)
	}
	return res, d
}

// containmentProblems lists what is not contained in st: a non-exempt
// user with a console password or an active key, a non-exempt user or role
// without an inline policy denying sessions by aws:TokenIssueTime, a member
// without a customer SCP attached, the responder role given a deny.
func containmentProblems(org *Org, st *OrgState) []string {
	var out []string
	for _, id := range org.IDs() {
		a, as := org.Accounts[id], st.Accounts[id]
		if as == nil {
			out = append(out, fmt.Sprintf("account %s: not read", id))
			continue
		}
		if id != org.Management && !hasCustomerSCP(as) {
			out = append(out, fmt.Sprintf("account %s: no deny SCP attached", id))
		}
		for _, p := range append(append([]Principal(nil), a.Users...), a.Roles...) {
			ps := as.Principals[p.ARN]
			if ps == nil {
				out = append(out, fmt.Sprintf("%s: gone", p.ARN))
				continue
			}
			if p.Exempt == ExemptBot && revokes(ps) {
				out = append(out, fmt.Sprintf("%s: the responder role was denied its sessions", p.ARN))
			}
			if p.Exempt != notExempt {
				continue
			}
			if !revokes(ps) {
				out = append(out, fmt.Sprintf("%s: no inline policy denying older sessions", p.ARN))
			}
			if p.Kind != "user" {
				continue
			}
			if ps.LoginProfile {
				out = append(out, fmt.Sprintf("%s: console password left", p.ARN))
			}
			for k, status := range ps.Keys {
				if status != "Inactive" {
					out = append(out, fmt.Sprintf("%s: access key %s is %s", p.ARN, k, status))
				}
			}
		}
	}
	return out
}

func hasCustomerSCP(as *AccountState) bool {
	for name := range as.AttachedSCPs {
		if name != "FullAWSAccess" {
			return true
		}
	}
	return false
}

func revokes(ps *PrincipalState) bool {
	for _, doc := range ps.Inline {
		if strings.Contains(doc, "aws:TokenIssueTime") && strings.Contains(doc, "Deny") {
			return true
		}
	}
	return false
}

// TestBaselineAndLockdownBothContain: the baseline script and killswitch's
// lockdown each leave the same seeded organization contained (keys
// inactive, passwords gone, older sessions denied, members under a deny
// SCP, the responder role untouched); before either, it was not.
func TestBaselineAndLockdownBothContain(t *testing.T) {
	org := reseed(t, defaultSeed)
	if len(containmentProblems(org, readState(t, org, nil))) == 0 {
		t.Fatal("the freshly seeded organization already counts as contained: the check cannot fail")
	}
	b := runBaseline(t)
	if p := containmentProblems(org, readState(t, org, nil)); len(p) > 0 {
		t.Errorf("after the baseline script (%+v), not contained:\n  %s", b, strings.Join(p, "\n  "))
	}
	org = reseed(t, defaultSeed)
	res, _ := runKillswitch(t, org, "ks-side-by-side")
	if res.Status != actions.StatusSucceeded {
		t.Errorf("lockdown: %s: %v", res.Status, res.Problems())
	}
	if p := containmentProblems(org, readState(t, org, nil)); len(p) > 0 {
		t.Errorf("after killswitch's lockdown, not contained:\n  %s", strings.Join(p, "\n  "))
	}
}

// BenchmarkLockdownSideBySide: on benchSeed's organization (3 accounts x
// 36-37 principals), seeded afresh before each run (not timed), one run of
// the baseline script and one of killswitch's lockdown (default engine
// settings, the real factory through the shim, ConfirmTimeout 1 s as in
// every test here), then one lockdown with the guardrail confirmation
// turned off. moto never evaluates SCPs or IAM denies, so the canary's dry
// run always succeeds and every confirmation waits the full ConfirmTimeout
// (on AWS it waits for propagation, typically seconds); the run without it
// shows what the rest of lockdown costs. Reported:
//
//   - baseline_s/op: the script's own time, from after boto3's import to its
//     last change (its interpreter start-up, baseline_process_s/op, is left
//     out, which favours the baseline);
//   - killswitch_s/op: Apply's wall time, confirmation wait included;
//   - killswitch_noconfirm_s/op: the same without the confirmation;
//   - ratio: killswitch_s ÷ baseline_s; ratio_noconfirm:
//     killswitch_noconfirm_s ÷ baseline_s (issue 11 wants at most 0.5).
func BenchmarkLockdownSideBySide(b *testing.B) {
	var base, proc, ks, ksNoConfirm time.Duration
	var calls int
	for i := 0; i < b.N; i++ {
		org := reseed(b, benchSeed)
		br := runBaseline(b)
		base += time.Duration(br.Seconds * float64(time.Second))
		proc += br.Process
		calls += br.Calls
		org = reseed(b, benchSeed)
		res, d := runKillswitch(b, org, fmt.Sprintf("ks-side-%d", i))
		if res.Status != actions.StatusSucceeded {
			b.Fatalf("lockdown: %s: %v", res.Status, res.Problems())
		}
		ks += d
		org = reseed(b, benchSeed)
		res, d2 := runKillswitch(b, org, fmt.Sprintf("ks-side-noconfirm-%d", i), actions.DefenseConfirm)
		if res.Status != actions.StatusSucceeded {
			b.Fatalf("lockdown without confirmation: %s: %v", res.Status, res.Problems())
		}
		ksNoConfirm += d2
		b.Logf("baseline %+v; killswitch %s, without the confirmation %s", br, d.Round(time.Millisecond), d2.Round(time.Millisecond))
	}
	n := float64(b.N)
	b.ReportMetric(base.Seconds()/n, "baseline_s/op")
	b.ReportMetric(proc.Seconds()/n, "baseline_process_s/op")
	b.ReportMetric(float64(calls)/n, "baseline_calls/op")
	b.ReportMetric(ks.Seconds()/n, "killswitch_s/op")
	b.ReportMetric(ksNoConfirm.Seconds()/n, "killswitch_noconfirm_s/op")
	b.ReportMetric(ks.Seconds()/base.Seconds(), "ratio")
	b.ReportMetric(ksNoConfirm.Seconds()/base.Seconds(), "ratio_noconfirm")
}
