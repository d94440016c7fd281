package sim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

const scpType = types.PolicyTypeServiceControlPolicy

func denyDeleteSCP() string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"DenyDelete","Effect":"Deny","Action":["ec2:DeleteSnapshot","s3:DeleteBucket"],"Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/BreakGlass*","arn:aws:iam::*:role/KillSwitchResponder"]}}}]}`
}

func TestOrganizationsAccess(t *testing.T) {
	solo := NewStandalone(soloID)
	org := testOrg(t)
	standalone := mustClients(t, solo, soloID).Organizations
	member := mustClients(t, org, memberID).Organizations
	mgmt := mustClients(t, org, mgmtID).Organizations

	if _, err := standalone.DescribeOrganization(bg, &organizations.DescribeOrganizationInput{}); !isErr[*types.AWSOrganizationsNotInUseException](err) {
		t.Fatalf("standalone DescribeOrganization: %v", err)
	}
	if _, err := standalone.ListAccounts(bg, &organizations.ListAccountsInput{}); !isErr[*types.AWSOrganizationsNotInUseException](err) {
		t.Fatalf("standalone ListAccounts: %v", err)
	}
	for name, c := range map[string]interface {
		DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	}{"member": member, "management": mgmt} {
		out, err := c.DescribeOrganization(bg, nil)
		must(t, err)
		if *out.Organization.MasterAccountId != mgmtID || !strings.HasPrefix(*out.Organization.Id, "o-") {
			t.Fatalf("%s: %+v", name, out.Organization)
		}
	}
	memberCalls := []struct {
		name string
		call func() error
	}{
		{"ListAccounts", func() error { _, err := member.ListAccounts(bg, nil); return err }},
		{"ListRoots", func() error { _, err := member.ListRoots(bg, nil); return err }},
		{"ListPolicies", func() error {
			_, err := member.ListPolicies(bg, &organizations.ListPoliciesInput{Filter: scpType})
			return err
		}},
		{"CreatePolicy", func() error {
			_, err := member.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String("x"), Description: aws.String(""), Content: aws.String(denyDeleteSCP()), Type: scpType})
			return err
		}},
		{"AttachPolicy", func() error {
			_, err := member.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: aws.String(FullAWSAccessID), TargetId: aws.String(memberID)})
			return err
		}},
		{"DetachPolicy", func() error {
			_, err := member.DetachPolicy(bg, &organizations.DetachPolicyInput{PolicyId: aws.String(FullAWSAccessID), TargetId: aws.String(memberID)})
			return err
		}},
		{"DescribePolicy", func() error {
			_, err := member.DescribePolicy(bg, &organizations.DescribePolicyInput{PolicyId: aws.String(FullAWSAccessID)})
			return err
		}},
		{"EnablePolicyType", func() error {
			_, err := member.EnablePolicyType(bg, &organizations.EnablePolicyTypeInput{PolicyType: scpType, RootId: aws.String(org.RootID())})
			return err
		}},
	}
	for _, tc := range memberCalls {
		t.Run("member "+tc.name, func(t *testing.T) {
			if err := tc.call(); !isErr[*types.AccessDeniedException](err) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestListAccountsPaging(t *testing.T) {
	o := testOrg(t)
	must(t, o.AddAccount("444444444444", "", "Prod"))
	must(t, o.AddAccount("000000000001", "early", "Prod"))
	c := mustClients(t, o, mgmtID).Organizations
	p := organizations.NewListAccountsPaginator(c, &organizations.ListAccountsInput{MaxResults: aws.Int32(2)})
	var ids []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(bg)
		must(t, err)
		pages++
		for _, a := range out.Accounts {
			ids = append(ids, *a.Id)
			if a.Status != types.AccountStatusActive || *a.Name == "" {
				t.Fatalf("account %+v", a)
			}
		}
	}
	if got := strings.Join(ids, ","); got != "111111111111,000000000001,222222222222,333333333333,444444444444" || pages != 3 {
		t.Fatalf("accounts %s in %d pages", got, pages)
	}
	for _, tc := range []struct {
		name string
		in   *organizations.ListAccountsInput
	}{
		{"MaxResults 21", &organizations.ListAccountsInput{MaxResults: aws.Int32(21)}},
		{"MaxResults 0", &organizations.ListAccountsInput{MaxResults: aws.Int32(0)}},
		{"bad NextToken", &organizations.ListAccountsInput{NextToken: aws.String("nope")}},
	} {
		if _, err := c.ListAccounts(bg, tc.in); !isErr[*types.InvalidInputException](err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestEnablePolicyType(t *testing.T) {
	o := NewOrganization(mgmtID)
	must(t, o.AddAccount(memberID, "prod", "Prod/Web"))
	c := mustClients(t, o, mgmtID).Organizations
	roots, err := c.ListRoots(bg, nil)
	must(t, err)
	if len(roots.Roots) != 1 || *roots.Roots[0].Id != o.RootID() || len(roots.Roots[0].PolicyTypes) != 0 || !strings.HasPrefix(o.RootID(), "r-") {
		t.Fatalf("roots before enabling %+v", roots.Roots)
	}
	created, err := c.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String("DenyDelete"), Description: aws.String("d"), Content: aws.String(denyDeleteSCP()), Type: scpType})
	must(t, err)
	id := created.Policy.PolicySummary.Id
	if _, err := c.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: id, TargetId: aws.String(memberID)}); !isErr[*types.PolicyTypeNotEnabledException](err) {
		t.Fatalf("attach before enabling: %v", err)
	}
	if _, err := c.EnablePolicyType(bg, &organizations.EnablePolicyTypeInput{PolicyType: scpType, RootId: aws.String("r-nope")}); !isErr[*types.RootNotFoundException](err) {
		t.Fatalf("wrong root: %v", err)
	}
	out, err := c.EnablePolicyType(bg, &organizations.EnablePolicyTypeInput{PolicyType: scpType, RootId: aws.String(o.RootID())})
	must(t, err)
	if len(out.Root.PolicyTypes) != 1 || out.Root.PolicyTypes[0].Status != types.PolicyTypeStatusEnabled {
		t.Fatalf("root %+v", out.Root)
	}
	if _, err := c.EnablePolicyType(bg, &organizations.EnablePolicyTypeInput{PolicyType: scpType, RootId: aws.String(o.RootID())}); !isErr[*types.PolicyTypeAlreadyEnabledException](err) {
		t.Fatalf("second enable: %v", err)
	}
	prod, _ := o.OUID("Prod")
	web, _ := o.OUID("Prod/Web")
	for _, target := range []string{o.RootID(), prod, web, mgmtID, memberID} {
		got, err := c.ListPoliciesForTarget(bg, &organizations.ListPoliciesForTargetInput{Filter: scpType, TargetId: aws.String(target)})
		must(t, err)
		if len(got.Policies) != 1 || *got.Policies[0].Id != FullAWSAccessID || !got.Policies[0].AwsManaged {
			t.Fatalf("%s: %+v", target, got.Policies)
		}
	}
	// accounts and OUs added later get FullAWSAccess too
	must(t, o.AddAccount("444444444444", "late", "Late"))
	late, _ := o.OUID("Late")
	for _, target := range []string{late, "444444444444"} {
		if got := o.SCPsFor(target); len(got) != 1 || got[0] != FullAWSAccessID {
			t.Fatalf("%s: %v", target, got)
		}
	}
	if _, err := c.ListPoliciesForTarget(bg, &organizations.ListPoliciesForTargetInput{Filter: scpType, TargetId: aws.String("999999999999")}); !isErr[*types.TargetNotFoundException](err) {
		t.Fatalf("unknown target: %v", err)
	}
}

func TestSCPLifecycleAndLimits(t *testing.T) {
	o := testOrg(t)
	c := mustClients(t, o, mgmtID).Organizations
	create := func(name, content string) (string, error) {
		out, err := c.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String(name), Description: aws.String("test"), Content: aws.String(content), Type: scpType})
		if err != nil {
			return "", err
		}
		return *out.Policy.PolicySummary.Id, nil
	}
	// 5,120 characters including white space is the limit
	max := doc("Deny", "ec2:DeleteSnapshot", "*", "")
	max += strings.Repeat(" ", 5120-len(max))
	maxID, err := create("Max", max)
	must(t, err)
	_, err = create("TooBig", max+" ")
	var cv *types.ConstraintViolationException
	if !isErr[*types.ConstraintViolationException](err) {
		t.Fatalf("5,121 characters: %v", err)
	}
	if asCV(err, &cv); cv.Reason != types.ConstraintViolationExceptionReasonPolicyContentLimitExceeded {
		t.Fatalf("reason %s", cv.Reason)
	}
	if _, err = create("Max", denyDeleteSCP()); !isErr[*types.DuplicatePolicyException](err) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err = create("Bad", `{"Statement":`); !isErr[*types.MalformedPolicyDocumentException](err) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err = create("Bad", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}`); !isErr[*types.MalformedPolicyDocumentException](err) {
		t.Fatalf("principal in SCP: %v", err)
	}
	if _, err = c.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String("tag"), Description: aws.String(""), Content: aws.String(max), Type: types.PolicyTypeTagPolicy}); !isErr[*types.InvalidInputException](err) {
		t.Fatalf("tag policy: %v", err)
	}

	var ids []string
	for _, n := range []string{"a", "b", "c", "d"} {
		id, err := create(n, doc("Deny", "s3:Delete"+n+"*", "*", ""))
		must(t, err)
		ids = append(ids, id)
	}
	attach := func(id, target string) error {
		_, err := c.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: aws.String(id), TargetId: aws.String(target)})
		return err
	}
	detach := func(id, target string) error {
		_, err := c.DetachPolicy(bg, &organizations.DetachPolicyInput{PolicyId: aws.String(id), TargetId: aws.String(target)})
		return err
	}
	for _, id := range ids { // FullAWSAccess + 4 = 5
		must(t, attach(id, memberID))
	}
	for _, tc := range []struct {
		name   string
		err    error
		check  func(error) bool
		reason types.ConstraintViolationExceptionReason
	}{
		{"sixth SCP", attach(maxID, memberID), isErr[*types.ConstraintViolationException], types.ConstraintViolationExceptionReasonPolicyNumberLimitExceeded},
		{"already attached", attach(ids[0], memberID), isErr[*types.DuplicatePolicyAttachmentException], ""},
		{"unknown policy", attach("p-nothere1", memberID), isErr[*types.PolicyNotFoundException], ""},
		{"unknown target", attach(maxID, "ou-nope-nope"), isErr[*types.TargetNotFoundException], ""},
		{"detach not attached", detach(maxID, "333333333333"), isErr[*types.PolicyNotAttachedException], ""},
		{"detach the last SCP", detach(FullAWSAccessID, "333333333333"), isErr[*types.ConstraintViolationException], types.ConstraintViolationExceptionReasonMinPolicyTypeAttachmentLimitExceeded},
		{"delete while attached", func() error {
			_, err := c.DeletePolicy(bg, &organizations.DeletePolicyInput{PolicyId: aws.String(ids[0])})
			return err
		}(), isErr[*types.PolicyInUseException], ""},
		{"update FullAWSAccess", func() error {
			_, err := c.UpdatePolicy(bg, &organizations.UpdatePolicyInput{PolicyId: aws.String(FullAWSAccessID), Content: aws.String(max)})
			return err
		}(), isErr[*types.InvalidInputException], ""},
		{"update to a taken name", func() error {
			_, err := c.UpdatePolicy(bg, &organizations.UpdatePolicyInput{PolicyId: aws.String(ids[0]), Name: aws.String("b")})
			return err
		}(), isErr[*types.DuplicatePolicyException], ""},
		{"update too big", func() error {
			_, err := c.UpdatePolicy(bg, &organizations.UpdatePolicyInput{PolicyId: aws.String(ids[0]), Content: aws.String(max + "  ")})
			return err
		}(), isErr[*types.ConstraintViolationException], types.ConstraintViolationExceptionReasonPolicyContentLimitExceeded},
		{"describe unknown", func() error {
			_, err := c.DescribePolicy(bg, &organizations.DescribePolicyInput{PolicyId: aws.String("p-nothere1")})
			return err
		}(), isErr[*types.PolicyNotFoundException], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.check(tc.err) {
				t.Fatalf("got %T %v", tc.err, tc.err)
			}
			if tc.reason != "" {
				var cv *types.ConstraintViolationException
				asCV(tc.err, &cv)
				if cv.Reason != tc.reason {
					t.Fatalf("reason %s, want %s", cv.Reason, tc.reason)
				}
			}
		})
	}

	// list, describe, update, detach, delete
	pols, err := c.ListPolicies(bg, &organizations.ListPoliciesInput{Filter: scpType, MaxResults: aws.Int32(4)})
	must(t, err)
	if len(pols.Policies) != 4 || pols.NextToken == nil {
		t.Fatalf("page 1 %+v", pols)
	}
	pols2, err := c.ListPolicies(bg, &organizations.ListPoliciesInput{Filter: scpType, NextToken: pols.NextToken})
	must(t, err)
	if len(pols2.Policies) != 2 || pols2.NextToken != nil { // 5 created + FullAWSAccess
		t.Fatalf("page 2 %+v", pols2)
	}
	up, err := c.UpdatePolicy(bg, &organizations.UpdatePolicyInput{PolicyId: aws.String(ids[0]), Name: aws.String("renamed"), Content: aws.String(denyDeleteSCP())})
	must(t, err)
	if *up.Policy.PolicySummary.Name != "renamed" || *up.Policy.Content != denyDeleteSCP() {
		t.Fatalf("update %+v", up.Policy)
	}
	d, err := c.DescribePolicy(bg, &organizations.DescribePolicyInput{PolicyId: aws.String(ids[0])})
	must(t, err)
	if *d.Policy.Content != denyDeleteSCP() || *d.Policy.PolicySummary.Description != "test" {
		t.Fatalf("describe %+v", d.Policy)
	}
	must(t, detach(ids[0], memberID))
	_, err = c.DeletePolicy(bg, &organizations.DeletePolicyInput{PolicyId: aws.String(ids[0])})
	must(t, err)
	if got := o.SCPsFor(memberID); len(got) != 4 || got[0] != FullAWSAccessID {
		t.Fatalf("after detach: %v", got)
	}
}

func asCV(err error, cv **types.ConstraintViolationException) {
	if !errors.As(err, cv) {
		*cv = &types.ConstraintViolationException{}
	}
}
