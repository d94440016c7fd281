package sim

import (
	"context"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// GetAccountAuthorizationDetails returns the account's users, groups, roles
// and customer managed policies in one paged answer, like AWS: users with
// their tags, groups, inline policies (documents URL-encoded, as AWS
// returns them) and attached managed policies; roles with their trust
// policy (URL-encoded), tags, inline and attached policies; groups with
// their inline and attached policies. Filter keeps only the entity types
// listed (User, Role, Group, LocalManagedPolicy, AWSManagedPolicy); MaxItems
// (1-1000, default 100) and Marker page across all of them, users first,
// then groups, roles and policies, each sorted by name. AWS managed policies
// are listed when attached somewhere in the account.
func (c *iamClient) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	in = orEmpty(in)
	out := &iam.GetAccountAuthorizationDetailsOutput{
		UserDetailList: []types.UserDetail{}, GroupDetailList: []types.GroupDetail{},
		RoleDetailList: []types.RoleDetail{}, Policies: []types.ManagedPolicyDetail{},
	}
	return call(ctx, c.c, "IAM", "GetAccountAuthorizationDetails", nil, out, func(a *account) error {
		want, err := authFilter(in.Filter)
		if err != nil {
			return err
		}
		start, max, err := iamPage(in.MaxItems, in.Marker)
		if err != nil {
			return err
		}
		keys := authKeys(a, want)
		page, next, trunc := pageSorted(keys, start, max, nil)
		for _, k := range page {
			addAuthDetail(a, out, k)
		}
		out.IsTruncated = trunc
		if trunc {
			out.Marker = encodeToken(next)
		}
		return nil
	})
}

// the entity types of the filter, in AWS's spelling, and their key prefix
// (which orders the combined listing).
var authTypes = map[types.EntityType]string{
	types.EntityTypeUser: "1u:", types.EntityTypeGroup: "2g:", types.EntityTypeRole: "3r:",
	types.EntityTypeLocalManagedPolicy: "4l:", types.EntityTypeAWSManagedPolicy: "5a:",
}

func authFilter(f []types.EntityType) (map[string]bool, error) {
	want := map[string]bool{}
	for _, p := range authTypes {
		want[p] = len(f) == 0
	}
	for _, t := range f {
		p, ok := authTypes[t]
		if !ok {
			return nil, validationError("1 validation error detected: Value at 'filter' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]]")
		}
		want[p] = true
	}
	return want, nil
}

// authKeys lists the entities to return, sorted: "1u:name", "2g:name",
// "3r:name", "4l:name", "5a:arn".
func authKeys(a *account, want map[string]bool) []string {
	var keys []string
	add := func(prefix string, names []string) {
		if want[prefix] {
			for _, n := range names {
				keys = append(keys, prefix+n)
			}
		}
	}
	add("1u:", a.userKeys)
	add("2g:", a.groupKey)
	add("3r:", a.roleKeys)
	add("4l:", a.policyKeys)
	if want["5a:"] {
		seen := map[string]bool{}
		for arn := range a.attachN {
			if awsManaged[arn] != nil && a.attachN[arn] > 0 && !seen[arn] {
				seen[arn] = true
				keys = append(keys, "5a:"+arn)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func addAuthDetail(a *account, out *iam.GetAccountAuthorizationDetailsOutput, key string) {
	prefix, name := key[:3], key[3:]
	switch prefix {
	case "1u:":
		u := a.users[name]
		var groups []string
		for _, g := range u.groups {
			groups = append(groups, a.groups[g].name)
		}
		out.UserDetailList = append(out.UserDetailList, types.UserDetail{
			Arn: aws.String(u.arn(a.id)), CreateDate: aws.Time(u.created), Path: aws.String(u.path),
			UserId: aws.String(u.id), UserName: aws.String(u.name), Tags: tagList(u.tags),
			GroupList: groups, UserPolicyList: inlineDetails(u.inline), AttachedManagedPolicies: attachedList(u.managed),
		})
	case "2g:":
		g := a.groups[name]
		out.GroupDetailList = append(out.GroupDetailList, types.GroupDetail{
			Arn: aws.String(g.arn(a.id)), CreateDate: aws.Time(g.created), Path: aws.String(g.path),
			GroupId: aws.String(g.id), GroupName: aws.String(g.name),
			GroupPolicyList: inlineDetails(g.inline), AttachedManagedPolicies: attachedList(g.managed),
		})
	case "3r:":
		r := a.roles[name]
		out.RoleDetailList = append(out.RoleDetailList, types.RoleDetail{
			Arn: aws.String(r.arn(a.id)), CreateDate: aws.Time(r.created), Path: aws.String(r.path),
			RoleId: aws.String(r.id), RoleName: aws.String(r.name), Tags: tagList(r.tags),
			AssumeRolePolicyDocument: aws.String(awsURLEncode(r.trust)),
			RolePolicyList:           inlineDetails(r.inline), AttachedManagedPolicies: attachedList(r.managed),
			InstanceProfileList: []types.InstanceProfile{},
		})
	case "4l:":
		out.Policies = append(out.Policies, managedDetail(a.policies[name], a))
	case "5a:":
		out.Policies = append(out.Policies, managedDetail(awsManaged[name], a))
	}
}

func inlineDetails(m map[string]*inlinePolicy) []types.PolicyDetail {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]types.PolicyDetail, 0, len(names))
	for _, n := range names {
		out = append(out, types.PolicyDetail{PolicyName: aws.String(n), PolicyDocument: aws.String(awsURLEncode(m[n].doc))})
	}
	return out
}

func attachedList(arns []string) []types.AttachedPolicy {
	out := make([]types.AttachedPolicy, 0, len(arns))
	for _, arn := range arns {
		out = append(out, types.AttachedPolicy{PolicyArn: aws.String(arn), PolicyName: aws.String(arn[strings.LastIndex(arn, "/")+1:])})
	}
	return out
}

func managedDetail(p *managedPolicy, a *account) types.ManagedPolicyDetail {
	d := types.ManagedPolicyDetail{
		Arn: aws.String(p.arn), PolicyName: aws.String(p.name), PolicyId: aws.String(p.id), Path: aws.String(p.path),
		CreateDate: aws.Time(p.created), UpdateDate: aws.Time(p.updated), DefaultVersionId: aws.String(p.defaultVer),
		AttachmentCount: aws.Int32(int32(a.attachN[p.arn])), IsAttachable: true,
	}
	for _, v := range p.versions {
		d.PolicyVersionList = append(d.PolicyVersionList, types.PolicyVersion{
			VersionId: aws.String(v.id), Document: aws.String(awsURLEncode(v.doc)), CreateDate: aws.Time(v.created),
			IsDefaultVersion: v.id == p.defaultVer,
		})
	}
	return d
}
