package sim

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	rbintypes "github.com/aws/aws-sdk-go-v2/service/rbin/types"
)

// The intruder against backups that survive: it removes what would keep
// deleted data restorable, then deletes the data.

func backupTechniques() []Technique {
	return []Technique{
		{ID: "delete-recycle-bin-rule", Name: "delete every unlocked Recycle Bin retention rule (rbin:DeleteRule), then every EBS snapshot (ec2:DeleteSnapshot), so nothing goes to the Recycle Bin",
			Tactic: "impact", MITRE: "T1490", Run: deleteRecycleBinRules},
	}
}

// ErrRuleLocked is the refusal of DeleteRule on a locked (or pending
// unlock) rule: rbin's ConflictException (INVALID_RULE_STATE).
var ErrRuleLocked = errors.New("the retention rule is locked")

func deleteRecycleBinRules(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	type rule struct{ id, region string }
	var rules []rule
	if err := r.peek(func(a *account) {
		if a.backups == nil {
			return
		}
		for _, id := range sortedMapKeys(a.backups.rules) {
			rules = append(rules, rule{id, a.backups.rules[id].Region})
		}
	}); err != nil {
		return eff, err
	}
	if len(rules) == 0 {
		return eff, nothing("delete-recycle-bin-rule", r.Cred.Account, "Recycle Bin rule")
	}
	acct := r.Cred.Account
	err := keepGoing(rules, func(ru rule) error {
		return r.act(ctx, "rbin:DeleteRule", ruleARN(ru.region, acct, ru.id), func(a *account) error {
			return r.Org.deleteRuleLocked(a, ru.id, &eff)
		})
	})
	snaps, serr := r.ids("snapshot", nil)
	if serr != nil {
		return eff, errors.Join(err, serr)
	}
	return eff, errors.Join(err, keepGoing(snaps, func(id string) error { return r.destroy(ctx, &eff, "snapshot", id) }))
}

// deleteRuleLocked is rbin DeleteRule: a locked or pending-unlock rule
// cannot be deleted (ConflictException); resources already in the Recycle
// Bin stay there for their retention period (AWS's documented behaviour).
func (o *Org) deleteRuleLocked(a *account, id string, eff *Effect) error {
	ru := a.bk().rules[id]
	if ru == nil {
		return nothing("rbin:DeleteRule", a.id, "rule "+id)
	}
	o.refreshLock(ru)
	if ru.Lock != RbinUnlocked {
		return fmt.Errorf("delete rule %s in %s: %w: %w", id, a.id, ErrRuleLocked, &rbintypes.ConflictException{
			Message: aws.String("rule " + id + " is " + ru.Lock), Reason: rbintypes.ConflictExceptionReasonInvalidRuleState})
	}
	delete(a.bk().rules, id)
	eff.says("deleted Recycle Bin rule %s (%s, %s)", id, ru.ResourceType, ru.Region)
	return nil
}
