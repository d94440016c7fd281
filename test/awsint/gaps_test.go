package awsint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestMotoGapsAreAsDocumented pins what test/README.md says moto does not
// model, talking to moto directly (not through the shim). When a moto
// upgrade closes a gap this test fails: update the table in test/README.md
// (and drop the shim's stand-in if it is one of its operations).
func TestMotoGapsAreAsDocumented(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := motoConfig()
	cfg.RetryMaxAttempts = 1
	c := iam.NewFromConfig(cfg)
	for i := 0; i < 3; i++ {
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("gap-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	readme := "update the moto gaps table in test/README.md"

	t.Run("ListServiceSpecificCredentials is not implemented", func(t *testing.T) {
		_, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("gap-0")})
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
			t.Errorf("moto answers ListServiceSpecificCredentials with %v: it is implemented now; remove the shim's stand-in and %s", err, readme)
		}
		_, err = c.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("gap-0"), ServiceName: aws.String("codecommit.amazonaws.com")})
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
			t.Errorf("moto answers CreateServiceSpecificCredential with %v: %s", err, readme)
		}
	})

	t.Run("ListUsers ignores MaxItems", func(t *testing.T) {
		out, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if out.IsTruncated || len(out.Users) != 3 {
			t.Errorf("ListUsers MaxItems=1 gave %d users, truncated %v: moto pages users now; %s", len(out.Users), out.IsTruncated, readme)
		}
		g, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("gap-0"), MaxItems: aws.Int32(1)})
		if err != nil || g.IsTruncated {
			t.Errorf("ListUserTags: %v %v", g, err)
		}
	})

	t.Run("AssumeRole checks nothing", func(t *testing.T) {
		assumed := cfg.Copy()
		assumed.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg),
			"arn:aws:iam::210987654321:role/NoSuchRole", func(o *stscreds.AssumeRoleOptions) { o.ExternalID = aws.String("wrong") }))
		if _, err := sts.NewFromConfig(assumed).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Errorf("assuming a role that does not exist fails (%v): moto checks roles now; %s", err, readme)
		}
	})

	t.Run("no policy is evaluated", func(t *testing.T) {
		// A user whose inline policy denies everything, and sessions older
		// than now, still lists users: IAM policies (and so SCPs,
		// conditions and aws:TokenIssueTime) are not evaluated.
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("gap-1"), PolicyName: aws.String("deny-all"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("gap-1")})
		if err != nil {
			t.Fatal(err)
		}
		as := cfg.Copy()
		as.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey), "")
		if _, err := iam.NewFromConfig(as).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
			t.Errorf("a denied user is refused (%v): moto evaluates policies now; %s", err, readme)
		}
		// An inactive key still works too.
		if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("gap-1"), AccessKeyId: k.AccessKey.AccessKeyId, Status: "Inactive"}); err != nil {
			t.Fatal(err)
		}
		if _, err := iam.NewFromConfig(as).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
			t.Errorf("an inactive key is refused (%v): moto checks key status now; %s", err, readme)
		}
	})

	t.Run("SCPs: no enable-first rule, no 5-per-target limit, no size limit", func(t *testing.T) {
		orgs := organizations.NewFromConfig(cfg)
		if _, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
			t.Fatal(err)
		}
		acct, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("gap"), Email: aws.String("gap@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		member := acct.CreateAccountStatus.AccountId
		big := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::%s"}]}`, strings.Repeat("b", 6000))
		for i := 0; i < 6; i++ { // with FullAWSAccess: 7 SCPs, the first attached before SCPs are enabled
			p, err := orgs.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(fmt.Sprintf("gap-%d", i)), Type: orgtypes.PolicyTypeServiceControlPolicy,
				Description: aws.String("gap"), Content: aws.String(big)})
			if err != nil {
				t.Fatalf("a %d-character SCP is refused (%v): moto checks the size now; %s", len(big), err, readme)
			}
			if _, err := orgs.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: p.Policy.PolicySummary.Id, TargetId: member}); err != nil {
				t.Fatalf("attaching SCP %d is refused (%v): moto checks the policy type or the limit now; %s", i+1, err, readme)
			}
		}
	})

	t.Run("IAM: no inline size limit, policies on service-linked roles accepted", func(t *testing.T) {
		big := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::%s"}]}`, strings.Repeat("b", 3000))
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("gap-2"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)}); err != nil {
			t.Errorf("a %d-character user inline policy is refused (%v): %s", len(big), err, readme)
		}
		slr, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(SLRService)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: slr.Role.RoleName, PolicyName: aws.String("deny"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)}); err != nil {
			t.Errorf("an inline policy on a service-linked role is refused (%v): %s", err, readme)
		}
	})
}
