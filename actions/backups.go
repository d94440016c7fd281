package actions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rbin"
	rbintypes "github.com/aws/aws-sdk-go-v2/service/rbin/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// backup-readiness: per account and region, what would survive if every
// guardrail failed, and exactly which data nothing protects. A snapshot is
// protected by a locked Recycle Bin rule covering it or by snapshot lock,
// an AMI by a locked rule, a recovery point by its vault's Vault Lock (or
// a logically air-gapped vault), a bucket by Object Lock; versioning alone
// is weaker and reported as such. A call that fails costs the findings it
// was needed for, which are reported as unknown, never the account.

// MaxBackupRegions bounds the regions backup-readiness reads per account:
// aws.region first, then the other enabled regions (ec2 DescribeRegions)
// in name order; the plan names any left out.
const MaxBackupRegions = 20

// Finding prefixes: a resource nothing protects, one whose protection
// could not be read.
const (
	findUnprotected = "unprotected: "
	findUnknown     = "protection unknown: "
)

// readiness is what one region holds and what protects it.
type readiness struct {
	region string
	rules  map[rbintypes.ResourceType][]*rbin.GetRuleOutput
	known  map[string]bool // "rules:TYPE", "locks", "snapshots", "images", "vaults"
	locks  map[string]ec2types.LockState
	snaps  []ec2types.Snapshot
	images []ec2types.Image
}

func (a *acct) buildBackupReadiness(ctx context.Context) (*work, error) {
	if a.c.InRegion == nil {
		return nil, fmt.Errorf("account %s: no regional clients for backup-readiness", a.id)
	}
	w := &work{readOnly: true}
	for _, region := range a.backupRegions(ctx, w) {
		rd := a.readRegion(ctx, a.c.InRegion(region), w)
		a.reportRegion(rd, w)
		a.reportVaults(ctx, a.c.InRegion(region), w)
	}
	a.reportBuckets(ctx, w)
	return w, nil
}

// backupRegions: aws.region, then the enabled regions, at most
// MaxBackupRegions.
func (a *acct) backupRegions(ctx context.Context, w *work) []string {
	home := a.c.Region
	if len(a.e.cfg.Regions) > 0 {
		return a.e.cfg.Regions // the regions the configuration names, no more
	}
	regions := []string{home}
	var out *ec2.DescribeRegionsOutput
	err := a.call("EC2", "DescribeRegions", home, func() (err error) {
		out, err = a.c.InRegion(home).EC2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
		return err
	})
	if err != nil {
		w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: enabled regions could not be listed (%s): only %s was read", errorText(err), home))
		return regions
	}
	var others []string
	for _, r := range out.Regions {
		if n := aws.ToString(r.RegionName); n != "" && n != home && aws.ToString(r.OptInStatus) != "not-opted-in" {
			others = append(others, n)
		}
	}
	sort.Strings(others)
	if len(others) > MaxBackupRegions-1 {
		w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: %d enabled regions; not read: %s", len(others)+1, strings.Join(others[MaxBackupRegions-1:], ", ")))
		others = others[:MaxBackupRegions-1]
	}
	return append(regions, others...)
}

func (a *acct) readRegion(ctx context.Context, rc *awsapi.Regional, w *work) *readiness {
	rd := &readiness{region: rc.Region, rules: map[rbintypes.ResourceType][]*rbin.GetRuleOutput{}, known: map[string]bool{}, locks: map[string]ec2types.LockState{}}
	lost := func(what string, err error) {
		w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: %s in %s could not be read: %s", what, rc.Region, errorText(err)))
	}
	for _, typ := range []rbintypes.ResourceType{rbintypes.ResourceTypeEbsSnapshot, rbintypes.ResourceTypeEc2Image} {
		rules, err := a.listRules(ctx, rc, typ)
		if err != nil {
			lost("Recycle Bin rules for "+string(typ), err)
			continue
		}
		rd.rules[typ], rd.known["rules:"+string(typ)] = rules, true
	}
	if err := a.lockedSnapshots(ctx, rc, rd.locks); err != nil {
		lost("snapshot locks", err)
	} else {
		rd.known["locks"] = true
	}
	var err error
	if rd.snaps, err = a.ownSnapshots(ctx, rc); err != nil {
		lost("EBS snapshots", err)
	} else {
		rd.known["snapshots"] = true
	}
	if rd.images, err = a.ownImages(ctx, rc); err != nil {
		lost("AMIs", err)
	} else {
		rd.known["images"] = true
	}
	return rd
}

// listRules reads every rule of a type in full (ListRules, then GetRule
// for its resource and exclusion tags).
func (a *acct) listRules(ctx context.Context, rc *awsapi.Regional, typ rbintypes.ResourceType) ([]*rbin.GetRuleOutput, error) {
	var out []*rbin.GetRuleOutput
	var token *string
	for {
		var page *rbin.ListRulesOutput
		if err := a.call("RecycleBin", "ListRules", rc.Region, func() (err error) {
			page, err = rc.RecycleBin.ListRules(ctx, &rbin.ListRulesInput{ResourceType: typ, NextToken: token})
			return err
		}); err != nil {
			return nil, err
		}
		for _, s := range page.Rules {
			var r *rbin.GetRuleOutput
			id := aws.ToString(s.Identifier)
			if err := a.call("RecycleBin", "GetRule", id, func() (err error) {
				r, err = rc.RecycleBin.GetRule(ctx, &rbin.GetRuleInput{Identifier: aws.String(id)})
				return err
			}); err != nil {
				return nil, fmt.Errorf("get rule %s: %w", id, err)
			}
			out = append(out, r)
		}
		if page.NextToken == nil {
			return out, nil
		}
		token = page.NextToken
	}
}

func (a *acct) lockedSnapshots(ctx context.Context, rc *awsapi.Regional, into map[string]ec2types.LockState) error {
	var token *string
	for {
		var page *ec2.DescribeLockedSnapshotsOutput
		if err := a.call("EC2", "DescribeLockedSnapshots", rc.Region, func() (err error) {
			page, err = rc.EC2.DescribeLockedSnapshots(ctx, &ec2.DescribeLockedSnapshotsInput{NextToken: token})
			return err
		}); err != nil {
			return err
		}
		for _, s := range page.Snapshots {
			into[aws.ToString(s.SnapshotId)] = s.LockState
		}
		if page.NextToken == nil {
			return nil
		}
		token = page.NextToken
	}
}

func (a *acct) ownSnapshots(ctx context.Context, rc *awsapi.Regional) ([]ec2types.Snapshot, error) {
	var out []ec2types.Snapshot
	p := ec2.NewDescribeSnapshotsPaginator(rc.EC2, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	for p.HasMorePages() {
		var page *ec2.DescribeSnapshotsOutput
		if err := a.call("EC2", "DescribeSnapshots", rc.Region, func() (err error) {
			page, err = p.NextPage(ctx)
			return err
		}); err != nil {
			return nil, err
		}
		out = append(out, page.Snapshots...)
	}
	return out, nil
}

func (a *acct) ownImages(ctx context.Context, rc *awsapi.Regional) ([]ec2types.Image, error) {
	var out []ec2types.Image
	p := ec2.NewDescribeImagesPaginator(rc.EC2, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	for p.HasMorePages() {
		var page *ec2.DescribeImagesOutput
		if err := a.call("EC2", "DescribeImages", rc.Region, func() (err error) {
			page, err = p.NextPage(ctx)
			return err
		}); err != nil {
			return nil, err
		}
		out = append(out, page.Images...)
	}
	return out, nil
}

// regionLevel reports whether a rule covers every resource of its type in
// its region (no resource tags).
func regionLevel(r *rbin.GetRuleOutput) bool { return len(r.ResourceTags) == 0 }

// covers reports whether a rule retains a resource with tags: a tag-level
// rule one carrying at least one of its pairs (no value: any value), a
// region-level rule every one carrying none of its exclusion tags.
func covers(r *rbin.GetRuleOutput, tags []ec2types.Tag) bool {
	match := func(rts []rbintypes.ResourceTag) bool {
		for _, rt := range rts {
			for _, t := range tags {
				if aws.ToString(t.Key) == aws.ToString(rt.ResourceTagKey) && (rt.ResourceTagValue == nil || aws.ToString(rt.ResourceTagValue) == aws.ToString(t.Value)) {
					return true
				}
			}
		}
		return false
	}
	if regionLevel(r) {
		return !match(r.ExcludeResourceTags)
	}
	return match(r.ResourceTags)
}

// lockedRuleFor returns the locked rule covering a resource (nil: none).
func lockedRuleFor(rules []*rbin.GetRuleOutput, tags []ec2types.Tag) *rbin.GetRuleOutput {
	for _, r := range rules {
		if r.LockState == rbintypes.LockStateLocked && covers(r, tags) {
			return r
		}
	}
	return nil
}

func ruleLine(r *rbin.GetRuleOutput) string {
	scope := "region-level"
	if !regionLevel(r) {
		scope = "tag-level"
	}
	days := int32(0)
	if r.RetentionPeriod != nil {
		days = aws.ToInt32(r.RetentionPeriod.RetentionPeriodValue)
	}
	state := string(r.LockState)
	switch r.LockState {
	case rbintypes.LockStateUnlocked:
		state = "unlocked: whoever may call rbin:DeleteRule can remove it"
	case rbintypes.LockStatePendingUnlock:
		state = "pending unlock since someone called rbin:UnlockRule: protects only until " + aws.ToTime(r.LockEndTime).UTC().Format("2006-01-02T15:04:05Z")
	}
	return fmt.Sprintf("Recycle Bin rule %s (%s, %s, %d days): %s", aws.ToString(r.Identifier), r.ResourceType, scope, days, state)
}

func (a *acct) reportRegion(rd *readiness, w *work) {
	var summary []string
	for _, typ := range []rbintypes.ResourceType{rbintypes.ResourceTypeEbsSnapshot, rbintypes.ResourceTypeEc2Image} {
		for _, r := range rd.rules[typ] {
			summary = append(summary, ruleLine(r))
		}
	}
	for _, id := range sortedKeys(rd.locks) {
		summary = append(summary, fmt.Sprintf("snapshot %s under snapshot lock (%s)", id, rd.locks[id]))
	}
	if len(summary) > 0 {
		w.findings = append(w.findings, Target{Principal: "region " + rd.region, Changes: summary})
	}
	snapRules := rd.rules[rbintypes.ResourceTypeEbsSnapshot]
	for _, s := range rd.snaps {
		id := aws.ToString(s.SnapshotId)
		lock, locked := rd.locks[id]
		switch {
		case lockedRuleFor(snapRules, s.Tags) != nil || locked && lock != ec2types.LockStateExpired:
		case !rd.known["rules:EBS_SNAPSHOT"] || !rd.known["locks"]:
			w.findings = append(w.findings, a.dataFinding(rd.region, "snapshot", id, findUnknown+"Recycle Bin rules or snapshot locks could not be read"))
		default:
			w.findings = append(w.findings, a.dataFinding(rd.region, "snapshot", id, findUnprotected+"no locked Recycle Bin rule covers it and it has no snapshot lock"))
		}
	}
	for _, im := range rd.images {
		id := aws.ToString(im.ImageId)
		switch {
		case lockedRuleFor(rd.rules[rbintypes.ResourceTypeEc2Image], im.Tags) != nil:
		case !rd.known["rules:EC2_IMAGE"]:
			w.findings = append(w.findings, a.dataFinding(rd.region, "ami", id, findUnknown+"Recycle Bin rules could not be read"))
		default:
			w.findings = append(w.findings, a.dataFinding(rd.region, "ami", id, findUnprotected+"no locked Recycle Bin rule covers it"))
		}
	}
}

// dataFinding names one piece of data by its ARN.
func (a *acct) dataFinding(region, kind, id, change string) Target {
	var arn string
	switch kind {
	case "snapshot":
		arn = fmt.Sprintf("arn:aws:ec2:%s:%s:snapshot/%s", region, a.id, id)
	case "ami":
		arn = fmt.Sprintf("arn:aws:ec2:%s:%s:image/%s", region, a.id, id)
	case "bucket":
		arn = "arn:aws:s3:::" + id
	default:
		arn = id // recovery points: their ARN already
	}
	return Target{Principal: arn, Changes: []string{change}}
}

// reportVaults: vaults and their Vault Lock; the recovery points of
// vaults nothing locks are named.
func (a *acct) reportVaults(ctx context.Context, rc *awsapi.Regional, w *work) {
	p := backup.NewListBackupVaultsPaginator(rc.Backup, &backup.ListBackupVaultsInput{})
	var summary []string
	for p.HasMorePages() {
		var page *backup.ListBackupVaultsOutput
		if err := a.call("Backup", "ListBackupVaults", rc.Region, func() (err error) {
			page, err = p.NextPage(ctx)
			return err
		}); err != nil {
			w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: AWS Backup vaults in %s could not be read: %s", rc.Region, errorText(err)))
			break
		}
		for _, v := range page.BackupVaultList {
			name := aws.ToString(v.BackupVaultName)
			line, locked := vaultLine(v.VaultType, aws.ToBool(v.Locked), v.LockDate != nil, aws.ToInt64(v.MinRetentionDays))
			summary = append(summary, fmt.Sprintf("backup vault %s (%d recovery points): %s", name, v.NumberOfRecoveryPoints, line))
			if !locked {
				a.unlockedPoints(ctx, rc, name, w)
			}
		}
	}
	if len(summary) > 0 {
		w.findings = append(w.findings, Target{Principal: "region " + rc.Region, Changes: summary})
	}
}

func vaultLine(typ backuptypes.VaultType, locked, dated bool, minDays int64) (string, bool) {
	switch {
	case typ == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT":
		return "logically air-gapped (compliance-locked, outside the account's reach)", true
	case locked && dated:
		return fmt.Sprintf("Vault Lock, compliance mode (min retention %d days)", minDays), true
	case locked:
		return fmt.Sprintf("Vault Lock, governance mode (min retention %d days): whoever may call backup:DeleteBackupVaultLockConfiguration can remove it", minDays), true
	}
	return "no Vault Lock", false
}

func (a *acct) unlockedPoints(ctx context.Context, rc *awsapi.Regional, vault string, w *work) {
	p := backup.NewListRecoveryPointsByBackupVaultPaginator(rc.Backup, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String(vault)})
	for p.HasMorePages() {
		var page *backup.ListRecoveryPointsByBackupVaultOutput
		if err := a.call("Backup", "ListRecoveryPointsByBackupVault", vault, func() (err error) {
			page, err = p.NextPage(ctx)
			return err
		}); err != nil {
			w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: recovery points of vault %s in %s could not be read (the vault has no Vault Lock): %s", vault, rc.Region, errorText(err)))
			return
		}
		for _, rp := range page.RecoveryPoints {
			w.findings = append(w.findings, a.dataFinding(rc.Region, "backup", aws.ToString(rp.RecoveryPointArn), findUnprotected+"in backup vault "+vault+", which has no Vault Lock"))
		}
	}
}

// reportBuckets: every bucket (ListBuckets from aws.region), its Object
// Lock and versioning read in the bucket's own region.
func (a *acct) reportBuckets(ctx context.Context, w *work) {
	home := a.c.InRegion(a.c.Region)
	p := s3.NewListBucketsPaginator(home.S3, &s3.ListBucketsInput{})
	for p.HasMorePages() {
		var page *s3.ListBucketsOutput
		if err := a.call("S3", "ListBuckets", "", func() (err error) {
			page, err = p.NextPage(ctx)
			return err
		}); err != nil {
			w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: S3 buckets could not be listed: %s", errorText(err)))
			return
		}
		for _, b := range page.Buckets {
			region := aws.ToString(b.BucketRegion)
			if region == "" {
				region = a.c.Region
			}
			if f, ok := a.bucketFinding(ctx, a.c.InRegion(region), aws.ToString(b.Name), w); ok {
				w.findings = append(w.findings, f)
			}
		}
	}
}

// weakVersioning says why versioning alone does not protect a bucket.
const weakVersioning = "versioning is on, which is weaker than Object Lock: whoever may call s3:DeleteObjectVersion, s3:PutLifecycleConfiguration or s3:PutBucketVersioning can still destroy every version"

func (a *acct) bucketFinding(ctx context.Context, rc *awsapi.Regional, name string, w *work) (Target, bool) {
	var lock *s3.GetObjectLockConfigurationOutput
	err := a.call("S3", "GetObjectLockConfiguration", name, func() (err error) {
		lock, err = rc.S3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(name)})
		return err
	})
	var ae smithy.APIError
	switch {
	case err == nil && lock.ObjectLockConfiguration != nil && lock.ObjectLockConfiguration.ObjectLockEnabled == "Enabled":
		return Target{}, false
	case err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "ObjectLockConfigurationNotFoundError"):
		w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: Object Lock of bucket %s in %s could not be read: %s", name, rc.Region, errorText(err)))
		return a.dataFinding(rc.Region, "bucket", name, findUnknown+"Object Lock could not be read"), true
	}
	change := findUnprotected + "no Object Lock (" + rc.Region + ")"
	var ver *s3.GetBucketVersioningOutput
	if err := a.call("S3", "GetBucketVersioning", name, func() (err error) {
		ver, err = rc.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
		return err
	}); err != nil {
		w.warnings = append(w.warnings, fmt.Sprintf("backup-readiness: versioning of bucket %s could not be read: %s", name, errorText(err)))
	} else if ver.Status == "Enabled" {
		change += "; " + weakVersioning
	}
	return a.dataFinding(rc.Region, "bucket", name, change), true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// planReadiness adds backup-readiness's findings to a lockdown plan as
// warnings, without steps: responders see what would not survive before
// they approve.
func (e *Engine) planReadiness(ctx context.Context, accts []*acct, plan *Plan) {
	works := make([]*work, len(accts))
	errs := make([]error, len(accts))
	e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
		if accts[i] != nil {
			works[i], errs[i] = accts[i].buildBackupReadiness(ctx)
		}
	})
	for i := range accts {
		ap := &plan.Accounts[i]
		switch {
		case errs[i] != nil:
			ap.Warnings = append(ap.Warnings, BackupReadiness+": "+errorText(errs[i]))
		case works[i] != nil:
			ap.Warnings = append(ap.Warnings, works[i].warnings...)
			for _, f := range works[i].findings {
				for _, c := range f.Changes {
					ap.Warnings = append(ap.Warnings, BackupReadiness+": "+f.Principal+": "+c)
				}
			}
		}
	}
}
