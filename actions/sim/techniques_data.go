package sim

import (
	"context"
	"strings"
)

// The intruder's techniques against data: deleting it (impact), making it
// unrecoverable without a Delete call, blinding (defense evasion) and
// sharing it with an outside account (exfiltration). Each acts on every
// resource of its kind in the credential's account, sorted, one call per
// resource; a refusal does not stop it trying the rest.

func dataTechniques() []Technique {
	del := func(id, name, kind, mitre, stratus string) Technique {
		return Technique{ID: id, Name: name, Tactic: "impact", MITRE: mitre, Stratus: stratus, Run: deleteEach(id, kind)}
	}
	blind := func(id, name, kind, mitre, stratus string) Technique {
		return Technique{ID: id, Name: name, Tactic: "defense-evasion", MITRE: mitre, Stratus: stratus, Run: deleteEach(id, kind)}
	}
	return []Technique{
		del("delete-snapshots", "delete every EBS snapshot (ec2:DeleteSnapshot)", "snapshot", "T1490", ""),
		del("delete-volumes", "delete every EBS volume (ec2:DeleteVolume)", "volume", "T1485", ""),
		del("deregister-amis", "deregister every AMI (ec2:DeregisterImage)", "ami", "T1485", "aws.impact.ec2-deregister-ami"),
		del("terminate-instances", "terminate every EC2 instance (ec2:TerminateInstances)", "instance", "T1485", ""),
		del("delete-s3-objects", "delete every S3 object (s3:DeleteObject)", "object", "T1485", ""),
		del("delete-s3-object-versions", "delete every S3 object version (s3:DeleteObjectVersion)", "object-version", "T1485", "aws.impact.s3-ransomware-individual-deletion"),
		{ID: "delete-s3-buckets", Name: "empty (s3:DeleteObjectVersion, s3:DeleteObject) and delete every S3 bucket (s3:DeleteBucket)", Tactic: "impact", MITRE: "T1485", Run: deleteBuckets},
		del("delete-recovery-points", "delete every AWS Backup recovery point (backup:DeleteRecoveryPoint)", "backup", "T1490", ""),
		del("delete-backup-vaults", "delete every AWS Backup vault (backup:DeleteBackupVault)", "backup-vault", "T1490", ""),
		del("delete-db-instances", "delete every RDS instance without a final snapshot (rds:DeleteDBInstance)", "db-instance", "T1485", ""),
		del("delete-db-snapshots", "delete every RDS snapshot (rds:DeleteDBSnapshot)", "db-snapshot", "T1490", ""),
		del("delete-tables", "delete every DynamoDB table (dynamodb:DeleteTable)", "table", "T1485", ""),
		del("delete-table-backups", "delete every DynamoDB backup (dynamodb:DeleteBackup)", "table-backup", "T1490", ""),
		del("delete-dlm-policies", "delete every Data Lifecycle Manager policy (dlm:DeleteLifecyclePolicy)", "dlm-policy", "T1490", ""),
		del("delete-rbin-rules", "delete every Recycle Bin retention rule (rbin:DeleteRule)", "rbin-rule", "T1490", ""),
		mark("disable-rds-backups", "set every RDS instance's backup retention to 0, deleting its automated backups (rds:ModifyDBInstance)", "impact", "T1490", "",
			"db-instance", "rds:ModifyDBInstance", func(Attempt) string { return "backup retention set to 0 (automated backups deleted)" }),
		{ID: "s3-expire-all", Name: "put a lifecycle rule on every S3 bucket that expires every object and version (s3:PutLifecycleConfiguration)", Tactic: "impact", MITRE: "T1485.001", Run: expireBuckets},
		mark("schedule-kms-key-deletion", "schedule every KMS key for deletion (kms:ScheduleKeyDeletion)", "impact", "T1485", "",
			"kms-key", "kms:ScheduleKeyDeletion", func(Attempt) string { return "scheduled for deletion (7-day waiting period)" }),
		mark("lock-kms-key-policy", "replace every KMS key policy with one that locks everyone out (kms:PutKeyPolicy)", "impact", "T1485", "",
			"kms-key", "kms:PutKeyPolicy", func(Attempt) string { return "key policy locks everyone out" }),
		mark("stop-cloudtrail", "stop logging on every CloudTrail trail (cloudtrail:StopLogging)", "defense-evasion", "T1562.008", "aws.defense-evasion.cloudtrail-stop",
			"trail", "cloudtrail:StopLogging", func(Attempt) string { return "logging stopped" }),
		blind("delete-cloudtrail", "delete every CloudTrail trail (cloudtrail:DeleteTrail)", "trail", "T1562.008", "aws.defense-evasion.cloudtrail-delete"),
		blind("delete-log-groups", "delete every CloudWatch Logs log group (logs:DeleteLogGroup)", "log-group", "T1562.008", ""),
		blind("delete-guardduty-detector", "delete the GuardDuty detector (guardduty:DeleteDetector)", "guardduty-detector", "T1562.001", ""),
		mark("stop-config-recorder", "stop the AWS Config configuration recorder (config:StopConfigurationRecorder)", "defense-evasion", "T1562.001", "",
			"config-recorder", "config:StopConfigurationRecorder", func(Attempt) string { return "recording stopped" }),
		mark("share-snapshots", "share every EBS snapshot with the outside account (ec2:ModifySnapshotAttribute)", "exfiltration", "T1537", "aws.exfiltration.ec2-share-ebs-snapshot",
			"snapshot", "ec2:ModifySnapshotAttribute", sharedWith),
		mark("share-amis", "share every AMI with the outside account (ec2:ModifyImageAttribute)", "exfiltration", "T1537", "aws.exfiltration.ec2-share-ami",
			"ami", "ec2:ModifyImageAttribute", sharedWith),
		mark("share-db-snapshots", "share every RDS snapshot with the outside account (rds:ModifyDBSnapshotAttribute)", "exfiltration", "T1537", "aws.exfiltration.rds-share-snapshot",
			"db-snapshot", "rds:ModifyDBSnapshotAttribute", sharedWith),
	}
}

func sharedWith(at Attempt) string { return "shared with " + at.Outside }

func arnOf(acct, kind, id string) string { return resourceKinds[kind].arn(acct, id) }

// ids returns the existing resources of a kind that keep accepts, sorted.
func (r *run) ids(kind string, keep func(a *account, id string) bool) ([]string, error) {
	var out []string
	err := r.peek(func(a *account) {
		for _, id := range a.resourceIDs(kind) {
			if keep == nil || keep(a, id) {
				out = append(out, id)
			}
		}
	})
	return out, err
}

// destroy is the delete call of one resource.
func (r *run) destroy(ctx context.Context, eff *Effect, kind, id string) error {
	action := resourceKinds[kind].action
	o, acct := r.Org, r.Cred.Account
	return r.act(ctx, action, arnOf(acct, kind, id), func(a *account) error {
		if !a.hasResource(kind, id) {
			return nothing(action, acct, kind+" "+id)
		}
		if !o.deleteResourceLocked(a, kind, id, action) {
			eff.says("deleted %s %s (%s): it went to the Recycle Bin, restorable", kind, id, action)
			return nil
		}
		eff.says("deleted %s %s (%s)", kind, id, action)
		eff.lost(kind, id)
		return nil
	})
}

// deleteEach deletes every resource of a kind with its delete action.
func deleteEach(tech, kind string) func(ctx context.Context, at Attempt) (Effect, error) {
	return func(ctx context.Context, at Attempt) (Effect, error) {
		r := newRun(at)
		var eff Effect
		ids, err := r.ids(kind, nil)
		if err != nil {
			return eff, err
		}
		if len(ids) == 0 {
			return eff, nothing(tech, r.Cred.Account, kind)
		}
		return eff, keepGoing(ids, func(id string) error { return r.destroy(ctx, &eff, kind, id) })
	}
}

// mark is a technique that leaves each resource of a kind in place but
// lost (unrecoverable, blinded or exposed), one action per resource; how
// says what it did (ResourceState.How gets "how (action)"). Resources
// already lost that way are skipped.
func mark(id, name, tactic, mitre, stratus, kind, action string, how func(Attempt) string) Technique {
	return Technique{ID: id, Name: name, Tactic: tactic, MITRE: mitre, Stratus: stratus, Run: func(ctx context.Context, at Attempt) (Effect, error) {
		r := newRun(at)
		var eff Effect
		h := how(r.Attempt) + " by " + action
		ids, err := r.ids(kind, func(a *account, rid string) bool { return !strings.Contains(a.lost[kind][rid], h) })
		if err != nil {
			return eff, err
		}
		if len(ids) == 0 {
			return eff, nothing(id, r.Cred.Account, kind+" not already "+h)
		}
		acct := r.Cred.Account
		return eff, keepGoing(ids, func(rid string) error {
			return r.act(ctx, action, arnOf(acct, kind, rid), func(a *account) error {
				if !a.hasResource(kind, rid) {
					return nothing(action, acct, kind+" "+rid)
				}
				a.markLost(kind, rid, h)
				eff.says("%s %s: %s", kind, rid, h)
				eff.lost(kind, rid)
				return nil
			})
		})
	}}
}

// inBucket returns the objects or object versions (kind) of a bucket.
func inBucket(a *account, kind, bucket string) []string {
	var out []string
	for _, id := range a.resourceIDs(kind) {
		if strings.HasPrefix(id, bucket+"/") {
			out = append(out, id)
		}
	}
	return out
}

// deleteBuckets empties every bucket (its object versions, then its
// objects: S3 refuses to delete a bucket that is not empty) and deletes
// it.
func deleteBuckets(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	type job struct {
		bucket            string
		versions, objects []string
	}
	var jobs []job
	if err := r.peek(func(a *account) {
		for _, b := range a.resourceIDs("bucket") {
			jobs = append(jobs, job{b, inBucket(a, "object-version", b), inBucket(a, "object", b)})
		}
	}); err != nil {
		return eff, err
	}
	if len(jobs) == 0 {
		return eff, nothing("delete-s3-buckets", r.Cred.Account, "bucket")
	}
	return eff, keepGoing(jobs, func(j job) error {
		for _, v := range j.versions {
			if err := r.destroy(ctx, &eff, "object-version", v); err != nil {
				return err
			}
		}
		for _, ob := range j.objects {
			if err := r.destroy(ctx, &eff, "object", ob); err != nil {
				return err
			}
		}
		return r.destroy(ctx, &eff, "bucket", j.bucket)
	})
}

// expireBuckets puts an expire-everything lifecycle rule on every bucket:
// the bucket, its objects and its object versions are lost (S3 expires
// them within a day), without a Delete call.
func expireBuckets(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	const action = "s3:PutLifecycleConfiguration"
	h := "lifecycle rule expires every object and version by " + action
	buckets, err := r.ids("bucket", func(a *account, id string) bool { return !strings.Contains(a.lost["bucket"][id], h) })
	if err != nil {
		return eff, err
	}
	if len(buckets) == 0 {
		return eff, nothing("s3-expire-all", r.Cred.Account, "bucket without an expire-everything lifecycle rule")
	}
	acct := r.Cred.Account
	return eff, keepGoing(buckets, func(b string) error {
		return r.act(ctx, action, arnOf(acct, "bucket", b), func(a *account) error {
			if !a.hasResource("bucket", b) {
				return nothing(action, acct, "bucket "+b)
			}
			a.markLost("bucket", b, h)
			eff.lost("bucket", b)
			for _, kind := range []string{"object", "object-version"} {
				for _, id := range inBucket(a, kind, b) {
					a.markLost(kind, id, "expired by the lifecycle rule on bucket "+b)
					eff.lost(kind, id)
				}
			}
			eff.says("bucket %s: %s", b, h)
			return nil
		})
	})
}
