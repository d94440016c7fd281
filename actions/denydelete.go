package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/policies"
)

// Names of what deny-delete creates. Documented in the README and runbooks.
const (
	DenyDeletePolicyName = "KillSwitchDenyDelete"
	denyDeletePath       = "/killswitch/"
	maxSCPsPerTarget     = 5
)

// exemptPatterns are the ARN patterns written into every deny document: the
// break-glass patterns and the bot's own role in every account.
func (e *Engine) exemptPatterns() []string {
	return append(append([]string(nil), e.cfg.BreakGlassPatterns...), "arn:aws:iam::*:role/"+e.cfg.BotRoleName)
}

// DenyDeleteDocument renders the deny-delete policy with the engine's
// exemptions.
func (e *Engine) DenyDeleteDocument() (string, error) {
	return policies.Render("deny-delete", policies.Params{ExemptPatterns: e.exemptPatterns(), ExemptTag: e.cfg.BreakGlassTag})
}

// orgWork is the organization-level part of deny-delete (enable SCPs, create
// or update the SCP), done once in the management account before the member
// accounts are worked on in parallel.
type orgWork struct {
	mgmt     *acct
	doc      string
	policyID string
	ops      []op
}

func (e *Engine) orgWork(ctx context.Context, accts []*acct, opt Options) (*orgWork, error) {
	var mgmtID string
	for _, a := range accts {
		if a != nil && a.kind == KindMember {
			mgmtID = a.mgmtID
			break
		}
	}
	if mgmtID == "" {
		return nil, nil
	}
	var mgmt *acct
	for _, a := range accts {
		if a != nil && a.id == mgmtID {
			mgmt = a
		}
	}
	if mgmt == nil {
		var err error
		if mgmt, err = e.open(ctx, mgmtID, opt.RequestID); err != nil {
			return nil, fmt.Errorf("management account %s (SCPs are managed there): %w", mgmtID, err)
		}
	}
	doc, err := e.DenyDeleteDocument()
	if err != nil {
		return nil, err
	}
	w := &orgWork{mgmt: mgmt, doc: doc}
	org := mgmt.c.Organizations

	var roots *organizations.ListRootsOutput
	if err := mgmt.call("Organizations", "ListRoots", "", func() (err error) {
		roots, err = org.ListRoots(ctx, &organizations.ListRootsInput{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("list organization roots: %w", err)
	}
	if len(roots.Roots) == 0 {
		return nil, errors.New("the organization has no root")
	}
	root := roots.Roots[0]
	rootID := aws.ToString(root.Id)
	enabled := false
	for _, pt := range root.PolicyTypes {
		if pt.Type == orgtypes.PolicyTypeServiceControlPolicy && pt.Status == orgtypes.PolicyTypeStatusEnabled {
			enabled = true
		}
	}
	base := Step{Action: DenyDelete, Account: mgmtID}
	if !enabled {
		s := base
		s.Op, s.Principal, s.Resource = opEnableSCPType, "organization root "+rootID, rootID
		s.Change = "enable service control policies (AWS attaches FullAWSAccess everywhere, which restricts nothing)"
		w.add(s, func(ctx context.Context, s *Step) error {
			return mgmt.call("Organizations", "EnablePolicyType", rootID, func() error {
				_, err := org.EnablePolicyType(ctx, &organizations.EnablePolicyTypeInput{RootId: aws.String(rootID), PolicyType: orgtypes.PolicyTypeServiceControlPolicy})
				var already *orgtypes.PolicyTypeAlreadyEnabledException
				if errors.As(err, &already) {
					return nil
				}
				return err
			})
		})
	}
	// find our SCP
	var token *string
	for enabled {
		var out *organizations.ListPoliciesOutput
		if err := mgmt.call("Organizations", "ListPolicies", "", func() (err error) {
			out, err = org.ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy, NextToken: token})
			return err
		}); err != nil {
			return nil, fmt.Errorf("list SCPs: %w", err)
		}
		for _, p := range out.Policies {
			if aws.ToString(p.Name) == DenyDeletePolicyName {
				w.policyID = aws.ToString(p.Id)
			}
		}
		if out.NextToken == nil || w.policyID != "" {
			break
		}
		token = out.NextToken
	}
	if w.policyID != "" {
		var d *organizations.DescribePolicyOutput
		if err := mgmt.call("Organizations", "DescribePolicy", w.policyID, func() (err error) {
			d, err = org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(w.policyID)})
			return err
		}); err != nil {
			return nil, fmt.Errorf("describe SCP %s: %w", w.policyID, err)
		}
		old := aws.ToString(d.Policy.Content)
		if !sameJSON(old, doc) {
			s := base
			s.Op, s.Principal, s.Resource, s.Prior = opUpdateSCP, "SCP "+DenyDeletePolicyName, w.policyID, old
			s.Reversible = true
			s.Change = "update SCP " + DenyDeletePolicyName + " to the current document and exemptions"
			id := w.policyID
			w.add(s, func(ctx context.Context, s *Step) error {
				return mgmt.call("Organizations", "UpdatePolicy", id, func() error {
					_, err := org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(id), Content: aws.String(doc)})
					return err
				})
			})
		}
		return w, nil
	}
	s := base
	s.Op, s.Principal, s.Resource = opCreateSCP, "SCP "+DenyDeletePolicyName, DenyDeletePolicyName
	s.Reversible = true
	s.Change = fmt.Sprintf("create SCP %s (%d characters)", DenyDeletePolicyName, len(doc))
	w.add(s, func(ctx context.Context, s *Step) error {
		var out *organizations.CreatePolicyOutput
		err := mgmt.call("Organizations", "CreatePolicy", DenyDeletePolicyName, func() (err error) {
			out, err = org.CreatePolicy(ctx, &organizations.CreatePolicyInput{
				Name: aws.String(DenyDeletePolicyName), Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(doc),
				Description: aws.String("killswitch deny-delete guardrail: denies destructive calls to all but break-glass and the bot"),
			})
			return err
		})
		var dup *orgtypes.DuplicatePolicyException
		if errors.As(err, &dup) {
			return errors.New("an SCP named " + DenyDeletePolicyName + " appeared meanwhile; rerun to use it")
		}
		if err != nil {
			return err
		}
		w.policyID = aws.ToString(out.Policy.PolicySummary.Id)
		s.Resource = w.policyID
		return nil
	})
	return w, nil
}

// add appends an op to the organization work.
func (w *orgWork) add(s Step, run func(ctx context.Context, s *Step) error) {
	s.Key = fmt.Sprintf("%s/org/%s", s.Action, s.Op)
	w.ops = append(w.ops, op{step: s, run: run})
}

// runOrg runs the organization-level ops; their steps are reported with the
// management account.
func (e *Engine) runOrg(ctx context.Context, w *orgWork, rec Recorder, res *Result, accts []*acct) error {
	ar := &AccountResult{}
	err := e.runOps(ctx, w.mgmt.reqID, w.ops, rec, ar)
	idx := -1
	for i, a := range accts {
		if a != nil && a.id == w.mgmt.id {
			idx = i
		}
	}
	if idx < 0 {
		res.Accounts = append(res.Accounts, AccountResult{Account: w.mgmt.id, Steps: []Step{}})
		idx = len(res.Accounts) - 1
	}
	res.Accounts[idx].Steps = append(res.Accounts[idx].Steps, ar.Steps...)
	if err != nil {
		return err
	}
	for _, s := range ar.Steps {
		if s.Status != StepDone {
			return fmt.Errorf("%s: %s", s.Change, s.Error)
		}
	}
	return nil
}

func (a *acct) buildDenyDelete(ctx context.Context, org *orgWork) (*work, error) {
	w := &work{}
	if a.kind != KindMember || org == nil {
		if a.kind == KindMember {
			return nil, errors.New("the organization's SCP could not be prepared")
		}
		return w, a.buildDenyDeleteIAM(ctx, w)
	}
	mg := org.mgmt
	var attached []orgtypes.PolicySummary
	var token *string
	for {
		var out *organizations.ListPoliciesForTargetOutput
		err := mg.call("Organizations", "ListPoliciesForTarget", a.id, func() (err error) {
			out, err = mg.c.Organizations.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: aws.String(a.id), Filter: orgtypes.PolicyTypeServiceControlPolicy, NextToken: token})
			return err
		})
		var notEnabled *orgtypes.PolicyTypeNotEnabledException
		if errors.As(err, &notEnabled) {
			break // enabled by the org work before any attach
		}
		if err != nil {
			return nil, fmt.Errorf("list SCPs on account %s: %w", a.id, err)
		}
		attached = append(attached, out.Policies...)
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	ours := false
	for _, p := range attached {
		ours = ours || aws.ToString(p.Name) == DenyDeletePolicyName
	}
	if !ours && len(attached) >= maxSCPsPerTarget {
		w.warnings = append(w.warnings, fmt.Sprintf("account %s already has %d SCPs (AWS's limit is %d per target): using the IAM managed-policy fallback instead", a.id, len(attached), maxSCPsPerTarget))
		return w, a.buildDenyDeleteIAM(ctx, w)
	}
	// The SCP's conditions exempt break-glass and the bot: show who they are.
	inv, err := a.inventory(ctx, true, true, false)
	if err != nil {
		return nil, err
	}
	a.sortOut(inv.users, w)
	a.sortOut(inv.roles, w)
	if ours {
		return w, nil // already attached
	}
	s := Step{Action: DenyDelete, Account: a.id, Op: opAttachSCP, Principal: "account " + a.id, Resource: DenyDeletePolicyName, Reversible: true,
		Change: "attach SCP " + DenyDeletePolicyName}
	w.add(s, func(ctx context.Context, s *Step) error {
		if org.policyID == "" {
			return errors.New("SCP " + DenyDeletePolicyName + " was not created")
		}
		s.Resource = org.policyID
		return mg.call("Organizations", "AttachPolicy", a.id, func() error {
			_, err := mg.c.Organizations.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(org.policyID), TargetId: aws.String(a.id)})
			var dup *orgtypes.DuplicatePolicyAttachmentException
			if errors.As(err, &dup) {
				return nil
			}
			return err
		})
	})
	return w, nil
}

func (a *acct) partition() string {
	if p := strings.SplitN(a.caller, ":", 3); len(p) == 3 && p[1] != "" {
		return p[1]
	}
	return "aws"
}

// buildDenyDeleteIAM is the fallback where SCPs cannot reach (the management
// account, a standalone account, a member already at five SCPs): the same
// deny as a managed policy on every non-exempt user, group and role. Its
// conditions also exempt break-glass members of the groups it is attached to.
func (a *acct) buildDenyDeleteIAM(ctx context.Context, w *work) error {
	doc, err := a.e.DenyDeleteDocument()
	if err != nil {
		return err
	}
	arn := fmt.Sprintf("arn:%s:iam::%s:policy%s%s", a.partition(), a.id, denyDeletePath, DenyDeletePolicyName)
	c := a.c.IAM
	exists := true
	var gp *iam.GetPolicyOutput
	err = a.call("IAM", "GetPolicy", arn, func() (err error) {
		gp, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		return err
	})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		exists = false
	case err != nil:
		return fmt.Errorf("get policy %s: %w", arn, err)
	}
	attached := map[string]bool{}
	if exists {
		var v *iam.GetPolicyVersionOutput
		if err := a.call("IAM", "GetPolicyVersion", arn, func() (err error) {
			v, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: gp.Policy.DefaultVersionId})
			return err
		}); err != nil {
			return fmt.Errorf("get policy version of %s: %w", arn, err)
		}
		old := aws.ToString(v.PolicyVersion.Document)
		if d, err := url.QueryUnescape(old); err == nil {
			old = d
		}
		if !sameJSON(old, doc) {
			w.warnings = append(w.warnings, fmt.Sprintf("policy %s differs from the current deny-delete document (exemptions changed?); it is used as it is: undo deny-delete, then apply it again to refresh it", arn))
		}
		var marker *string
		for {
			var out *iam.ListEntitiesForPolicyOutput
			if err := a.call("IAM", "ListEntitiesForPolicy", arn, func() (err error) {
				out, err = c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn), Marker: marker})
				return err
			}); err != nil {
				return fmt.Errorf("list entities for %s: %w", arn, err)
			}
			for _, u := range out.PolicyUsers {
				attached["user/"+aws.ToString(u.UserName)] = true
			}
			for _, r := range out.PolicyRoles {
				attached["role/"+aws.ToString(r.RoleName)] = true
			}
			for _, g := range out.PolicyGroups {
				attached["group/"+aws.ToString(g.GroupName)] = true
			}
			if !out.IsTruncated || out.Marker == nil {
				break
			}
			marker = out.Marker
		}
	} else {
		s := Step{Action: DenyDelete, Account: a.id, Op: opCreateManaged, Principal: "policy " + arn, Resource: arn, Reversible: true,
			Change: fmt.Sprintf("create IAM managed policy %s%s (%d characters)", denyDeletePath, DenyDeletePolicyName, len(doc))}
		w.add(s, func(ctx context.Context, s *Step) error {
			return a.call("IAM", "CreatePolicy", arn, func() error {
				_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(DenyDeletePolicyName), Path: aws.String(denyDeletePath), PolicyDocument: aws.String(doc),
					Description: aws.String("killswitch deny-delete guardrail (IAM fallback where SCPs cannot reach)")})
				var dup *iamtypes.EntityAlreadyExistsException
				if errors.As(err, &dup) {
					return nil
				}
				return err
			})
		})
	}
	inv, err := a.inventory(ctx, true, true, true)
	if err != nil {
		return err
	}
	a.iamGuardrail = true
	why := "SCPs do not restrict the management account"
	if a.kind == KindStandalone {
		why = "standalone account: no Organization, so no SCP"
	} else if a.kind == KindMember {
		why = "SCP limit reached"
	}
	w.warnings = append(w.warnings, "deny-delete uses the IAM managed policy fallback: "+why)
	attach := func(p *principal) {
		if attached[p.kind+"/"+p.name] {
			return
		}
		s := Step{Action: DenyDelete, Account: a.id, Op: opAttachManaged, Principal: p.arn, Resource: arn, Reversible: true,
			Change: "attach managed policy " + DenyDeletePolicyName}
		w.add(s, func(ctx context.Context, s *Step) error {
			return a.call("IAM", "Attach"+upperFirst(p.kind)+"Policy", p.arn, func() error {
				return attachManaged(ctx, c, p.kind, p.name, arn)
			})
		})
	}
	for _, p := range a.sortOut(inv.users, w) {
		attach(p)
	}
	for _, p := range a.sortOut(inv.roles, w) {
		attach(p)
	}
	for _, g := range inv.groups {
		if r := a.exemption(g); r != "" {
			w.exempt = append(w.exempt, Exemption{Principal: g.arn, Reason: r})
			continue
		}
		attach(g)
	}
	return nil
}

func attachManaged(ctx context.Context, c interface {
	AttachUserPolicy(context.Context, *iam.AttachUserPolicyInput, ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	AttachGroupPolicy(context.Context, *iam.AttachGroupPolicyInput, ...func(*iam.Options)) (*iam.AttachGroupPolicyOutput, error)
}, kind, name, arn string) error {
	var err error
	switch kind {
	case "user":
		_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(arn)})
	case "role":
		_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)})
	case "group":
		_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(name), PolicyArn: aws.String(arn)})
	default:
		err = fmt.Errorf("cannot attach a policy to a %s", kind)
	}
	if err != nil {
		return fmt.Errorf("attach %s to %s %q: %w", DenyDeletePolicyName, kind, name, err)
	}
	return nil
}

// sameJSON reports whether two JSON documents are equal as values.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// upperFirst turns user into User (ASCII kind names only).
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
