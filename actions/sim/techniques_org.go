package sim

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// The intruder's techniques against killswitch's SCPs (with a foothold in
// the management account, where SCPs never apply) and leaving the
// Organization (from a member account, where they do).

func orgTechniques() []Technique {
	return []Technique{
		{ID: "detach-killswitch-scps", Name: "detach the KillSwitch* SCPs from every root, OU and account (organizations:DetachPolicy)", Tactic: "defense-evasion", MITRE: "T1562.001", Needs: "management", Run: detachSCPs(false)},
		{ID: "rewrite-killswitch-scps", Name: "rewrite the KillSwitch* SCPs to allow everything (organizations:UpdatePolicy)", Tactic: "defense-evasion", MITRE: "T1562.001", Needs: "management", Run: rewriteSCPs},
		{ID: "delete-killswitch-scps", Name: "detach the KillSwitch* SCPs everywhere, then delete them (organizations:DetachPolicy, organizations:DeletePolicy)", Tactic: "defense-evasion", MITRE: "T1562.001", Needs: "management", Run: detachSCPs(true)},
		{ID: "disable-scp-policy-type", Name: "disable the SCP policy type, which detaches every SCP (organizations:DisablePolicyType)", Tactic: "defense-evasion", MITRE: "T1562.001", Needs: "management", Run: disableSCPs},
		{ID: "leave-organization", Name: "take a member account out of the Organization, out of reach of SCPs (organizations:LeaveOrganization)", Tactic: "defense-evasion", MITRE: "T1666", Stratus: "aws.defense-evasion.organizations-leave", Needs: "member", Run: leaveOrganization},
	}
}

// scpTarget is one attachment of a KillSwitch* SCP.
type scpTarget struct{ id, arn, target string }

// guardrailSCPs returns the KillSwitch* SCPs (sorted by id) and where they
// are attached (targets in the order of targetsLocked).
func (r *run) guardrailSCPs() (ids []string, arns map[string]string, at []scpTarget) {
	o := r.Org
	o.mu.Lock()
	defer o.mu.Unlock()
	arns = map[string]string{}
	for _, id := range sortedMapKeys(o.scps) {
		p := o.scps[id]
		if p.aws || !hasGuardrailPrefix(p.name) {
			continue
		}
		ids = append(ids, id)
		arns[id] = p.arn
		for _, t := range o.targetsLocked() {
			if containsStr(o.attached[t], id) {
				at = append(at, scpTarget{id, p.arn, t})
			}
		}
	}
	return ids, arns, at
}

// inOrg checks that the credential's account is in an Organization and,
// when mgmt, that it is the management account (AWS's errors otherwise).
func (r *run) inOrg(mgmt bool) error {
	o := r.Org
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[r.Cred.Account]
	if !o.isOrg || a == nil || a.left {
		return notInUse()
	}
	if mgmt && a.id != o.mgmt {
		return &types.AccessDeniedException{Message: aws.String("You don't have permissions to access this resource. This operation can be called only from the organization's management account.")}
	}
	return nil
}

// detachPolicy is organizations:DetachPolicy of one attachment.
func (r *run) detachPolicy(ctx context.Context, eff *Effect, t scpTarget) error {
	o := r.Org
	return r.act(ctx, "organizations:DetachPolicy", t.arn, func(*account) error {
		if err := o.detachLocked(t.target, t.id); err != nil {
			return err
		}
		eff.says("detached SCP %s (%s) from %s", t.id, o.scps[t.id].name, o.targetDesc(t.target))
		return nil
	})
}

func detachSCPs(andDelete bool) func(ctx context.Context, at Attempt) (Effect, error) {
	return func(ctx context.Context, at Attempt) (Effect, error) {
		r := newRun(at)
		var eff Effect
		if err := r.inOrg(true); err != nil {
			return eff, err
		}
		ids, arns, targets := r.guardrailSCPs()
		if len(targets) == 0 && (!andDelete || len(ids) == 0) {
			return eff, nothing("detach-killswitch-scps", r.Cred.Account, GuardrailPrefix+"* SCP attached anywhere")
		}
		if err := keepGoing(targets, func(t scpTarget) error { return r.detachPolicy(ctx, &eff, t) }); err != nil || !andDelete {
			return eff, err
		}
		o := r.Org
		return eff, keepGoing(ids, func(id string) error {
			return r.act(ctx, "organizations:DeletePolicy", arns[id], func(*account) error {
				p, err := o.findSCP(id)
				if err != nil {
					return err
				}
				for _, att := range o.attached {
					if containsStr(att, id) {
						return &types.PolicyInUseException{Message: aws.String("The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.")}
					}
				}
				delete(o.scps, id)
				eff.says("deleted SCP %s (%s)", id, p.name)
				return nil
			})
		})
	}
}

func rewriteSCPs(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.inOrg(true); err != nil {
		return eff, err
	}
	ids, arns, _ := r.guardrailSCPs()
	o := r.Org
	var todo []string
	o.mu.Lock()
	for _, id := range ids {
		if o.scps[id].content != allowAllDoc {
			todo = append(todo, id)
		}
	}
	o.mu.Unlock()
	if len(todo) == 0 {
		return eff, nothing("rewrite-killswitch-scps", r.Cred.Account, GuardrailPrefix+"* SCP that does not already allow everything")
	}
	return eff, keepGoing(todo, func(id string) error {
		return r.act(ctx, "organizations:UpdatePolicy", arns[id], func(*account) error {
			p, err := o.findSCP(id)
			if err != nil {
				return err
			}
			parsed, err := checkSCP(allowAllDoc)
			if err != nil {
				return err
			}
			if p.content == allowAllDoc {
				return nil
			}
			p.prev = o.scpDocLocked(p)
			p.content, p.parsed = allowAllDoc, parsed
			o.propagateLocked(p)
			eff.says("rewrote SCP %s (%s) to allow everything", id, p.name)
			return nil
		})
	})
}

func disableSCPs(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.inOrg(true); err != nil {
		return eff, err
	}
	o := r.Org
	arn := "arn:aws:organizations::" + o.mgmt + ":root/" + o.orgID + "/" + o.rootID
	err := r.act(ctx, "organizations:DisablePolicyType", arn, func(*account) error {
		if err := o.disablePolicyTypeLocked(); err != nil {
			return err
		}
		eff.says("disabled the SERVICE_CONTROL_POLICY type on root %s: every SCP is detached", o.rootID)
		return nil
	})
	return eff, err
}

func leaveOrganization(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.inOrg(false); err != nil {
		return eff, err
	}
	o := r.Org
	err := r.act(ctx, "organizations:LeaveOrganization", "*", func(a *account) error {
		if err := o.leaveLocked(a); err != nil {
			return err
		}
		eff.says("account %s left organization %s: standalone, no SCP applies to it", a.id, o.orgID)
		return nil
	})
	return eff, err
}
