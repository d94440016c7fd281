package sim

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rbin"
	rbintypes "github.com/aws/aws-sdk-go-v2/service/rbin/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// The bot's regional clients of backups.go's state: EC2 reads, Recycle
// Bin, AWS Backup and S3 reads, each bound to one region.

type ec2ReadClient struct {
	c      *conn
	region string
}
type rbinClient struct {
	c      *conn
	region string
}
type backupClient struct {
	c      *conn
	region string
}
type s3Client struct {
	c      *conn
	region string
}

var (
	_ awsapi.EC2Backups = (*ec2ReadClient)(nil)
	_ awsapi.RecycleBin = (*rbinClient)(nil)
	_ awsapi.Backup     = (*backupClient)(nil)
	_ awsapi.S3Backups  = (*s3Client)(nil)
)

// regionalClients returns the InRegion of a connection.
func regionalClients(c *conn) func(region string) *awsapi.Regional {
	return func(region string) *awsapi.Regional {
		return &awsapi.Regional{Region: region, EC2: &ec2ReadClient{c, region}, RecycleBin: &rbinClient{c, region},
			Backup: &backupClient{c, region}, S3: &s3Client{c, region}}
	}
}

// page is one page of sorted keys for EC2-style MaxResults/NextToken
// (max: the default page size and the largest allowed).
func page(keys []string, maxResults *int32, token *string, def, limit int) ([]string, *string, error) {
	n := def
	if maxResults != nil {
		if *maxResults < 1 || int(*maxResults) > limit {
			return nil, nil, validationError("MaxResults must be between 1 and " + strconv.Itoa(limit))
		}
		n = int(*maxResults)
	}
	start, ok := decodeToken(token)
	if !ok {
		return nil, nil, validationError("the pagination token is invalid")
	}
	sort.Strings(keys)
	p, next, more := pageSorted(keys, start, n, nil)
	if !more {
		return p, nil, nil
	}
	return p, encodeToken(next), nil
}

// inRegion returns the ids of a kind in region.
func (a *account) inRegion(kind, region string) []string {
	var out []string
	for _, id := range a.resourceIDs(kind) {
		if a.regionOf(kind, id) == region {
			out = append(out, id)
		}
	}
	return out
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedMapKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func (e *ec2ReadClient) DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error) {
	out := &ec2.DescribeRegionsOutput{}
	return call(ctx, e.c, "EC2", "DescribeRegions", nil, out, func(a *account) error {
		for _, r := range a.accountRegions() {
			out.Regions = append(out.Regions, ec2types.Region{RegionName: aws.String(r), Endpoint: aws.String("ec2." + r + ".amazonaws.com"), OptInStatus: aws.String("opt-in-not-required")})
		}
		return nil
	})
}

func (e *ec2ReadClient) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	in = orEmpty(in)
	out := &ec2.DescribeSnapshotsOutput{}
	return call(ctx, e.c, "EC2", "DescribeSnapshots", nil, out, func(a *account) error {
		ids, next, err := page(a.inRegion("snapshot", e.region), in.MaxResults, in.NextToken, 1000, 1000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			out.Snapshots = append(out.Snapshots, ec2types.Snapshot{SnapshotId: aws.String(id), OwnerId: aws.String(a.id),
				State: ec2types.SnapshotStateCompleted, Tags: ec2Tags(a.bk().tags[resKey("snapshot", id)])})
		}
		out.NextToken = next
		return nil
	})
}

func (e *ec2ReadClient) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	in = orEmpty(in)
	out := &ec2.DescribeImagesOutput{}
	return call(ctx, e.c, "EC2", "DescribeImages", nil, out, func(a *account) error {
		ids, next, err := page(a.inRegion("ami", e.region), in.MaxResults, in.NextToken, 1000, 1000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			out.Images = append(out.Images, ec2types.Image{ImageId: aws.String(id), OwnerId: aws.String(a.id),
				State: ec2types.ImageStateAvailable, Tags: ec2Tags(a.bk().tags[resKey("ami", id)])})
		}
		out.NextToken = next
		return nil
	})
}

func (e *ec2ReadClient) DescribeLockedSnapshots(ctx context.Context, in *ec2.DescribeLockedSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeLockedSnapshotsOutput, error) {
	in = orEmpty(in)
	out := &ec2.DescribeLockedSnapshotsOutput{}
	return call(ctx, e.c, "EC2", "DescribeLockedSnapshots", nil, out, func(a *account) error {
		var locked []string
		for _, id := range a.inRegion("snapshot", e.region) {
			if a.bk().snapLocks[id] != "" {
				locked = append(locked, id)
			}
		}
		ids, next, err := page(locked, in.MaxResults, in.NextToken, 1000, 1000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			out.Snapshots = append(out.Snapshots, ec2types.LockedSnapshotsInfo{SnapshotId: aws.String(id), OwnerId: aws.String(a.id),
				LockState: ec2types.LockState(a.bk().snapLocks[id])})
		}
		out.NextToken = next
		return nil
	})
}

// ---- Recycle Bin ----

func ruleARN(region, acct, id string) string {
	return "arn:aws:rbin:" + region + ":" + acct + ":rule/" + id
}

func rbinTags(m map[string]string) []rbintypes.ResourceTag {
	var out []rbintypes.ResourceTag
	for _, k := range sortedMapKeys(m) {
		t := rbintypes.ResourceTag{ResourceTagKey: aws.String(k)}
		if m[k] != "" {
			t.ResourceTagValue = aws.String(m[k])
		}
		out = append(out, t)
	}
	return out
}

func fromRbinTags(ts []rbintypes.ResourceTag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[aws.ToString(t.ResourceTagKey)] = aws.ToString(t.ResourceTagValue)
	}
	return m
}

func lockConfig(r *RecycleBinRule) *rbintypes.LockConfiguration {
	if r.Lock == RbinUnlocked {
		return nil
	}
	return &rbintypes.LockConfiguration{UnlockDelay: &rbintypes.UnlockDelay{UnlockDelayUnit: rbintypes.UnlockDelayUnitDays, UnlockDelayValue: aws.Int32(r.UnlockDelayDays)}}
}

func retention(days int32) *rbintypes.RetentionPeriod {
	return &rbintypes.RetentionPeriod{RetentionPeriodUnit: rbintypes.RetentionPeriodUnitDays, RetentionPeriodValue: aws.Int32(days)}
}

// refreshLock ends a pending unlock whose delay is over.
func (o *Org) refreshLock(r *RecycleBinRule) {
	if r.Lock == RbinPendingUnlock && !o.now().Before(r.LockEnd) {
		r.Lock = RbinUnlocked
	}
}

func ruleNotFound(id string) error {
	return &rbintypes.ResourceNotFoundException{Message: aws.String("rule " + id + " not found"), Reason: rbintypes.ResourceNotFoundExceptionReasonRuleNotFound}
}

func (r *rbinClient) ListRules(ctx context.Context, in *rbin.ListRulesInput, _ ...func(*rbin.Options)) (*rbin.ListRulesOutput, error) {
	in = orEmpty(in)
	if in.ResourceType == "" {
		return nil, opErr("RecycleBin", "ListRules", required("ListRulesInput", "ResourceType"))
	}
	out := &rbin.ListRulesOutput{}
	return call(ctx, r.c, "RecycleBin", "ListRules", nil, out, func(a *account) error {
		want, lock := fromRbinTags(in.ResourceTags), string(in.LockState)
		var ids []string
		for id, ru := range a.bk().rules {
			r.c.o.refreshLock(ru)
			if ru.Region == r.region && ru.ResourceType == string(in.ResourceType) && (lock == "" || ru.Lock == lock) && sameTags(ru.ResourceTags, want, len(in.ResourceTags) > 0) {
				ids = append(ids, id)
			}
		}
		ids, next, err := page(ids, in.MaxResults, in.NextToken, 100, 1000)
		if err != nil {
			return &rbintypes.ValidationException{Message: aws.String(err.Error()), Reason: rbintypes.ValidationExceptionReasonInvalidPageToken}
		}
		for _, id := range ids {
			ru := a.bk().rules[id]
			out.Rules = append(out.Rules, rbintypes.RuleSummary{Identifier: aws.String(id), Description: aws.String(ru.Description),
				LockState: rbintypes.LockState(ru.Lock), RetentionPeriod: retention(ru.RetentionDays), RuleArn: aws.String(ruleARN(ru.Region, a.id, id))})
		}
		out.NextToken = next
		return nil
	})
}

// sameTags: ListRules' ResourceTags filter (when given) matches rules with
// exactly those resource tags.
func sameTags(have, want map[string]string, filter bool) bool {
	if !filter {
		return true
	}
	if len(have) != len(want) {
		return false
	}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func (r *rbinClient) rule(a *account, id string) (*RecycleBinRule, error) {
	ru := a.bk().rules[id]
	if ru == nil || ru.Region != r.region {
		return nil, ruleNotFound(id)
	}
	r.c.o.refreshLock(ru)
	return ru, nil
}

func (r *rbinClient) GetRule(ctx context.Context, in *rbin.GetRuleInput, _ ...func(*rbin.Options)) (*rbin.GetRuleOutput, error) {
	if in == nil || str(in.Identifier) == "" {
		return nil, opErr("RecycleBin", "GetRule", required("GetRuleInput", "Identifier"))
	}
	id := *in.Identifier
	out := &rbin.GetRuleOutput{}
	return call(ctx, r.c, "RecycleBin", "GetRule", func(a *account) string { return ruleARN(r.region, a.id, id) }, out, func(a *account) error {
		ru, err := r.rule(a, id)
		if err != nil {
			return err
		}
		out.Identifier, out.Description, out.ResourceType = aws.String(id), aws.String(ru.Description), rbintypes.ResourceType(ru.ResourceType)
		out.RetentionPeriod, out.LockState, out.LockConfiguration = retention(ru.RetentionDays), rbintypes.LockState(ru.Lock), lockConfig(ru)
		out.ResourceTags, out.ExcludeResourceTags, out.RuleArn = rbinTags(ru.ResourceTags), rbinTags(ru.ExcludeTags), aws.String(ruleARN(ru.Region, a.id, id))
		if ru.Lock == RbinPendingUnlock {
			out.LockEndTime = aws.Time(ru.LockEnd)
		}
		return nil
	})
}

func (r *rbinClient) CreateRule(ctx context.Context, in *rbin.CreateRuleInput, _ ...func(*rbin.Options)) (*rbin.CreateRuleOutput, error) {
	if in == nil || in.ResourceType == "" || in.RetentionPeriod == nil {
		return nil, opErr("RecycleBin", "CreateRule", required("CreateRuleInput", "ResourceType", "RetentionPeriod"))
	}
	o := r.c.o
	o.mu.Lock()
	id := o.newID("", 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	o.mu.Unlock()
	out := &rbin.CreateRuleOutput{}
	return call(ctx, r.c, "RecycleBin", "CreateRule", func(a *account) string { return ruleARN(r.region, a.id, id) }, out, func(a *account) error {
		ru := RecycleBinRule{ID: id, Region: r.region, ResourceType: string(in.ResourceType), Description: aws.ToString(in.Description),
			RetentionDays: aws.ToInt32(in.RetentionPeriod.RetentionPeriodValue), ResourceTags: fromRbinTags(in.ResourceTags), ExcludeTags: fromRbinTags(in.ExcludeResourceTags),
			Lock: RbinUnlocked, Tags: map[string]string{}}
		if in.RetentionPeriod.RetentionPeriodUnit != rbintypes.RetentionPeriodUnitDays {
			return &rbintypes.ValidationException{Message: aws.String("RetentionPeriodUnit must be DAYS"), Reason: rbintypes.ValidationExceptionReasonInvalidParameterValue}
		}
		if lc := in.LockConfiguration; lc != nil {
			if lc.UnlockDelay == nil || lc.UnlockDelay.UnlockDelayUnit != rbintypes.UnlockDelayUnitDays {
				return &rbintypes.ValidationException{Message: aws.String("UnlockDelay in DAYS is required"), Reason: rbintypes.ValidationExceptionReasonInvalidParameterValue}
			}
			ru.Lock, ru.UnlockDelayDays = RbinLocked, aws.ToInt32(lc.UnlockDelay.UnlockDelayValue)
		}
		for _, t := range in.Tags {
			ru.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if err := checkRule(ru); err != nil {
			return &rbintypes.ValidationException{Message: aws.String(err.Error()), Reason: rbintypes.ValidationExceptionReasonInvalidParameterValue}
		}
		if _, err := o.addRuleLocked(a, ru); err != nil {
			return err
		}
		out.Identifier, out.Description, out.ResourceType = aws.String(id), in.Description, in.ResourceType
		out.RetentionPeriod, out.LockState, out.LockConfiguration = in.RetentionPeriod, rbintypes.LockState(ru.Lock), in.LockConfiguration
		out.ResourceTags, out.ExcludeResourceTags, out.Tags = in.ResourceTags, in.ExcludeResourceTags, in.Tags
		out.RuleArn = aws.String(ruleARN(r.region, a.id, id))
		return nil
	})
}

// ---- AWS Backup ----

func vaultARN(region, acct, name string) string {
	return "arn:aws:backup:" + region + ":" + acct + ":backup-vault:" + name
}

// vaultsIn returns the vaults of a region, the Default vault included when
// a recovery point there has no other vault.
func (a *account) vaultsIn(region string) map[string]*BackupVault {
	out := map[string]*BackupVault{}
	for n, v := range a.bk().vaults {
		if v.Region == region {
			out[n] = v
		}
	}
	for _, rp := range a.inRegion("backup", region) {
		if name, v := a.vaultOf(rp); v == nil {
			out[name] = &BackupVault{Name: name, Region: region, Type: VaultStandard}
		}
	}
	return out
}

func (a *account) pointsIn(vault, region string) []string {
	var out []string
	for _, rp := range a.inRegion("backup", region) {
		if name, _ := a.vaultOf(rp); name == vault {
			out = append(out, rp)
		}
	}
	return out
}

func (b *backupClient) ListBackupVaults(ctx context.Context, in *backup.ListBackupVaultsInput, _ ...func(*backup.Options)) (*backup.ListBackupVaultsOutput, error) {
	in = orEmpty(in)
	out := &backup.ListBackupVaultsOutput{}
	return call(ctx, b.c, "Backup", "ListBackupVaults", nil, out, func(a *account) error {
		vs := a.vaultsIn(b.region)
		var names []string
		for n, v := range vs {
			if in.ByVaultType == "" || string(in.ByVaultType) == v.Type {
				names = append(names, n)
			}
		}
		names, next, err := page(names, in.MaxResults, in.NextToken, 1000, 1000)
		if err != nil {
			return &backuptypes.InvalidParameterValueException{Message: aws.String(err.Error())}
		}
		for _, n := range names {
			v := vs[n]
			m := backuptypes.BackupVaultListMember{BackupVaultName: aws.String(n), BackupVaultArn: aws.String(vaultARN(b.region, a.id, n)),
				VaultType: backuptypes.VaultType(v.Type), VaultState: backuptypes.VaultStateAvailable, Locked: aws.Bool(v.Lock != ""),
				NumberOfRecoveryPoints: int64(len(a.pointsIn(n, b.region)))}
			if v.Lock != "" {
				m.MinRetentionDays = aws.Int64(v.MinRetentionDays)
			}
			if v.Lock == "compliance" { // the grace time is over: immutable
				m.LockDate = aws.Time(BaseTime.Add(-72 * time.Hour))
			}
			out.BackupVaultList = append(out.BackupVaultList, m)
		}
		out.NextToken = next
		return nil
	})
}

func (b *backupClient) ListRecoveryPointsByBackupVault(ctx context.Context, in *backup.ListRecoveryPointsByBackupVaultInput, _ ...func(*backup.Options)) (*backup.ListRecoveryPointsByBackupVaultOutput, error) {
	if in == nil || str(in.BackupVaultName) == "" {
		return nil, opErr("Backup", "ListRecoveryPointsByBackupVault", required("ListRecoveryPointsByBackupVaultInput", "BackupVaultName"))
	}
	name := *in.BackupVaultName
	out := &backup.ListRecoveryPointsByBackupVaultOutput{}
	return call(ctx, b.c, "Backup", "ListRecoveryPointsByBackupVault", func(a *account) string { return vaultARN(b.region, a.id, name) }, out, func(a *account) error {
		v := a.vaultsIn(b.region)[name]
		if v == nil {
			return &backuptypes.ResourceNotFoundException{Message: aws.String("backup vault " + name + " not found"), Type: aws.String("BackupVault")}
		}
		ids, next, err := page(a.pointsIn(name, b.region), in.MaxResults, in.NextToken, 1000, 1000)
		if err != nil {
			return &backuptypes.InvalidParameterValueException{Message: aws.String(err.Error())}
		}
		for _, id := range ids {
			out.RecoveryPoints = append(out.RecoveryPoints, backuptypes.RecoveryPointByBackupVault{
				RecoveryPointArn: aws.String("arn:aws:backup:" + b.region + ":" + a.id + ":recovery-point:" + id),
				BackupVaultName:  aws.String(name), VaultType: backuptypes.VaultType(v.Type), Status: backuptypes.RecoveryPointStatusCompleted})
		}
		out.NextToken = next
		return nil
	})
}

// ---- S3 ----

func (s *s3Client) ListBuckets(ctx context.Context, in *s3.ListBucketsInput, _ ...func(*s3.Options)) (*s3.ListBucketsOutput, error) {
	in = orEmpty(in)
	out := &s3.ListBucketsOutput{}
	return call(ctx, s.c, "S3", "ListBuckets", nil, out, func(a *account) error {
		ids, next, err := page(a.resourceIDs("bucket"), in.MaxBuckets, in.ContinuationToken, 10000, 10000)
		if err != nil {
			return err
		}
		for _, b := range ids {
			out.Buckets = append(out.Buckets, s3types.Bucket{Name: aws.String(b), BucketRegion: aws.String(a.regionOf("bucket", b))})
		}
		out.ContinuationToken = next
		return nil
	})
}

func (s *s3Client) bucket(a *account, name string) (BucketProtection, error) {
	if !a.hasResource("bucket", name) {
		return BucketProtection{}, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}
	}
	if r := a.regionOf("bucket", name); r != s.region {
		return BucketProtection{}, &smithy.GenericAPIError{Code: "PermanentRedirect", Message: "the bucket is in " + r, Fault: smithy.FaultClient}
	}
	return a.bk().buckets[name], nil
}

func (s *s3Client) GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, _ ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	if in == nil || str(in.Bucket) == "" {
		return nil, opErr("S3", "GetObjectLockConfiguration", required("GetObjectLockConfigurationInput", "Bucket"))
	}
	name := *in.Bucket
	out := &s3.GetObjectLockConfigurationOutput{}
	return call(ctx, s.c, "S3", "GetObjectLockConfiguration", func(*account) string { return "arn:aws:s3:::" + name }, out, func(a *account) error {
		p, err := s.bucket(a, name)
		if err != nil {
			return err
		}
		if !p.ObjectLock {
			return &smithy.GenericAPIError{Code: "ObjectLockConfigurationNotFoundError", Message: "Object Lock configuration does not exist for this bucket", Fault: smithy.FaultClient}
		}
		out.ObjectLockConfiguration = &s3types.ObjectLockConfiguration{ObjectLockEnabled: s3types.ObjectLockEnabledEnabled}
		return nil
	})
}

func (s *s3Client) GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, _ ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	if in == nil || str(in.Bucket) == "" {
		return nil, opErr("S3", "GetBucketVersioning", required("GetBucketVersioningInput", "Bucket"))
	}
	name := *in.Bucket
	out := &s3.GetBucketVersioningOutput{}
	return call(ctx, s.c, "S3", "GetBucketVersioning", func(*account) string { return "arn:aws:s3:::" + name }, out, func(a *account) error {
		p, err := s.bucket(a, name)
		if err != nil {
			return err
		}
		out.Status = s3types.BucketVersioningStatus(p.Versioning)
		return nil
	})
}
