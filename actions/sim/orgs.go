package sim

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// FullAWSAccessID is the id of the AWS managed SCP that EnablePolicyType
// attaches everywhere.
const FullAWSAccessID = "p-FullAWSAccess"

const fullAccessID = FullAWSAccessID

const fullAccessContent = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}`

type scp struct {
	id, arn, name, desc, content string
	parsed                       *policy
	prev                         *policy // the content in effect until an update has propagated
	aws                          bool
	rcp                          bool // a resource control policy (rcp.go), not an SCP
}

func (p *scp) policyType() types.PolicyType {
	if p.rcp {
		return types.PolicyTypeResourceControlPolicy
	}
	return types.PolicyTypeServiceControlPolicy
}

// byType returns the policies and attachments of one policy type.
func (o *Org) byType(t types.PolicyType) (map[string]*scp, map[string][]string) {
	if t == types.PolicyTypeResourceControlPolicy {
		return o.rcps, o.rcpAttached
	}
	return o.scps, o.attached
}

func (o *Org) typeEnabled(t types.PolicyType) bool {
	if t == types.PolicyTypeResourceControlPolicy {
		return o.rcpEnabled
	}
	return o.scpEnabled
}

func (o *Org) fullAccessLocked() *scp {
	if p := o.scps[fullAccessID]; p != nil {
		return p
	}
	parsed, err := parsePolicy(fullAccessContent, scpPolicy)
	if err != nil {
		panic(err)
	}
	p := &scp{
		id: fullAccessID, arn: "arn:aws:organizations::aws:policy/service_control_policy/" + fullAccessID,
		name: "FullAWSAccess", desc: "Allows access to every operation", content: fullAccessContent, parsed: parsed, aws: true,
	}
	o.scps[p.id] = p
	return p
}

// EnableSCPs enables the SERVICE_CONTROL_POLICY type like EnablePolicyType:
// FullAWSAccess is attached to the root, every OU and every account.
func (o *Org) EnableSCPs() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.isOrg {
		return fmt.Errorf("enable SCPs: a standalone account has no Organization")
	}
	if o.scpEnabled {
		return fmt.Errorf("enable SCPs: already enabled")
	}
	o.enableSCPLocked()
	return nil
}

func (o *Org) enableSCPLocked() {
	o.fullAccessLocked()
	o.scpEnabled = true
	for _, t := range o.targetsLocked() {
		if !containsStr(o.attached[t], fullAccessID) {
			o.attached[t] = append(o.attached[t], fullAccessID)
		}
	}
}

// SCPEnabled reports whether the SCP policy type is enabled.
func (o *Org) SCPEnabled() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.scpEnabled
}

func (o *Org) targetsLocked() []string {
	t := []string{o.rootID}
	t = append(t, sortedMapKeys(o.ous)...)
	return append(t, o.memberIDsLocked()...)
}

// memberIDsLocked is accountIDsLocked without the accounts that left the
// Organization.
func (o *Org) memberIDsLocked() []string {
	ids := o.accountIDsLocked()
	out := ids[:0:0]
	for _, id := range ids {
		if !o.accounts[id].left {
			out = append(out, id)
		}
	}
	return out
}

// InOrganization reports whether an account belongs to the Organization
// (false when standalone, unknown, or after LeaveOrganization).
func (o *Org) InOrganization(acct string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	return o.isOrg && a != nil && !a.left
}

// disablePolicyTypeLocked is organizations:DisablePolicyType for SCPs:
// like AWS it detaches every SCP from every root, OU and account; SCPs no
// longer restrict anyone.
func (o *Org) disablePolicyTypeLocked() error {
	if !o.scpEnabled {
		return &types.PolicyTypeNotEnabledException{Message: aws.String("This operation can be performed only for enabled policy types.")}
	}
	o.scpEnabled = false
	o.attached = map[string][]string{}
	return nil
}

// leaveLocked is organizations:LeaveOrganization from member account a:
// afterwards it is standalone, no SCP applies to it and the management
// account no longer sees it.
func (o *Org) leaveLocked(a *account) error {
	if !o.isOrg || a.left {
		return notInUse()
	}
	if a.id == o.mgmt {
		return &types.ConstraintViolationException{
			Message: aws.String("The management account can't leave its organization."),
			Reason:  types.ConstraintViolationExceptionReasonAccountCannotLeaveOrganization,
		}
	}
	a.left = true
	a.parent = ""
	delete(o.attached, a.id)
	delete(o.rcpAttached, a.id)
	return nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type orgsClient struct{ c *conn }

var _ awsapi.Organizations = (*orgsClient)(nil)

// mgmtOnly fails like AWS for a standalone account or a member account.
func (c *orgsClient) mgmtOnly() error {
	o := c.c.o
	if !o.isOrg || o.accounts[c.c.account].left {
		return notInUse()
	}
	if c.c.account != o.mgmt {
		return &types.AccessDeniedException{Message: aws.String("You don't have permissions to access this resource. This operation can be called only from the organization's management account.")}
	}
	return nil
}

func notInUse() error {
	return &types.AWSOrganizationsNotInUseException{Message: aws.String("Your account is not a member of an organization.")}
}

func (o *Org) orgARN() string { return "arn:aws:organizations::" + o.mgmt + ":organization/" + o.orgID }

func (o *Org) policyTypes() []types.PolicyTypeSummary {
	out := []types.PolicyTypeSummary{}
	if o.scpEnabled {
		out = append(out, types.PolicyTypeSummary{Type: types.PolicyTypeServiceControlPolicy, Status: types.PolicyTypeStatusEnabled})
	}
	if o.rcpEnabled {
		out = append(out, types.PolicyTypeSummary{Type: types.PolicyTypeResourceControlPolicy, Status: types.PolicyTypeStatusEnabled})
	}
	return out
}

func (o *Org) rootOut() *types.Root {
	return &types.Root{
		Id: aws.String(o.rootID), Arn: aws.String("arn:aws:organizations::" + o.mgmt + ":root/" + o.orgID + "/" + o.rootID),
		Name: aws.String("Root"), PolicyTypes: o.policyTypes(),
	}
}

func summary(p *scp) *types.PolicySummary {
	s := &types.PolicySummary{
		Arn: aws.String(p.arn), AwsManaged: p.aws, Id: aws.String(p.id), Name: aws.String(p.name),
		Type: p.policyType(),
	}
	if p.desc != "" {
		s.Description = aws.String(p.desc)
	}
	return s
}

func (o *Org) findSCP(id string) (*scp, error) {
	if p := o.scps[id]; p != nil {
		return p, nil
	}
	if p := o.rcps[id]; p != nil {
		return p, nil
	}
	return nil, &types.PolicyNotFoundException{Message: aws.String("We can't find a policy with the PolicyId that you specified: " + clip(id))}
}

func (o *Org) findTarget(id string) error {
	switch {
	case id == o.rootID:
		return nil
	case o.ous[id] != nil:
		return nil
	case o.accounts[id] != nil && !o.accounts[id].left:
		return nil
	}
	return &types.TargetNotFoundException{Message: aws.String("We can't find a root, OU, account, or policy with the TargetId that you specified: " + clip(id))}
}

func requirePolicyType(t types.PolicyType) error {
	if t != types.PolicyTypeServiceControlPolicy && t != types.PolicyTypeResourceControlPolicy {
		return &types.InvalidInputException{Message: aws.String("The simulation supports only SERVICE_CONTROL_POLICY and RESOURCE_CONTROL_POLICY, not " + clip(string(t))), Reason: types.InvalidInputExceptionReasonInvalidEnumPolicyType}
	}
	return nil
}

// mgmtCall runs an Organizations operation that only the management account
// may call; fn gets the Org.
func mgmtCall[O any](ctx context.Context, c *orgsClient, op string, out *O, fn func(o *Org) error) (*O, error) {
	return call(ctx, c.c, "Organizations", op, nil, out, func(*account) error {
		if err := c.mgmtOnly(); err != nil {
			return err
		}
		return fn(c.c.o)
	})
}

// policyOf is an SCP with its content.
func policyOf(p *scp) *types.Policy {
	return &types.Policy{Content: aws.String(p.content), PolicySummary: summary(p)}
}

func validSCPDescription(d string) error {
	if len(d) > 512 {
		return &types.InvalidInputException{Message: aws.String("Description is longer than 512 characters."), Reason: types.InvalidInputExceptionReasonMaxLengthExceeded}
	}
	return nil
}

func duplicatePolicy() error {
	return &types.DuplicatePolicyException{Message: aws.String("A policy with the same name already exists.")}
}

// DescribeOrganization works from every account of the Organization and
// fails with AWSOrganizationsNotInUseException in a standalone account.
func (c *orgsClient) DescribeOrganization(ctx context.Context, _ *organizations.DescribeOrganizationInput, _ ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	out := &organizations.DescribeOrganizationOutput{}
	return call(ctx, c.c, "Organizations", "DescribeOrganization", nil, out, func(a *account) error {
		o := c.c.o
		if !o.isOrg || a.left {
			return notInUse()
		}
		out.Organization = &types.Organization{
			Arn: aws.String(o.orgARN()), Id: aws.String(o.orgID), FeatureSet: o.featureSet(),
			MasterAccountArn:   aws.String("arn:aws:organizations::" + o.mgmt + ":account/" + o.orgID + "/" + o.mgmt),
			MasterAccountEmail: aws.String("aws+" + o.mgmt + "@example.com"), MasterAccountId: aws.String(o.mgmt),
			AvailablePolicyTypes: o.policyTypes(),
		}
		return nil
	})
}

// ListAccounts lists the accounts, management first, up to 20 a page.
func (c *orgsClient) ListAccounts(ctx context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	in = orEmpty(in)
	out := &organizations.ListAccountsOutput{Accounts: []types.Account{}}
	return mgmtCall(ctx, c, "ListAccounts", out, func(o *Org) error {
		page, next, err := pageOrg(o.memberIDsLocked(), in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		for _, id := range page {
			a := o.accounts[id]
			method := types.AccountJoinedMethodCreated
			if id != o.mgmt {
				method = types.AccountJoinedMethodInvited
			}
			out.Accounts = append(out.Accounts, types.Account{
				Arn:   aws.String("arn:aws:organizations::" + o.mgmt + ":account/" + o.orgID + "/" + id),
				Email: aws.String("aws+" + id + "@example.com"), Id: aws.String(id), Name: aws.String(a.name),
				JoinedMethod: method, JoinedTimestamp: aws.Time(a.joined),
				State: types.AccountStateActive, Status: types.AccountStatusActive,
			})
		}
		out.NextToken = next
		return nil
	})
}

// ListRoots lists the one root.
func (c *orgsClient) ListRoots(ctx context.Context, in *organizations.ListRootsInput, _ ...func(*organizations.Options)) (*organizations.ListRootsOutput, error) {
	in = orEmpty(in)
	out := &organizations.ListRootsOutput{Roots: []types.Root{}}
	return mgmtCall(ctx, c, "ListRoots", out, func(o *Org) error {
		if _, _, err := orgPage(in.MaxResults, in.NextToken); err != nil {
			return err
		}
		if in.NextToken != nil {
			return badToken()
		}
		out.Roots = append(out.Roots, *o.rootOut())
		return nil
	})
}

// EnablePolicyType enables SCPs and attaches FullAWSAccess to the root,
// every OU and every account, like AWS.
func (c *orgsClient) EnablePolicyType(ctx context.Context, in *organizations.EnablePolicyTypeInput, _ ...func(*organizations.Options)) (*organizations.EnablePolicyTypeOutput, error) {
	if in == nil || in.PolicyType == "" || str(in.RootId) == "" {
		return nil, opErr("Organizations", "EnablePolicyType", required("EnablePolicyTypeInput", "PolicyType", "RootId"))
	}
	out := &organizations.EnablePolicyTypeOutput{}
	return mgmtCall(ctx, c, "EnablePolicyType", out, func(o *Org) error {
		if *in.RootId != o.rootID {
			return &types.RootNotFoundException{Message: aws.String("We can't find a root with the RootId that you specified: " + clip(*in.RootId))}
		}
		if err := requirePolicyType(in.PolicyType); err != nil {
			return err
		}
		if o.billingOnly {
			return &types.PolicyTypeNotAvailableForOrganizationException{Message: aws.String("You can't use the specified policy type with the feature set currently enabled for this organization. For example, you can enable SCPs only after you enable all features in the organization.")}
		}
		if o.typeEnabled(in.PolicyType) {
			return &types.PolicyTypeAlreadyEnabledException{Message: aws.String("The specified policy type is already enabled.")}
		}
		if in.PolicyType == types.PolicyTypeResourceControlPolicy {
			o.enableRCPLocked()
		} else {
			o.enableSCPLocked()
		}
		out.Root = o.rootOut()
		return nil
	})
}

func (o *Org) scpIDsLocked() []string {
	ids := sortedMapKeys(o.scps)
	if !o.scpEnabled {
		// FullAWSAccess shows up once the policy type has been enabled.
		ids = removeKey(ids, fullAccessID)
	}
	return ids
}

// ListPolicies lists SCPs sorted by id (Filter must be given).
func (c *orgsClient) ListPolicies(ctx context.Context, in *organizations.ListPoliciesInput, _ ...func(*organizations.Options)) (*organizations.ListPoliciesOutput, error) {
	if in == nil || in.Filter == "" {
		return nil, opErr("Organizations", "ListPolicies", required("ListPoliciesInput", "Filter"))
	}
	out := &organizations.ListPoliciesOutput{}
	return mgmtCall(ctx, c, "ListPolicies", out, func(o *Org) (err error) {
		ids := o.scpIDsLocked()
		if in.Filter == types.PolicyTypeResourceControlPolicy {
			ids = sortedMapKeys(o.rcps)
			if !o.rcpEnabled {
				ids = removeKey(ids, RCPFullAWSAccessID)
			}
		}
		out.Policies, out.NextToken, err = o.pageSCPs(in.Filter, ids, in.MaxResults, in.NextToken)
		return err
	})
}

// DescribePolicy returns an SCP with its content.
func (c *orgsClient) DescribePolicy(ctx context.Context, in *organizations.DescribePolicyInput, _ ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error) {
	if in == nil || str(in.PolicyId) == "" {
		return nil, opErr("Organizations", "DescribePolicy", required("DescribePolicyInput", "PolicyId"))
	}
	out := &organizations.DescribePolicyOutput{}
	return mgmtCall(ctx, c, "DescribePolicy", out, func(o *Org) error {
		p, err := o.findSCP(*in.PolicyId)
		if err != nil {
			return err
		}
		out.Policy = policyOf(p)
		return nil
	})
}

// checkSCP validates SCP content: at most 5,120 characters including white
// space, and valid policy grammar.
func checkSCP(content string) (*policy, error) {
	if utf8.RuneCountInString(content) > maxSCPSize {
		return nil, &types.ConstraintViolationException{
			Message: aws.String(fmt.Sprintf("You provided a policy document that exceeds the maximum size of %d characters.", maxSCPSize)),
			Reason:  types.ConstraintViolationExceptionReasonPolicyContentLimitExceeded,
		}
	}
	p, err := parsePolicy(content, scpPolicy)
	if err != nil {
		return nil, &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
	}
	return p, nil
}

func (o *Org) scpNameTaken(name, except string) bool {
	for id, p := range o.scps {
		if id != except && p.name == name {
			return true
		}
	}
	return false
}

func validSCPName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 128 || hasControl(name) {
		return &types.InvalidInputException{Message: aws.String("Name must be 1-128 printable characters."), Reason: types.InvalidInputExceptionReasonInvalidPattern}
	}
	return nil
}

// CreatePolicy creates an SCP (5,120 characters including white space;
// duplicate names fail with DuplicatePolicyException).
func (c *orgsClient) CreatePolicy(ctx context.Context, in *organizations.CreatePolicyInput, _ ...func(*organizations.Options)) (*organizations.CreatePolicyOutput, error) {
	if in == nil || str(in.Content) == "" || in.Description == nil || str(in.Name) == "" || in.Type == "" {
		return nil, opErr("Organizations", "CreatePolicy", required("CreatePolicyInput", "Content", "Description", "Name", "Type"))
	}
	out := &organizations.CreatePolicyOutput{}
	return mgmtCall(ctx, c, "CreatePolicy", out, func(o *Org) error {
		if err := requirePolicyType(in.Type); err != nil {
			return err
		}
		if err := validSCPName(*in.Name); err != nil {
			return err
		}
		if err := validSCPDescription(str(in.Description)); err != nil {
			return err
		}
		check, kind := checkSCP, "service_control_policy"
		if in.Type == types.PolicyTypeResourceControlPolicy {
			check, kind = checkRCP, "resource_control_policy"
		}
		parsed, err := check(*in.Content)
		if err != nil {
			return err
		}
		if o.scpNameTaken(*in.Name, "") {
			return duplicatePolicy()
		}
		if len(o.scps)+len(o.rcps) >= maxSCPs {
			return &types.ConstraintViolationException{Message: aws.String("You have reached the maximum number of policies."), Reason: types.ConstraintViolationExceptionReasonPolicyNumberLimitExceeded}
		}
		id := o.newID("p-", 8, lowerAlnum)
		p := &scp{
			id: id, arn: "arn:aws:organizations::" + o.mgmt + ":policy/" + o.orgID + "/" + kind + "/" + id,
			name: *in.Name, desc: str(in.Description), content: *in.Content, parsed: parsed,
			rcp: in.Type == types.PolicyTypeResourceControlPolicy,
		}
		pols, _ := o.byType(in.Type)
		pols[id] = p
		out.Policy = policyOf(p)
		return nil
	})
}

// UpdatePolicy changes an SCP's name, description or content; the AWS
// managed FullAWSAccess is immutable.
func (c *orgsClient) UpdatePolicy(ctx context.Context, in *organizations.UpdatePolicyInput, _ ...func(*organizations.Options)) (*organizations.UpdatePolicyOutput, error) {
	if in == nil || str(in.PolicyId) == "" {
		return nil, opErr("Organizations", "UpdatePolicy", required("UpdatePolicyInput", "PolicyId"))
	}
	out := &organizations.UpdatePolicyOutput{}
	return mgmtCall(ctx, c, "UpdatePolicy", out, func(o *Org) error {
		p, err := o.findSCP(*in.PolicyId)
		if err != nil {
			return err
		}
		if p.aws {
			return &types.InvalidInputException{Message: aws.String("You can't modify an AWS managed policy."), Reason: types.InvalidInputExceptionReasonImmutablePolicy}
		}
		next, changed := *p, false
		if in.Name != nil {
			if err := validSCPName(*in.Name); err != nil {
				return err
			}
			if o.scpNameTaken(*in.Name, p.id) {
				return duplicatePolicy()
			}
			next.name = *in.Name
		}
		if in.Description != nil {
			if err := validSCPDescription(*in.Description); err != nil {
				return err
			}
			next.desc = *in.Description
		}
		if in.Content != nil {
			check := checkSCP
			if p.rcp {
				check = checkRCP
			}
			parsed, err := check(*in.Content)
			if err != nil {
				return err
			}
			changed = next.content != *in.Content
			if changed {
				next.prev = o.scpDocLocked(p)
			}
			next.content, next.parsed = *in.Content, parsed
		}
		*p = next
		if changed {
			o.propagateLocked(p)
		}
		out.Policy = policyOf(p)
		return nil
	})
}

// DeletePolicy deletes an SCP; PolicyInUseException while attached.
func (c *orgsClient) DeletePolicy(ctx context.Context, in *organizations.DeletePolicyInput, _ ...func(*organizations.Options)) (*organizations.DeletePolicyOutput, error) {
	if in == nil || str(in.PolicyId) == "" {
		return nil, opErr("Organizations", "DeletePolicy", required("DeletePolicyInput", "PolicyId"))
	}
	return mgmtCall(ctx, c, "DeletePolicy", &organizations.DeletePolicyOutput{}, func(o *Org) error {
		p, err := o.findSCP(*in.PolicyId)
		if err != nil {
			return err
		}
		if p.aws {
			return &types.InvalidInputException{Message: aws.String("You can't delete an AWS managed policy."), Reason: types.InvalidInputExceptionReasonImmutablePolicy}
		}
		pols, attached := o.byType(p.policyType())
		for _, ids := range attached {
			if containsStr(ids, p.id) {
				return &types.PolicyInUseException{Message: aws.String("The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.")}
			}
		}
		delete(pols, p.id)
		return nil
	})
}

// ListPoliciesForTarget lists the SCPs attached directly to a root, OU or
// account, in attachment order.
func (c *orgsClient) ListPoliciesForTarget(ctx context.Context, in *organizations.ListPoliciesForTargetInput, _ ...func(*organizations.Options)) (*organizations.ListPoliciesForTargetOutput, error) {
	if in == nil || in.Filter == "" || str(in.TargetId) == "" {
		return nil, opErr("Organizations", "ListPoliciesForTarget", required("ListPoliciesForTargetInput", "Filter", "TargetId"))
	}
	out := &organizations.ListPoliciesForTargetOutput{}
	return mgmtCall(ctx, c, "ListPoliciesForTarget", out, func(o *Org) (err error) {
		if err := o.findTarget(*in.TargetId); err != nil {
			return err
		}
		if in.Filter == types.PolicyTypeResourceControlPolicy && !o.rcpEnabled || in.Filter == types.PolicyTypeServiceControlPolicy && !o.scpEnabled {
			return &types.PolicyTypeNotEnabledException{Message: aws.String("This operation can be performed only for enabled policy types.")}
		}
		_, attached := o.byType(in.Filter)
		out.Policies, out.NextToken, err = o.pageSCPs(in.Filter, attached[*in.TargetId], in.MaxResults, in.NextToken)
		return err
	})
}

// AttachPolicy attaches an SCP to a root, OU or account (at most 5 per
// target; the policy type must be enabled).
func (c *orgsClient) AttachPolicy(ctx context.Context, in *organizations.AttachPolicyInput, _ ...func(*organizations.Options)) (*organizations.AttachPolicyOutput, error) {
	if in == nil || str(in.PolicyId) == "" || str(in.TargetId) == "" {
		return nil, opErr("Organizations", "AttachPolicy", required("AttachPolicyInput", "PolicyId", "TargetId"))
	}
	return mgmtCall(ctx, c, "AttachPolicy", &organizations.AttachPolicyOutput{}, func(o *Org) error {
		p, ids, err := o.attachment(*in.PolicyId, *in.TargetId)
		if err != nil {
			return err
		}
		if !o.typeEnabled(p.policyType()) {
			return &types.PolicyTypeNotEnabledException{Message: aws.String("This operation can be performed only for enabled policy types.")}
		}
		if containsStr(ids, p.id) {
			return &types.DuplicatePolicyAttachmentException{Message: aws.String("The selected policy is already attached to the specified target.")}
		}
		if len(ids) >= maxSCPsPerTarget {
			return &types.ConstraintViolationException{
				Message: aws.String(fmt.Sprintf("You have attached the maximum number of policies (%d) of this type to the target.", maxSCPsPerTarget)),
				Reason:  types.ConstraintViolationExceptionReasonPolicyNumberLimitExceeded,
			}
		}
		_, attached := o.byType(p.policyType())
		attached[*in.TargetId] = append(ids, p.id)
		o.propagateLocked(scpAttachment{*in.TargetId, p.id})
		return nil
	})
}

// DetachPolicy detaches an SCP; PolicyNotAttachedException when it is not
// attached, ConstraintViolationException (MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED)
// when it is the target's last SCP.
func (c *orgsClient) DetachPolicy(ctx context.Context, in *organizations.DetachPolicyInput, _ ...func(*organizations.Options)) (*organizations.DetachPolicyOutput, error) {
	if in == nil || str(in.PolicyId) == "" || str(in.TargetId) == "" {
		return nil, opErr("Organizations", "DetachPolicy", required("DetachPolicyInput", "PolicyId", "TargetId"))
	}
	return mgmtCall(ctx, c, "DetachPolicy", &organizations.DetachPolicyOutput{}, func(o *Org) error {
		p, _, err := o.attachment(*in.PolicyId, *in.TargetId)
		if err != nil {
			return err
		}
		return o.detachLocked(*in.TargetId, p.id)
	})
}

// attachment resolves the SCP and target of AttachPolicy or DetachPolicy; ids
// are the SCPs attached to the target.
func (o *Org) attachment(policyID, targetID string) (p *scp, ids []string, err error) {
	if p, err = o.findSCP(policyID); err != nil {
		return nil, nil, err
	}
	if err := o.findTarget(targetID); err != nil {
		return nil, nil, err
	}
	_, attached := o.byType(p.policyType())
	return p, attached[targetID], nil
}

// pageSCPs pages the SCPs ids (none unless filter is
// SERVICE_CONTROL_POLICY), honouring MaxResults and NextToken.
func (o *Org) pageSCPs(filter types.PolicyType, ids []string, maxResults *int32, nextToken *string) ([]types.PolicySummary, *string, error) {
	if filter != types.PolicyTypeServiceControlPolicy && filter != types.PolicyTypeResourceControlPolicy {
		ids = nil
	}
	pols, _ := o.byType(filter)
	page, next, err := pageOrg(ids, maxResults, nextToken)
	if err != nil {
		return nil, nil, err
	}
	out := make([]types.PolicySummary, 0, len(page))
	for _, id := range page {
		out = append(out, *summary(pols[id]))
	}
	return out, next, nil
}

// SCPsFor returns the ids of the SCPs attached directly to a target (root,
// OU or account id), in attachment order.
func (o *Org) SCPsFor(target string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.attached[target]...)
}

// SCPContent returns an SCP's name and content.
func (o *Org) SCPContent(id string) (name, content string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.scps[id]
	if p == nil {
		return "", "", false
	}
	return p.name, p.content, true
}

// detachLocked detaches SCP id from target like DetachPolicy:
// PolicyNotAttached when it is not attached, ConstraintViolation for the
// target's last SCP. Caller holds o.mu.
func (o *Org) detachLocked(target, id string) error {
	attached := o.attached
	if p := o.rcps[id]; p != nil {
		attached = o.rcpAttached
		if p.aws {
			return &types.ConstraintViolationException{
				Message: aws.String("You can't detach RCPFullAWSAccess."),
				Reason:  types.ConstraintViolationExceptionReasonMinPolicyTypeAttachmentLimitExceeded,
			}
		}
	}
	ids := attached[target]
	if !containsStr(ids, id) {
		return &types.PolicyNotAttachedException{Message: aws.String("The policy isn't attached to the specified target in the specified root.")}
	}
	if len(ids) == 1 {
		return &types.ConstraintViolationException{
			Message: aws.String("You can't detach the last service control policy from a root, OU or account."),
			Reason:  types.ConstraintViolationExceptionReasonMinPolicyTypeAttachmentLimitExceeded,
		}
	}
	rest := make([]string, 0, len(ids)-1)
	for _, x := range ids {
		if x != id {
			rest = append(rest, x)
		}
	}
	attached[target] = rest
	return nil
}

func (o *Org) featureSet() types.OrganizationFeatureSet {
	if o.billingOnly {
		return types.OrganizationFeatureSetConsolidatedBilling
	}
	return types.OrganizationFeatureSetAll
}
