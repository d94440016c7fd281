package awsint

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
)

// TestEmulatorAccountAuthorizationDetails probes moto's
// GetAccountAuthorizationDetails with the real SDK and checks what the
// engine's inventory relies on: users' and roles' tags come back, every
// entity once, the paginator ends; documents are URL-encoded like AWS's
// (inline policies) or plain JSON (moto's trust policies, which AWS
// encodes): both must parse after the engine's decoding, a "+" in a trust
// policy included. What it finds is logged (test/README.md's table).
func TestEmulatorAccountAuthorizationDetails(t *testing.T) {
	reseed(t, SeedOptions{Standalone: true, ExtraUsers: 3})
	ctx := context.Background()
	c := iam.NewFromConfig(motoConfig())
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + OutsideAccount + `:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a+b c"}}}]}`
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("probe-tagged"), AssumeRolePolicyDocument: aws.String(trust),
		Tags: []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String("probe")}}}); err != nil {
		t.Fatal(err)
	}
	one, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(1000)})
	if err != nil {
		t.Fatal(err)
	}
	total := len(one.UserDetailList) + len(one.GroupDetailList) + len(one.RoleDetailList) + len(one.Policies)
	userTags, roleTags := false, false
	encodedInline, plainTrust := 0, 0
	for _, u := range one.UserDetailList {
		if aws.ToString(u.UserName) == BreakGlassUser {
			userTags = len(u.Tags) == 1 && aws.ToString(u.Tags[0].Key) == BreakGlassTag
		}
	}
	for _, r := range one.RoleDetailList {
		d := aws.ToString(r.AssumeRolePolicyDocument)
		if strings.HasPrefix(d, "{") {
			plainTrust++
		}
		if aws.ToString(r.RoleName) == "probe-tagged" {
			roleTags = len(r.Tags) == 1 && aws.ToString(r.Tags[0].Value) == "probe"
			if got := actions.DecodePolicyDocument(d); got != trust {
				t.Errorf("the probe role's trust policy after decoding: %s, want %s", got, trust)
			}
		}
		if !json.Valid([]byte(actions.DecodePolicyDocument(d))) {
			t.Errorf("role %s: the trust policy does not parse after decoding: %.80s", aws.ToString(r.RoleName), d)
		}
		for _, p := range r.RolePolicyList {
			doc := aws.ToString(p.PolicyDocument)
			if dec, err := url.QueryUnescape(doc); err == nil && dec != doc && json.Valid([]byte(dec)) {
				encodedInline++
			}
			if !json.Valid([]byte(actions.DecodePolicyDocument(doc))) {
				t.Errorf("role %s: inline policy %s does not parse after decoding", aws.ToString(r.RoleName), aws.ToString(p.PolicyName))
			}
		}
	}
	if !userTags || !roleTags {
		t.Errorf("tags in the answer: users %v, roles %v", userTags, roleTags)
	}
	pagesAt := map[int32]int{}
	for _, limit := range []int32{1, 3} {
		p := iam.NewGetAccountAuthorizationDetailsPaginator(c, &iam.GetAccountAuthorizationDetailsInput{}, func(o *iam.GetAccountAuthorizationDetailsPaginatorOptions) { o.Limit = limit })
		n := 0
		for p.HasMorePages() && pagesAt[limit] <= total {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("MaxItems %d, page %d: %v", limit, pagesAt[limit]+1, err)
			}
			pagesAt[limit]++
			n += len(out.UserDetailList) + len(out.GroupDetailList) + len(out.RoleDetailList) + len(out.Policies)
		}
		if n != total {
			t.Errorf("MaxItems %d: %d entities in %d pages, want %d", limit, n, pagesAt[limit], total)
		}
	}
	t.Logf("moto: %d entities; user tags %v, role tags %v; inline policies URL-encoded: %d; trust policies plain JSON (AWS encodes them): %d of %d; pages at MaxItems 1: %d, at 3: %d (AWS: %d and %d)",
		total, userTags, roleTags, encodedInline, plainTrust, len(one.RoleDetailList), pagesAt[1], pagesAt[3], total, (total+2)/3)
}

// TestCallsPerLockdownOnTheEmulatorWithinBound counts the bot's AWS calls
// (RecordOperations on the real factory: one per operation, retries not
// counted) for one lockdown of a seeded moto organization and fails when
// they exceed 1.2x the minimum, computed as actions' speed_test.go
// minimumCalls does: every change made, plus per account assuming the
// role, who the bot is and the organization (3), one page of the
// authorization details per phase that reads principals (2), and each
// non-exempt user's four kinds of credentials.
func TestCallsPerLockdownOnTheEmulatorWithinBound(t *testing.T) {
	org := reseed(t, benchSeed)
	counter := newOpCounter()
	e := newEngine(t, newFactory(t, awsapi.RecordOperations(counter.record)), nil)
	res, err := e.Apply(context.Background(), actions.Lockdown, org.IDs(), actions.Options{RequestID: "ks-calls-moto"}, nil)
	if err != nil || res.Status != actions.StatusSucceeded {
		t.Fatalf("lockdown: %v %s %v", err, res.Status, res.Problems())
	}
	min := 0
	for _, s := range res.Steps() {
		if s.Status == actions.StepDone {
			min++
		}
	}
	for _, ar := range res.Accounts {
		users := 0
		for _, u := range org.Accounts[ar.Account].Users {
			if u.Exempt == "" {
				users++
			}
		}
		min += 3 + 2 + 4*users
	}
	total := counter.total()
	t.Logf("lockdown of %d accounts on moto: %d calls, minimum %d (%.2fx); by operation %v", len(org.IDs()), total, min, float64(total)/float64(min), counter.snapshot())
	if float64(total) > 1.2*float64(min) {
		t.Errorf("%d calls for a lockdown whose minimum is %d: more than 1.2x", total, min)
	}
}
