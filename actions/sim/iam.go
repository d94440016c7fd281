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

func unmodifiableRole(r *role) error {
	if r.unmodifiable() {
		return &types.UnmodifiableEntityException{Message: aws.String(fmt.Sprintf(
			"Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", r.name))}
	}
	return nil
}

func policyRes(arn string) func(a *account) string {
	return func(*account) string {
		if arn == "" {
			return "*"
		}
		return arn
	}
}

// find returns the entity called name (whatever the case) or NoSuchEntity.
func (k *entityKind[T]) find(a *account, name string) (*T, error) {
	if t := k.all(a)[strings.ToLower(name)]; t != nil {
		return t, nil
	}
	return nil, noSuchEntity("The %s with name %s cannot be found.", k.name, name)
}

// res names the entity called name for the bot's authorization: its ARN,
// or the ARN it would have with path / when it does not exist.
func (k *entityKind[T]) res(name string) func(a *account) string {
	return func(a *account) string {
		if t := k.all(a)[strings.ToLower(name)]; t != nil {
			e := k.entity(t)
			return iamARN(a.id, k.name, e.path, e.name)
		}
		return iamARN(a.id, k.name, "/", name)
	}
}

// findCaller returns the user an operation with an optional UserName acts
// on; the bot is a role, so AWS requires the name.
func findCaller(a *account, p *string) (*user, error) {
	if p == nil || *p == "" {
		return nil, validationError("Must specify userName when calling with non-User credentials")
	}
	return userKind.find(a, *p)
}

// missing is op's error for a missing parameter: the SDK names the
// entity's name parameter and the others, in alphabetical order.
func (k *entityKind[T]) missing(op string, others ...string) error {
	fields := append([]string{k.param}, others...)
	sort.Strings(fields)
	return opErr("IAM", op, required(op+"Input", fields...))
}

// onEntity runs IAM operation op on k's entity called name; modify first
// refuses the entities IAM does not let callers change.
func onEntity[T, O any](ctx context.Context, c *iamClient, op string, k *entityKind[T], name string, modify bool, out *O, fn func(a *account, t *T) error) (*O, error) {
	return call(ctx, c.c, "IAM", op, k.res(name), out, func(a *account) error {
		t, err := k.find(a, name)
		if err != nil {
			return err
		}
		if modify && k.protect != nil {
			if err := k.protect(t); err != nil {
				return err
			}
		}
		return fn(a, t)
	})
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
	pg, err := newIAMPager(maxItems, marker, nil)
	if err != nil {
		return nil, nil, false, err
	}
	page, next, trunc := pg.page(sortedMapKeys(m), nil)
	tags := make([]types.Tag, 0, len(page))
	for _, k := range page {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags, next, trunc, nil
}

// ---- principals ----

// listEntities pages k's entities by name for List{Users,Roles,Groups},
// honouring MaxItems, Marker and PathPrefix; add gets the page. It returns
// the output's Marker and IsTruncated.
func listEntities[T any](a *account, k *entityKind[T], maxItems *int32, marker, pathPrefix *string, add func(t *T)) (*string, bool, error) {
	pg, err := newIAMPager(maxItems, marker, pathPrefix)
	if err != nil {
		return nil, false, err
	}
	all := k.all(a)
	page, next, trunc := pg.page(*k.keys(a), func(key string) bool { return pg.under(k.entity(all[key]).path) })
	for _, key := range page {
		add(all[key])
	}
	return next, trunc, nil
}

// ListUsers lists users sorted by name; like AWS, without tags.
func (c *iamClient) ListUsers(ctx context.Context, in *iam.ListUsersInput, _ ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	in = orEmpty(in)
	out := &iam.ListUsersOutput{Users: []types.User{}}
	return call(ctx, c.c, "IAM", "ListUsers", nil, out, func(a *account) (err error) {
		out.Marker, out.IsTruncated, err = listEntities(a, userKind, in.MaxItems, in.Marker, in.PathPrefix, func(u *user) {
			out.Users = append(out.Users, types.User{
				Arn: aws.String(u.arn(a.id)), CreateDate: aws.Time(u.created), Path: aws.String(u.path),
				UserId: aws.String(u.id), UserName: aws.String(u.name),
			})
		})
		return err
	})
}

// ListRoles lists roles sorted by name; like AWS, without tags and with the
// trust policy URL-encoded.
func (c *iamClient) ListRoles(ctx context.Context, in *iam.ListRolesInput, _ ...func(*iam.Options)) (*iam.ListRolesOutput, error) {
	in = orEmpty(in)
	out := &iam.ListRolesOutput{Roles: []types.Role{}}
	return call(ctx, c.c, "IAM", "ListRoles", nil, out, func(a *account) (err error) {
		out.Marker, out.IsTruncated, err = listEntities(a, roleKind, in.MaxItems, in.Marker, in.PathPrefix, func(r *role) {
			tr := types.Role{
				Arn: aws.String(r.arn(a.id)), CreateDate: aws.Time(r.created), Path: aws.String(r.path),
				RoleId: aws.String(r.id), RoleName: aws.String(r.name),
				AssumeRolePolicyDocument: aws.String(awsURLEncode(r.trust)), MaxSessionDuration: aws.Int32(3600),
			}
			if r.description != "" {
				tr.Description = aws.String(r.description)
			}
			out.Roles = append(out.Roles, tr)
		})
		return err
	})
}

// ListGroups lists groups sorted by name.
func (c *iamClient) ListGroups(ctx context.Context, in *iam.ListGroupsInput, _ ...func(*iam.Options)) (*iam.ListGroupsOutput, error) {
	in = orEmpty(in)
	out := &iam.ListGroupsOutput{Groups: []types.Group{}}
	return call(ctx, c.c, "IAM", "ListGroups", nil, out, func(a *account) (err error) {
		out.Marker, out.IsTruncated, err = listEntities(a, groupKind, in.MaxItems, in.Marker, in.PathPrefix, func(g *group) {
			out.Groups = append(out.Groups, types.Group{
				Arn: aws.String(g.arn(a.id)), CreateDate: aws.Time(g.created), GroupId: aws.String(g.id),
				GroupName: aws.String(g.name), Path: aws.String(g.path),
			})
		})
		return err
	})
}

// ListUserTags lists a user's tags sorted by key.
func (c *iamClient) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	in = orEmpty(in)
	if str(in.UserName) == "" {
		return nil, userKind.missing("ListUserTags")
	}
	out := &iam.ListUserTagsOutput{}
	return onEntity(ctx, c, "ListUserTags", userKind, *in.UserName, false, out, func(_ *account, u *user) (err error) {
		out.Tags, out.Marker, out.IsTruncated, err = pageTags(u.tags, in.MaxItems, in.Marker)
		return err
	})
}

// ListRoleTags lists a role's tags sorted by key.
func (c *iamClient) ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, _ ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error) {
	in = orEmpty(in)
	if str(in.RoleName) == "" {
		return nil, roleKind.missing("ListRoleTags")
	}
	out := &iam.ListRoleTagsOutput{}
	return onEntity(ctx, c, "ListRoleTags", roleKind, *in.RoleName, false, out, func(_ *account, r *role) (err error) {
		out.Tags, out.Marker, out.IsTruncated, err = pageTags(r.tags, in.MaxItems, in.Marker)
		return err
	})
}

// ---- credentials ----

// findLogin returns the user UserName names (see findCaller), or
// NoSuchEntity when it has no password.
func findLogin(a *account, userName *string) (*user, error) {
	u, err := findCaller(a, userName)
	if err != nil {
		return nil, err
	}
	if u.login == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.name)
	}
	return u, nil
}

// GetLoginProfile fails with NoSuchEntity when the user has no password.
func (c *iamClient) GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, _ ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	in = orEmpty(in)
	out := &iam.GetLoginProfileOutput{}
	return call(ctx, c.c, "IAM", "GetLoginProfile", userKind.res(str(in.UserName)), out, func(a *account) error {
		u, err := findLogin(a, in.UserName)
		if err != nil {
			return err
		}
		out.LoginProfile = &types.LoginProfile{CreateDate: aws.Time(u.login.created), UserName: aws.String(u.name), PasswordResetRequired: u.login.resetRequired}
		return nil
	})
}

// DeleteLoginProfile removes a user's console password (it cannot be
// restored: AWS keeps no copy).
func (c *iamClient) DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, _ ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	in = orEmpty(in)
	return call(ctx, c.c, "IAM", "DeleteLoginProfile", userKind.res(str(in.UserName)), &iam.DeleteLoginProfileOutput{}, func(a *account) error {
		u, err := findLogin(a, in.UserName)
		if err != nil {
			return err
		}
		u.login = nil
		return nil
	})
}

func statusOf(active bool) types.StatusType {
	if active {
		return types.StatusTypeActive
	}
	return types.StatusTypeInactive
}

// credLike is an access key, an SSH public key or a service-specific
// credential.
type credLike interface{ base() *credBase }

// pageCreds pages credentials in their order, honouring MaxItems and a
// Marker naming the id to resume from; next is nil on the last page.
func pageCreds[C credLike](creds []C, maxItems *int32, marker *string) (page []C, next *string, err error) {
	start, max, err := iamPage(maxItems, marker)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(creds))
	byID := make(map[string]C, len(creds))
	for i, k := range creds {
		ids[i] = k.base().id
		byID[ids[i]] = k
	}
	pageIDs, next, ok := pageOrdered(ids, start, max)
	if !ok {
		return nil, nil, validationError("Invalid Marker")
	}
	page = make([]C, 0, len(pageIDs))
	for _, id := range pageIDs {
		page = append(page, byID[id])
	}
	return page, next, nil
}

// setStatus returns the body of Update{AccessKey,SSHPublicKey,
// ServiceSpecificCredential}: check the status, find the user (see
// findCaller), then set the status of its credential id among those creds
// picks; notFound formats the NoSuchEntity message.
func setStatus[C credLike](userName *string, id string, status types.StatusType, creds func(u *user) []C, notFound string) func(a *account) error {
	return func(a *account) error {
		if status != types.StatusTypeActive && status != types.StatusTypeInactive {
			return validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", clip(string(status))))
		}
		u, err := findCaller(a, userName)
		if err != nil {
			return err
		}
		return setCredStatus(creds(u), id, status == types.StatusTypeActive, notFound)
	}
}

// setCredStatus activates or deactivates the credential id among creds.
func setCredStatus[C credLike](creds []C, id string, active bool, notFound string) error {
	for _, k := range creds {
		if b := k.base(); b.id == id {
			b.active = active
			return nil
		}
	}
	return noSuchEntity(notFound, id)
}

func accessKeysOf(u *user) []*accessKey { return u.keys }
func sshKeysOf(u *user) []*cred         { return u.ssh }
func svcCredsOf(u *user) []*cred        { return u.svc }

// ListAccessKeys lists a user's keys, oldest first.
func (c *iamClient) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	in = orEmpty(in)
	out := &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{}}
	return call(ctx, c.c, "IAM", "ListAccessKeys", userKind.res(str(in.UserName)), out, func(a *account) error {
		u, err := findCaller(a, in.UserName)
		if err != nil {
			return err
		}
		page, next, err := pageCreds(u.keys, in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		for _, k := range page {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{
				AccessKeyId: aws.String(k.id), CreateDate: aws.Time(k.created), Status: statusOf(k.active), UserName: aws.String(u.name),
			})
		}
		out.Marker, out.IsTruncated = next, next != nil
		return nil
	})
}

// CreateAccessKey makes an Active AKIA key with a 40-character secret; a
// third key fails with LimitExceededException.
func (c *iamClient) CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, _ ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	in = orEmpty(in)
	out := &iam.CreateAccessKeyOutput{}
	return call(ctx, c.c, "IAM", "CreateAccessKey", userKind.res(str(in.UserName)), out, func(a *account) error {
		u, err := findCaller(a, in.UserName)
		if err != nil {
			return err
		}
		if len(u.keys) >= maxAccessKeys {
			return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeys))}
		}
		o := c.c.o
		secret := o.newID("", 40, secretAlph)
		k := &accessKey{credBase: credBase{id: o.newAccessKeyID(), active: true, created: o.now()}, secretHash: hashSecret(secret)}
		o.keyOwners[k.id] = a.id
		u.keys = append(u.keys, k)
		out.AccessKey = &types.AccessKey{
			AccessKeyId: aws.String(k.id), SecretAccessKey: aws.String(secret), Status: types.StatusTypeActive,
			UserName: aws.String(u.name), CreateDate: aws.Time(k.created),
		}
		return nil
	})
}

// UpdateAccessKey sets a key Active or Inactive.
func (c *iamClient) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	if in == nil || str(in.AccessKeyId) == "" || in.Status == "" {
		return nil, opErr("IAM", "UpdateAccessKey", required("UpdateAccessKeyInput", "AccessKeyId", "Status"))
	}
	return call(ctx, c.c, "IAM", "UpdateAccessKey", userKind.res(str(in.UserName)), &iam.UpdateAccessKeyOutput{},
		setStatus(in.UserName, *in.AccessKeyId, in.Status, accessKeysOf, "The Access Key with id %s cannot be found."))
}

// ListSSHPublicKeys lists a user's SSH public keys.
func (c *iamClient) ListSSHPublicKeys(ctx context.Context, in *iam.ListSSHPublicKeysInput, _ ...func(*iam.Options)) (*iam.ListSSHPublicKeysOutput, error) {
	in = orEmpty(in)
	out := &iam.ListSSHPublicKeysOutput{SSHPublicKeys: []types.SSHPublicKeyMetadata{}}
	return call(ctx, c.c, "IAM", "ListSSHPublicKeys", userKind.res(str(in.UserName)), out, func(a *account) error {
		u, err := findCaller(a, in.UserName)
		if err != nil {
			return err
		}
		page, next, err := pageCreds(u.ssh, in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		for _, k := range page {
			out.SSHPublicKeys = append(out.SSHPublicKeys, types.SSHPublicKeyMetadata{
				SSHPublicKeyId: aws.String(k.id), Status: statusOf(k.active), UploadDate: aws.Time(k.created), UserName: aws.String(u.name),
			})
		}
		out.Marker, out.IsTruncated = next, next != nil
		return nil
	})
}

// UpdateSSHPublicKey sets an SSH key Active or Inactive.
func (c *iamClient) UpdateSSHPublicKey(ctx context.Context, in *iam.UpdateSSHPublicKeyInput, _ ...func(*iam.Options)) (*iam.UpdateSSHPublicKeyOutput, error) {
	if in == nil || str(in.SSHPublicKeyId) == "" || in.Status == "" || str(in.UserName) == "" {
		return nil, opErr("IAM", "UpdateSSHPublicKey", required("UpdateSSHPublicKeyInput", "SSHPublicKeyId", "Status", "UserName"))
	}
	return call(ctx, c.c, "IAM", "UpdateSSHPublicKey", userKind.res(*in.UserName), &iam.UpdateSSHPublicKeyOutput{},
		setStatus(in.UserName, *in.SSHPublicKeyId, in.Status, sshKeysOf, "The Public Key with id %s cannot be found."))
}

// ListServiceSpecificCredentials lists a user's (or, with AllUsers, every
// user's) service-specific credentials, optionally for one service.
func (c *iamClient) ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	in = orEmpty(in)
	all := in.AllUsers != nil && *in.AllUsers
	out := &iam.ListServiceSpecificCredentialsOutput{ServiceSpecificCredentials: []types.ServiceSpecificCredentialMetadata{}}
	res := userKind.res(str(in.UserName))
	if all {
		res = nil
	}
	return call(ctx, c.c, "IAM", "ListServiceSpecificCredentials", res, out, func(a *account) error {
		var users []*user
		if all {
			for _, k := range a.userKeys {
				users = append(users, a.users[k])
			}
		} else {
			u, err := findCaller(a, in.UserName)
			if err != nil {
				return err
			}
			users = []*user{u}
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
		page, next, err := pageCreds(creds, in.MaxItems, in.Marker)
		if err != nil {
			return err
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
}

// UpdateServiceSpecificCredential sets a credential Active or Inactive.
func (c *iamClient) UpdateServiceSpecificCredential(ctx context.Context, in *iam.UpdateServiceSpecificCredentialInput, _ ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error) {
	if in == nil || str(in.ServiceSpecificCredentialId) == "" || in.Status == "" {
		return nil, opErr("IAM", "UpdateServiceSpecificCredential", required("UpdateServiceSpecificCredentialInput", "ServiceSpecificCredentialId", "Status"))
	}
	return call(ctx, c.c, "IAM", "UpdateServiceSpecificCredential", userKind.res(str(in.UserName)), &iam.UpdateServiceSpecificCredentialOutput{},
		setStatus(in.UserName, *in.ServiceSpecificCredentialId, in.Status, svcCredsOf, "No such credential %s exists"))
}

// ---- inline policies ----

// getInline is Get{User,Role}Policy: set receives the entity's name, the
// policy's name and its document, URL-encoded like AWS.
func getInline[T, O any](ctx context.Context, c *iamClient, op string, k *entityKind[T], name, policy *string, out *O, set func(owner, policy, doc *string)) (*O, error) {
	if str(name) == "" || str(policy) == "" {
		return nil, k.missing(op, "PolicyName")
	}
	return onEntity(ctx, c, op, k, *name, false, out, func(_ *account, t *T) error {
		e := k.entity(t)
		p := e.inline[*policy]
		if p == nil {
			return noSuchEntity("The %s policy with name %s cannot be found.", k.name, *policy)
		}
		set(aws.String(e.name), aws.String(*policy), aws.String(awsURLEncode(p.doc)))
		return nil
	})
}

// putInline is Put{User,Role}Policy: it adds or replaces an inline policy
// within k's aggregate size limit.
func putInline[T, O any](ctx context.Context, c *iamClient, op string, k *entityKind[T], name, policy, doc *string, out *O) (*O, error) {
	if str(name) == "" || str(policy) == "" || str(doc) == "" {
		return nil, k.missing(op, "PolicyDocument", "PolicyName")
	}
	return onEntity(ctx, c, op, k, *name, true, out, func(_ *account, t *T) error {
		e := k.entity(t)
		if err := validName("policy", *policy, 128); err != nil {
			return validationError(err.Error())
		}
		if inlineSize(e.inline, *policy)+policySize(*doc) > k.inlineMax {
			return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Maximum policy size of %d bytes exceeded for %s %s", k.inlineMax, k.name, e.name))}
		}
		p, err := parsePolicy(*doc, identityPolicy)
		if err != nil {
			return &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
		}
		if _, exists := e.inline[*policy]; !exists && len(e.inline) >= maxInlinePolicies {
			return &types.LimitExceededException{Message: aws.String(fmt.Sprintf("the simulation allows at most %d inline policies per entity", maxInlinePolicies))}
		}
		ip := &inlinePolicy{doc: *doc, parsed: p}
		e.inline[*policy] = ip
		c.c.o.propagateLocked(ip)
		return nil
	})
}

// deleteInline is Delete{User,Role}Policy.
func deleteInline[T, O any](ctx context.Context, c *iamClient, op string, k *entityKind[T], name, policy *string, out *O) (*O, error) {
	if str(name) == "" || str(policy) == "" {
		return nil, k.missing(op, "PolicyName")
	}
	return onEntity(ctx, c, op, k, *name, true, out, func(_ *account, t *T) error {
		e := k.entity(t)
		if e.inline[*policy] == nil {
			return noSuchEntity("The %s policy with name %s cannot be found.", k.name, *policy)
		}
		delete(e.inline, *policy)
		return nil
	})
}

// GetUserPolicy returns an inline policy, its document URL-encoded like AWS.
func (c *iamClient) GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, _ ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error) {
	in = orEmpty(in)
	out := &iam.GetUserPolicyOutput{}
	return getInline(ctx, c, "GetUserPolicy", userKind, in.UserName, in.PolicyName, out, func(name, policy, doc *string) {
		out.UserName, out.PolicyName, out.PolicyDocument = name, policy, doc
	})
}

// PutUserPolicy adds or replaces an inline policy (aggregate limit 2,048
// non-white-space characters per user).
func (c *iamClient) PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, _ ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	in = orEmpty(in)
	return putInline(ctx, c, "PutUserPolicy", userKind, in.UserName, in.PolicyName, in.PolicyDocument, &iam.PutUserPolicyOutput{})
}

// DeleteUserPolicy removes an inline policy.
func (c *iamClient) DeleteUserPolicy(ctx context.Context, in *iam.DeleteUserPolicyInput, _ ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error) {
	in = orEmpty(in)
	return deleteInline(ctx, c, "DeleteUserPolicy", userKind, in.UserName, in.PolicyName, &iam.DeleteUserPolicyOutput{})
}

// GetRolePolicy returns an inline policy, its document URL-encoded like AWS.
func (c *iamClient) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	in = orEmpty(in)
	out := &iam.GetRolePolicyOutput{}
	return getInline(ctx, c, "GetRolePolicy", roleKind, in.RoleName, in.PolicyName, out, func(name, policy, doc *string) {
		out.RoleName, out.PolicyName, out.PolicyDocument = name, policy, doc
	})
}

// PutRolePolicy adds or replaces an inline policy (aggregate limit 10,240
// characters per role); service-linked and SSO roles are unmodifiable.
func (c *iamClient) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	in = orEmpty(in)
	return putInline(ctx, c, "PutRolePolicy", roleKind, in.RoleName, in.PolicyName, in.PolicyDocument, &iam.PutRolePolicyOutput{})
}

// DeleteRolePolicy removes an inline policy.
func (c *iamClient) DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	in = orEmpty(in)
	return deleteInline(ctx, c, "DeleteRolePolicy", roleKind, in.RoleName, in.PolicyName, &iam.DeleteRolePolicyOutput{})
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
	in = orEmpty(in)
	out := &iam.ListPoliciesOutput{Policies: []types.Policy{}}
	return call(ctx, c.c, "IAM", "ListPolicies", nil, out, func(a *account) error {
		pg, err := newIAMPager(in.MaxItems, in.Marker, in.PathPrefix)
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
		var page []string
		page, out.Marker, out.IsTruncated = pg.page(arns, func(arn string) bool {
			p := a.lookupPolicy(arn)
			return p != nil && pg.under(p.path) && (!in.OnlyAttached || a.attachN[arn] > 0)
		})
		for _, arn := range page {
			out.Policies = append(out.Policies, policyOut(a, a.lookupPolicy(arn), false))
		}
		return nil
	})
}

// GetPolicy describes a managed policy (with description and tags).
func (c *iamClient) GetPolicy(ctx context.Context, in *iam.GetPolicyInput, _ ...func(*iam.Options)) (*iam.GetPolicyOutput, error) {
	if in == nil || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "GetPolicy", required("GetPolicyInput", "PolicyArn"))
	}
	out := &iam.GetPolicyOutput{}
	return call(ctx, c.c, "IAM", "GetPolicy", policyRes(*in.PolicyArn), out, func(a *account) error {
		p, err := findPolicy(a, *in.PolicyArn)
		if err != nil {
			return err
		}
		tp := policyOut(a, p, true)
		out.Policy = &tp
		return nil
	})
}

// GetPolicyVersion returns a version's document URL-encoded like AWS.
func (c *iamClient) GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, _ ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error) {
	if in == nil || str(in.PolicyArn) == "" || str(in.VersionId) == "" {
		return nil, opErr("IAM", "GetPolicyVersion", required("GetPolicyVersionInput", "PolicyArn", "VersionId"))
	}
	out := &iam.GetPolicyVersionOutput{}
	return call(ctx, c.c, "IAM", "GetPolicyVersion", policyRes(*in.PolicyArn), out, func(a *account) error {
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
	return call(ctx, c.c, "IAM", "CreatePolicy", res, out, func(a *account) error {
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
}

// DeletePolicy deletes a customer managed policy: DeleteConflictException
// while it is attached or has non-default versions; AWS managed policies
// cannot be deleted.
func (c *iamClient) DeletePolicy(ctx context.Context, in *iam.DeletePolicyInput, _ ...func(*iam.Options)) (*iam.DeletePolicyOutput, error) {
	if in == nil || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "DeletePolicy", required("DeletePolicyInput", "PolicyArn"))
	}
	return call(ctx, c.c, "IAM", "DeletePolicy", policyRes(*in.PolicyArn), &iam.DeletePolicyOutput{}, func(a *account) error {
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
}

// holding returns the keys, each after tag, of k's entities under pg's
// PathPrefix that have arn attached.
func holding[T any](a *account, k *entityKind[T], pg *iamPager, arn, tag string) []string {
	var keys []string
	all := k.all(a)
	for _, key := range *k.keys(a) {
		if e := k.entity(all[key]); hasKey(e.managed, arn) && pg.under(e.path) {
			keys = append(keys, tag+key)
		}
	}
	return keys
}

// ListEntitiesForPolicy lists the groups, roles and users a managed policy
// is attached to in this account.
func (c *iamClient) ListEntitiesForPolicy(ctx context.Context, in *iam.ListEntitiesForPolicyInput, _ ...func(*iam.Options)) (*iam.ListEntitiesForPolicyOutput, error) {
	if in == nil || str(in.PolicyArn) == "" {
		return nil, opErr("IAM", "ListEntitiesForPolicy", required("ListEntitiesForPolicyInput", "PolicyArn"))
	}
	out := &iam.ListEntitiesForPolicyOutput{PolicyGroups: []types.PolicyGroup{}, PolicyRoles: []types.PolicyRole{}, PolicyUsers: []types.PolicyUser{}}
	return call(ctx, c.c, "IAM", "ListEntitiesForPolicy", policyRes(*in.PolicyArn), out, func(a *account) error {
		p, err := findPolicy(a, *in.PolicyArn)
		if err != nil {
			return err
		}
		pg, err := newIAMPager(in.MaxItems, in.Marker, in.PathPrefix)
		if err != nil {
			return err
		}
		want := func(t types.EntityType) bool { return in.EntityFilter == "" || in.EntityFilter == t }
		var keys []string
		if want(types.EntityTypeGroup) {
			keys = append(keys, holding(a, groupKind, pg, p.arn, "g/")...)
		}
		if want(types.EntityTypeRole) {
			keys = append(keys, holding(a, roleKind, pg, p.arn, "r/")...)
		}
		if want(types.EntityTypeUser) {
			keys = append(keys, holding(a, userKind, pg, p.arn, "u/")...)
		}
		var page []string
		page, out.Marker, out.IsTruncated = pg.page(keys, nil)
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
		return nil
	})
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

// managedOp is Attach{User,Role,Group}Policy (attach) and
// Detach{User,Role,Group}Policy.
func managedOp[T, O any](ctx context.Context, c *iamClient, op string, k *entityKind[T], name, arn *string, attach bool, out *O) (*O, error) {
	if str(name) == "" || str(arn) == "" {
		return nil, k.missing(op, "PolicyArn")
	}
	return onEntity(ctx, c, op, k, *name, true, out, func(a *account, t *T) error {
		e := k.entity(t)
		if attach {
			had := hasKey(e.managed, *arn)
			if err := attachManaged(a, &e.managed, *arn, k.quota); err != nil || had {
				return err
			}
			c.c.o.propagateLocked(managedAttachment{e, *arn})
			return nil
		}
		return detachManaged(a, &e.managed, *arn)
	})
}

// AttachUserPolicy attaches a managed policy to a user (at most 10).
func (c *iamClient) AttachUserPolicy(ctx context.Context, in *iam.AttachUserPolicyInput, _ ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	in = orEmpty(in)
	return managedOp(ctx, c, "AttachUserPolicy", userKind, in.UserName, in.PolicyArn, true, &iam.AttachUserPolicyOutput{})
}

// DetachUserPolicy detaches a managed policy; NoSuchEntity when not attached.
func (c *iamClient) DetachUserPolicy(ctx context.Context, in *iam.DetachUserPolicyInput, _ ...func(*iam.Options)) (*iam.DetachUserPolicyOutput, error) {
	in = orEmpty(in)
	return managedOp(ctx, c, "DetachUserPolicy", userKind, in.UserName, in.PolicyArn, false, &iam.DetachUserPolicyOutput{})
}

// AttachRolePolicy attaches a managed policy to a role (at most 10);
// service-linked and SSO roles are unmodifiable.
func (c *iamClient) AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, _ ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error) {
	in = orEmpty(in)
	return managedOp(ctx, c, "AttachRolePolicy", roleKind, in.RoleName, in.PolicyArn, true, &iam.AttachRolePolicyOutput{})
}

// DetachRolePolicy detaches a managed policy from a role.
func (c *iamClient) DetachRolePolicy(ctx context.Context, in *iam.DetachRolePolicyInput, _ ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error) {
	in = orEmpty(in)
	return managedOp(ctx, c, "DetachRolePolicy", roleKind, in.RoleName, in.PolicyArn, false, &iam.DetachRolePolicyOutput{})
}

// AttachGroupPolicy attaches a managed policy to a group (at most 10).
func (c *iamClient) AttachGroupPolicy(ctx context.Context, in *iam.AttachGroupPolicyInput, _ ...func(*iam.Options)) (*iam.AttachGroupPolicyOutput, error) {
	in = orEmpty(in)
	return managedOp(ctx, c, "AttachGroupPolicy", groupKind, in.GroupName, in.PolicyArn, true, &iam.AttachGroupPolicyOutput{})
}

// DetachGroupPolicy detaches a managed policy from a group.
func (c *iamClient) DetachGroupPolicy(ctx context.Context, in *iam.DetachGroupPolicyInput, _ ...func(*iam.Options)) (*iam.DetachGroupPolicyOutput, error) {
	in = orEmpty(in)
	return managedOp(ctx, c, "DetachGroupPolicy", groupKind, in.GroupName, in.PolicyArn, false, &iam.DetachGroupPolicyOutput{})
}
