// Package awsint holds the integration tests of killswitch against the moto
// AWS emulator (test/moto): the real client factory (actions/awsapi) and the
// real SDK clients, on an organization seeded through the SDK the way a real
// one is built. See test/README.md for how they run and what moto does not
// model.
//
// The non-test files are reusable by other test packages: Seed builds the
// emulated organization, AccountConfig enters one of its accounts as an
// administrator, Shim stands in for the few IAM operations moto lacks,
// ReadState reads the organization's whole state back through the SDK
// (state.go), and Expect derives the state each action and its undo must
// leave, with the checkers AssertState, CheckPinnedRevokeTime,
// CheckBotRoleUntouched and CheckUndoWarnings (expect.go).
package awsint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/killswitch/killswitch/policies"
)

// Names the seed uses. They match killswitch's defaults and CONTRACT.md.
// Regions are the regions the engines of these tests read backups in
// (aws.regions): moto enables 38, and reading each costs a second of
// every lockdown plan.
var Regions = []string{"us-east-1"} // moto.Region

const (
	// ResponderRole is the role the bot assumes in every account.
	ResponderRole = "KillSwitchResponder"
	// ConfirmTimeout is how long the engines of these tests wait for the
	// guardrail canary: moto never evaluates SCPs or IAM denies, so the
	// canary's dry run never fails and every lockdown goes on unconfirmed.
	ConfirmTimeout = time.Second
	// ResponderPolicy is the inline policy on ResponderRole: the rendered
	// bot-policy.
	ResponderPolicy = "KillSwitchResponderPolicy"
	// MemberAccessRole is the role organizations:CreateAccount makes in each
	// member, trusting the management account.
	MemberAccessRole = "OrganizationAccountAccessRole"
	// BreakGlassRole matches the break-glass pattern BreakGlassPattern.
	BreakGlassRole    = "BreakGlassAdmin"
	BreakGlassPattern = "arn:aws:iam::*:role/BreakGlass*"
	// BreakGlassTag exempts the user carrying it.
	BreakGlassTag  = "killswitch:break-glass"
	BreakGlassUser = "breakglass-oncall"
	// SSORole is an IAM Identity Center role, under the path AWS uses.
	SSORole = "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b"
	SSOPath = "/aws-reserved/sso.amazonaws.com/"
	// SLRService is the service whose service-linked role the seed creates.
	SLRService = "autoscaling.amazonaws.com"
	// OutsideAccount is trusted by the vendor-audit role: find-backdoors
	// reports it as outside the accounts in scope.
	OutsideAccount = "999999999999"
	// SeedPassword is the console password of the seeded users.
	SeedPassword = "Seed-Passw0rd!-not-secret"
)

// Exemption categories of seeded principals (Principal.Exempt): why
// killswitch must never touch them.
const (
	ExemptBot             = "bot"
	ExemptPattern         = "break-glass pattern"
	ExemptTag             = "break-glass tag"
	ExemptServiceLinked   = "service-linked"
	ExemptIdentityCenter  = "identity-center"
	notExempt             = ""
	seedSessionName       = "killswitch-seed"
	createAccountAttempts = 100
)

// SeedOptions size the organization.
type SeedOptions struct {
	// Standalone seeds base's account alone, without an organization
	// (Members must be 0).
	Standalone bool
	// Members is the number of member accounts made with CreateAccount.
	Members int
	// ExtraUsers per account, besides the fixed ones: each with a console
	// password and one access key.
	ExtraUsers int
	// ExtraRoles per account, besides the fixed ones.
	ExtraRoles int
}

// Org is what Seed made.
type Org struct {
	// Management is the management account, or the standalone account.
	Management string
	Members    []string // in creation order
	Standalone bool     // no organization
	Accounts   map[string]*Account
}

// IDs returns every account id, sorted (what ListAccounts discovery gives).
func (o *Org) IDs() []string {
	ids := append([]string{o.Management}, o.Members...)
	sort.Strings(ids)
	return ids
}

// Account is one seeded account.
type Account struct {
	ID        string
	Users     []Principal
	Roles     []Principal
	Groups    []Principal
	Snapshots []string // EBS snapshot ids
	Buckets   []string // S3 bucket names
}

// Principal is a seeded IAM user, role or group.
type Principal struct {
	Kind, Name, ARN, Path string
	Exempt                string // one of the Exempt* categories, or ""
	LoginProfile          bool
	AccessKeys            []string // ids, oldest first
	SSHKeys               []string
}

// Principals returns users, roles and groups.
func (a *Account) Principals() []Principal {
	return append(append(append([]Principal(nil), a.Users...), a.Roles...), a.Groups...)
}

// Find returns the principal with the ARN.
func (a *Account) Find(arn string) (Principal, bool) {
	for _, p := range a.Principals() {
		if p.ARN == arn {
			return p, true
		}
	}
	return Principal{}, false
}

// AccountConfig returns an SDK config acting as an administrator inside
// account: base itself in the management account, and the member's
// OrganizationAccountAccessRole assumed from it elsewhere — what an
// organization's administrators do on AWS.
func AccountConfig(base aws.Config, management, account string) aws.Config {
	if account == management {
		return base
	}
	c := base.Copy()
	arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", account, MemberAccessRole)
	c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = seedSessionName
	}))
	return c
}

// Seed builds an organization through the SDK, as on AWS: base (acting in
// the management account) creates the organization (all features) and
// opt.Members member accounts; in every account it creates the responder
// role trusting the management account, break-glass principals (a role by
// name, a user by tag), a service-linked role, an IAM Identity Center role,
// ordinary roles, users with console passwords, access keys and an SSH key,
// groups, an EBS volume with a snapshot and an S3 bucket with an object.
// With opt.Standalone it seeds base's account alone, outside any
// organization.
func Seed(ctx context.Context, base aws.Config, opt SeedOptions) (*Org, error) {
	if opt.Standalone {
		if opt.Members != 0 {
			return nil, errors.New("seed: a standalone account has no members")
		}
		who, err := sts.NewFromConfig(base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("seed: who am I: %w", err)
		}
		id := aws.ToString(who.Account)
		a, err := seedAccount(ctx, base, id, id, opt)
		if err != nil {
			return nil, fmt.Errorf("seed account %s: %w", id, err)
		}
		return &Org{Management: id, Standalone: true, Accounts: map[string]*Account{id: a}}, nil
	}
	orgs := organizations.NewFromConfig(base)
	if _, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		return nil, fmt.Errorf("seed: create organization: %w", err)
	}
	d, err := orgs.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, fmt.Errorf("seed: describe organization: %w", err)
	}
	org := &Org{Management: aws.ToString(d.Organization.MasterAccountId), Accounts: map[string]*Account{}}
	for i := 0; i < opt.Members; i++ {
		id, err := createAccount(ctx, orgs, i)
		if err != nil {
			return nil, err
		}
		org.Members = append(org.Members, id)
	}
	for _, id := range append([]string{org.Management}, org.Members...) {
		a, err := seedAccount(ctx, AccountConfig(base, org.Management, id), org.Management, id, opt)
		if err != nil {
			return nil, fmt.Errorf("seed account %s: %w", id, err)
		}
		org.Accounts[id] = a
	}
	return org, nil
}

// createAccount creates a member and waits until AWS reports it created.
func createAccount(ctx context.Context, orgs *organizations.Client, i int) (string, error) {
	out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String(fmt.Sprintf("workload-%d", i+1)),
		Email:       aws.String(fmt.Sprintf("aws+workload-%d@example.com", i+1)),
		RoleName:    aws.String(MemberAccessRole),
	})
	if err != nil {
		return "", fmt.Errorf("seed: create account %d: %w", i+1, err)
	}
	st := out.CreateAccountStatus
	for attempt := 0; ; attempt++ {
		switch st.State {
		case orgtypes.CreateAccountStateSucceeded:
			return aws.ToString(st.AccountId), nil
		case orgtypes.CreateAccountStateFailed:
			return "", fmt.Errorf("seed: create account %d failed: %s", i+1, st.FailureReason)
		}
		if attempt >= createAccountAttempts {
			return "", fmt.Errorf("seed: account %d still %s", i+1, st.State)
		}
		time.Sleep(50 * time.Millisecond)
		d, err := orgs.DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: st.Id})
		if err != nil {
			return "", fmt.Errorf("seed: describe create account status %s: %w", aws.ToString(st.Id), err)
		}
		st = d.CreateAccountStatus
	}
}

func trustDoc(principal map[string]any, action string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": principal, "Action": action,
		}},
	})
	return string(b)
}

// seeder creates principals in one account and remembers them.
type seeder struct {
	ctx context.Context
	iam *iam.Client
	a   *Account
	err error
}

func (s *seeder) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}

func (s *seeder) role(name, path, trust, exempt string) {
	if s.err != nil {
		return
	}
	in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}
	if path != "" {
		in.Path = aws.String(path)
	}
	out, err := s.iam.CreateRole(s.ctx, in)
	if err != nil {
		s.fail("create role %s: %w", name, err)
		return
	}
	s.a.Roles = append(s.a.Roles, Principal{Kind: "role", Name: name, ARN: aws.ToString(out.Role.Arn), Path: aws.ToString(out.Role.Path), Exempt: exempt})
}

func (s *seeder) user(name string, password bool, keys int, ssh bool, tags []iamtypes.Tag, groups ...string) {
	if s.err != nil {
		return
	}
	out, err := s.iam.CreateUser(s.ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: tags})
	if err != nil {
		s.fail("create user %s: %w", name, err)
		return
	}
	u := Principal{Kind: "user", Name: name, ARN: aws.ToString(out.User.Arn), Path: aws.ToString(out.User.Path)}
	if len(tags) > 0 {
		u.Exempt = ExemptTag
	}
	if password {
		if _, err := s.iam.CreateLoginProfile(s.ctx, &iam.CreateLoginProfileInput{UserName: aws.String(name), Password: aws.String(SeedPassword)}); err != nil {
			s.fail("create login profile of %s: %w", name, err)
			return
		}
		u.LoginProfile = true
	}
	for i := 0; i < keys; i++ {
		k, err := s.iam.CreateAccessKey(s.ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		if err != nil {
			s.fail("create access key of %s: %w", name, err)
			return
		}
		// The secret of a seeded key is not kept: nothing needs it.
		u.AccessKeys = append(u.AccessKeys, aws.ToString(k.AccessKey.AccessKeyId))
	}
	if ssh {
		k, err := s.iam.UploadSSHPublicKey(s.ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String(name), SSHPublicKeyBody: aws.String(sshPublicKey)})
		if err != nil {
			s.fail("upload SSH key of %s: %w", name, err)
			return
		}
		u.SSHKeys = append(u.SSHKeys, aws.ToString(k.SSHPublicKey.SSHPublicKeyId))
	}
	for _, g := range groups {
		if _, err := s.iam.AddUserToGroup(s.ctx, &iam.AddUserToGroupInput{UserName: aws.String(name), GroupName: aws.String(g)}); err != nil {
			s.fail("add %s to group %s: %w", name, g, err)
			return
		}
	}
	s.a.Users = append(s.a.Users, u)
}

func (s *seeder) group(name string) {
	if s.err != nil {
		return
	}
	out, err := s.iam.CreateGroup(s.ctx, &iam.CreateGroupInput{GroupName: aws.String(name)})
	if err != nil {
		s.fail("create group %s: %w", name, err)
		return
	}
	s.a.Groups = append(s.a.Groups, Principal{Kind: "group", Name: name, ARN: aws.ToString(out.Group.Arn), Path: aws.ToString(out.Group.Path)})
}

// A syntactically valid RSA public key (not anyone's).
const sshPublicKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDKillSwitchSeedKeyOnlyForTestsAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA seed@killswitch"

func seedAccount(ctx context.Context, cfg aws.Config, management, id string, opt SeedOptions) (*Account, error) {
	s := &seeder{ctx: ctx, iam: iam.NewFromConfig(cfg), a: &Account{ID: id}}

	// The responder role: trusts the management account (where the bot's
	// own principal lives) and carries the bot's least-privilege policy.
	trust, err := policies.Render("responder-trust", policies.Params{BotPrincipal: "arn:aws:iam::" + management + ":root"})
	if err != nil {
		return nil, err
	}
	botParams := policies.DefaultParams()
	botParams.RoleName = ResponderRole
	botPolicy, err := policies.Render("bot-policy", botParams)
	if err != nil {
		return nil, err
	}
	s.role(ResponderRole, "", trust, ExemptBot)
	if s.err == nil {
		if _, err := s.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(ResponderRole), PolicyName: aws.String(ResponderPolicy), PolicyDocument: aws.String(botPolicy)}); err != nil {
			s.fail("put the bot policy on %s: %w", ResponderRole, err)
		}
	}
	mgmtRoot := map[string]any{"AWS": "arn:aws:iam::" + management + ":root"}
	s.role(BreakGlassRole, "", trustDoc(mgmtRoot, "sts:AssumeRole"), ExemptPattern)

	// A service-linked role, made the only way AWS allows.
	if s.err == nil {
		out, err := s.iam.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(SLRService)})
		if err != nil {
			s.fail("create service-linked role for %s: %w", SLRService, err)
		} else {
			s.a.Roles = append(s.a.Roles, Principal{Kind: "role", Name: aws.ToString(out.Role.RoleName), ARN: aws.ToString(out.Role.Arn), Path: aws.ToString(out.Role.Path), Exempt: ExemptServiceLinked})
		}
	}
	s.role(SSORole, SSOPath, trustDoc(map[string]any{"Federated": "arn:aws:iam::" + id + ":saml-provider/AWSSSO_0a1b2c3d4e5f6a7b_DO_NOT_DELETE"}, "sts:AssumeRoleWithSAML"), ExemptIdentityCenter)

	ec2Trust := trustDoc(map[string]any{"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")
	s.role("app-server", "", ec2Trust, notExempt)
	s.role("data-pipeline", "/service/", trustDoc(map[string]any{"Service": "lambda.amazonaws.com"}, "sts:AssumeRole"), notExempt)
	s.role("vendor-audit", "", trustDoc(map[string]any{"AWS": "arn:aws:iam::" + OutsideAccount + ":root"}, "sts:AssumeRole"), notExempt)
	for i := 0; i < opt.ExtraRoles; i++ {
		s.role(fmt.Sprintf("workload-%03d", i), "", ec2Trust, notExempt)
	}
	if s.err == nil && id != management {
		// made by CreateAccount, as on AWS
		out, err := s.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(MemberAccessRole)})
		if err != nil {
			s.fail("get role %s: %w", MemberAccessRole, err)
		} else {
			s.a.Roles = append(s.a.Roles, Principal{Kind: "role", Name: MemberAccessRole, ARN: aws.ToString(out.Role.Arn), Path: aws.ToString(out.Role.Path)})
		}
	}

	s.group("developers")
	s.group("admins")
	s.user("alice", true, 1, true, nil, "developers")
	s.user("bob", true, 2, false, nil, "admins")
	s.user("ci-deploy", false, 1, false, nil)
	s.user("carol", true, 0, false, nil, "developers")
	s.user(BreakGlassUser, true, 1, false, []iamtypes.Tag{{Key: aws.String(BreakGlassTag), Value: aws.String("true")}}, "admins")
	for i := 0; i < opt.ExtraUsers; i++ {
		s.user(fmt.Sprintf("user-%03d", i), true, 1, false, nil, "developers")
	}
	if s.err != nil {
		return nil, s.err
	}
	if err := seedData(ctx, cfg, s.a); err != nil {
		return nil, err
	}
	return s.a, nil
}

// seedData makes what the intruder would destroy: an EBS volume and its
// snapshot, an S3 bucket with a backup object.
func seedData(ctx context.Context, cfg aws.Config, a *Account) error {
	e := ec2.NewFromConfig(cfg)
	vol, err := e.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(cfg.Region + "a"), Size: aws.Int32(8), VolumeType: ec2types.VolumeTypeGp3})
	if err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	snap, err := e.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId, Description: aws.String("nightly backup")})
	if err != nil {
		return fmt.Errorf("create snapshot of %s: %w", aws.ToString(vol.VolumeId), err)
	}
	a.Snapshots = append(a.Snapshots, aws.ToString(snap.SnapshotId))

	s := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "backups-" + a.ID
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if _, err := s.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("db/2014-06-17.dump"), Body: strings.NewReader("backup")}); err != nil {
		return fmt.Errorf("put object in %s: %w", bucket, err)
	}
	a.Buckets = append(a.Buckets, bucket)
	return nil
}
