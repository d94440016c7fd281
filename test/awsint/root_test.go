package awsint

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
)

// TestMotoRootAccessProbe: what moto itself does (the test's own clients,
// straight to moto): GetAccountSummary answers with the root keys; it
// lacks sts:AssumeRoot and iam:ListOrganizationsFeatures (HTTP 500), which
// root_shim.go stands in for. When moto implements them this test fails:
// drop the stand-ins then.
func TestMotoRootAccessProbe(t *testing.T) {
	reseed(t, defaultSeed)
	ctx := context.Background()
	cfg := motoConfig()
	sum, err := iam.NewFromConfig(cfg).GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		t.Fatalf("GetAccountSummary on moto: %v", err)
	}
	for _, k := range []string{"AccountMFAEnabled", "AccountAccessKeysPresent", "AccountSigningCertificatesPresent"} {
		if _, ok := sum.SummaryMap[k]; !ok {
			t.Errorf("moto's account summary has no %s: %v", k, sum.SummaryMap)
		}
	}
	status := func(err error) int {
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			return re.HTTPStatusCode()
		}
		return 0
	}
	_, err = sts.NewFromConfig(cfg).AssumeRoot(ctx, &sts.AssumeRootInput{TargetPrincipal: aws.String("123456789012"),
		TaskPolicyArn: &ststypes.PolicyDescriptorType{Arn: aws.String(awsapi.TaskAuditRootCredentials)}})
	if status(err) != 500 {
		t.Errorf("moto's sts:AssumeRoot: %v (status %d): moto implements it now, drop the shim's stand-in", err, status(err))
	}
	_, err = iam.NewFromConfig(cfg).ListOrganizationsFeatures(ctx, &iam.ListOrganizationsFeaturesInput{})
	if status(err) != 500 {
		t.Errorf("moto's iam:ListOrganizationsFeatures: %v (status %d): moto implements it now, drop the shim's stand-in", err, status(err))
	}
}

// TestRootCredentialsThroughTheSDK runs the bot's real path: the factory's
// management clients call ListOrganizationsFeatures and sts:AssumeRoot
// (the shim answers with a moto session in the target account), then the
// root session's IAM clients read the root user; the management account is
// read from its account summary and refused by remove-root-credentials.
func TestRootCredentialsThroughTheSDK(t *testing.T) {
	org := reseed(t, defaultSeed)
	f := newFactory(t)
	e := newEngine(t, f, nil)
	ctx := context.Background()
	before := shim.StoodIn()
	res, err := e.Apply(ctx, actions.FindBackdoors, org.IDs(), actions.Options{RequestID: "ks-it-root"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ar := range res.Accounts {
		var root []string
		for _, fd := range ar.Findings {
			if fd.Principal == "arn:aws:iam::"+ar.Account+":root" {
				root = fd.Changes
			}
		}
		want := []string{"root console password: no", "root access keys: 0", "root MFA: no (0 device(s))", "root signing certificates: 0"}
		if ar.Account == org.Management {
			want = []string{"root console password: not known", "root access keys: no", "root MFA: no", "root signing certificates: no"}
			if !strings.Contains(strings.Join(ar.Warnings, "\n"), "nothing but the account owner can contain it") {
				t.Errorf("%s: no word on what only the owner can do: %q", ar.Account, ar.Warnings)
			}
		}
		for _, w := range want {
			if !strings.Contains(strings.Join(root, "\n"), w) {
				t.Errorf("%s: root findings %q lack %q (warnings %q)", ar.Account, root, w, ar.Warnings)
			}
		}
	}
	after := shim.StoodIn()
	if n := after["AssumeRoot"] - before["AssumeRoot"]; n != len(org.Members) {
		t.Errorf("%d root sessions stood in for, want one per member (%d)", n, len(org.Members))
	}
	for _, op := range []string{"GetLoginProfile", "ListAccessKeys", "ListMFADevices", "ListSigningCertificates"} {
		if after["root session "+op] <= before["root session "+op] {
			t.Errorf("no root-session %s reached the wire", op)
		}
	}
	ops := botOps.snapshot()
	for _, op := range []string{"STS:AssumeRoot", "IAM:ListOrganizationsFeatures", "IAM:GetAccountSummary", awsapi.RootSessionService + ":ListMFADevices"} {
		if ops[op] == 0 {
			t.Errorf("the factories recorded no %s", op)
		}
	}

	res, err = e.Apply(ctx, actions.RemoveRootCredentials, org.IDs(), actions.Options{RequestID: "ks-it-root-rm"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ar := range res.Accounts {
		switch {
		case ar.Account == org.Management:
			if ar.Status != actions.StatusFailed || !strings.Contains(ar.Error, "refused") || !strings.Contains(ar.Error, "management account") {
				t.Errorf("management: %s %q", ar.Status, ar.Error)
			}
		case ar.Status != actions.StatusSucceeded || len(ar.Steps) != 0 || !strings.Contains(strings.Join(ar.Warnings, "\n"), "nothing to remove"):
			t.Errorf("%s: %s %q %v %q", ar.Account, ar.Status, ar.Error, ar.Steps, ar.Warnings)
		}
	}
}

// checkRootPlan is TestPlanEveryAction's check of remove-root-credentials:
// the management account is refused, saying why; a member's root user
// (which moto models without credentials) has nothing to remove.
func checkRootPlan(t *testing.T, org *Org, ap actions.AccountPlan) {
	t.Helper()
	all := strings.Join(ap.Warnings, "\n")
	if ap.Account == org.Management {
		if !strings.Contains(all, "refused for "+ap.Account) || !strings.Contains(all, "sts:AssumeRoot cannot target") {
			t.Errorf("%s: remove-root-credentials: %q", ap.Account, all)
		}
		return
	}
	if len(ap.Targets) != 0 || !strings.Contains(all, "root user of "+ap.Account+": root console password: no") || !strings.Contains(all, "nothing to remove") {
		t.Errorf("%s: remove-root-credentials: targets %v, warnings %q", ap.Account, ap.Targets, all)
	}
}
