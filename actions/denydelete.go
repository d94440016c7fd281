package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
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

func (e *Engine) denyDeleteParams(exemptARNs []string) policies.Params {
	return policies.Params{ExemptPatterns: e.exemptPatterns(), ExemptARNs: exemptARNs, ExemptTag: e.cfg.BreakGlassTag, OmitSids: e.omittedSids()}
}

// tagExempt finds, in every account, the principals exempt by the
// break-glass tag (as the exemption baseline allows) and gives every account
// their list: the guardrail names them by ARN, because a tag in its
// condition would exempt whoever can tag itself.
func (e *Engine) tagExempt(ctx context.Context, accts []*acct, opt Options) {
	lists := make([][]string, len(accts))
	ctx = withBaseline(ctx, opt.Baseline)
	e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
		a := accts[i]
		if a == nil || e.cfg.BreakGlassTag == "" {
			return
		}
		inv, err := a.inventory(ctx, true, true, false)
		if err != nil {
			return // the account's own phase reports it
		}
		for _, p := range append(inv.users, inv.roles...) {
			if strings.HasPrefix(a.exemption(p), "break-glass tag") {
				lists[i] = append(lists[i], p.arn)
			}
		}
	})
	exempt := union(lists)
	for _, a := range accts {
		if a != nil {
			a.guardARNs = exempt
		}
	}
}

// union is the sorted union of lists.
func union(lists [][]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// DenyDeleteDocument renders the deny-delete policy with the engine's
// exemptions, whole (it may be larger than one SCP: what is attached is
// DenyDeleteParts).
func (e *Engine) DenyDeleteDocument() (string, error) {
	return policies.Render("deny-delete", e.denyDeleteParams(nil))
}

// DenyDeleteParts renders the deny-delete policy with the engine's
// exemptions as the documents attached: KillSwitchDenyDelete,
// KillSwitchDenyDelete-2, ... (see DenyDeletePartName), each within the SCP
// limit.
func (e *Engine) DenyDeleteParts() ([]string, error) { return e.denyDeleteParts(nil) }

// denyDeleteParts is DenyDeleteParts naming the principals exempt by tag.
// Rendering and validating is costly and every account and phase asks for
// the same parts, so they are kept per set of ARNs.
func (e *Engine) denyDeleteParts(exemptARNs []string) ([]string, error) {
	key := strings.Join(exemptARNs, "\n")
	e.partsMu.Lock()
	defer e.partsMu.Unlock()
	if parts, ok := e.parts[key]; ok {
		return slices.Clone(parts), nil
	}
	parts, err := policies.RenderParts("deny-delete", e.denyDeleteParams(exemptARNs))
	if err != nil {
		return nil, err
	}
	if e.parts == nil || len(e.parts) > 64 {
		e.parts = map[string][]string{}
	}
	e.parts[key] = parts
	return slices.Clone(parts), nil
}

// DenyDeletePartName is the name of part i (0-based) of the guardrail, as an
// SCP and as an IAM managed policy under /killswitch/.
func DenyDeletePartName(i int) string { return policies.PartName(DenyDeletePolicyName, i) }

// IsDenyDeletePart reports whether name is one of the guardrail's parts
// (KillSwitchDenyDelete or KillSwitchDenyDelete-N).
func IsDenyDeletePart(name string) bool {
	if name == DenyDeletePolicyName {
		return true
	}
	n, ok := strings.CutPrefix(name, DenyDeletePolicyName+"-")
	if !ok || n == "" || n[0] == '0' {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// managedTag marks every policy killswitch creates; the bot policy lets the
// bot change only SCPs carrying it (policies.ManagedTagKey).
func orgManagedTags() []orgtypes.Tag {
	return []orgtypes.Tag{{Key: aws.String(policies.ManagedTagKey), Value: aws.String("true")}}
}

func iamManagedTags() []iamtypes.Tag {
	return []iamtypes.Tag{{Key: aws.String(policies.ManagedTagKey), Value: aws.String("true")}}
}

// orgWork is the organization-level part of deny-delete (enable SCPs, create
// or update the SCP), done once in the management account before the member
// accounts are worked on in parallel.
type orgWork struct {
	mgmt      *acct
	docs      []string // the guardrail's parts, in order
	policyIDs []string // per part; "" until created
	ops       []op
	kind      orgPolicyKind
	rcp       *orgWork // the resource control policy beside the SCP (denydelete_rcp.go); nil when the Organization does not allow RCPs
	rcpNote   string   // why there is no RCP, for the plan
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
	var arns []string
	for _, a := range accts {
		if a != nil {
			arns = a.guardARNs
		}
	}
	docs, err := e.denyDeleteParts(arns)
	if err != nil {
		return nil, err
	}
	w := &orgWork{mgmt: mgmt, docs: docs, policyIDs: make([]string, len(docs)), kind: scpKind}
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
	base := Step{Action: DenyDelete, Account: mgmtID}
	if err := w.plan(ctx, base, root); err != nil {
		return nil, err
	}
	e.rcpWork(ctx, w, base, root, arns)
	return w, nil
}

// prepare plans part i of the guardrail in the management account: update
// the SCP when it exists with another document, create it otherwise.
func (w *orgWork) prepare(ctx context.Context, base Step, i int, doc, id string) error {
	mgmt, org, k := w.mgmt, w.mgmt.c.Organizations, w.kind
	name := k.partName(i)
	if id != "" {
		w.policyIDs[i] = id
		var d *organizations.DescribePolicyOutput
		if err := mgmt.call("Organizations", "DescribePolicy", id, func() (err error) {
			d, err = org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
			return err
		}); err != nil {
			return fmt.Errorf("describe %s %s (%s): %w", k.label, name, id, err)
		}
		old := aws.ToString(d.Policy.Content)
		if sameJSON(old, doc) {
			return nil
		}
		s := base
		s.Op, s.Principal, s.Resource, s.Prior = k.opUpdate, k.label+" "+name, id, old
		s.Reversible = true
		s.Change = "update " + k.label + " " + name + " to the current document and exemptions"
		w.add(s, name, func(ctx context.Context, s *Step) error {
			return mgmt.call("Organizations", "UpdatePolicy", id, func() error {
				_, err := org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(id), Content: aws.String(doc)})
				return err
			})
		})
		return nil
	}
	s := base
	s.Op, s.Principal, s.Resource = k.opCreate, k.label+" "+name, name
	s.Reversible = true
	s.Change = fmt.Sprintf("create %s %s (%d characters; part %d of %d of the guardrail)", k.label, name, len(doc), i+1, len(w.docs))
	w.add(s, name, func(ctx context.Context, s *Step) error {
		var out *organizations.CreatePolicyOutput
		err := mgmt.call("Organizations", "CreatePolicy", name, func() (err error) {
			out, err = org.CreatePolicy(ctx, &organizations.CreatePolicyInput{
				Name: aws.String(name), Type: k.typ, Content: aws.String(doc),
				Description: aws.String(fmt.Sprintf(k.description, i+1, len(w.docs))),
				Tags:        orgManagedTags(),
			})
			return err
		})
		var dup *orgtypes.DuplicatePolicyException
		if errors.As(err, &dup) {
			return errors.New("a policy named " + name + " appeared meanwhile; rerun to use it")
		}
		if err != nil {
			return err
		}
		w.policyIDs[i] = aws.ToString(out.Policy.PolicySummary.Id)
		s.Resource = w.policyIDs[i]
		return nil
	})
	return nil
}

// add appends an op to the organization work. The first part keeps the key
// it had when the guardrail was one SCP, so a run recorded then resumes.
func (w *orgWork) add(s Step, part string, run func(ctx context.Context, s *Step) error) {
	s.Key = fmt.Sprintf("%s/org/%s", s.Action, s.Op)
	if part != "" && part != w.kind.base {
		s.Key += "/" + part
	}
	w.ops = append(w.ops, op{step: s, run: run})
}

// runOrg runs the organization-level ops; their steps are reported with the
// management account.
func (e *Engine) runOrg(ctx context.Context, w *orgWork, rec Recorder, res *Result, accts []*acct) error {
	ar := &AccountResult{}
	err := e.runOps(ctx, w.mgmt.reqID, w.ops, rec, ar)
	scpSteps := len(ar.Steps)
	if err == nil && w.rcp != nil {
		// the RCP is an addition: its failure is reported, the SCP still goes on
		err = e.runOps(ctx, w.mgmt.reqID, w.rcp.ops, rec, ar)
	}
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
	for _, s := range ar.Steps[:scpSteps] {
		if s.Status != StepDone {
			return fmt.Errorf("%s: %s", s.Change, s.Error)
		}
	}
	return nil
}

func (a *acct) buildDenyDelete(ctx context.Context, org *orgWork) (*work, error) {
	w := &work{}
	if a.kind == KindManagement {
		w.warnings = append(w.warnings, rcpManagementWarning)
	}
	if a.kind != KindMember || org == nil {
		if a.kind == KindMember {
			return nil, errors.New("the organization's SCP could not be prepared")
		}
		return w, a.buildDenyDeleteIAM(ctx, w)
	}
	if err := a.attachRCP(ctx, org, w); err != nil {
		return nil, err
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
	ours := map[string]bool{}
	others := 0
	for _, p := range attached {
		if n := aws.ToString(p.Name); IsDenyDeletePart(n) {
			ours[n] = true
		} else {
			others++
		}
	}
	parts := len(org.docs)
	var missing []int
	for i := range org.docs {
		if !ours[DenyDeletePartName(i)] {
			missing = append(missing, i)
		}
	}
	if len(attached)+len(missing) > maxSCPsPerTarget {
		w.warnings = append(w.warnings, fmt.Sprintf("account %s has %d SCPs attached and the guardrail needs %d more (AWS allows %d per target, FullAWSAccess included): using the IAM managed-policy fallback instead", a.id, len(attached), len(missing), maxSCPsPerTarget))
		return w, a.buildDenyDeleteIAM(ctx, w)
	}
	w.warnings = append(w.warnings, fmt.Sprintf("deny-delete uses %d of AWS's %d SCP slots on account %s (%s); with the %d other SCPs attached (FullAWSAccess counts), %d left for your own",
		parts, maxSCPsPerTarget, a.id, strings.Join(partNames(parts), ", "), others, maxSCPsPerTarget-others-len(ours)-len(missing)))
	// The SCP's conditions exempt break-glass and the bot: show who they are.
	inv, err := a.inventory(ctx, true, true, false)
	if err != nil {
		return nil, err
	}
	a.sortOut(inv.users, w)
	a.sortOut(inv.roles, w)
	for _, i := range missing {
		a.addAttachOrgPolicy(w, mg, opAttachSCP, "SCP", DenyDeletePartName(i), func() string { return org.policyIDs[i] })
	}
	return w, nil
}

// addAttachOrgPolicy adds the step attaching the Organization policy name
// (kind "SCP" or "RCP"), created earlier in the run with the id id()
// returns, to account a, through the management account's client mg.
func (a *acct) addAttachOrgPolicy(w *work, mg *acct, op, kind, name string, id func() string) {
	s := Step{Action: DenyDelete, Account: a.id, Op: op, Principal: "account " + a.id, Resource: name, Reversible: true,
		Change: "attach " + kind + " " + name}
	w.add(s, func(ctx context.Context, s *Step) error {
		id := id()
		if id == "" {
			return errors.New(kind + " " + name + " was not created")
		}
		s.Resource = id
		return mg.call("Organizations", "AttachPolicy", a.id, func() error {
			_, err := mg.c.Organizations.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(id), TargetId: aws.String(a.id)})
			var dup *orgtypes.DuplicatePolicyAttachmentException
			if errors.As(err, &dup) {
				return nil
			}
			return err
		})
	})
}

func partNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = DenyDeletePartName(i)
	}
	return out
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
	docs, err := a.e.denyDeleteParts(a.guardARNs)
	if err != nil {
		return err
	}
	c := a.c.IAM
	arns := make([]string, len(docs))
	attached := make([]map[string]bool, len(docs))
	for i, doc := range docs {
		name := DenyDeletePartName(i)
		arns[i] = fmt.Sprintf("arn:%s:iam::%s:policy%s%s", a.partition(), a.id, denyDeletePath, name)
		if attached[i], err = a.prepareManagedPart(ctx, w, i, len(docs), name, arns[i], doc); err != nil {
			return err
		}
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
	w.warnings = append(w.warnings, fmt.Sprintf("deny-delete uses the IAM managed policy fallback (%s, %d managed-policy slot(s) of each principal): %s", strings.Join(partNames(len(docs)), ", "), len(docs), why))
	attach := func(p *principal) {
		for i, arn := range arns {
			if attached[i][p.kind+"/"+p.name] {
				continue
			}
			name, arn := DenyDeletePartName(i), arn
			s := Step{Action: DenyDelete, Account: a.id, Op: opAttachManaged, Principal: p.arn, Resource: arn, Reversible: true,
				Change: "attach managed policy " + name}
			w.add(s, func(ctx context.Context, s *Step) error {
				return a.call("IAM", "Attach"+upperFirst(p.kind)+"Policy", p.arn, func() error {
					return attachManaged(ctx, c, p.kind, p.name, arn)
				})
			})
		}
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

// prepareManagedPart plans part i of the IAM fallback: create the managed
// policy when it is missing, and return who it is attached to already.
func (a *acct) prepareManagedPart(ctx context.Context, w *work, i, n int, name, arn, doc string) (map[string]bool, error) {
	c := a.c.IAM
	attached := map[string]bool{}
	var gp *iam.GetPolicyOutput
	err := a.call("IAM", "GetPolicy", arn, func() (err error) {
		gp, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		return err
	})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		s := Step{Action: DenyDelete, Account: a.id, Op: opCreateManaged, Principal: "policy " + arn, Resource: arn, Reversible: true,
			Change: fmt.Sprintf("create IAM managed policy %s%s (%d characters; part %d of %d of the guardrail)", denyDeletePath, name, len(doc), i+1, n)}
		w.add(s, func(ctx context.Context, s *Step) error {
			return a.call("IAM", "CreatePolicy", arn, func() error {
				_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), Path: aws.String(denyDeletePath), PolicyDocument: aws.String(doc),
					Description: aws.String(fmt.Sprintf("killswitch guardrail, part %d of %d (IAM fallback where SCPs cannot reach)", i+1, n)),
					Tags:        iamManagedTags()})
				var dup *iamtypes.EntityAlreadyExistsException
				if errors.As(err, &dup) {
					return nil
				}
				return err
			})
		})
		return attached, nil
	case err != nil:
		return nil, fmt.Errorf("get policy %s: %w", arn, err)
	}
	var v *iam.GetPolicyVersionOutput
	if err := a.call("IAM", "GetPolicyVersion", arn, func() (err error) {
		v, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: gp.Policy.DefaultVersionId})
		return err
	}); err != nil {
		return nil, fmt.Errorf("get policy version of %s: %w", arn, err)
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
			return nil, fmt.Errorf("list entities for %s: %w", arn, err)
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
	return attached, nil
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
		return fmt.Errorf("attach %s to %s %q: %w", nameFromARN(arn), kind, name, err)
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
