package sim

import (
	"context"
	"errors"
	"testing"
)

func TestDeleteRecycleBinRuleThenSnapshots(t *testing.T) {
	for _, locked := range []bool{false, true} {
		o, err := Builtin("codespaces")
		if err != nil {
			t.Fatal(err)
		}
		const acct = "111122223333"
		r := RecycleBinRule{ID: "rule1", ResourceType: RbinSnapshot, RetentionDays: 7}
		if locked {
			r.Lock, r.UnlockDelayDays = RbinLocked, 7
		}
		if _, err := o.AddRecycleBinRule(acct, r); err != nil {
			t.Fatal(err)
		}
		tq, _ := LookupTechnique("delete-recycle-bin-rule")
		cred := Credential{Account: acct, Principal: "arn:aws:iam::" + acct + ":user/ops-admin", Console: true}
		eff, err := tq.Run(context.Background(), Attempt{Org: o, Cred: cred})
		rules := o.RecycleBinRules(acct)
		if !locked {
			if err != nil || len(rules) != 0 || len(eff.Lost) != 5 {
				t.Errorf("unlocked: err %v, rules %d, lost %v", err, len(rules), eff.Lost)
			}
			continue
		}
		if !errors.Is(err, ErrRuleLocked) || len(rules) != 1 || len(eff.Lost) != 0 {
			t.Errorf("locked: err %v, rules %d, lost %v", err, len(rules), eff.Lost)
		}
		if n := len(o.InRecycleBin(acct)); n != 5 {
			t.Errorf("locked: %d snapshots in the Recycle Bin, want 5", n)
		}
		for _, s := range o.ResourceStates(acct) {
			if s.Kind == "snapshot" && s.Lost {
				t.Errorf("snapshot %s lost under a locked rule: %s", s.ID, s.How)
			}
		}
	}
}
