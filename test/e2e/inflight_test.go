package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions"
)

// landedOnMoto checks, through the test's own IAM client of the step's
// account, that the change of a step a killed run left recorded "started"
// is in effect: its call reached AWS before the kill, so the resumed run,
// re-reading the live state, had nothing left to do for it. It returns why
// not, or nil.
func landedOnMoto(ctx context.Context, c *iam.Client, s actions.Step) error {
	kind, name := principalOf(s.Principal)
	switch s.Op {
	case "create-managed-policy":
		_, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(s.Resource)})
		return err
	case "attach-managed-policy":
		attached, err := attachedPolicies(ctx, c, kind, name)
		if err != nil {
			return err
		}
		if !slices.Contains(attached, s.Resource) {
			return fmt.Errorf("%s is not attached to %s (attached: %v)", s.Resource, s.Principal, attached)
		}
		return nil
	case "put-inline-policy":
		doc, err := inlinePolicy(ctx, c, kind, name, s.Resource)
		if err != nil {
			return err
		}
		if doc == s.Prior {
			return fmt.Errorf("inline policy %s of %s is still the prior document", s.Resource, s.Principal)
		}
		return nil
	case "delete-login-profile":
		_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(name)})
		var nse *iamtypes.NoSuchEntityException
		if !errors.As(err, &nse) {
			return fmt.Errorf("%s still has a console password (%v)", s.Principal, err)
		}
		return nil
	case "deactivate-access-key", "deactivate-ssh-key", "deactivate-service-credential":
		status, err := credentialStatus(ctx, c, s.Op, name, s.Resource)
		if err != nil {
			return err
		}
		if status != string(iamtypes.StatusTypeInactive) {
			return fmt.Errorf("credential %s of %s is %s", s.Resource, s.Principal, status)
		}
		return nil
	}
	return fmt.Errorf("op %s: this test cannot check its effect", s.Op)
}

// principalOf splits an IAM ARN into its kind (user, role, group) and name.
func principalOf(arn string) (kind, name string) {
	_, res, _ := strings.Cut(arn, ":iam::")
	_, res, _ = strings.Cut(res, ":")
	kind, rest, _ := strings.Cut(res, "/")
	return kind, rest[strings.LastIndex(rest, "/")+1:]
}

func attachedPolicies(ctx context.Context, c *iam.Client, kind, name string) ([]string, error) {
	var out []string
	var marker *string
	for {
		var list []iamtypes.AttachedPolicy
		var truncated bool
		var err error
		switch kind {
		case "user":
			var r *iam.ListAttachedUserPoliciesOutput
			if r, err = c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(name), Marker: marker}); err == nil {
				list, truncated, marker = r.AttachedPolicies, r.IsTruncated, r.Marker
			}
		case "role":
			var r *iam.ListAttachedRolePoliciesOutput
			if r, err = c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name), Marker: marker}); err == nil {
				list, truncated, marker = r.AttachedPolicies, r.IsTruncated, r.Marker
			}
		case "group":
			var r *iam.ListAttachedGroupPoliciesOutput
			if r, err = c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(name), Marker: marker}); err == nil {
				list, truncated, marker = r.AttachedPolicies, r.IsTruncated, r.Marker
			}
		default:
			return nil, fmt.Errorf("%s %s: not a user, role or group", kind, name)
		}
		if err != nil {
			return nil, fmt.Errorf("list the policies attached to %s %s: %w", kind, name, err)
		}
		for _, p := range list {
			out = append(out, aws.ToString(p.PolicyArn))
		}
		if !truncated || marker == nil {
			return out, nil
		}
	}
}

func inlinePolicy(ctx context.Context, c *iam.Client, kind, name, policy string) (string, error) {
	var doc *string
	var err error
	switch kind {
	case "user":
		var r *iam.GetUserPolicyOutput
		if r, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy)}); err == nil {
			doc = r.PolicyDocument
		}
	case "role":
		var r *iam.GetRolePolicyOutput
		if r, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy)}); err == nil {
			doc = r.PolicyDocument
		}
	default:
		return "", fmt.Errorf("%s %s: not a user or role", kind, name)
	}
	if err != nil {
		return "", fmt.Errorf("inline policy %s of %s %s: %w", policy, kind, name, err)
	}
	d := aws.ToString(doc)
	if u, err := url.QueryUnescape(d); err == nil {
		d = u
	}
	return d, nil
}

// credentialStatus is the status of one long-term credential of a user.
func credentialStatus(ctx context.Context, c *iam.Client, op, user, id string) (string, error) {
	switch op {
	case "deactivate-access-key":
		p := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: aws.String(user)})
		for p.HasMorePages() {
			r, err := p.NextPage(ctx)
			if err != nil {
				return "", fmt.Errorf("access keys of %s: %w", user, err)
			}
			for _, k := range r.AccessKeyMetadata {
				if aws.ToString(k.AccessKeyId) == id {
					return string(k.Status), nil
				}
			}
		}
	case "deactivate-ssh-key":
		r, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String(user)})
		if err != nil {
			return "", fmt.Errorf("SSH keys of %s: %w", user, err)
		}
		for _, k := range r.SSHPublicKeys {
			if aws.ToString(k.SSHPublicKeyId) == id {
				return string(k.Status), nil
			}
		}
	case "deactivate-service-credential":
		r, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(user)})
		if err != nil {
			return "", fmt.Errorf("service-specific credentials of %s: %w", user, err)
		}
		for _, k := range r.ServiceSpecificCredentials {
			if aws.ToString(k.ServiceSpecificCredentialId) == id {
				return string(k.Status), nil
			}
		}
	}
	return "", fmt.Errorf("%s: no credential %s of %s", op, id, user)
}
