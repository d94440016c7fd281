package sim

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions/awsapi"
)

type iamClient struct{ c *conn }

var _ awsapi.IAM = (*iamClient)(nil)

// ---- lookups and typed errors ----

func noSuchEntity(format string, args ...any) error {
	return &types.NoSuchEntityException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func findUser(a *account, name string) (*user, error) {
	if u := a.users[strings.ToLower(name)]; u != nil {
		return u, nil
	}
	return nil, noSuchEntity("The user with name %s cannot be found.", name)
}

func findRole(a *account, name string) (*role, error) {
	if r := a.roles[strings.ToLower(name)]; r != nil {
		return r, nil
	}
	return nil, noSuchEntity("The role with name %s cannot be found.", name)
}

func findGroup(a *account, name string) (*group, error) {
	if g := a.groups[strings.ToLower(name)]; g != nil {
		return g, nil
	}
	return nil, noSuchEntity("The group with name %s cannot be found.", name)
}

func unmodifiableRole(r *role) error {
	if r.unmodifiable() {
		return &types.UnmodifiableEntityException{Message: aws.String(fmt.Sprintf(
			"Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", r.name))}
	}
	return nil
}

func userRes(name string) func(a *account) string {
	return func(a *account) string {
		if u := a.users[strings.ToLower(name)]; u != nil {
			return u.arn(a.id)
		}
		return "arn:aws:iam::" + a.id + ":user/" + name
	}
}

func roleRes(name string) func(a *account) string {
	return func(a *account) string {
		if r := a.roles[strings.ToLower(name)]; r != nil {
			return r.arn(a.id)
		}
		return "arn:aws:iam::" + a.id + ":role/" + name
	}
}

func groupRes(name string) func(a *account) string {
	return func(a *account) string {
		if g := a.groups[strings.ToLower(name)]; g != nil {
			return g.arn(a.id)
		}
		return "arn:aws:iam::" + a.id + ":group/" + name
	}
}

func policyRes(arn string) func(a *account) string {
	return func(*account) string {
		if arn == "" {
			return "*"
		}
		return arn
	}
}

// callerUser returns the user name an operation with an optional UserName
// acts on; the bot is a role, so AWS requires the name.
func callerUser(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", validationError("Must specify userName when calling with non-User credentials")
	}
	return *p, nil
}

func pathPrefix(p *string) (string, error) {
	s := str(p)
	if s == "" {
		return "/", nil
	}
	if !strings.HasPrefix(s, "/") || len(s) > 512 {
		return "", validationError("Invalid PathPrefix " + clip(s))
	}
	return s, nil
}

func tagList(m map[string]string) []types.Tag {
	keys := sortedMapKeys(m)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func pageTags(m map[string]string, maxItems *int32, marker *string) ([]types.Tag, *string, bool, error) {
	start, max, err := iamPage(maxItems, marker)
	if err != nil {
		return nil, nil, false, err
	}
	page, next, trunc := pageSorted(sortedMapKeys(m), start, max, nil)
	tags := make([]types.Tag, 0, len(page))
	for _, k := range page {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	if trunc {
		return tags, encodeToken(next), true, nil
	}
	return tags, nil, false, nil
}

// ---- principals ----

// ListUsers lists users sorted by name; like AWS, without tags.
func (c *iamClient) ListUsers(ctx context.Context, in *iam.ListUsersInput, _ ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	if in == nil {
		in = &iam.ListUsersInput{}
	}
	out := &iam.ListUsersOutput{Users: []types.User{}}
	err := c.c.do(ctx, "IAM", "ListUsers", nil, func(a *account) error {
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		prefix, err := pathPrefix(in.PathPrefix)
		if err != nil {
			return err
		}
		page, next, trunc := pageSorted(a.userKeys, start, max, func(k string) bool { return strings.HasPrefix(a.users[k].path, prefix) })
		for _, k := range page {
			u := a.users[k]
			out.Users = append(out.Users, types.User{
				Arn: aws.String(u.arn(a.id)), CreateDate: aws.Time(u.created), Path: aws.String(u.path),
				UserId: aws.String(u.id), UserName: aws.String(u.name),
			})
		}
		if trunc {
			out.IsTruncated, out.Marker = true, encodeToken(next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListRoles lists roles sorted by name; like AWS, without tags and with the
// trust policy URL-encoded.
func (c *iamClient) ListRoles(ctx context.Context, in *iam.ListRolesInput, _ ...func(*iam.Options)) (*iam.ListRolesOutput, error) {
	if in == nil {
		in = &iam.ListRolesInput{}
	}
	out := &iam.ListRolesOutput{Roles: []types.Role{}}
	err := c.c.do(ctx, "IAM", "ListRoles", nil, func(a *account) error {
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		prefix, err := pathPrefix(in.PathPrefix)
		if err != nil {
			return err
		}
		page, next, trunc := pageSorted(a.roleKeys, start, max, func(k string) bool { return strings.HasPrefix(a.roles[k].path, prefix) })
		for _, k := range page {
			r := a.roles[k]
			tr := types.Role{
				Arn: aws.String(r.arn(a.id)), CreateDate: aws.Time(r.created), Path: aws.String(r.path),
				RoleId: aws.String(r.id), RoleName: aws.String(r.name),
				AssumeRolePolicyDocument: aws.String(awsURLEncode(r.trust)), MaxSessionDuration: aws.Int32(3600),
			}
			if r.description != "" {
				tr.Description = aws.String(r.description)
			}
			out.Roles = append(out.Roles, tr)
		}
		if trunc {
			out.IsTruncated, out.Marker = true, encodeToken(next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListGroups lists groups sorted by name.
func (c *iamClient) ListGroups(ctx context.Context, in *iam.ListGroupsInput, _ ...func(*iam.Options)) (*iam.ListGroupsOutput, error) {
	if in == nil {
		in = &iam.ListGroupsInput{}
	}
	out := &iam.ListGroupsOutput{Groups: []types.Group{}}
	err := c.c.do(ctx, "IAM", "ListGroups", nil, func(a *account) error {
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		prefix, err := pathPrefix(in.PathPrefix)
		if err != nil {
			return err
		}
		page, next, trunc := pageSorted(a.groupKey, start, max, func(k string) bool { return strings.HasPrefix(a.groups[k].path, prefix) })
		for _, k := range page {
			g := a.groups[k]
			out.Groups = append(out.Groups, types.Group{
				Arn: aws.String(g.arn(a.id)), CreateDate: aws.Time(g.created), GroupId: aws.String(g.id),
				GroupName: aws.String(g.name), Path: aws.String(g.path),
			})
		}
		if trunc {
			out.IsTruncated, out.Marker = true, encodeToken(next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListUserTags lists a user's tags sorted by key.
func (c *iamClient) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	if in == nil || str(in.UserName) == "" {
		return nil, opErr("IAM", "ListUserTags", required("ListUserTagsInput", "UserName"))
	}
	out := &iam.ListUserTagsOutput{}
	err := c.c.do(ctx, "IAM", "ListUserTags", userRes(*in.UserName), func(a *account) error {
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		out.Tags, out.Marker, out.IsTruncated, err = pageTags(u.tags, in.MaxItems, in.Marker)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListRoleTags lists a role's tags sorted by key.
func (c *iamClient) ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, _ ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error) {
	if in == nil || str(in.RoleName) == "" {
		return nil, opErr("IAM", "ListRoleTags", required("ListRoleTagsInput", "RoleName"))
	}
	out := &iam.ListRoleTagsOutput{}
	err := c.c.do(ctx, "IAM", "ListRoleTags", roleRes(*in.RoleName), func(a *account) error {
		r, err := findRole(a, *in.RoleName)
		if err != nil {
			return err
		}
		out.Tags, out.Marker, out.IsTruncated, err = pageTags(r.tags, in.MaxItems, in.Marker)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ---- credentials ----

// GetLoginProfile fails with NoSuchEntity when the user has no password.
func (c *iamClient) GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, _ ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	if in == nil {
		in = &iam.GetLoginProfileInput{}
	}
	out := &iam.GetLoginProfileOutput{}
	err := c.c.do(ctx, "IAM", "GetLoginProfile", userRes(str(in.UserName)), func(a *account) error {
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		if u.login == nil {
			return noSuchEntity("Login Profile for User %s cannot be found.", u.name)
		}
		out.LoginProfile = &types.LoginProfile{CreateDate: aws.Time(u.login.created), UserName: aws.String(u.name), PasswordResetRequired: u.login.resetRequired}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteLoginProfile removes a user's console password (it cannot be
// restored: AWS keeps no copy).
func (c *iamClient) DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, _ ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	if in == nil {
		in = &iam.DeleteLoginProfileInput{}
	}
	err := c.c.do(ctx, "IAM", "DeleteLoginProfile", userRes(str(in.UserName)), func(a *account) error {
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		if u.login == nil {
			return noSuchEntity("Login Profile for User %s cannot be found.", u.name)
		}
		u.login = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iam.DeleteLoginProfileOutput{}, nil
}

func validStatus(s types.StatusType) error {
	if s != types.StatusTypeActive && s != types.StatusTypeInactive {
		return validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", clip(string(s))))
	}
	return nil
}

func statusOf(active bool) types.StatusType {
	if active {
		return types.StatusTypeActive
	}
	return types.StatusTypeInactive
}

// ListAccessKeys lists a user's keys, oldest first.
func (c *iamClient) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	if in == nil {
		in = &iam.ListAccessKeysInput{}
	}
	out := &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{}}
	err := c.c.do(ctx, "IAM", "ListAccessKeys", userRes(str(in.UserName)), func(a *account) error {
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		ids := make([]string, len(u.keys))
		byID := map[string]*accessKey{}
		for i, k := range u.keys {
			ids[i] = k.id
			byID[k.id] = k
		}
		page, next, ok := pageOrdered(ids, start, max)
		if !ok {
			return validationError("Invalid Marker")
		}
		for _, id := range page {
			k := byID[id]
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{
				AccessKeyId: aws.String(k.id), CreateDate: aws.Time(k.created), Status: statusOf(k.active), UserName: aws.String(u.name),
			})
		}
		out.Marker, out.IsTruncated = next, next != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateAccessKey makes an Active AKIA key with a 40-character secret; a
// third key fails with LimitExceededException.
func (c *iamClient) CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, _ ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	if in == nil {
		in = &iam.CreateAccessKeyInput{}
	}
	out := &iam.CreateAccessKeyOutput{}
	err := c.c.do(ctx, "IAM", "CreateAccessKey", userRes(str(in.UserName)), func(a *account) error {
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		if len(u.keys) >= maxAccessKeys {
			return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeys))}
		}
		o := c.c.o
		secret := o.newID("", 40, secretAlph)
		k := &accessKey{id: o.newAccessKeyID(), active: true, created: o.now(), secretHash: hashSecret(secret)}
		o.keyOwners[k.id] = a.id
		u.keys = append(u.keys, k)
		out.AccessKey = &types.AccessKey{
			AccessKeyId: aws.String(k.id), SecretAccessKey: aws.String(secret), Status: types.StatusTypeActive,
			UserName: aws.String(u.name), CreateDate: aws.Time(k.created),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateAccessKey sets a key Active or Inactive.
func (c *iamClient) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	if in == nil || str(in.AccessKeyId) == "" || in.Status == "" {
		return nil, opErr("IAM", "UpdateAccessKey", required("UpdateAccessKeyInput", "AccessKeyId", "Status"))
	}
	err := c.c.do(ctx, "IAM", "UpdateAccessKey", userRes(str(in.UserName)), func(a *account) error {
		if err := validStatus(in.Status); err != nil {
			return err
		}
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		for _, k := range u.keys {
			if k.id == *in.AccessKeyId {
				k.active = in.Status == types.StatusTypeActive
				return nil
			}
		}
		return noSuchEntity("The Access Key with id %s cannot be found.", *in.AccessKeyId)
	})
	if err != nil {
		return nil, err
	}
	return &iam.UpdateAccessKeyOutput{}, nil
}

// ListSSHPublicKeys lists a user's SSH public keys.
func (c *iamClient) ListSSHPublicKeys(ctx context.Context, in *iam.ListSSHPublicKeysInput, _ ...func(*iam.Options)) (*iam.ListSSHPublicKeysOutput, error) {
	if in == nil {
		in = &iam.ListSSHPublicKeysInput{}
	}
	out := &iam.ListSSHPublicKeysOutput{SSHPublicKeys: []types.SSHPublicKeyMetadata{}}
	err := c.c.do(ctx, "IAM", "ListSSHPublicKeys", userRes(str(in.UserName)), func(a *account) error {
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		page, next, ok := pageCreds(u.ssh, start, max)
		if !ok {
			return validationError("Invalid Marker")
		}
		for _, k := range page {
			out.SSHPublicKeys = append(out.SSHPublicKeys, types.SSHPublicKeyMetadata{
				SSHPublicKeyId: aws.String(k.id), Status: statusOf(k.active), UploadDate: aws.Time(k.created), UserName: aws.String(u.name),
			})
		}
		out.Marker, out.IsTruncated = next, next != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func pageCreds(creds []*cred, start string, max int) ([]*cred, *string, bool) {
	ids := make([]string, len(creds))
	byID := make(map[string]*cred, len(creds))
	for i, k := range creds {
		ids[i] = k.id
		byID[k.id] = k
	}
	page, next, ok := pageOrdered(ids, start, max)
	out := make([]*cred, 0, len(page))
	for _, id := range page {
		out = append(out, byID[id])
	}
	return out, next, ok
}

// UpdateSSHPublicKey sets an SSH key Active or Inactive.
func (c *iamClient) UpdateSSHPublicKey(ctx context.Context, in *iam.UpdateSSHPublicKeyInput, _ ...func(*iam.Options)) (*iam.UpdateSSHPublicKeyOutput, error) {
	if in == nil || str(in.SSHPublicKeyId) == "" || in.Status == "" || str(in.UserName) == "" {
		return nil, opErr("IAM", "UpdateSSHPublicKey", required("UpdateSSHPublicKeyInput", "SSHPublicKeyId", "Status", "UserName"))
	}
	err := c.c.do(ctx, "IAM", "UpdateSSHPublicKey", userRes(*in.UserName), func(a *account) error {
		if err := validStatus(in.Status); err != nil {
			return err
		}
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		for _, k := range u.ssh {
			if k.id == *in.SSHPublicKeyId {
				k.active = in.Status == types.StatusTypeActive
				return nil
			}
		}
		return noSuchEntity("The Public Key with id %s cannot be found.", *in.SSHPublicKeyId)
	})
	if err != nil {
		return nil, err
	}
	return &iam.UpdateSSHPublicKeyOutput{}, nil
}

// ListServiceSpecificCredentials lists a user's (or, with AllUsers, every
// user's) service-specific credentials, optionally for one service.
func (c *iamClient) ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	if in == nil {
		in = &iam.ListServiceSpecificCredentialsInput{}
	}
	all := in.AllUsers != nil && *in.AllUsers
	out := &iam.ListServiceSpecificCredentialsOutput{ServiceSpecificCredentials: []types.ServiceSpecificCredentialMetadata{}}
	res := userRes(str(in.UserName))
	if all {
		res = nil
	}
	err := c.c.do(ctx, "IAM", "ListServiceSpecificCredentials", res, func(a *account) error {
		var users []*user
		if all {
			for _, k := range a.userKeys {
				users = append(users, a.users[k])
			}
		} else {
			name, err := callerUser(in.UserName)
			if err != nil {
				return err
			}
			u, err := findUser(a, name)
			if err != nil {
				return err
			}
			users = []*user{u}
		}
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		var creds []*cred
		owner := map[*cred]*user{}
		for _, u := range users {
			for _, k := range u.svc {
				if in.ServiceName == nil || *in.ServiceName == k.service {
					creds = append(creds, k)
					owner[k] = u
				}
			}
		}
		page, next, ok := pageCreds(creds, start, max)
		if !ok {
			return validationError("Invalid Marker")
		}
		for _, k := range page {
			out.ServiceSpecificCredentials = append(out.ServiceSpecificCredentials, types.ServiceSpecificCredentialMetadata{
				CreateDate: aws.Time(k.created), ServiceName: aws.String(k.service), ServiceSpecificCredentialId: aws.String(k.id),
				Status: statusOf(k.active), UserName: aws.String(owner[k].name), ServiceUserName: aws.String(k.serviceUser),
			})
		}
		out.Marker, out.IsTruncated = next, next != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateServiceSpecificCredential sets a credential Active or Inactive.
func (c *iamClient) UpdateServiceSpecificCredential(ctx context.Context, in *iam.UpdateServiceSpecificCredentialInput, _ ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error) {
	if in == nil || str(in.ServiceSpecificCredentialId) == "" || in.Status == "" {
		return nil, opErr("IAM", "UpdateServiceSpecificCredential", required("UpdateServiceSpecificCredentialInput", "ServiceSpecificCredentialId", "Status"))
	}
	err := c.c.do(ctx, "IAM", "UpdateServiceSpecificCredential", userRes(str(in.UserName)), func(a *account) error {
		if err := validStatus(in.Status); err != nil {
			return err
		}
		name, err := callerUser(in.UserName)
		if err != nil {
			return err
		}
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		for _, k := range u.svc {
			if k.id == *in.ServiceSpecificCredentialId {
				k.active = in.Status == types.StatusTypeActive
				return nil
			}
		}
		return noSuchEntity("No such credential %s exists", *in.ServiceSpecificCredentialId)
	})
	if err != nil {
		return nil, err
	}
	return &iam.UpdateServiceSpecificCredentialOutput{}, nil
}

// ---- inline policies ----

func putInline(m map[string]*inlinePolicy, name, doc string, limit int, owner string) error {
	if err := validName("policy", name, 128); err != nil {
		return validationError(err.Error())
	}
	if inlineSize(m, name)+policySize(doc) > limit {
		return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Maximum policy size of %d bytes exceeded for %s", limit, owner))}
	}
	p, err := parsePolicy(doc, identityPolicy)
	if err != nil {
		return &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
	}
	if _, exists := m[name]; !exists && len(m) >= maxInlinePolicies {
		return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("the simulation allows at most %d inline policies per entity", maxInlinePolicies))}
	}
	m[name] = &inlinePolicy{doc: doc, parsed: p}
	return nil
}

// GetUserPolicy returns an inline policy, its document URL-encoded like AWS.
func (c *iamClient) GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, _ ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error) {
	if in == nil || str(in.UserName) == "" || str(in.PolicyName) == "" {
		return nil, opErr("IAM", "GetUserPolicy", required("GetUserPolicyInput", "PolicyName", "UserName"))
	}
	out := &iam.GetUserPolicyOutput{}
	err := c.c.do(ctx, "IAM", "GetUserPolicy", userRes(*in.UserName), func(a *account) error {
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		p := u.inline[*in.PolicyName]
		if p == nil {
			return noSuchEntity("The user policy with name %s cannot be found.", *in.PolicyName)
		}
		out.UserName, out.PolicyName, out.PolicyDocument = aws.String(u.name), aws.String(*in.PolicyName), aws.String(awsURLEncode(p.doc))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutUserPolicy adds or replaces an inline policy (aggregate limit 2,048
// non-white-space characters per user).
func (c *iamClient) PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, _ ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	if in == nil || str(in.UserName) == "" || str(in.PolicyName) == "" || str(in.PolicyDocument) == "" {
		return nil, opErr("IAM", "PutUserPolicy", required("PutUserPolicyInput", "PolicyDocument", "PolicyName", "UserName"))
	}
	err := c.c.do(ctx, "IAM", "PutUserPolicy", userRes(*in.UserName), func(a *account) error {
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		return putInline(u.inline, *in.PolicyName, *in.PolicyDocument, maxUserInlineSize, "user "+u.name)
	})
	if err != nil {
		return nil, err
	}
	return &iam.PutUserPolicyOutput{}, nil
}

// DeleteUserPolicy removes an inline policy.
func (c *iamClient) DeleteUserPolicy(ctx context.Context, in *iam.DeleteUserPolicyInput, _ ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error) {
	if in == nil || str(in.UserName) == "" || str(in.PolicyName) == "" {
		return nil, opErr("IAM", "DeleteUserPolicy", required("DeleteUserPolicyInput", "PolicyName", "UserName"))
	}
	err := c.c.do(ctx, "IAM", "DeleteUserPolicy", userRes(*in.UserName), func(a *account) error {
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		if u.inline[*in.PolicyName] == nil {
			return noSuchEntity("The user policy with name %s cannot be found.", *in.PolicyName)
		}
		delete(u.inline, *in.PolicyName)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iam.DeleteUserPolicyOutput{}, nil
}

// GetRolePolicy returns an inline policy, its document URL-encoded like AWS.
func (c *iamClient) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	if in == nil || str(in.RoleName) == "" || str(in.PolicyName) == "" {
		return nil, opErr("IAM", "GetRolePolicy", required("GetRolePolicyInput", "PolicyName", "RoleName"))
	}
	out := &iam.GetRolePolicyOutput{}
	err := c.c.do(ctx, "IAM", "GetRolePolicy", roleRes(*in.RoleName), func(a *account) error {
		r, err := findRole(a, *in.RoleName)
		if err != nil {
			return err
		}
		p := r.inline[*in.PolicyName]
		if p == nil {
			return noSuchEntity("The role policy with name %s cannot be found.", *in.PolicyName)
		}
		out.RoleName, out.PolicyName, out.PolicyDocument = aws.String(r.name), aws.String(*in.PolicyName), aws.String(awsURLEncode(p.doc))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutRolePolicy adds or replaces an inline policy (aggregate limit 10,240
// characters per role); service-linked and SSO roles are unmodifiable.
func (c *iamClient) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	if in == nil || str(in.RoleName) == "" || str(in.PolicyName) == "" || str(in.PolicyDocument) == "" {
		return nil, opErr("IAM", "PutRolePolicy", required("PutRolePolicyInput", "PolicyDocument", "PolicyName", "RoleName"))
	}
	err := c.c.do(ctx, "IAM", "PutRolePolicy", roleRes(*in.RoleName), func(a *account) error {
		r, err := findRole(a, *in.RoleName)
		if err != nil {
			return err
		}
		if err := unmodifiableRole(r); err != nil {
			return err
		}
		return putInline(r.inline, *in.PolicyName, *in.PolicyDocument, maxRoleInlineSize, "role "+r.name)
	})
	if err != nil {
		return nil, err
	}
	return &iam.PutRolePolicyOutput{}, nil
}

// DeleteRolePolicy removes an inline policy.
func (c *iamClient) DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	if in == nil || str(in.RoleName) == "" || str(in.PolicyName) == "" {
		return nil, opErr("IAM", "DeleteRolePolicy", required("DeleteRolePolicyInput", "PolicyName", "RoleName"))
	}
	err := c.c.do(ctx, "IAM", "DeleteRolePolicy", roleRes(*in.RoleName), func(a *account) error {
		r, err := findRole(a, *in.RoleName)
		if err != nil {
			return err
		}
		if err := unmodifiableRole(r); err != nil {
			return err
		}
		if r.inline[*in.PolicyName] == nil {
			return noSuchEntity("The role policy with name %s cannot be found.", *in.PolicyName)
		}
		delete(r.inline, *in.PolicyName)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iam.DeleteRolePolicyOutput{}, nil
}

// ---- managed policies ----

func validPolicyARN(arn string) error {
	if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":policy/") || len(arn) > 2048 {
		return &types.InvalidInputException{Message: aws.String("ARN " + clip(arn) + " is not valid.")}
	}
	return nil
}

func findPolicy(a *account, arn string) (*managedPolicy, error) {
	if err := validPolicyARN(arn); err != nil {
		return nil, err
	}
	p := a.lookupPolicy(arn)
	if p == nil {
		return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

func policyOut(a *account, p *managedPolicy, full bool) types.Policy {
	tp := types.Policy{
		Arn: aws.String(p.arn), AttachmentCount: aws.Int32(int32(a.attachN[p.arn])), CreateDate: aws.Time(p.created),
		DefaultVersionId: aws.String(p.defaultVer), IsAttachable: true, Path: aws.String(p.path),
		PermissionsBoundaryUsageCount: aws.Int32(0), PolicyId: aws.String(p.id), PolicyName: aws.String(p.name),
		UpdateDate: aws.Time(p.updated),
	}
	if full {
		if p.desc != "" {
			tp.Description = aws.String(p.desc)
		}
		if len(p.tags) > 0 {
			tp.Tags = tagList(p.tags)
		}
	}
	return tp
}

// ListPolicies lists managed policies sorted by ARN, honouring Scope (All,
// AWS, Local), OnlyAttached, PathPrefix and PolicyUsageFilter (permission
// boundaries are not modelled, so PermissionsBoundary lists nothing).
func (c *iamClient) ListPolicies(ctx context.Context, in *iam.ListPoliciesInput, _ ...func(*iam.Options)) (*iam.ListPoliciesOutput, error) {
	if in == nil {
		in = &iam.ListPoliciesInput{}
	}
	out := &iam.ListPoliciesOutput{Policies: []types.Policy{}}
	err := c.c.do(ctx, "IAM", "ListPolicies", nil, func(a *account) error {
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		prefix, err := pathPrefix(in.PathPrefix)
		if err != nil {
			return err
		}
		var arns []string
		switch in.Scope {
		case "", types.PolicyScopeTypeAll:
			arns = append(arns, awsManagedARNs...)
			for _, k := range a.policyKeys {
				arns = append(arns, a.policies[k].arn)
			}
		case types.PolicyScopeTypeAws:
			arns = awsManagedARNs
		case types.PolicyScopeTypeLocal:
			for _, k := range a.policyKeys {
				arns = append(arns, a.policies[k].arn)
			}
		default:
			return validationError("Invalid Scope " + clip(string(in.Scope)))
		}
		if in.PolicyUsageFilter == types.PolicyUsageTypePermissionsBoundary {
			arns = nil
		}
		if !sort.StringsAreSorted(arns) {
			arns = append([]string(nil), arns...)
			sort.Strings(arns)
		}
		page, next, trunc := pageSorted(arns, start, max, func(arn string) bool {
			p := a.lookupPolicy(arn)
			return p != nil && strings.HasPrefix(p.path, prefix) && (!in.OnlyAttached || a.attachN[arn] > 0)
		})
		for _, arn := range page {
			out.Policies = append(out.Policies, policyOut(a, a.lookupPolicy(arn), false))
		}
		if trunc {
			out.IsTruncated, out.Marker = true, encodeToken(next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetPolicy describes a managed policy (with description and tags).
func (c *iamClient) GetPolicy(ctx context.Context, in *iam.GetPolicyInput, _ ...func(*iam.Options)) (*iam.GetPolicyOutput, error) {
	if in == nil || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "GetPolicy", required("GetPolicyInput", "PolicyArn"))
	}
	out := &iam.GetPolicyOutput{}
	err := c.c.do(ctx, "IAM", "GetPolicy", policyRes(*in.PolicyArn), func(a *account) error {
		p, err := findPolicy(a, *in.PolicyArn)
		if err != nil {
			return err
		}
		tp := policyOut(a, p, true)
		out.Policy = &tp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetPolicyVersion returns a version's document URL-encoded like AWS.
func (c *iamClient) GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, _ ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error) {
	if in == nil || str(in.PolicyArn) == "" || str(in.VersionId) == "" {
		return nil, opErr("IAM", "GetPolicyVersion", required("GetPolicyVersionInput", "PolicyArn", "VersionId"))
	}
	out := &iam.GetPolicyVersionOutput{}
	err := c.c.do(ctx, "IAM", "GetPolicyVersion", policyRes(*in.PolicyArn), func(a *account) error {
		p, err := findPolicy(a, *in.PolicyArn)
		if err != nil {
			return err
		}
		for _, v := range p.versions {
			if v.id == *in.VersionId {
				out.PolicyVersion = &types.PolicyVersion{
					CreateDate: aws.Time(v.created), Document: aws.String(awsURLEncode(v.doc)),
					IsDefaultVersion: v.id == p.defaultVer, VersionId: aws.String(v.id),
				}
				return nil
			}
		}
		return noSuchEntity("Policy %s version %s does not exist or is not attachable.", p.arn, *in.VersionId)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreatePolicy creates a customer managed policy (6,144 non-white-space
// characters; duplicate names fail with EntityAlreadyExists).
func (c *iamClient) CreatePolicy(ctx context.Context, in *iam.CreatePolicyInput, _ ...func(*iam.Options)) (*iam.CreatePolicyOutput, error) {
	if in == nil || str(in.PolicyName) == "" || str(in.PolicyDocument) == "" {
		return nil, opErr("IAM", "CreatePolicy", required("CreatePolicyInput", "PolicyDocument", "PolicyName"))
	}
	out := &iam.CreatePolicyOutput{}
	res := func(a *account) string {
		p := str(in.Path)
		if p == "" {
			p = "/"
		}
		return "arn:aws:iam::" + a.id + ":policy" + p + *in.PolicyName
	}
	err := c.c.do(ctx, "IAM", "CreatePolicy", res, func(a *account) error {
		tags := map[string]string{}
		for _, t := range in.Tags {
			tags[str(t.Key)] = str(t.Value)
		}
		if err := validTags(tags); err != nil {
			return &types.InvalidInputException{Message: aws.String(err.Error())}
		}
		p, err := c.c.o.addPolicyLocked(a, Policy{Name: *in.PolicyName, Path: str(in.Path), Description: str(in.Description), Document: *in.PolicyDocument})
		if err != nil {
			var ep *errPolicy
			if !errors.As(err, &ep) {
				return err
			}
			switch ep.kind {
			case "exists":
				return &types.EntityAlreadyExistsException{Message: aws.String(ep.msg)}
			case "malformed":
				return &types.MalformedPolicyDocumentException{Message: aws.String(ep.msg)}
			case "limit":
				return &types.LimitExceededException{Message: aws.String(ep.msg)}
			}
			return validationError(ep.msg)
		}
		p.tags = tags
		tp := policyOut(a, p, true)
		out.Policy = &tp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePolicy deletes a customer managed policy: DeleteConflictException
// while it is attached or has non-default versions; AWS managed policies
// cannot be deleted.
func (c *iamClient) DeletePolicy(ctx context.Context, in *iam.DeletePolicyInput, _ ...func(*iam.Options)) (*iam.DeletePolicyOutput, error) {
	if in == nil || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "DeletePolicy", required("DeletePolicyInput", "PolicyArn"))
	}
	err := c.c.do(ctx, "IAM", "DeletePolicy", policyRes(*in.PolicyArn), func(a *account) error {
		p, err := findPolicy(a, *in.PolicyArn)
		if err != nil {
			return err
		}
		if p.aws {
			return &types.InvalidInputException{Message: aws.String("Cannot delete an AWS managed policy: " + p.arn)}
		}
		if a.attachN[p.arn] > 0 {
			return &types.DeleteConflictException{Message: aws.String("Cannot delete a policy attached to entities.")}
		}
		if len(p.versions) > 1 {
			return &types.DeleteConflictException{Message: aws.String("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")}
		}
		key := strings.ToLower(p.name)
		delete(a.policies, key)
		a.policyKeys = removeKey(a.policyKeys, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iam.DeletePolicyOutput{}, nil
}

// ListEntitiesForPolicy lists the groups, roles and users a managed policy
// is attached to in this account.
func (c *iamClient) ListEntitiesForPolicy(ctx context.Context, in *iam.ListEntitiesForPolicyInput, _ ...func(*iam.Options)) (*iam.ListEntitiesForPolicyOutput, error) {
	if in == nil || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "ListEntitiesForPolicy", required("ListEntitiesForPolicyInput", "PolicyArn"))
	}
	out := &iam.ListEntitiesForPolicyOutput{PolicyGroups: []types.PolicyGroup{}, PolicyRoles: []types.PolicyRole{}, PolicyUsers: []types.PolicyUser{}}
	err := c.c.do(ctx, "IAM", "ListEntitiesForPolicy", policyRes(*in.PolicyArn), func(a *account) error {
		p, err := findPolicy(a, *in.PolicyArn)
		if err != nil {
			return err
		}
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		prefix, err := pathPrefix(in.PathPrefix)
		if err != nil {
			return err
		}
		want := func(t types.EntityType) bool { return in.EntityFilter == "" || in.EntityFilter == t }
		var keys []string
		if want(types.EntityTypeGroup) {
			for _, k := range a.groupKey {
				if g := a.groups[k]; hasKey(g.managed, p.arn) && strings.HasPrefix(g.path, prefix) {
					keys = append(keys, "g/"+k)
				}
			}
		}
		if want(types.EntityTypeRole) {
			for _, k := range a.roleKeys {
				if r := a.roles[k]; hasKey(r.managed, p.arn) && strings.HasPrefix(r.path, prefix) {
					keys = append(keys, "r/"+k)
				}
			}
		}
		if want(types.EntityTypeUser) {
			for _, k := range a.userKeys {
				if u := a.users[k]; hasKey(u.managed, p.arn) && strings.HasPrefix(u.path, prefix) {
					keys = append(keys, "u/"+k)
				}
			}
		}
		page, next, trunc := pageSorted(keys, start, max, nil)
		for _, k := range page {
			switch name := k[2:]; k[0] {
			case 'g':
				g := a.groups[name]
				out.PolicyGroups = append(out.PolicyGroups, types.PolicyGroup{GroupId: aws.String(g.id), GroupName: aws.String(g.name)})
			case 'r':
				r := a.roles[name]
				out.PolicyRoles = append(out.PolicyRoles, types.PolicyRole{RoleId: aws.String(r.id), RoleName: aws.String(r.name)})
			case 'u':
				u := a.users[name]
				out.PolicyUsers = append(out.PolicyUsers, types.PolicyUser{UserId: aws.String(u.id), UserName: aws.String(u.name)})
			}
		}
		if trunc {
			out.IsTruncated, out.Marker = true, encodeToken(next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// attachManaged attaches arn to an entity's sorted list; attaching an
// attached policy succeeds silently, like AWS.
func attachManaged(a *account, list *[]string, arn, quota string) error {
	p, err := findPolicy(a, arn)
	if err != nil {
		return err
	}
	if hasKey(*list, p.arn) {
		return nil
	}
	if len(*list) >= maxManagedPerEntity {
		return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Cannot exceed quota for %s: %d", quota, maxManagedPerEntity))}
	}
	*list = insertKey(*list, p.arn)
	a.attachN[p.arn]++
	return nil
}

func detachManaged(a *account, list *[]string, arn string) error {
	if err := validPolicyARN(arn); err != nil {
		return err
	}
	if !hasKey(*list, arn) {
		return noSuchEntity("Policy %s was not found.", arn)
	}
	*list = removeKey(*list, arn)
	if a.attachN[arn]--; a.attachN[arn] <= 0 {
		delete(a.attachN, arn)
	}
	return nil
}

// AttachUserPolicy attaches a managed policy to a user (at most 10).
func (c *iamClient) AttachUserPolicy(ctx context.Context, in *iam.AttachUserPolicyInput, _ ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	if in == nil || str(in.UserName) == "" || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "AttachUserPolicy", required("AttachUserPolicyInput", "PolicyArn", "UserName"))
	}
	err := c.c.do(ctx, "IAM", "AttachUserPolicy", userRes(*in.UserName), func(a *account) error {
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		return attachManaged(a, &u.managed, *in.PolicyArn, "PoliciesPerUser")
	})
	if err != nil {
		return nil, err
	}
	return &iam.AttachUserPolicyOutput{}, nil
}

// DetachUserPolicy detaches a managed policy; NoSuchEntity when not attached.
func (c *iamClient) DetachUserPolicy(ctx context.Context, in *iam.DetachUserPolicyInput, _ ...func(*iam.Options)) (*iam.DetachUserPolicyOutput, error) {
	if in == nil || str(in.UserName) == "" || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "DetachUserPolicy", required("DetachUserPolicyInput", "PolicyArn", "UserName"))
	}
	err := c.c.do(ctx, "IAM", "DetachUserPolicy", userRes(*in.UserName), func(a *account) error {
		u, err := findUser(a, *in.UserName)
		if err != nil {
			return err
		}
		return detachManaged(a, &u.managed, *in.PolicyArn)
	})
	if err != nil {
		return nil, err
	}
	return &iam.DetachUserPolicyOutput{}, nil
}

// AttachRolePolicy attaches a managed policy to a role (at most 10);
// service-linked and SSO roles are unmodifiable.
func (c *iamClient) AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, _ ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error) {
	if in == nil || str(in.RoleName) == "" || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "AttachRolePolicy", required("AttachRolePolicyInput", "PolicyArn", "RoleName"))
	}
	err := c.c.do(ctx, "IAM", "AttachRolePolicy", roleRes(*in.RoleName), func(a *account) error {
		r, err := findRole(a, *in.RoleName)
		if err != nil {
			return err
		}
		if err := unmodifiableRole(r); err != nil {
			return err
		}
		return attachManaged(a, &r.managed, *in.PolicyArn, "PoliciesPerRole")
	})
	if err != nil {
		return nil, err
	}
	return &iam.AttachRolePolicyOutput{}, nil
}

// DetachRolePolicy detaches a managed policy from a role.
func (c *iamClient) DetachRolePolicy(ctx context.Context, in *iam.DetachRolePolicyInput, _ ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error) {
	if in == nil || str(in.RoleName) == "" || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "DetachRolePolicy", required("DetachRolePolicyInput", "PolicyArn", "RoleName"))
	}
	err := c.c.do(ctx, "IAM", "DetachRolePolicy", roleRes(*in.RoleName), func(a *account) error {
		r, err := findRole(a, *in.RoleName)
		if err != nil {
			return err
		}
		if err := unmodifiableRole(r); err != nil {
			return err
		}
		return detachManaged(a, &r.managed, *in.PolicyArn)
	})
	if err != nil {
		return nil, err
	}
	return &iam.DetachRolePolicyOutput{}, nil
}

// AttachGroupPolicy attaches a managed policy to a group (at most 10).
func (c *iamClient) AttachGroupPolicy(ctx context.Context, in *iam.AttachGroupPolicyInput, _ ...func(*iam.Options)) (*iam.AttachGroupPolicyOutput, error) {
	if in == nil || str(in.GroupName) == "" || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "AttachGroupPolicy", required("AttachGroupPolicyInput", "GroupName", "PolicyArn"))
	}
	err := c.c.do(ctx, "IAM", "AttachGroupPolicy", groupRes(*in.GroupName), func(a *account) error {
		g, err := findGroup(a, *in.GroupName)
		if err != nil {
			return err
		}
		return attachManaged(a, &g.managed, *in.PolicyArn, "PoliciesPerGroup")
	})
	if err != nil {
		return nil, err
	}
	return &iam.AttachGroupPolicyOutput{}, nil
}

// DetachGroupPolicy detaches a managed policy from a group.
func (c *iamClient) DetachGroupPolicy(ctx context.Context, in *iam.DetachGroupPolicyInput, _ ...func(*iam.Options)) (*iam.DetachGroupPolicyOutput, error) {
	if in == nil || str(in.GroupName) == "" || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "DetachGroupPolicy", required("DetachGroupPolicyInput", "GroupName", "PolicyArn"))
	}
	err := c.c.do(ctx, "IAM", "DetachGroupPolicy", groupRes(*in.GroupName), func(a *account) error {
		g, err := findGroup(a, *in.GroupName)
		if err != nil {
			return err
		}
		return detachManaged(a, &g.managed, *in.PolicyArn)
	})
	if err != nil {
		return nil, err
	}
	return &iam.DetachGroupPolicyOutput{}, nil
}
