package awsint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The state of the emulated organization as a test reads it through the
// SDK, with its own administrator clients — never through killswitch.
// ReadState reads it; Expect derives the state an action must leave;
// AssertState diffs the two.

// OrgState is the whole emulated organization's state.
type OrgState struct {
	SCPEnabled bool
	SCPs       map[string]string // customer SCP name -> normalized content
	Accounts   map[string]*AccountState
}

// AccountState is one account's state.
type AccountState struct {
	AttachedSCPs map[string]bool            // SCP names attached to the account
	Policies     map[string]string          // customer managed policy ARN -> normalized default version
	Principals   map[string]*PrincipalState // by ARN
	Secrets      map[string]SecretFact      // killswitch/ secrets
	Snapshots    map[string]bool
	Buckets      map[string]bool
}

// PrincipalState is one IAM user, role or group.
type PrincipalState struct {
	Kind, Name   string
	Tags         map[string]string
	LoginProfile bool
	Keys         map[string]string // access key id -> status
	SSH          map[string]string // SSH key id -> status
	Attached     map[string]bool   // managed policy ARNs
	Inline       map[string]string // name -> normalized document
}

// SecretFact is what a rotated-key secret holds, without the secret itself.
type SecretFact struct {
	AccessKeyID string
	SecretLen   int
	UserName    string
	Account     string
	Request     string
}

// rotatedSecret is the JSON killswitch stores.
type rotatedSecret struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	UserName        string `json:"UserName"`
	Account         string `json:"Account"`
	Request         string `json:"Request"`
}

// Clone returns a deep copy.
func (s *OrgState) Clone() *OrgState {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	var c OrgState
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// normDoc decodes an IAM document (URL-encoded, as IAM returns it) and
// re-encodes it canonically (sorted keys, no spaces).
func normDoc(doc string) string {
	if d, err := url.PathUnescape(doc); err == nil {
		doc = d
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return "unparsable:" + doc
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func short(doc string) string {
	h := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(h[:6])
}

// Facts flattens the state into sorted lines, for diffs. A rotated key's
// secret is never among them (only its length).
func (s *OrgState) Facts() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	add("org: SCPs enabled=%v", s.SCPEnabled)
	for name, doc := range s.SCPs {
		add("org: SCP %s content %s", name, short(doc))
	}
	for id, a := range s.Accounts {
		for n := range a.AttachedSCPs {
			add("%s: SCP %s attached", id, n)
		}
		for arn, doc := range a.Policies {
			add("%s: managed policy %s content %s", id, arn, short(doc))
		}
		for name, f := range a.Secrets {
			add("%s: secret %s holds key %s (secret %d chars) of %s/%s, request %s", id, name, f.AccessKeyID, f.SecretLen, f.Account, f.UserName, f.Request)
		}
		for x := range a.Snapshots {
			add("%s: snapshot %s", id, x)
		}
		for x := range a.Buckets {
			add("%s: bucket %s", id, x)
		}
		for arn, p := range a.Principals {
			add("%s exists", arn)
			for k, v := range p.Tags {
				add("%s tag %s=%s", arn, k, v)
			}
			if p.LoginProfile {
				add("%s login profile", arn)
			}
			for k, st := range p.Keys {
				add("%s access key %s %s", arn, k, st)
			}
			for k, st := range p.SSH {
				add("%s SSH key %s %s", arn, k, st)
			}
			for pol := range p.Attached {
				add("%s attached %s", arn, pol)
			}
			for n, doc := range p.Inline {
				add("%s inline %s content %s", arn, n, short(doc))
			}
		}
	}
	sort.Strings(out)
	return out
}

// DiffStates lists the facts only in want ("missing") and only in got
// ("unexpected").
func DiffStates(want, got *OrgState) []string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, f := range want.Facts() {
		w[f] = true
	}
	for _, f := range got.Facts() {
		g[f] = true
	}
	var out []string
	for f := range w {
		if !g[f] {
			out = append(out, "missing:    "+f)
		}
	}
	for f := range g {
		if !w[f] {
			out = append(out, "unexpected: "+f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][12:] < out[j][12:] })
	return out
}

// AssertState fails t with the diff when got is not want.
func AssertState(t testing.TB, what string, want, got *OrgState) {
	t.Helper()
	if d := DiffStates(want, got); len(d) > 0 {
		t.Errorf("%s: the emulator's state differs from the expected one (%d facts):\n  %s", what, len(d), strings.Join(d, "\n  "))
	}
}

// ReadState reads the whole organization through the SDK with cfg, an
// administrator in the management account (the test's own clients, talking
// to the emulator directly): members are entered through
// OrganizationAccountAccessRole (AccountConfig). secrets, if not nil,
// receives the secret access keys stored by rotate-keys, keyed
// "ACCOUNT/SECRET-NAME" (for the secrets tests only; they never enter the
// state or its facts).
func ReadState(ctx context.Context, cfg aws.Config, org *Org, secrets map[string]string) (*OrgState, error) {
	st := &OrgState{SCPs: map[string]string{}, Accounts: map[string]*AccountState{}}
	orgs := organizations.NewFromConfig(cfg)
	if !org.Standalone {
		if err := readOrganization(ctx, orgs, st); err != nil {
			return nil, err
		}
	}
	for _, id := range org.IDs() {
		a := &AccountState{AttachedSCPs: map[string]bool{}, Policies: map[string]string{}, Principals: map[string]*PrincipalState{},
			Secrets: map[string]SecretFact{}, Snapshots: map[string]bool{}, Buckets: map[string]bool{}}
		st.Accounts[id] = a
		lp := organizations.NewListPoliciesForTargetPaginator(orgs, &organizations.ListPoliciesForTargetInput{TargetId: aws.String(id), Filter: orgtypes.PolicyTypeServiceControlPolicy})
		for !org.Standalone && lp.HasMorePages() {
			page, err := lp.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("state: list SCPs for %s: %v", id, err)
			}
			for _, p := range page.Policies {
				a.AttachedSCPs[aws.ToString(p.Name)] = true
			}
		}
		if err := readAccount(ctx, AccountConfig(cfg, org.Management, id), id, a, secrets); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func readOrganization(ctx context.Context, orgs *organizations.Client, st *OrgState) error {
	roots, err := orgs.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		return fmt.Errorf("state: list roots: %v", err)
	}
	for _, r := range roots.Roots {
		for _, pt := range r.PolicyTypes {
			if pt.Type == orgtypes.PolicyTypeServiceControlPolicy && pt.Status == orgtypes.PolicyTypeStatusEnabled {
				st.SCPEnabled = true
			}
		}
	}
	pp := organizations.NewListPoliciesPaginator(orgs, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	for pp.HasMorePages() {
		page, err := pp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("state: list SCPs: %v", err)
		}
		for _, p := range page.Policies {
			if p.AwsManaged {
				continue
			}
			d, err := orgs.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: p.Id})
			if err != nil {
				return fmt.Errorf("state: describe SCP %s: %v", aws.ToString(p.Id), err)
			}
			st.SCPs[aws.ToString(p.Name)] = normDoc(aws.ToString(d.Policy.Content))
		}
	}
	return nil
}

func readAccount(ctx context.Context, cfg aws.Config, id string, a *AccountState, secrets map[string]string) error {
	c := iam.NewFromConfig(cfg)
	fail := func(what string, err error) error { return fmt.Errorf("state of %s: %s: %v", id, what, err) }
	var nse *iamtypes.NoSuchEntityException

	newPrin := func(kind, name string) *PrincipalState {
		return &PrincipalState{Kind: kind, Name: name, Tags: map[string]string{}, Keys: map[string]string{}, SSH: map[string]string{}, Attached: map[string]bool{}, Inline: map[string]string{}}
	}
	up := iam.NewListUsersPaginator(c, &iam.ListUsersInput{})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return fail("list users", err)
		}
		for _, u := range page.Users {
			name := u.UserName
			p := newPrin("user", aws.ToString(name))
			a.Principals[aws.ToString(u.Arn)] = p
			tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: name})
			if err != nil {
				return fail("list user tags", err)
			}
			for _, tg := range tags.Tags {
				p.Tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			_, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
			switch {
			case err == nil:
				p.LoginProfile = true
			case !errors.As(err, &nse):
				return fail("get login profile", err)
			}
			keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
			if err != nil {
				return fail("list access keys", err)
			}
			for _, k := range keys.AccessKeyMetadata {
				p.Keys[aws.ToString(k.AccessKeyId)] = string(k.Status)
			}
			ssh, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: name})
			if err != nil {
				return fail("list SSH keys", err)
			}
			for _, k := range ssh.SSHPublicKeys {
				p.SSH[aws.ToString(k.SSHPublicKeyId)] = string(k.Status)
			}
			att, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name})
			if err != nil {
				return fail("list attached user policies", err)
			}
			for _, x := range att.AttachedPolicies {
				p.Attached[aws.ToString(x.PolicyArn)] = true
			}
			inl, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
			if err != nil {
				return fail("list user policies", err)
			}
			for _, n := range inl.PolicyNames {
				d, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(n)})
				if err != nil {
					return fail("get user policy", err)
				}
				p.Inline[n] = normDoc(aws.ToString(d.PolicyDocument))
			}
		}
	}
	rp := iam.NewListRolesPaginator(c, &iam.ListRolesInput{})
	for rp.HasMorePages() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			return fail("list roles", err)
		}
		for _, r := range page.Roles {
			name := r.RoleName
			p := newPrin("role", aws.ToString(name))
			a.Principals[aws.ToString(r.Arn)] = p
			tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: name})
			if err != nil {
				return fail("list role tags", err)
			}
			for _, tg := range tags.Tags {
				p.Tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			att, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name})
			if err != nil {
				return fail("list attached role policies", err)
			}
			for _, x := range att.AttachedPolicies {
				p.Attached[aws.ToString(x.PolicyArn)] = true
			}
			inl, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: name})
			if err != nil {
				return fail("list role policies", err)
			}
			for _, n := range inl.PolicyNames {
				d, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: aws.String(n)})
				if err != nil {
					return fail("get role policy", err)
				}
				p.Inline[n] = normDoc(aws.ToString(d.PolicyDocument))
			}
		}
	}
	gp := iam.NewListGroupsPaginator(c, &iam.ListGroupsInput{})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return fail("list groups", err)
		}
		for _, g := range page.Groups {
			name := g.GroupName
			p := newPrin("group", aws.ToString(name))
			a.Principals[aws.ToString(g.Arn)] = p
			att, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: name})
			if err != nil {
				return fail("list attached group policies", err)
			}
			for _, x := range att.AttachedPolicies {
				p.Attached[aws.ToString(x.PolicyArn)] = true
			}
			inl, err := c.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: name})
			if err != nil {
				return fail("list group policies", err)
			}
			for _, n := range inl.PolicyNames {
				p.Inline[n] = "group inline " + n
			}
		}
	}
	pp := iam.NewListPoliciesPaginator(c, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal})
	for pp.HasMorePages() {
		page, err := pp.NextPage(ctx)
		if err != nil {
			return fail("list policies", err)
		}
		for _, p := range page.Policies {
			v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.Arn, VersionId: p.DefaultVersionId})
			if err != nil {
				return fail("get policy version", err)
			}
			a.Policies[aws.ToString(p.Arn)] = normDoc(aws.ToString(v.PolicyVersion.Document))
		}
	}

	sm := secretsmanager.NewFromConfig(cfg)
	sp := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return fail("list secrets", err)
		}
		for _, s := range page.SecretList {
			name := aws.ToString(s.Name)
			v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: s.ARN})
			if err != nil {
				return fail("get secret value of "+name, err)
			}
			var rs rotatedSecret
			if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &rs); err != nil {
				return fmt.Errorf("state of %s: secret %s is not the JSON killswitch stores: %v", id, name, err)
			}
			a.Secrets[name] = SecretFact{AccessKeyID: rs.AccessKeyID, SecretLen: len(rs.SecretAccessKey), UserName: rs.UserName, Account: rs.Account, Request: rs.Request}
			if secrets != nil {
				secrets[id+"/"+name] = rs.SecretAccessKey
			}
		}
	}

	snaps, err := ec2.NewFromConfig(cfg).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		return fail("describe snapshots", err)
	}
	for _, s := range snaps.Snapshots {
		a.Snapshots[aws.ToString(s.SnapshotId)] = true
	}
	buckets, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return fail("list buckets", err)
	}
	for _, b := range buckets.Buckets {
		a.Buckets[aws.ToString(b.Name)] = true
	}
	return nil
}
