package awsint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/killswitch/killswitch/actions"
)

// TestRCPOnMoto: moto 5.2.1 implements the RESOURCE_CONTROL_POLICY type.
// Through the real factory and engine, deny-delete enables it, creates
// KillSwitchDenyDeleteRCP with the rendered document and attaches it to
// every member (read back with ListPoliciesForTarget filtered on
// RESOURCE_CONTROL_POLICY); undo detaches and deletes it. moto never
// evaluates RCPs: actions/rcp_test.go shows what it stops.
func TestRCPOnMoto(t *testing.T) {
	org := reseed(t, defaultSeed)
	ctx := context.Background()
	orgs := organizations.NewFromConfig(motoConfig())
	e := newEngine(t, newFactory(t), nil)
	rec := &stepRecorder{}
	res, err := e.Apply(ctx, actions.DenyDelete, org.IDs(), actions.Options{RequestID: "ks-it-rcp", RevokeBefore: time.Now().UTC()}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ours := func(member string) []string {
		out, err := orgs.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: aws.String(member), Filter: orgtypes.PolicyTypeResourceControlPolicy})
		if err != nil {
			t.Fatalf("list RCPs on %s: %v", member, err)
		}
		var ids []string
		for _, p := range out.Policies {
			if p.Type != orgtypes.PolicyTypeResourceControlPolicy {
				t.Errorf("%s: ListPoliciesForTarget(RCP) returned a %s", member, p.Type)
			}
			if strings.HasPrefix(aws.ToString(p.Name), actions.DenyDeleteRCPName) {
				ids = append(ids, aws.ToString(p.Id))
			}
		}
		return ids
	}
	var id string
	for _, m := range org.Members {
		ids := ours(m)
		if len(ids) != 1 {
			t.Fatalf("member %s has RCPs %v, want %s (result %+v)", m, ids, actions.DenyDeleteRCPName, res.Problems())
		}
		id = ids[0]
	}
	d, err := orgs.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if c := aws.ToString(d.Policy.Content); !strings.Contains(c, `"Principal":"*"`) || !strings.Contains(c, "s3:PutBucketPolicy") || d.Policy.PolicySummary.Type != orgtypes.PolicyTypeResourceControlPolicy {
		t.Errorf("RCP %s: type %s content %s", id, d.Policy.PolicySummary.Type, c)
	}
	undo, err := e.Undo(ctx, actions.DenyDelete, rec.all(), actions.Options{RequestID: "ks-it-rcp-undo"}, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := undo.Problems(); len(p) > 0 {
		t.Fatalf("undo: %v", p)
	}
	for _, m := range org.Members {
		if ids := ours(m); len(ids) != 0 {
			t.Errorf("after undo %s still has %v", m, ids)
		}
	}
	if _, err := orgs.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)}); err == nil {
		t.Errorf("after undo RCP %s still exists", id)
	}
}
