package actions_test

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

const bkAcct = "111122223333"

// seedBackups gives the codespaces account every kind of protection and
// its absence, in two regions.
func seedBackups(t *testing.T) *sim.Org {
	t.Helper()
	org := builtin(t, "codespaces")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct{ kind, id string }{{"snapshot", "snap-west-1"}, {"snapshot", "snap-west-2"}, {"ami", "ami-west-1"}, {"bucket", "west-locked"}, {"bucket", "west-versioned"}} {
		must(org.AddResource(bkAcct, r.kind, r.id))
		must(org.SetResourceRegion(bkAcct, r.kind, r.id, "us-west-2"))
	}
	// us-east-1: a locked region-level snapshot rule excluding tag keep=no,
	// an unlocked AMI rule, a tag-level AMI rule (not lockable).
	_, err := org.AddRecycleBinRule(bkAcct, sim.RecycleBinRule{ResourceType: sim.RbinSnapshot, RetentionDays: 7, Lock: sim.RbinLocked, UnlockDelayDays: 7, ExcludeTags: map[string]string{"keep": "no"}})
	must(err)
	_, err = org.AddRecycleBinRule(bkAcct, sim.RecycleBinRule{ResourceType: sim.RbinImage, RetentionDays: 7})
	must(err)
	must(org.TagResource(bkAcct, "snapshot", "snap-0a1b2c3d4e5f60005", map[string]string{"keep": "no"}))
	// us-west-2: a snapshot lock on one snapshot, a locked AMI rule
	must(org.LockSnapshot(bkAcct, "snap-west-1", "compliance"))
	_, err = org.AddRecycleBinRule(bkAcct, sim.RecycleBinRule{Region: "us-west-2", ResourceType: sim.RbinImage, RetentionDays: 30, Lock: sim.RbinLocked, UnlockDelayDays: 10})
	must(err)
	// vaults: the two codespaces recovery points stay in the unlocked
	// Default vault; a compliance vault and an air-gapped one hold others
	must(org.AddBackupVault(bkAcct, sim.BackupVault{Name: "locked", Lock: "compliance", MinRetentionDays: 30, RecoveryPoints: []string{"rp-locked"}}))
	must(org.AddBackupVault(bkAcct, sim.BackupVault{Name: "airgap", Region: "us-west-2", Type: sim.VaultAirGapped, RecoveryPoints: []string{"rp-airgap"}}))
	must(org.AddBackupVault(bkAcct, sim.BackupVault{Name: "open", Region: "us-west-2", RecoveryPoints: []string{"rp-open"}}))
	// buckets
	must(org.SetBucketProtection(bkAcct, "codespaces-backups", sim.BucketProtection{ObjectLock: true, Versioning: "Enabled"}))
	must(org.SetBucketProtection(bkAcct, "codespaces-repos", sim.BucketProtection{Versioning: "Enabled"}))
	must(org.SetBucketProtection(bkAcct, "west-locked", sim.BucketProtection{ObjectLock: true, Versioning: "Enabled"}))
	return org
}

// unprotected returns the resources a plan names as unprotected.
func unprotected(p *actions.Plan, prefix string) []string {
	var out []string
	for _, a := range p.Accounts {
		for _, t := range a.Targets {
			for _, c := range t.Changes {
				if strings.HasPrefix(c, prefix) {
					out = append(out, t.Principal)
				}
			}
		}
		for _, w := range a.Warnings {
			if rest, ok := strings.CutPrefix(w, actions.BackupReadiness+": "); ok && strings.Contains(rest, ": "+prefix) {
				out = append(out, rest[:strings.Index(rest, ": "+prefix)])
			}
		}
	}
	sort.Strings(out)
	return out
}

var wantUnprotected = []string{
	"arn:aws:backup:us-east-1:111122223333:recovery-point:b0c0de5a-0000-4000-8000-000000000001",
	"arn:aws:backup:us-east-1:111122223333:recovery-point:b0c0de5a-0000-4000-8000-000000000002",
	"arn:aws:backup:us-west-2:111122223333:recovery-point:rp-open",
	"arn:aws:ec2:us-east-1:111122223333:image/ami-0c0de5ace0000001",
	"arn:aws:ec2:us-east-1:111122223333:image/ami-0c0de5ace0000002",
	"arn:aws:ec2:us-east-1:111122223333:image/ami-0c0de5ace0000003",
	"arn:aws:ec2:us-east-1:111122223333:snapshot/snap-0a1b2c3d4e5f60005",
	"arn:aws:ec2:us-west-2:111122223333:snapshot/snap-west-2",
	"arn:aws:s3:::codespaces-artifacts",
	"arn:aws:s3:::codespaces-repos",
	"arn:aws:s3:::west-versioned",
}

func TestBackupReadinessNamesExactlyTheUnprotectedData(t *testing.T) {
	org := seedBackups(t)
	p, err := engine(t, org).Plan(context.Background(), actions.BackupReadiness, []string{bkAcct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := unprotected(p, "unprotected: "); !reflect.DeepEqual(got, wantUnprotected) {
		t.Errorf("unprotected:\n got %q\nwant %q", got, wantUnprotected)
	}
	if got := unprotected(p, "protection unknown: "); len(got) != 0 {
		t.Errorf("unknown protection with every call answered: %q", got)
	}
	var repos string
	var regions []string
	for _, tg := range p.Accounts[0].Targets {
		if tg.Principal == "arn:aws:s3:::codespaces-repos" {
			repos = strings.Join(tg.Changes, " ")
		}
		if strings.HasPrefix(tg.Principal, "region ") {
			regions = append(regions, tg.Principal+": "+strings.Join(tg.Changes, "; "))
		}
	}
	if !strings.Contains(repos, "weaker than Object Lock") {
		t.Errorf("a versioned bucket without Object Lock is not called weaker: %q", repos)
	}
	summary := strings.Join(regions, "\n")
	for _, want := range []string{"unlocked: whoever may call rbin:DeleteRule", "snap-west-1 under snapshot lock (compliance)", "backup vault airgap (1 recovery points): logically air-gapped", "backup vault locked (1 recovery points): Vault Lock, compliance mode"} {
		if !strings.Contains(summary, want) {
			t.Errorf("region summary lacks %q:\n%s", want, summary)
		}
	}
	if len(p.Accounts[0].Warnings) != 0 {
		t.Errorf("warnings: %q", p.Accounts[0].Warnings)
	}
}

// A failing call costs its findings, reported as unknown, never the account.
func TestBackupReadinessSurvivesAFailingCall(t *testing.T) {
	org := seedBackups(t)
	org.InjectFault(sim.Fault{Operation: "DescribeLockedSnapshots", Err: &smithy.GenericAPIError{Code: "InternalError", Message: "boom", Fault: smithy.FaultServer}})
	p, err := engine(t, org).Plan(context.Background(), actions.BackupReadiness, []string{bkAcct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ap := p.Accounts[0]
	if ap.Error != "" {
		t.Fatalf("account failed: %s", ap.Error)
	}
	unknown := unprotected(p, "protection unknown: ")
	// us-east-1 snapshots without the locked rule's cover, and the west ones
	want := []string{"arn:aws:ec2:us-east-1:111122223333:snapshot/snap-0a1b2c3d4e5f60005", "arn:aws:ec2:us-west-2:111122223333:snapshot/snap-west-1", "arn:aws:ec2:us-west-2:111122223333:snapshot/snap-west-2"}
	if !reflect.DeepEqual(unknown, want) {
		t.Errorf("unknown: got %q want %q", unknown, want)
	}
	if got := unprotected(p, "unprotected: "); len(got) != len(wantUnprotected)-2 {
		t.Errorf("the rest is still reported: got %d unprotected, want %d: %q", len(got), len(wantUnprotected)-2, got)
	}
	if !strings.Contains(strings.Join(ap.Warnings, "\n"), "snapshot locks in us-east-1 could not be read") {
		t.Errorf("the failing call is not reported: %q", ap.Warnings)
	}
}

func TestLockdownPlanShowsBackupReadiness(t *testing.T) {
	org := seedBackups(t)
	p, err := engine(t, org).Plan(context.Background(), actions.Lockdown, []string{bkAcct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := unprotected(p, "unprotected: "); !reflect.DeepEqual(got, wantUnprotected) {
		t.Errorf("lockdown plan's readiness findings:\n got %q\nwant %q", got, wantUnprotected)
	}
	for _, tg := range p.Accounts[0].Targets {
		for _, c := range tg.Changes {
			if strings.HasPrefix(c, "unprotected: ") || strings.Contains(c, "Recycle Bin") {
				t.Errorf("readiness became a step of lockdown: %s %s", tg.Principal, c)
			}
		}
	}
}

func TestLockBackupsCreatesLockedRulesWhereNoneIsLocked(t *testing.T) {
	org := seedBackups(t)
	info, err := actions.Lookup(actions.LockBackups)
	if err != nil {
		t.Fatal(err)
	}
	if info.ExtraApprovals != 1 || info.Reversible || !info.Mutating {
		t.Fatalf("lock-backups info: %+v", info)
	}
	e := engine(t, org)
	rec := &recorder{}
	res, err := e.Apply(context.Background(), actions.LockBackups, []string{bkAcct}, actions.Options{RequestID: "req-lock"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != actions.StatusSucceeded {
		t.Fatalf("status %s: %q", res.Status, res.Problems())
	}
	// us-east-1 snapshots: locked rule exists (but excludes keep=no) -> a
	// new one; us-east-1 AMIs: unlocked rule -> new; us-west-2 snapshots
	// -> new; us-west-2 AMIs: locked -> skipped
	var made []string
	for _, s := range res.Steps() {
		if s.Reversible || s.Status != actions.StepDone {
			t.Errorf("step %s: reversible %v status %s", s.Key, s.Reversible, s.Status)
		}
		made = append(made, s.Principal+" "+strings.Fields(s.Resource)[0])
	}
	sort.Strings(made)
	if want := []string{"region us-east-1 EBS_SNAPSHOT", "region us-east-1 EC2_IMAGE", "region us-west-2 EBS_SNAPSHOT"}; !reflect.DeepEqual(made, want) {
		t.Errorf("rules made: %q want %q", made, want)
	}
	locked := 0
	for _, r := range org.RecycleBinRules(bkAcct) {
		if r.Tags["killswitch:managed"] == "true" {
			if r.Lock != sim.RbinLocked || r.UnlockDelayDays != actions.LockBackupsUnlockDelayDays || r.RetentionDays != actions.LockBackupsRetentionDays || len(r.ResourceTags) != 0 {
				t.Errorf("rule %+v", r)
			}
			locked++
		}
	}
	if locked != 3 {
		t.Errorf("%d killswitch rules, want 3", locked)
	}
	// every snapshot and AMI is now protected
	p, err := e.Plan(context.Background(), actions.BackupReadiness, []string{bkAcct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range unprotected(p, "unprotected: ") {
		if strings.Contains(u, ":ec2:") {
			t.Errorf("still unprotected after lock-backups: %s", u)
		}
	}
	// a second run skips every region
	again, err := e.Apply(context.Background(), actions.LockBackups, []string{bkAcct}, actions.Options{RequestID: "req-lock-2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(again.Steps()); n != 0 {
		t.Errorf("second run made %d steps", n)
	}
	if w := strings.Join(again.Accounts[0].Warnings, "\n"); strings.Count(w, "already retained by locked region-level rule") != 4 {
		t.Errorf("skips not reported: %s", w)
	}
	// undo changes nothing and says why
	u, err := e.Undo(context.Background(), actions.LockBackups, rec.steps, actions.Options{RequestID: "req-lock"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(u.Accounts[0].Warnings, "\n"); strings.Count(w, "cannot be removed before its unlock delay") != 3 || !strings.Contains(w, "aws rbin unlock-rule") {
		t.Errorf("undo warnings: %s", w)
	}
	if n := len(org.RecycleBinRules(bkAcct)); n != 6 {
		t.Errorf("undo removed rules: %d left, want 6", n)
	}
}

// A covered snapshot that is deleted goes to the Recycle Bin: not lost.
func TestDeletedSnapshotUnderRuleIsRecoverable(t *testing.T) {
	org := seedBackups(t)
	intr := sim.Credential{Account: bkAcct, Principal: "arn:aws:iam::" + bkAcct + ":user/ops-admin", Console: true}
	if err := org.Destroy(intr, "snapshot", "snap-0a1b2c3d4e5f60001"); err != nil {
		t.Fatal(err)
	}
	if err := org.Destroy(intr, "snapshot", "snap-0a1b2c3d4e5f60005"); err != nil { // excluded by keep=no
		t.Fatal(err)
	}
	lost := map[string]bool{}
	for _, s := range org.ResourceStates(bkAcct) {
		if s.Kind == "snapshot" {
			lost[s.ID] = s.Lost
		}
	}
	if v, ok := lost["snap-0a1b2c3d4e5f60001"]; !ok || v {
		t.Errorf("covered snapshot: listed %v lost %v", ok, v)
	}
	if !lost["snap-0a1b2c3d4e5f60005"] {
		t.Errorf("excluded snapshot is not lost")
	}
	if got := org.InRecycleBin(bkAcct); !reflect.DeepEqual(got, []string{"snapshot/snap-0a1b2c3d4e5f60001"}) {
		t.Errorf("recycle bin: %q", got)
	}
}
