package awsint

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rbin"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/killswitch/killswitch/actions"
)

// status is the HTTP status of an SDK error (0: none).
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestMotoBackupGapsAreAsDocumented pins test/README.md's rows on data
// protection: what moto 5.2.1 does not implement. When one closes, this
// fails: update the table (and the sim tests it names stay the proof of
// semantics).
func TestMotoBackupGapsAreAsDocumented(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := motoConfig()
	cfg.RetryMaxAttempts = 1
	readme := "update the moto gaps table in test/README.md"
	if _, err := rbin.NewFromConfig(cfg).ListRules(ctx, &rbin.ListRulesInput{ResourceType: "EBS_SNAPSHOT"}); status(err) != http.StatusInternalServerError {
		t.Errorf("rbin ListRules: %v: Recycle Bin is implemented now; %s", err, readme)
	}
	e := ec2.NewFromConfig(cfg)
	if _, err := e.DescribeLockedSnapshots(ctx, &ec2.DescribeLockedSnapshotsInput{}); err == nil {
		t.Errorf("DescribeLockedSnapshots answers now; %s", readme)
	}
	if _, err := e.LockSnapshot(ctx, &ec2.LockSnapshotInput{SnapshotId: aws.String("snap-12345678"), LockMode: ec2types.LockModeGovernance, LockDuration: aws.Int32(1)}); err == nil {
		t.Errorf("LockSnapshot answers now; %s", readme)
	}
	b := backup.NewFromConfig(cfg)
	if _, err := b.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("gap")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("gap")}); status(err) != http.StatusNotFound {
		t.Errorf("ListRecoveryPointsByBackupVault: %v: implemented now; %s", err, readme)
	}
	if _, err := b.CreateLogicallyAirGappedBackupVault(ctx, &backup.CreateLogicallyAirGappedBackupVaultInput{BackupVaultName: aws.String("gap-ag"),
		MinRetentionDays: aws.Int64(7), MaxRetentionDays: aws.Int64(30)}); status(err) != http.StatusNotFound {
		t.Errorf("CreateLogicallyAirGappedBackupVault: %v: implemented now; %s", err, readme)
	}
}

// TestBackupReadinessOnMoto runs backup-readiness through the real factory
// and SDK clients against moto: Vault Lock, S3 Object Lock and versioning
// are read back exactly; the calls moto lacks (Recycle Bin, snapshot locks,
// recovery points) each cost their finding and are reported, never the
// account.
func TestBackupReadinessOnMoto(t *testing.T) {
	org := reseed(t, SeedOptions{Members: 1})
	member := org.Members[0]
	ctx := context.Background()
	cfg := AccountConfig(motoConfig(), org.Management, member)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	locked, versioned := "bk-locked-"+member, "bk-versioned-"+member
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(locked), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(versioned)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(versioned),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	bc := backup.NewFromConfig(cfg)
	for _, v := range []string{"vault-locked", "vault-open"} {
		if _, err := bc.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bc.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String("vault-locked"), MinRetentionDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}

	e := newEngine(t, newFactory(t), nil)
	p, err := e.Plan(ctx, actions.BackupReadiness, []string{member}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ap := p.Accounts[0]
	if ap.Error != "" {
		t.Fatalf("the account failed: %s", ap.Error)
	}
	found := map[string]string{}
	for _, tg := range ap.Targets {
		found[tg.Principal] = strings.Join(tg.Changes, "; ")
	}
	if f, ok := found["arn:aws:s3:::"+locked]; ok {
		t.Errorf("the Object Lock bucket is reported: %s", f)
	}
	if f := found["arn:aws:s3:::"+versioned]; !strings.HasPrefix(f, "unprotected: no Object Lock") || !strings.Contains(f, "weaker than Object Lock") {
		t.Errorf("versioned bucket: %q", f)
	}
	seeded := 0
	for arn, f := range found {
		if strings.HasPrefix(arn, "arn:aws:s3:::") && arn != "arn:aws:s3:::"+versioned {
			seeded++
			if !strings.HasPrefix(f, "unprotected: no Object Lock") || strings.Contains(f, "weaker") {
				t.Errorf("seeded bucket %s: %q", arn, f)
			}
		}
		if strings.Contains(arn, ":snapshot/") && !strings.HasPrefix(f, "protection unknown: ") {
			t.Errorf("snapshot %s with Recycle Bin and snapshot locks unreadable: %q", arn, f)
		}
	}
	if seeded == 0 {
		t.Errorf("the seeded bucket is not reported: %v", found)
	}
	summary := found["region us-east-1"]
	for _, want := range []string{"backup vault vault-locked (0 recovery points): Vault Lock, governance mode (min retention 7 days)", "backup vault vault-open (0 recovery points): no Vault Lock"} {
		if !strings.Contains(summary, want) {
			t.Errorf("region summary lacks %q: %s", want, summary)
		}
	}
	warnings := strings.Join(ap.Warnings, "\n")
	for _, want := range []string{"Recycle Bin rules for EBS_SNAPSHOT in us-east-1 could not be read", "Recycle Bin rules for EC2_IMAGE in us-east-1 could not be read",
		"snapshot locks in us-east-1 could not be read", "recovery points of vault vault-open in us-east-1 could not be read"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "vault-locked in us-east-1 could not be read") {
		t.Errorf("a locked vault's recovery points were listed: %s", warnings)
	}
}
