package sim

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// Resource control policies (RCPs): an Organization policy type beside
// SCPs. AWS attaches the managed RCPFullAWSAccess everywhere when the type
// is enabled (it cannot be detached); customer RCPs may only Deny, name
// Principal "*", count 5,120 characters and are at most 5 per target. An
// RCP attached to the root, an OU above an account or the account itself
// applies to every request on a resource that account owns, from any
// principal, those outside the Organization included; never to the
// management account's resources, nor to service-linked roles.

// RCPFullAWSAccessID is the id of the AWS managed RCP.
const RCPFullAWSAccessID = "p-RCPFullAWSAccess"

const rcpFullAccessContent = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`

// rcpServices are the services RCPs apply to (AWS Organizations user
// guide; the list grew from five in 2024 to ten by February 2026).
var rcpServices = map[string]bool{"s3": true, "sts": true, "kms": true, "sqs": true, "secretsmanager": true,
	"ecr": true, "aoss": true, "cognito-idp": true, "logs": true, "dynamodb": true}

func (o *Org) rcpFullAccessLocked() *scp {
	if p := o.rcps[RCPFullAWSAccessID]; p != nil {
		return p
	}
	parsed, err := parsePolicy(rcpFullAccessContent, rcpPolicy)
	if err != nil {
		panic(err)
	}
	p := &scp{id: RCPFullAWSAccessID, arn: "arn:aws:organizations::aws:policy/resource_control_policy/" + RCPFullAWSAccessID,
		name: "RCPFullAWSAccess", desc: "Allows access to every operation", content: rcpFullAccessContent, parsed: parsed, aws: true, rcp: true}
	o.rcps[p.id] = p
	return p
}

func (o *Org) enableRCPLocked() {
	o.rcpFullAccessLocked()
	o.rcpEnabled = true
	for _, t := range o.targetsLocked() {
		if !containsStr(o.rcpAttached[t], RCPFullAWSAccessID) {
			o.rcpAttached[t] = append(o.rcpAttached[t], RCPFullAWSAccessID)
		}
	}
}

// EnableRCPs enables the RESOURCE_CONTROL_POLICY type like EnablePolicyType.
func (o *Org) EnableRCPs() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.isOrg || o.billingOnly {
		return fmt.Errorf("enable RCPs: needs an Organization with all features")
	}
	o.enableRCPLocked()
	return nil
}

// SetConsolidatedBillingOnly makes the Organization one with only the
// consolidated billing features: no SCP or RCP type can be enabled
// (PolicyTypeNotAvailableForOrganizationException).
func (o *Org) SetConsolidatedBillingOnly(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.billingOnly = on
}

// RCPEnabled reports whether the RCP policy type is enabled.
func (o *Org) RCPEnabled() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rcpEnabled
}

// RCPsFor returns the ids of the RCPs attached directly to a target.
func (o *Org) RCPsFor(target string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.rcpAttached[target]...)
}

// RCPContent returns an RCP's name and content.
func (o *Org) RCPContent(id string) (name, content string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.rcps[id]
	if p == nil {
		return "", "", false
	}
	return p.name, p.content, true
}

// checkRCP validates RCP content like CreatePolicy: 5,120 characters
// including white space, Deny statements with Principal "*".
func checkRCP(content string) (*policy, error) {
	if utf8.RuneCountInString(content) > maxSCPSize {
		return nil, &types.ConstraintViolationException{
			Message: aws.String(fmt.Sprintf("You provided a policy document that exceeds the maximum size of %d characters.", maxSCPSize)),
			Reason:  types.ConstraintViolationExceptionReasonPolicyContentLimitExceeded,
		}
	}
	p, err := parsePolicy(content, rcpPolicy)
	if err == nil {
		for _, st := range p.statements {
			if !st.deny {
				err = fmt.Errorf("the effect Allow is only supported for RCPFullAWSAccess")
			} else if len(st.principals) != 1 || st.principals[0] != "*" {
				err = fmt.Errorf(`a resource control policy statement must have "Principal": "*"`)
			}
		}
	}
	if err != nil {
		return nil, &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
	}
	return p, nil
}

// policyPrincipals reads a Principal element of a resource policy or RCP:
// "*" or {"AWS": ...} values.
func policyPrincipals(v any, kind policyKind) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, fmt.Errorf("the statement must specify a Principal")
	case string:
		if x != "*" {
			return nil, fmt.Errorf("invalid Principal %q", clip(x))
		}
		return []string{"*"}, nil
	case map[string]any:
		if kind == rcpPolicy {
			return nil, fmt.Errorf(`a resource control policy only supports "Principal": "*"`)
		}
		out, err := stringList("Principal.AWS", x["AWS"])
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("invalid Principal")
}

// grants reports whether a resource policy statement names the caller:
// "*", its account (id or root ARN) or the principal itself.
func (st *statement) grants(acct, principalARN string) bool {
	for _, p := range st.principals {
		if p == "*" || p == acct || p == "arn:aws:iam::"+acct+":root" || p == principalARN {
			return true
		}
	}
	return false
}

// ownerOfLocked finds the account owning a resource ARN: the ARN's account
// field, or for S3 (whose ARNs carry none) the account holding the bucket.
func (o *Org) ownerOfLocked(resource string) *account {
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return nil
	}
	if parts[4] != "" {
		return o.accounts[parts[4]]
	}
	if parts[2] != "s3" {
		return nil
	}
	bucket, _, _ := strings.Cut(parts[5], "/")
	for _, id := range sortedMapKeys(o.accounts) {
		if o.accounts[id].hasResource("bucket", bucket) {
			return o.accounts[id]
		}
	}
	return nil
}

// resourceSideLocked is what the resource's owner says about a request:
// the RCPs that apply to the owning account (its chain of root, OUs and
// account), then, for a caller from another account, the resource policy
// (a bucket policy) that must grant it: cross-account access needs both
// sides to allow.
func (o *Org) resourceSideLocked(r *reqCtx, caller *account, slr bool) *Denied {
	owner := o.ownerOfLocked(r.resource)
	if owner == nil {
		return nil
	}
	svc, _, _ := strings.Cut(r.action, ":")
	if rcpServices[svc] && o.isOrg && o.rcpEnabled && owner.id != o.mgmt && !owner.left && !slr {
		chain := o.chainLocked(owner)
		for _, target := range chain {
			for _, id := range o.rcpAttached[target] {
				p := o.rcps[id]
				if o.pendingLocked(scpAttachment{target, id}) {
					continue
				}
				if st, ok := o.scpDocLocked(p).matchDeny(r); ok {
					return denied(id, "explicit deny in RCP %s (%s) attached to %s, which owns %s%s", id, p.name, o.targetDesc(target), clip(r.resource), sidDesc(st))
				}
			}
		}
		for _, target := range chain {
			allowed := false
			for _, id := range o.rcpAttached[target] {
				if o.scpDocLocked(o.rcps[id]).allows(r) {
					allowed = true
				}
			}
			if !allowed {
				return denied("", "no RCP attached to %s allows %s (implicit deny)", o.targetDesc(target), r.action)
			}
		}
	}
	if owner == caller || svc != "s3" {
		// only buckets have resource policies here; cross-account calls of
		// other services are authorized elsewhere (a role's trust policy for
		// sts:AssumeRole, the Organization's centralised root access for
		// sts:AssumeRoot)
		return nil
	}
	bp := owner.bucketPolicyFor(r.resource)
	if bp == nil {
		return denied("", "%s belongs to account %s and no resource policy there grants %s", clip(r.resource), owner.id, r.principalARN)
	}
	for i := range bp.statements {
		st := &bp.statements[i]
		if st.deny && st.grants(caller.id, r.principalARN) && st.applies(r, true) {
			return denied("", "explicit deny in the bucket policy on %s", clip(r.resource))
		}
	}
	for i := range bp.statements {
		st := &bp.statements[i]
		if !st.deny && st.grants(caller.id, r.principalARN) && st.applies(r, false) {
			return nil
		}
	}
	return denied("", "the bucket policy on %s does not grant %s to %s", clip(r.resource), r.action, r.principalARN)
}
