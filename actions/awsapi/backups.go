package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rbin"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// EC2Backups is what backup-readiness reads of EC2: the enabled regions,
// the account's own snapshots and AMIs, and which snapshots are under
// snapshot lock.
type EC2Backups interface {
	DescribeRegions(ctx context.Context, params *ec2.DescribeRegionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
	DescribeSnapshots(ctx context.Context, params *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DescribeImages(ctx context.Context, params *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribeLockedSnapshots(ctx context.Context, params *ec2.DescribeLockedSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeLockedSnapshotsOutput, error)
}

// RecycleBin reads Recycle Bin retention rules (backup-readiness) and
// creates region-level ones, locked on creation through CreateRule's
// LockConfiguration (lock-backups). killswitch never deletes, updates or
// unlocks a rule.
type RecycleBin interface {
	ListRules(ctx context.Context, params *rbin.ListRulesInput, optFns ...func(*rbin.Options)) (*rbin.ListRulesOutput, error)
	GetRule(ctx context.Context, params *rbin.GetRuleInput, optFns ...func(*rbin.Options)) (*rbin.GetRuleOutput, error)
	CreateRule(ctx context.Context, params *rbin.CreateRuleInput, optFns ...func(*rbin.Options)) (*rbin.CreateRuleOutput, error)
}

// Backup reads AWS Backup vaults (ListBackupVaults carries Vault Lock's
// Locked, MinRetentionDays, LockDate and the VaultType) and the recovery
// points they hold.
type Backup interface {
	ListBackupVaults(ctx context.Context, params *backup.ListBackupVaultsInput, optFns ...func(*backup.Options)) (*backup.ListBackupVaultsOutput, error)
	ListRecoveryPointsByBackupVault(ctx context.Context, params *backup.ListRecoveryPointsByBackupVaultInput, optFns ...func(*backup.Options)) (*backup.ListRecoveryPointsByBackupVaultOutput, error)
}

// S3Backups is what backup-readiness reads of S3: the buckets (with their
// region), Object Lock and versioning.
type S3Backups interface {
	ListBuckets(ctx context.Context, params *s3.ListBucketsInput, optFns ...func(*s3.Options)) (*s3.ListBucketsOutput, error)
	GetObjectLockConfiguration(ctx context.Context, params *s3.GetObjectLockConfigurationInput, optFns ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
	GetBucketVersioning(ctx context.Context, params *s3.GetBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
}

var (
	_ EC2Backups = (*ec2.Client)(nil)
	_ RecycleBin = (*rbin.Client)(nil)
	_ Backup     = (*backup.Client)(nil)
	_ S3Backups  = (*s3.Client)(nil)
)

// Regional are the clients of one region, acting as the bot in one account.
type Regional struct {
	Region     string
	EC2        EC2Backups
	RecycleBin RecycleBin
	Backup     Backup
	S3         S3Backups
}
