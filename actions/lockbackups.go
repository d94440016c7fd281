package actions

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rbin"
	rbintypes "github.com/aws/aws-sdk-go-v2/service/rbin/types"

	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/policies"
)

// lock-backups: in every region backup-readiness reads, a region-level
// Recycle Bin rule for EBS snapshots and one for AMIs, created locked
// (CreateRule with a LockConfiguration), where no locked region-level
// rule without exclusions exists. A locked rule cannot be deleted or
// changed: unlocking it (rbin:UnlockRule) takes the unlock delay, so the
// step cannot be undone before then.

const (
	// LockBackupsRetentionDays is how long the rules keep a deleted
	// snapshot or AMI restorable: two weeks, time to notice an intrusion
	// found late, at the cost of storing deleted snapshots that long.
	LockBackupsRetentionDays = 14
	// LockBackupsUnlockDelayDays is the rules' unlock delay: AWS's minimum.
	LockBackupsUnlockDelayDays = 7

	opCreateLockedRule = "create-locked-rbin-rule"
)

var rbinTypes = []rbintypes.ResourceType{rbintypes.ResourceTypeEbsSnapshot, rbintypes.ResourceTypeEc2Image}

var rbinWhat = map[rbintypes.ResourceType]string{rbintypes.ResourceTypeEbsSnapshot: "EBS snapshots", rbintypes.ResourceTypeEc2Image: "AMIs"}

func (a *acct) buildLockBackups(ctx context.Context) (*work, error) {
	if a.c.InRegion == nil {
		return nil, fmt.Errorf("account %s: no regional clients for lock-backups", a.id)
	}
	w := &work{}
	for _, region := range a.backupRegions(ctx, w) {
		rc := a.c.InRegion(region)
		for _, typ := range rbinTypes {
			rules, err := a.listRules(ctx, rc, typ)
			if err != nil {
				w.warnings = append(w.warnings, fmt.Sprintf("lock-backups: Recycle Bin rules for %s in %s could not be read, so none is created there: %s", typ, region, errorText(err)))
				continue
			}
			if r := lockedRegionRule(rules); r != nil {
				w.warnings = append(w.warnings, fmt.Sprintf("lock-backups: %s in %s are already retained by locked region-level rule %s: skipped", rbinWhat[typ], region, aws.ToString(r.Identifier)))
				continue
			}
			a.addLockedRule(w, rc, typ)
		}
	}
	return w, nil
}

// lockedRegionRule returns a locked region-level rule without exclusion
// tags (one that retains every resource of its type), or nil.
func lockedRegionRule(rules []*rbin.GetRuleOutput) *rbin.GetRuleOutput {
	for _, r := range rules {
		if regionLevel(r) && len(r.ExcludeResourceTags) == 0 && r.LockState == rbintypes.LockStateLocked {
			return r
		}
	}
	return nil
}

func (a *acct) addLockedRule(w *work, rc *awsapi.Regional, typ rbintypes.ResourceType) {
	region := rc.Region
	s := Step{Action: LockBackups, Account: a.id, Op: opCreateLockedRule, Principal: "region " + region, Resource: string(typ),
		Change:     fmt.Sprintf("create a region-level Recycle Bin rule keeping deleted %s for %d days, locked (unlock delay %d days)", rbinWhat[typ], LockBackupsRetentionDays, LockBackupsUnlockDelayDays),
		Reversible: false}
	w.add(s, func(ctx context.Context, st *Step) error {
		var out *rbin.CreateRuleOutput
		err := a.call("RecycleBin", "CreateRule", region, func() (err error) {
			out, err = rc.RecycleBin.CreateRule(ctx, &rbin.CreateRuleInput{
				ResourceType:      typ,
				Description:       aws.String("killswitch lock-backups: keeps deleted " + rbinWhat[typ] + " restorable"),
				RetentionPeriod:   &rbintypes.RetentionPeriod{RetentionPeriodUnit: rbintypes.RetentionPeriodUnitDays, RetentionPeriodValue: aws.Int32(LockBackupsRetentionDays)},
				LockConfiguration: &rbintypes.LockConfiguration{UnlockDelay: &rbintypes.UnlockDelay{UnlockDelayUnit: rbintypes.UnlockDelayUnitDays, UnlockDelayValue: aws.Int32(LockBackupsUnlockDelayDays)}},
				Tags:              []rbintypes.Tag{{Key: aws.String(policies.ManagedTagKey), Value: aws.String("true")}},
			})
			return err
		})
		if err != nil {
			return wrapEntity(err, "create locked Recycle Bin rule for %s in %s of %s", typ, region, a.id)
		}
		st.Resource = string(typ) + " " + aws.ToString(out.Identifier)
		return nil
	})
}

// lockedRuleUndo is what undo says of a locked rule: it stays.
func lockedRuleUndo(s Step) string {
	region := s.Principal[len("region "):]
	return fmt.Sprintf("the locked Recycle Bin rule %s in %s cannot be removed before its unlock delay: `aws rbin unlock-rule --region %s --identifier ID` starts the %d-day delay, after which `aws rbin delete-rule` removes it; until then deleted snapshots and AMIs stay restorable (and stored) for %d days",
		s.Resource, region, region, LockBackupsUnlockDelayDays, LockBackupsRetentionDays)
}
