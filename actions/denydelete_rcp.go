package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/policies"
)

// The guardrail's resource control policy: where the Organization allows
// RCPs, deny-delete also creates KillSwitchDenyDeleteRCP (policies
// deny-delete-rcp, same exemptions as the SCP) in the management account
// and attaches it to every member in scope. SCPs bind only the
// Organization's own principals; the RCP binds every principal acting on a
// member account's resources, those an intruder let in from outside through
// a bucket, key or secret policy included. The same plumbing as the SCP
// (orgWork), by policy type.

// DenyDeleteRCPName is the name of the guardrail's RCP (parts -2, -3, ...).
const DenyDeleteRCPName = "KillSwitchDenyDeleteRCP"

const maxRCPsPerTarget = 5

const rcpManagementWarning = "resource control policies do not apply to the management account: a principal outside the organization that a bucket, key or secret policy here lets in is not stopped by the guardrail; remove such grants by hand"

// orgPolicyKind is what differs between the SCP and the RCP of the guardrail.
type orgPolicyKind struct {
	typ                                    orgtypes.PolicyType
	label, base, typeName, description     string
	opEnable, opCreate, opUpdate, opAttach string
}

var (
	scpKind = orgPolicyKind{typ: orgtypes.PolicyTypeServiceControlPolicy, label: "SCP", base: DenyDeletePolicyName, typeName: "service control policies",
		description: "killswitch guardrail, part %d of %d: denies destroying, blinding, exfiltrating and changing IAM to all but break-glass and the bot",
		opEnable:    opEnableSCPType, opCreate: opCreateSCP, opUpdate: opUpdateSCP, opAttach: opAttachSCP}
	rcpKind = orgPolicyKind{typ: orgtypes.PolicyTypeResourceControlPolicy, label: "RCP", base: DenyDeleteRCPName, typeName: "resource control policies",
		description: "killswitch guardrail RCP, part %d of %d: denies destroying data and changing resource policies to every principal, outside ones included, but break-glass and the bot",
		opEnable:    opEnableRCPType, opCreate: opCreateRCP, opUpdate: opUpdateRCP, opAttach: opAttachRCP}
)

func (k orgPolicyKind) partName(i int) string { return policies.PartName(k.base, i) }

// isPart reports whether name is part of the kind's guardrail policy.
func (k orgPolicyKind) isPart(name string) bool {
	if name == k.base {
		return true
	}
	n, ok := strings.CutPrefix(name, k.base+"-")
	if !ok || n == "" || n[0] == '0' {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}

// plan plans the organization-level work of one policy type: enable the
// type on the root when it is not, then create or update each part.
func (w *orgWork) plan(ctx context.Context, base Step, root orgtypes.Root) error {
	mgmt, org, k := w.mgmt, w.mgmt.c.Organizations, w.kind
	rootID := aws.ToString(root.Id)
	enabled := false
	for _, pt := range root.PolicyTypes {
		if pt.Type == k.typ && pt.Status == orgtypes.PolicyTypeStatusEnabled {
			enabled = true
		}
	}
	if !enabled {
		s := base
		s.Op, s.Principal, s.Resource = k.opEnable, "organization root "+rootID, rootID
		s.Change = "enable " + k.typeName + " (AWS attaches " + map[bool]string{true: "RCPFullAWSAccess", false: "FullAWSAccess"}[k.typ == orgtypes.PolicyTypeResourceControlPolicy] + " everywhere, which restricts nothing)"
		w.add(s, "", func(ctx context.Context, s *Step) error {
			return mgmt.call("Organizations", "EnablePolicyType", rootID, func() error {
				_, err := org.EnablePolicyType(ctx, &organizations.EnablePolicyTypeInput{RootId: aws.String(rootID), PolicyType: k.typ})
				var already *orgtypes.PolicyTypeAlreadyEnabledException
				if errors.As(err, &already) {
					return nil
				}
				return err
			})
		})
	}
	ids := map[string]string{}
	var token *string
	for enabled {
		var out *organizations.ListPoliciesOutput
		if err := mgmt.call("Organizations", "ListPolicies", "", func() (err error) {
			out, err = org.ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: k.typ, NextToken: token})
			return err
		}); err != nil {
			return fmt.Errorf("list %ss: %w", k.label, err)
		}
		for _, p := range out.Policies {
			if k.isPart(aws.ToString(p.Name)) {
				ids[aws.ToString(p.Name)] = aws.ToString(p.Id)
			}
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	for i, doc := range w.docs {
		if err := w.prepare(ctx, base, i, doc, ids[k.partName(i)]); err != nil {
			return err
		}
	}
	return nil
}

// rcpWork plans the RCP beside the SCP where the Organization has all
// features; otherwise it says why there is none (w.rcpNote). A failure to
// plan the RCP never stops the SCP.
func (e *Engine) rcpWork(ctx context.Context, w *orgWork, base Step, root orgtypes.Root, exemptARNs []string) {
	mgmt := w.mgmt
	var d *organizations.DescribeOrganizationOutput
	if err := mgmt.call("Organizations", "DescribeOrganization", "", func() (err error) {
		d, err = mgmt.c.Organizations.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		return err
	}); err != nil {
		w.rcpNote = "no resource control policy: describe the organization: " + errorText(err)
		return
	}
	if d.Organization == nil || d.Organization.FeatureSet != orgtypes.OrganizationFeatureSetAll {
		w.rcpNote = "no resource control policy: the organization has only consolidated billing features (RCPs need all features); principals outside it that a bucket, key or secret policy lets in are not stopped"
		return
	}
	p := e.denyDeleteParams(exemptARNs)
	p.OrgID = aws.ToString(d.Organization.Id)
	docs, err := policies.RenderParts("deny-delete-rcp", p)
	if err != nil {
		w.rcpNote = "no resource control policy: " + errorText(err)
		return
	}
	rw := &orgWork{mgmt: mgmt, docs: docs, policyIDs: make([]string, len(docs)), kind: rcpKind}
	if err := rw.plan(ctx, base, root); err != nil {
		w.rcpNote = "no resource control policy: " + errorText(err)
		return
	}
	w.rcp = rw
}

// attachedTo lists the policies of a type attached directly to account a
// (none while the type is not enabled).
func (a *acct) attachedTo(ctx context.Context, mg *acct, typ orgtypes.PolicyType) ([]orgtypes.PolicySummary, error) {
	var attached []orgtypes.PolicySummary
	var token *string
	for {
		var out *organizations.ListPoliciesForTargetOutput
		err := mg.call("Organizations", "ListPoliciesForTarget", a.id, func() (err error) {
			out, err = mg.c.Organizations.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: aws.String(a.id), Filter: typ, NextToken: token})
			return err
		})
		var notEnabled *orgtypes.PolicyTypeNotEnabledException
		if errors.As(err, &notEnabled) {
			return attached, nil // enabled by the org work before any attach
		}
		if err != nil {
			return nil, fmt.Errorf("list %s on account %s: %w", typ, a.id, err)
		}
		attached = append(attached, out.Policies...)
		if out.NextToken == nil {
			return attached, nil
		}
		token = out.NextToken
	}
}

// attachRCP plans attaching the guardrail's RCP to member account a,
// within AWS's 5 RCPs per target (RCPFullAWSAccess included): with no slot
// left it is refused and said so; the SCP still goes on.
func (a *acct) attachRCP(ctx context.Context, org *orgWork, w *work) error {
	rw := org.rcp
	if rw == nil {
		if org.rcpNote != "" {
			w.warnings = append(w.warnings, org.rcpNote)
		}
		return nil
	}
	mg := org.mgmt
	attached, err := a.attachedTo(ctx, mg, orgtypes.PolicyTypeResourceControlPolicy)
	if err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, p := range attached {
		if rcpKind.isPart(aws.ToString(p.Name)) {
			ours[aws.ToString(p.Name)] = true
		}
	}
	var missing []int
	for i := range rw.docs {
		if !ours[rcpKind.partName(i)] {
			missing = append(missing, i)
		}
	}
	// RCPFullAWSAccess is attached by AWS once the type is enabled
	n := len(attached)
	if n == 0 {
		n = 1
	}
	if n+len(missing) > maxRCPsPerTarget {
		w.warnings = append(w.warnings, fmt.Sprintf("RCP %s is NOT attached to account %s: it has %d RCPs attached (RCPFullAWSAccess included) and needs %d more, AWS allows %d per target; the SCP still is, but principals outside the organization let in by a resource policy are not stopped: detach one of your RCPs and apply deny-delete again",
			DenyDeleteRCPName, a.id, n, len(missing), maxRCPsPerTarget))
		return nil
	}
	w.warnings = append(w.warnings, fmt.Sprintf("deny-delete also attaches RCP %s to account %s (%d of AWS's %d RCP slots): it denies destroying data and changing bucket, key and secret policies to every principal, outside ones included, but break-glass and the bot",
		strings.Join(rcpNames(len(rw.docs)), ", "), a.id, len(rw.docs), maxRCPsPerTarget))
	for _, i := range missing {
		a.addAttachOrgPolicy(w, mg, opAttachRCP, "RCP", rcpKind.partName(i), func() string { return rw.policyIDs[i] })
	}
	return nil
}

func rcpNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = rcpKind.partName(i)
	}
	return out
}

// allOps are the organization-level ops of the SCP, then of the RCP.
func (w *orgWork) allOps() []op {
	if w.rcp == nil {
		return w.ops
	}
	return append(append([]op(nil), w.ops...), w.rcp.ops...)
}
