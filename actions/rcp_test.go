package actions_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

const (
	rcpMember  = "222222222222"
	rcpBucket  = "prod-222222222222-data"
	outsideAWS = "999999999999"
)

func outsideGrant(bucket string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + outsideAWS + `:root"},"Action":"s3:*","Resource":["arn:aws:s3:::` + bucket + `","arn:aws:s3:::` + bucket + `/*"]}]}`
}

func ourRCP(org *sim.Org, target string) string {
	for _, id := range org.RCPsFor(target) {
		if name, _, _ := org.RCPContent(id); strings.HasPrefix(name, actions.DenyDeleteRCPName) {
			return id
		}
	}
	return ""
}

// TestRCPStopsAnOutsidePrincipalLetInByABucketPolicy: an account outside the
// Organization that a bucket policy lets in deletes before deny-delete (SCPs
// never bind it) and cannot after (the RCP on the owning account denies it);
// break-glass still can; undo detaches and deletes the RCP and the outsider
// can again.
func TestRCPStopsAnOutsidePrincipalLetInByABucketPolicy(t *testing.T) {
	org := builtin(t, "org")
	must(t, org.PutBucketPolicy(rcpMember, rcpBucket, outsideGrant(rcpBucket)))
	out, err := org.OutsideCredential(outsideAWS)
	must(t, err)
	obj, bucket := "arn:aws:s3:::"+rcpBucket+"/report.csv", "arn:aws:s3:::"+rcpBucket
	if err := org.Authorize(out, "s3:DeleteObject", obj); err != nil {
		t.Fatalf("before deny-delete the bucket policy lets the outsider delete: %v", err)
	}
	if err := org.Authorize(out, "s3:DeleteBucket", "arn:aws:s3:::prod-222222222222-backups"); err == nil {
		t.Fatal("a bucket whose policy grants nothing is open to the outsider")
	}
	e := engine(t, org)
	plan, err := e.Plan(context.Background(), actions.DenyDelete, []string{rcpMember}, actions.Options{})
	must(t, err)
	var planned string
	for _, ap := range plan.Accounts {
		for _, tg := range ap.Targets {
			planned += strings.Join(tg.Changes, "\n") + "\n"
		}
	}
	for _, want := range []string{"create RCP " + actions.DenyDeleteRCPName, "attach RCP " + actions.DenyDeleteRCPName} {
		if !strings.Contains(planned, want) {
			t.Errorf("plan does not show %q:\n%s", want, planned)
		}
	}
	_, rec := apply(t, e, actions.DenyDelete, []string{rcpMember}, actions.Options{RequestID: "ks-rcp-1"})
	id := ourRCP(org, rcpMember)
	if id == "" {
		t.Fatalf("no RCP attached to %s: %v", rcpMember, org.RCPsFor(rcpMember))
	}
	for _, act := range []string{"s3:DeleteObject", "s3:PutBucketPolicy", "s3:DeleteBucket"} {
		res := obj
		if act != "s3:DeleteObject" {
			res = bucket
		}
		var d *sim.Denied
		if err := org.Authorize(out, act, res); !errors.As(err, &d) || d.Policy != id {
			t.Errorf("after deny-delete the outsider's %s: %v, want denied by RCP %s", act, err, id)
		}
	}
	bg := sim.Credential{Account: rcpMember, Principal: "arn:aws:iam::" + rcpMember + ":role/BreakGlassAdmin", SessionIssued: time.Now()}
	if err := org.Authorize(bg, "s3:DeleteObject", obj); err != nil {
		t.Errorf("break-glass is denied by the guardrail: %v", err)
	}
	if _, err := e.Undo(context.Background(), actions.DenyDelete, rec.steps, actions.Options{RequestID: "ks-rcp-undo"}, nil); err != nil {
		t.Fatal(err)
	}
	if left := ourRCP(org, rcpMember); left != "" {
		t.Errorf("undo left RCP %s attached", left)
	}
	if _, _, ok := org.RCPContent(id); ok {
		t.Errorf("undo left RCP %s in place", id)
	}
	if err := org.Authorize(out, "s3:DeleteObject", obj); err != nil {
		t.Errorf("after undo the outsider is still denied: %v", err)
	}
}

// TestRCPRespectsFivePerTargetAndTheSCPStillGoesOn: with no RCP slot left
// the RCP is refused and the plan says so; the SCP is attached anyway.
// The simulated Organizations refuses a sixth RCP, one over 5,120
// characters and an Allow RCP with AWS's typed errors.
func TestRCPRespectsFivePerTargetAndTheSCPStillGoesOn(t *testing.T) {
	org := builtin(t, "org")
	must(t, org.EnableRCPs())
	ctx := context.Background()
	c, err := org.Provider(actions.DefaultBotRoleName).Clients(ctx, "111111111111")
	must(t, err)
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sqs:DeleteQueue","Resource":"*"}]}`
	var ids []string
	for i := range 5 {
		p, err := c.Organizations.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("own-" + string(rune('a'+i))), Type: orgtypes.PolicyTypeResourceControlPolicy, Content: aws.String(deny), Description: aws.String("own")})
		must(t, err)
		ids = append(ids, aws.ToString(p.Policy.PolicySummary.Id))
	}
	for i, id := range ids {
		_, err := c.Organizations.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(id), TargetId: aws.String(rcpMember)})
		var cv *orgtypes.ConstraintViolationException
		switch {
		case i < 4 && err != nil:
			t.Fatalf("attach RCP %d: %v", i+1, err)
		case i == 4 && (!errors.As(err, &cv) || cv.Reason != orgtypes.ConstraintViolationExceptionReasonPolicyNumberLimitExceeded):
			t.Fatalf("a sixth RCP (RCPFullAWSAccess counts): %v, want POLICY_NUMBER_LIMIT_EXCEEDED", err)
		}
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"` + strings.Repeat("1", 5100) + `"}}}]}`
	var cv *orgtypes.ConstraintViolationException
	if _, err := c.Organizations.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("big"), Type: orgtypes.PolicyTypeResourceControlPolicy, Content: aws.String(big), Description: aws.String("")}); !errors.As(err, &cv) {
		t.Errorf("RCP over 5,120 characters: %v", err)
	}
	var mal *orgtypes.MalformedPolicyDocumentException
	allow := strings.Replace(deny, "Deny", "Allow", 1)
	if _, err := c.Organizations.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("allow"), Type: orgtypes.PolicyTypeResourceControlPolicy, Content: aws.String(allow), Description: aws.String("")}); !errors.As(err, &mal) {
		t.Errorf("Allow RCP: %v", err)
	}
	e := engine(t, org)
	res, _ := apply(t, e, actions.DenyDelete, []string{rcpMember}, actions.Options{RequestID: "ks-rcp-full"})
	if !strings.Contains(strings.Join(res.Accounts[0].Warnings, "\n"), "is NOT attached to account "+rcpMember) {
		t.Errorf("no warning that the RCP could not be attached: %v", res.Accounts[0].Warnings)
	}
	if ourRCP(org, rcpMember) != "" {
		t.Error("an RCP was attached beyond AWS's limit")
	}
	scp := false
	for _, id := range org.SCPsFor(rcpMember) {
		name, _, _ := org.SCPContent(id)
		scp = scp || actions.IsDenyDeletePart(name)
	}
	if !scp {
		t.Error("the SCP was not attached when the RCP could not be")
	}
}

// TestNoRCPWithoutAllFeatures: an Organization with consolidated billing
// only gets no RCP, and the plan says why; the management account's plan
// says RCPs never apply there.
func TestNoRCPWithoutAllFeatures(t *testing.T) {
	org := builtin(t, "org")
	org.SetConsolidatedBillingOnly(true)
	e := engine(t, org)
	plan, err := e.Plan(context.Background(), actions.DenyDelete, []string{"111111111111", rcpMember}, actions.Options{})
	must(t, err)
	var member, mgmt string
	for _, ap := range plan.Accounts {
		switch ap.Account {
		case rcpMember:
			member = strings.Join(ap.Warnings, "\n")
		case "111111111111":
			mgmt = strings.Join(ap.Warnings, "\n")
		}
	}
	if !strings.Contains(member, "no resource control policy: the organization has only consolidated billing features") {
		t.Errorf("member warnings do not say why there is no RCP:\n%s", member)
	}
	if !strings.Contains(mgmt, "resource control policies do not apply to the management account") {
		t.Errorf("management warnings do not say RCPs never apply there:\n%s", mgmt)
	}
	apply(t, e, actions.DenyDelete, []string{rcpMember}, actions.Options{RequestID: "ks-rcp-billing"})
	if org.RCPEnabled() || ourRCP(org, rcpMember) != "" {
		t.Error("RCPs enabled or attached in a consolidated-billing Organization")
	}
}
