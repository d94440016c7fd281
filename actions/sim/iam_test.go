package sim

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

func TestListUsersPaginatorWalks250Users(t *testing.T) {
	o := NewStandalone(soloID)
	for i := range 250 {
		must(t, o.AddUser(soloID, User{Name: fmt.Sprintf("u%03d", i), Tags: map[string]string{"n": fmt.Sprint(i)}}))
	}
	c := mustClients(t, o, soloID)
	for _, tc := range []struct {
		name  string
		limit int32
		pages int
	}{
		{"default page size", 0, 3},
		{"MaxItems 7", 7, 36},
		{"MaxItems 250", 250, 1},
		{"MaxItems 1000", 1000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := iam.NewListUsersPaginator(c.IAM, &iam.ListUsersInput{}, func(o *iam.ListUsersPaginatorOptions) { o.Limit = tc.limit })
			var names []string
			pages := 0
			for p.HasMorePages() {
				out, err := p.NextPage(bg)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if out.IsTruncated != (out.Marker != nil) {
					t.Fatalf("IsTruncated %v with Marker %v", out.IsTruncated, out.Marker)
				}
				for _, u := range out.Users {
					if u.Tags != nil {
						t.Fatalf("ListUsers returned tags for %s (AWS does not)", *u.UserName)
					}
					names = append(names, *u.UserName)
				}
			}
			if len(names) != 250 || pages != tc.pages || !sort.StringsAreSorted(names) {
				t.Fatalf("%d users in %d pages (want 250 in %d), sorted %v", len(names), pages, tc.pages, sort.StringsAreSorted(names))
			}
		})
	}
}

func TestPagingMarkerSurvivesInsertions(t *testing.T) {
	o := NewStandalone(soloID)
	for i := range 10 {
		must(t, o.AddUser(soloID, User{Name: fmt.Sprintf("u%02d", i*2)}))
	}
	c := mustClients(t, o, soloID)
	out, err := c.IAM.ListUsers(bg, &iam.ListUsersInput{MaxItems: aws.Int32(5)})
	must(t, err)
	must(t, o.AddUser(soloID, User{Name: "u01"})) // before the marker: not returned
	must(t, o.AddUser(soloID, User{Name: "u15"})) // after: returned
	out2, err := c.IAM.ListUsers(bg, &iam.ListUsersInput{Marker: out.Marker})
	must(t, err)
	var got []string
	for _, u := range out2.Users {
		got = append(got, *u.UserName)
	}
	if strings.Join(got, ",") != "u10,u12,u14,u15,u16,u18" || out2.IsTruncated {
		t.Fatalf("second page %v truncated %v", got, out2.IsTruncated)
	}
}

func TestListFilteringAndEncoding(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "a", Path: "/dev/"}))
	must(t, o.AddUser(soloID, User{Name: "b", Path: "/dev/team/"}))
	must(t, o.AddUser(soloID, User{Name: "c", Tags: map[string]string{"z": "1", "a": "2", "killswitch:break-glass": "true"}}))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a b+c&d"}}}]}`
	must(t, o.AddRole(soloID, Role{Name: "Vendor", Trust: trust, Tags: map[string]string{"owner": "sec"}}))
	must(t, o.AddRole(soloID, Role{Name: "AWSServiceRoleForSupport"}))
	must(t, o.AddGroup(soloID, Group{Name: "Ops", Path: "/dev/"}))
	c := mustClients(t, o, soloID)

	users, err := c.IAM.ListUsers(bg, &iam.ListUsersInput{PathPrefix: aws.String("/dev/")})
	must(t, err)
	if len(users.Users) != 2 || *users.Users[0].Arn != "arn:aws:iam::111122223333:user/dev/a" {
		t.Fatalf("PathPrefix /dev/: %+v", users.Users)
	}
	roles, err := c.IAM.ListRoles(bg, &iam.ListRolesInput{PathPrefix: aws.String("/aws-service-role/")})
	must(t, err)
	if len(roles.Roles) != 1 || *roles.Roles[0].Path != "/aws-service-role/support.amazonaws.com/" {
		t.Fatalf("service-linked roles: %+v", roles.Roles)
	}
	roles, err = c.IAM.ListRoles(bg, &iam.ListRolesInput{})
	must(t, err)
	var vendor types.Role
	for _, r := range roles.Roles {
		if *r.RoleName == "Vendor" {
			vendor = r
		}
		if r.Tags != nil {
			t.Fatal("ListRoles returned tags")
		}
	}
	enc := *vendor.AssumeRolePolicyDocument
	if strings.ContainsAny(enc, `{"+ `) {
		t.Fatalf("trust policy not URL-encoded: %s", enc)
	}
	for name, dec := range map[string]func(string) (string, error){"QueryUnescape": url.QueryUnescape, "PathUnescape": url.PathUnescape} {
		if got, err := dec(enc); err != nil || got != trust {
			t.Errorf("%s(trust) = %q, %v", name, got, err)
		}
	}
	tags, err := c.IAM.ListUserTags(bg, &iam.ListUserTagsInput{UserName: aws.String("c")})
	must(t, err)
	if len(tags.Tags) != 3 || *tags.Tags[0].Key != "a" || *tags.Tags[2].Key != "z" {
		t.Fatalf("user tags %+v", tags.Tags)
	}
	tags, err = c.IAM.ListUserTags(bg, &iam.ListUserTagsInput{UserName: aws.String("c"), MaxItems: aws.Int32(2)})
	must(t, err)
	if len(tags.Tags) != 2 || !tags.IsTruncated {
		t.Fatalf("tag paging %+v", tags)
	}
	rt, err := c.IAM.ListRoleTags(bg, &iam.ListRoleTagsInput{RoleName: aws.String("vendor")})
	must(t, err)
	if len(rt.Tags) != 1 || *rt.Tags[0].Value != "sec" {
		t.Fatalf("role tags (case-insensitive name) %+v", rt.Tags)
	}
	groups, err := c.IAM.ListGroups(bg, &iam.ListGroupsInput{PathPrefix: aws.String("/dev/")})
	must(t, err)
	if len(groups.Groups) != 1 || *groups.Groups[0].Arn != "arn:aws:iam::111122223333:group/dev/Ops" {
		t.Fatalf("groups %+v", groups.Groups)
	}
}

func TestAccessKeys(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "alice", AccessKeys: []AccessKey{{Active: true}}}))
	c := mustClients(t, o, soloID)
	out, err := c.IAM.CreateAccessKey(bg, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	must(t, err)
	k := out.AccessKey
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(*k.AccessKeyId) || len(*k.SecretAccessKey) != 40 || k.Status != types.StatusTypeActive {
		t.Fatalf("key %s secret len %d status %s", *k.AccessKeyId, len(*k.SecretAccessKey), k.Status)
	}
	if !o.VerifyAccessKeySecret(soloID, *k.AccessKeyId, *k.SecretAccessKey) || o.VerifyAccessKeySecret(soloID, *k.AccessKeyId, "wrong") {
		t.Fatal("VerifyAccessKeySecret")
	}
	_, err = c.IAM.CreateAccessKey(bg, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if !isErr[*types.LimitExceededException](err) {
		t.Fatalf("third key: %v", err)
	}
	_, err = c.IAM.UpdateAccessKey(bg, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k.AccessKeyId, Status: types.StatusTypeInactive})
	must(t, err)
	list, err := c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	must(t, err)
	if len(list.AccessKeyMetadata) != 2 || list.AccessKeyMetadata[1].Status != types.StatusTypeInactive || *list.AccessKeyMetadata[1].AccessKeyId != *k.AccessKeyId {
		t.Fatalf("keys %+v", list.AccessKeyMetadata)
	}
	list, err = c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1)})
	must(t, err)
	if len(list.AccessKeyMetadata) != 1 || !list.IsTruncated {
		t.Fatalf("key paging %+v", list)
	}
	list, err = c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: aws.String("alice"), Marker: list.Marker})
	must(t, err)
	if len(list.AccessKeyMetadata) != 1 || list.IsTruncated || *list.AccessKeyMetadata[0].AccessKeyId != *k.AccessKeyId {
		t.Fatalf("key page 2 %+v", list)
	}
}

func TestCredentialStatuses(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "alice", Password: true, SSHKeys: 2, ServiceCredentials: 1}))
	must(t, o.AddUser(soloID, User{Name: "bob", ServiceCredentials: 2}))
	c := mustClients(t, o, soloID)
	lp, err := c.IAM.GetLoginProfile(bg, &iam.GetLoginProfileInput{UserName: aws.String("alice")})
	must(t, err)
	if *lp.LoginProfile.UserName != "alice" {
		t.Fatal(lp.LoginProfile)
	}
	_, err = c.IAM.DeleteLoginProfile(bg, &iam.DeleteLoginProfileInput{UserName: aws.String("alice")})
	must(t, err)
	if _, err = c.IAM.GetLoginProfile(bg, &iam.GetLoginProfileInput{UserName: aws.String("alice")}); !isErr[*types.NoSuchEntityException](err) {
		t.Fatalf("deleted login profile: %v", err)
	}
	ssh, err := c.IAM.ListSSHPublicKeys(bg, &iam.ListSSHPublicKeysInput{UserName: aws.String("alice")})
	must(t, err)
	if len(ssh.SSHPublicKeys) != 2 || ssh.SSHPublicKeys[0].Status != types.StatusTypeActive {
		t.Fatalf("ssh %+v", ssh.SSHPublicKeys)
	}
	_, err = c.IAM.UpdateSSHPublicKey(bg, &iam.UpdateSSHPublicKeyInput{UserName: aws.String("alice"), SSHPublicKeyId: ssh.SSHPublicKeys[1].SSHPublicKeyId, Status: types.StatusTypeInactive})
	must(t, err)
	svc, err := c.IAM.ListServiceSpecificCredentials(bg, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("alice")})
	must(t, err)
	if len(svc.ServiceSpecificCredentials) != 1 || *svc.ServiceSpecificCredentials[0].ServiceName != "codecommit.amazonaws.com" {
		t.Fatalf("svc %+v", svc.ServiceSpecificCredentials)
	}
	_, err = c.IAM.UpdateServiceSpecificCredential(bg, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String("alice"), ServiceSpecificCredentialId: svc.ServiceSpecificCredentials[0].ServiceSpecificCredentialId, Status: types.StatusTypeInactive})
	must(t, err)
	all, err := c.IAM.ListServiceSpecificCredentials(bg, &iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)})
	must(t, err)
	if len(all.ServiceSpecificCredentials) != 3 {
		t.Fatalf("AllUsers: %d credentials", len(all.ServiceSpecificCredentials))
	}
	st := o.Snapshot(soloID)
	a := st.Users[0]
	if a.LoginProfile || !a.SSHKeys[0].Active || a.SSHKeys[1].Active || a.ServiceCredentials[0].Active {
		t.Fatalf("snapshot %+v", a)
	}
}

// TestIAMTypedErrors covers every typed error the IAM client returns.
func TestIAMTypedErrors(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "alice", AccessKeys: []AccessKey{{Active: true}, {Active: true}}, Groups: nil}))
	must(t, o.AddUser(soloID, User{Name: "full", ManagedPolicies: []string{}}))
	must(t, o.AddGroup(soloID, Group{Name: "Devs"}))
	must(t, o.AddRole(soloID, Role{Name: "app"}))
	must(t, o.AddRole(soloID, Role{Name: "AWSServiceRoleForSupport", InlinePolicies: map[string]string{"x": doc("Allow", "support:*", "*", "")}}))
	must(t, o.AddRole(soloID, Role{Name: "AWSReservedSSO_AdministratorAccess_abc123", ManagedPolicies: []string{adminARN}}))
	var arns []string
	for i := range 11 {
		arn, err := o.AddPolicy(soloID, Policy{Name: fmt.Sprintf("p%02d", i), Document: doc("Allow", "s3:GetObject", "*", "")})
		must(t, err)
		arns = append(arns, arn)
	}
	for _, arn := range arns[:10] {
		must(t, o.attach(soloID, "full", arn))
	}
	c := mustClients(t, o, soloID).IAM
	user := aws.String("alice")
	cases := []struct {
		name  string
		call  func(context.Context) error
		check func(error) bool
	}{
		{"GetLoginProfile without profile", func(ctx context.Context) error {
			_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: user})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"GetLoginProfile unknown user", func(ctx context.Context) error {
			_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("nobody")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"DeleteLoginProfile without profile", func(ctx context.Context) error {
			_, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: user})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"CreateAccessKey third key", func(ctx context.Context) error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
			return err
		}, isErr[*types.LimitExceededException]},
		{"UpdateAccessKey unknown key", func(ctx context.Context) error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA"), Status: types.StatusTypeInactive})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"UpdateAccessKey bad status", func(ctx context.Context) error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA"), Status: "Paused"})
			return err
		}, code("ValidationError")},
		{"ListAccessKeys without UserName (role caller)", func(ctx context.Context) error {
			_, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
			return err
		}, code("ValidationError")},
		{"ListUserTags without UserName", func(ctx context.Context) error {
			_, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{})
			return err
		}, isErr[smithy.InvalidParamsError]},
		{"ListUsers MaxItems 0", func(ctx context.Context) error {
			_, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(0)})
			return err
		}, code("ValidationError")},
		{"ListUsers MaxItems 1001", func(ctx context.Context) error {
			_, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1001)})
			return err
		}, code("ValidationError")},
		{"ListUsers bad marker", func(ctx context.Context) error {
			_, err := c.ListUsers(ctx, &iam.ListUsersInput{Marker: aws.String("!!")})
			return err
		}, code("ValidationError")},
		{"UpdateSSHPublicKey unknown", func(ctx context.Context) error {
			_, err := c.UpdateSSHPublicKey(ctx, &iam.UpdateSSHPublicKeyInput{UserName: user, SSHPublicKeyId: aws.String("APKAX"), Status: types.StatusTypeInactive})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"UpdateServiceSpecificCredential unknown", func(ctx context.Context) error {
			_, err := c.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: aws.String("ACCAX"), Status: types.StatusTypeInactive})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"PutUserPolicy 2,049 characters", func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("big"), PolicyDocument: aws.String(docOfSize(2049, 0))})
			return err
		}, isErr[*types.LimitExceededException]},
		{"PutUserPolicy invalid JSON", func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":[`)})
			return err
		}, isErr[*types.MalformedPolicyDocumentException]},
		{"PutUserPolicy without Resource", func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":{"Effect":"Deny","Action":"*"}}`)})
			return err
		}, isErr[*types.MalformedPolicyDocumentException]},
		{"PutUserPolicy bad Effect", func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":{"Effect":"deny","Action":"*","Resource":"*"}}`)})
			return err
		}, isErr[*types.MalformedPolicyDocumentException]},
		{"PutUserPolicy with Principal", func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}`)})
			return err
		}, isErr[*types.MalformedPolicyDocumentException]},
		{"PutUserPolicy action without vendor", func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("bad"), PolicyDocument: aws.String(doc("Deny", "DeleteSnapshot", "*", ""))})
			return err
		}, isErr[*types.MalformedPolicyDocumentException]},
		{"GetUserPolicy missing", func(ctx context.Context) error {
			_, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String("nope")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"DeleteUserPolicy missing", func(ctx context.Context) error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: user, PolicyName: aws.String("nope")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"PutRolePolicy 10,241 characters", func(ctx context.Context) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("big"), PolicyDocument: aws.String(docOfSize(10241, 0))})
			return err
		}, isErr[*types.LimitExceededException]},
		{"PutRolePolicy on a service-linked role", func(ctx context.Context) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("AWSServiceRoleForSupport"), PolicyName: aws.String("x"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}, isErr[*types.UnmodifiableEntityException]},
		{"DeleteRolePolicy on a service-linked role", func(ctx context.Context) error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("AWSServiceRoleForSupport"), PolicyName: aws.String("x")})
			return err
		}, isErr[*types.UnmodifiableEntityException]},
		{"AttachRolePolicy on a service-linked role", func(ctx context.Context) error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("AWSServiceRoleForSupport"), PolicyArn: aws.String(arns[0])})
			return err
		}, isErr[*types.UnmodifiableEntityException]},
		{"PutRolePolicy on an SSO role", func(ctx context.Context) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("AWSReservedSSO_AdministratorAccess_abc123"), PolicyName: aws.String("x"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}, isErr[*types.UnmodifiableEntityException]},
		{"DetachRolePolicy on an SSO role", func(ctx context.Context) error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("AWSReservedSSO_AdministratorAccess_abc123"), PolicyArn: aws.String(adminARN)})
			return err
		}, isErr[*types.UnmodifiableEntityException]},
		{"GetRolePolicy missing", func(ctx context.Context) error {
			_, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("nope")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"PutRolePolicy unknown role", func(ctx context.Context) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ghost"), PolicyName: aws.String("x"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"CreatePolicy duplicate name", func(ctx context.Context) error {
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("P00"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}, isErr[*types.EntityAlreadyExistsException]},
		{"CreatePolicy 6,145 characters", func(ctx context.Context) error {
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("big"), PolicyDocument: aws.String(docOfSize(6145, 0))})
			return err
		}, isErr[*types.LimitExceededException]},
		{"CreatePolicy malformed", func(ctx context.Context) error {
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(`[]`)})
			return err
		}, isErr[*types.MalformedPolicyDocumentException]},
		{"GetPolicy unknown", func(ctx context.Context) error {
			_, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::111122223333:policy/nope")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"GetPolicy other account's policy", func(ctx context.Context) error {
			_, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::999988887777:policy/p00")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"GetPolicy invalid ARN", func(ctx context.Context) error {
			_, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("p00")})
			return err
		}, isErr[*types.InvalidInputException]},
		{"GetPolicyVersion unknown version", func(ctx context.Context) error {
			_, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arns[0]), VersionId: aws.String("v2")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"AttachUserPolicy eleventh policy", func(ctx context.Context) error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("full"), PolicyArn: aws.String(arns[10])})
			return err
		}, isErr[*types.LimitExceededException]},
		{"AttachUserPolicy unknown AWS managed policy", func(ctx context.Context) error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"DetachUserPolicy not attached", func(ctx context.Context) error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: user, PolicyArn: aws.String(arns[0])})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"DetachGroupPolicy not attached", func(ctx context.Context) error {
			_, err := c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("Devs"), PolicyArn: aws.String(arns[0])})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"DetachRolePolicy not attached", func(ctx context.Context) error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(arns[0])})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"AttachGroupPolicy unknown group", func(ctx context.Context) error {
			_, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("ghost"), PolicyArn: aws.String(arns[0])})
			return err
		}, isErr[*types.NoSuchEntityException]},
		{"DeletePolicy while attached", func(ctx context.Context) error {
			_, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arns[0])})
			return err
		}, isErr[*types.DeleteConflictException]},
		{"DeletePolicy AWS managed", func(ctx context.Context) error {
			_, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(adminARN)})
			return err
		}, isErr[*types.InvalidInputException]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(bg)
			if !tc.check(err) {
				t.Fatalf("got %T: %v", err, err)
			}
			if !isErr[*smithy.OperationError](err) {
				t.Fatalf("not wrapped like the SDK: %T", err)
			}
		})
	}
}

func code(c string) func(error) bool {
	return func(err error) bool { return awsapi.ErrorCode(err) == c }
}

// attach is a test shortcut for attaching a managed policy to a user.
func (o *Org) attach(acct, userName, arn string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	u := a.users[strings.ToLower(userName)]
	return attachManaged(a, &u.managed, arn, "PoliciesPerUser")
}

func TestInlinePolicySizeLimits(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "u"}))
	must(t, o.AddRole(soloID, Role{Name: "r"}))
	c := mustClients(t, o, soloID).IAM
	for _, tc := range []struct {
		name    string
		role    bool
		policy  string
		doc     string
		limited bool
	}{
		{"user exactly 2,048", false, "a", docOfSize(2048, 0), false},
		{"user 2,048 plus white space", false, "a", docOfSize(2048, 5000), false},
		{"user replacing the same name stays within", false, "a", docOfSize(2000, 0), false},
		{"user aggregate over 2,048", false, "b", docOfSize(150, 0), true},
		{"role exactly 10,240", true, "a", docOfSize(10240, 0), false},
		{"role aggregate over 10,240", true, "b", docOfSize(150, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.role {
				_, err = c.PutRolePolicy(bg, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String(tc.policy), PolicyDocument: aws.String(tc.doc)})
			} else {
				_, err = c.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String(tc.policy), PolicyDocument: aws.String(tc.doc)})
			}
			if got := isErr[*types.LimitExceededException](err); got != tc.limited || (!tc.limited && err != nil) {
				t.Fatalf("err = %v, want limited %v", err, tc.limited)
			}
		})
	}
	// a 6,144 managed policy is accepted, with white space not counted
	_, err := c.CreatePolicy(bg, &iam.CreatePolicyInput{PolicyName: aws.String("max"), PolicyDocument: aws.String(docOfSize(6144, 1000))})
	must(t, err)
}

func TestInlinePolicyRoundTrip(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "u"}))
	must(t, o.AddRole(soloID, Role{Name: "r"}))
	c := mustClients(t, o, soloID).IAM
	d := `{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}}}}`
	_, err := c.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("revoke"), PolicyDocument: aws.String(d)})
	must(t, err)
	got, err := c.GetUserPolicy(bg, &iam.GetUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("revoke")})
	must(t, err)
	if dec, _ := url.QueryUnescape(*got.PolicyDocument); dec != d || *got.PolicyDocument == d {
		t.Fatalf("GetUserPolicy document %q", *got.PolicyDocument)
	}
	_, err = c.PutRolePolicy(bg, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("revoke"), PolicyDocument: aws.String(d)})
	must(t, err)
	rp, err := c.GetRolePolicy(bg, &iam.GetRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("revoke")})
	must(t, err)
	if dec, _ := url.PathUnescape(*rp.PolicyDocument); dec != d {
		t.Fatalf("GetRolePolicy document %q", dec)
	}
	_, err = c.DeleteRolePolicy(bg, &iam.DeleteRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("revoke")})
	must(t, err)
	_, err = c.DeleteUserPolicy(bg, &iam.DeleteUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("revoke")})
	must(t, err)
	st := o.Snapshot(soloID)
	if len(st.Users[0].InlinePolicies) != 0 {
		t.Fatal("inline policy not deleted")
	}
}

func TestManagedPolicies(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddGroup(soloID, Group{Name: "Devs"}))
	must(t, o.AddUser(soloID, User{Name: "alice", Groups: []string{"Devs"}}))
	must(t, o.AddUser(soloID, User{Name: "bob", Path: "/svc/"}))
	must(t, o.AddRole(soloID, Role{Name: "app"}))
	c := mustClients(t, o, soloID).IAM
	d := doc("Deny", "ec2:DeleteSnapshot", "*", "")
	out, err := c.CreatePolicy(bg, &iam.CreatePolicyInput{PolicyName: aws.String("KillSwitchDenyDelete"), Path: aws.String("/killswitch/"), PolicyDocument: aws.String(d), Description: aws.String("deny delete"),
		Tags: []types.Tag{{Key: aws.String("killswitch:request"), Value: aws.String("ks-1")}}})
	must(t, err)
	arn := *out.Policy.Arn
	if arn != "arn:aws:iam::111122223333:policy/killswitch/KillSwitchDenyDelete" || *out.Policy.DefaultVersionId != "v1" || *out.Policy.AttachmentCount != 0 {
		t.Fatalf("created %+v", out.Policy)
	}
	for range 2 { // attaching twice succeeds silently
		_, err = c.AttachUserPolicy(bg, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: &arn})
		must(t, err)
	}
	_, err = c.AttachGroupPolicy(bg, &iam.AttachGroupPolicyInput{GroupName: aws.String("Devs"), PolicyArn: &arn})
	must(t, err)
	_, err = c.AttachRolePolicy(bg, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: &arn})
	must(t, err)
	_, err = c.AttachRolePolicy(bg, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(readOnlyARN)})
	must(t, err)

	gp, err := c.GetPolicy(bg, &iam.GetPolicyInput{PolicyArn: &arn})
	must(t, err)
	if *gp.Policy.AttachmentCount != 3 || *gp.Policy.Description != "deny delete" || len(gp.Policy.Tags) != 1 || *gp.Policy.Tags[0].Value != "ks-1" {
		t.Fatalf("GetPolicy %+v", gp.Policy)
	}
	v, err := c.GetPolicyVersion(bg, &iam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v1")})
	must(t, err)
	if dec, _ := url.QueryUnescape(*v.PolicyVersion.Document); dec != d || !v.PolicyVersion.IsDefaultVersion {
		t.Fatalf("version %+v", v.PolicyVersion)
	}
	ents, err := c.ListEntitiesForPolicy(bg, &iam.ListEntitiesForPolicyInput{PolicyArn: &arn})
	must(t, err)
	if len(ents.PolicyUsers) != 1 || len(ents.PolicyGroups) != 1 || len(ents.PolicyRoles) != 1 || *ents.PolicyUsers[0].UserName != "bob" {
		t.Fatalf("entities %+v", ents)
	}
	ents, err = c.ListEntitiesForPolicy(bg, &iam.ListEntitiesForPolicyInput{PolicyArn: &arn, EntityFilter: types.EntityTypeRole})
	must(t, err)
	if len(ents.PolicyUsers)+len(ents.PolicyGroups) != 0 || len(ents.PolicyRoles) != 1 {
		t.Fatalf("role filter %+v", ents)
	}
	ents, err = c.ListEntitiesForPolicy(bg, &iam.ListEntitiesForPolicyInput{PolicyArn: &arn, MaxItems: aws.Int32(2)})
	must(t, err)
	if n := len(ents.PolicyUsers) + len(ents.PolicyGroups) + len(ents.PolicyRoles); n != 2 || !ents.IsTruncated {
		t.Fatalf("entity paging %d truncated %v", n, ents.IsTruncated)
	}

	for _, tc := range []struct {
		name  string
		in    iam.ListPoliciesInput
		want  func([]string) bool
		about string
	}{
		{"Local", iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal}, func(a []string) bool { return len(a) == 1 && a[0] == arn }, "only the customer policy"},
		{"AWS", iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws}, func(a []string) bool { return len(a) == len(awsManagedARNs) }, "the AWS catalog"},
		{"All", iam.ListPoliciesInput{}, func(a []string) bool { return len(a) == len(awsManagedARNs)+1 }, "both"},
		{"OnlyAttached", iam.ListPoliciesInput{OnlyAttached: true}, func(a []string) bool {
			return len(a) == 2 && a[0] == arn && a[1] == readOnlyARN
		}, "ReadOnlyAccess and the customer policy"},
		{"PathPrefix", iam.ListPoliciesInput{PathPrefix: aws.String("/killswitch/")}, func(a []string) bool { return len(a) == 1 }, "the customer policy"},
		{"PathPrefix service role", iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws, PathPrefix: aws.String("/aws-service-role/")}, func(a []string) bool { return len(a) >= 2 }, "service role policies"},
	} {
		t.Run("ListPolicies "+tc.name, func(t *testing.T) {
			p := iam.NewListPoliciesPaginator(c, &tc.in, func(o *iam.ListPoliciesPaginatorOptions) { o.Limit = 3 })
			var got []string
			for p.HasMorePages() {
				out, err := p.NextPage(bg)
				must(t, err)
				for _, p := range out.Policies {
					got = append(got, *p.Arn)
				}
			}
			if !tc.want(got) {
				t.Fatalf("want %s, got %v", tc.about, got)
			}
		})
	}

	_, err = c.DetachUserPolicy(bg, &iam.DetachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: &arn})
	must(t, err)
	_, err = c.DetachGroupPolicy(bg, &iam.DetachGroupPolicyInput{GroupName: aws.String("Devs"), PolicyArn: &arn})
	must(t, err)
	_, err = c.DetachRolePolicy(bg, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: &arn})
	must(t, err)
	_, err = c.DeletePolicy(bg, &iam.DeletePolicyInput{PolicyArn: &arn})
	must(t, err)
	if _, err = c.GetPolicy(bg, &iam.GetPolicyInput{PolicyArn: &arn}); !isErr[*types.NoSuchEntityException](err) {
		t.Fatalf("deleted policy: %v", err)
	}
}
