package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/policies"
)

// IAM Identity Center sessions cannot carry an inline policy (IAM refuses
// changes to AWSReservedSSO_* roles), so revoke-sessions ends them in a
// member account with an SCP of its own, KillSwitchRevokeSSO-<account>,
// created in the management account and attached to that account only. One
// SCP per account carries that account's cut-off: in lockdown the cut-off
// of each account is taken after its last long-term credential and
// Identity Center assignment were cut (phaseOptions), so no session minted
// there during the run survives; after the cut-off no new Identity Center
// session can be had, its assignments being gone. The management and
// standalone accounts are not bound by SCPs: the plan says what remains.

// RevokeSSOPolicyPrefix starts the name of the per-account SCP.
const RevokeSSOPolicyPrefix = "KillSwitchRevokeSSO-"

// RevokeSSOPolicyName is the SCP revoking Identity Center sessions in account.
func RevokeSSOPolicyName(account string) string { return RevokeSSOPolicyPrefix + account }

// buildRevokeSSO adds the SSO session revocation to revoke-sessions' work.
func (a *acct) buildRevokeSSO(ctx context.Context, w *work, opt Options, sso int) error {
	if opt.quarantineOnly {
		return nil
	}
	if a.kind != KindMember {
		if sso > 0 {
			w.warnings = append(w.warnings, fmt.Sprintf("IAM Identity Center sessions in %s are not revoked: SCPs do not bind a %s account, so the sessions already issued stay alive until they expire (the permission set's session duration, 1 hour by default, up to 12 hours); run contain-identity-center so that no new one can be had, and shorten the permission sets' session duration", a.id, a.kind))
		}
		return nil
	}
	mg, err := a.management(ctx)
	if err != nil {
		return fmt.Errorf("management account %s (the SSO session SCP is managed there): %w", a.mgmtID, err)
	}
	name := RevokeSSOPolicyName(a.id)
	id, err := a.e.scpID(ctx, mg, name)
	if err != nil {
		return err
	}
	cutoff, old := opt.RevokeBefore, ""
	if id != "" {
		if old, err = describeSCP(ctx, mg, id); err != nil {
			return err
		}
		if at, ok := ssoCutoff(old); ok && at.After(cutoff) {
			cutoff = at // a rerun never moves the cut-off earlier
		}
	}
	doc, err := policies.Render("revoke-sso-sessions", policies.Params{RevokeBefore: cutoff, ExemptSSOUsers: a.e.cfg.BreakGlassICUsers})
	if err != nil {
		return err
	}
	attached, slots, err := a.ssoAttached(ctx, mg, name)
	if errors.Is(err, errSCPsOff) {
		w.warnings = append(w.warnings, fmt.Sprintf("IAM Identity Center sessions in %s are not revoked: SCPs are not enabled in the organization (deny-delete or lockdown enables them)", a.id))
		return nil
	}
	if err != nil {
		return err
	}
	if !attached && slots <= 0 {
		w.warnings = append(w.warnings, fmt.Sprintf("IAM Identity Center sessions in %s are not revoked: the account has %d SCPs attached, AWS's limit; run contain-identity-center so that no new one can be had", a.id, maxSCPsPerTarget))
		return nil
	}
	change := fmt.Sprintf("IAM Identity Center sessions issued before %s denied", cutoff.UTC().Format(time.RFC3339))
	base := Step{Action: RevokeSessions, Account: a.id, Principal: "SCP " + name, Reversible: true}
	created := id
	switch {
	case id == "":
		s := base
		s.Op, s.Resource, s.Change = opCreateSCP, name, "create SCP "+name+" ("+change+")"
		w.add(s, func(ctx context.Context, s *Step) error {
			pid, err := createSSOSCP(ctx, mg, name, doc)
			created, s.Resource = pid, nameOr(pid, name)
			return err
		})
	case !sameJSON(old, doc):
		s := base
		s.Op, s.Resource, s.Prior, s.Change = opUpdateSCP, id, old, "update SCP "+name+" ("+change+")"
		w.add(s, func(ctx context.Context, s *Step) error {
			return mg.call("Organizations", "UpdatePolicy", id, func() error {
				_, err := mg.c.Organizations.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(id), Content: aws.String(doc)})
				return err
			})
		})
	}
	if !attached {
		s := base
		s.Op, s.Principal, s.Resource, s.Change = opAttachSCP, "account "+a.id, name, "attach SCP "+name+" ("+change+")"
		w.add(s, func(ctx context.Context, s *Step) error {
			if created == "" {
				return errors.New("SCP " + name + " was not created")
			}
			s.Resource = created
			return mg.call("Organizations", "AttachPolicy", a.id, func() error {
				_, err := mg.c.Organizations.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(created), TargetId: aws.String(a.id)})
				var dup *orgtypes.DuplicatePolicyAttachmentException
				if errors.As(err, &dup) {
					return nil
				}
				return err
			})
		})
	}
	return nil
}

var errSCPsOff = errors.New("SCPs are not enabled")

// ssoAttached reports whether the SSO SCP is attached to the account and
// how many SCP slots are free there.
func (a *acct) ssoAttached(ctx context.Context, mg *acct, name string) (bool, int, error) {
	var token *string
	attached, n := false, 0
	for {
		var out *organizations.ListPoliciesForTargetOutput
		err := mg.call("Organizations", "ListPoliciesForTarget", a.id, func() (err error) {
			out, err = mg.c.Organizations.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: aws.String(a.id), Filter: orgtypes.PolicyTypeServiceControlPolicy, NextToken: token})
			return err
		})
		var off *orgtypes.PolicyTypeNotEnabledException
		if errors.As(err, &off) {
			return false, 0, errSCPsOff
		}
		if err != nil {
			return false, 0, fmt.Errorf("list SCPs on account %s: %w", a.id, err)
		}
		for _, p := range out.Policies {
			n++
			attached = attached || aws.ToString(p.Name) == name
		}
		if out.NextToken == nil {
			return attached, maxSCPsPerTarget - n, nil
		}
		token = out.NextToken
	}
}

func describeSCP(ctx context.Context, mg *acct, id string) (string, error) {
	var d *organizations.DescribePolicyOutput
	if err := mg.call("Organizations", "DescribePolicy", id, func() (err error) {
		d, err = mg.c.Organizations.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
		return err
	}); err != nil {
		return "", fmt.Errorf("describe SCP %s: %w", id, err)
	}
	return aws.ToString(d.Policy.Content), nil
}

func createSSOSCP(ctx context.Context, mg *acct, name, doc string) (string, error) {
	var out *organizations.CreatePolicyOutput
	err := mg.call("Organizations", "CreatePolicy", name, func() (err error) {
		out, err = mg.c.Organizations.CreatePolicy(ctx, &organizations.CreatePolicyInput{
			Name: aws.String(name), Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(doc),
			Description: aws.String("killswitch: denies IAM Identity Center sessions issued before the revocation time in one account"),
			Tags:        orgManagedTags(),
		})
		return err
	})
	var dup *orgtypes.DuplicatePolicyException
	if errors.As(err, &dup) {
		return "", errors.New("an SCP named " + name + " appeared meanwhile; rerun to use it")
	}
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Policy.PolicySummary.Id), nil
}

// ssoCutoff reads the cut-off of a revoke-sso-sessions document.
func ssoCutoff(doc string) (time.Time, bool) {
	var d struct {
		Statement []struct {
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(doc), &d) != nil || len(d.Statement) != 1 {
		return time.Time{}, false
	}
	v := d.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"]
	if l, ok := v.([]any); ok && len(l) == 1 {
		v = l[0]
	}
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}
