package sim

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// authOrg is a standalone account with 5 users (one tagged, one with an
// inline policy and a group), 3 roles (one tagged, one with an inline
// policy and a customer managed policy), 2 groups and 1 customer managed
// policy.
func authOrg(t *testing.T) (*Org, string, string) {
	t.Helper()
	o := NewStandalone(soloID)
	inline := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::a b+c&d/*"}]}`
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x y+z"}}}]}`
	arn, err := o.AddPolicy(soloID, Policy{Name: "ops-read", Document: doc("Allow", "s3:GetObject", "*", "")})
	must(t, err)
	must(t, o.AddGroup(soloID, Group{Name: "ops", ManagedPolicies: []string{arn}}))
	must(t, o.AddGroup(soloID, Group{Name: "dev"}))
	for i := range 5 {
		u := User{Name: fmt.Sprintf("u%d", i)}
		switch i {
		case 1:
			u.Tags = map[string]string{"killswitch:break-glass": "true", "team": "sec"}
		case 2:
			u.InlinePolicies = map[string]string{"deny-s3": inline}
			u.Groups = []string{"ops"}
		}
		must(t, o.AddUser(soloID, u))
	}
	must(t, o.AddRole(soloID, Role{Name: "r-vendor", Trust: trust, Tags: map[string]string{"owner": "vendor"}}))
	must(t, o.AddRole(soloID, Role{Name: "r-app", InlinePolicies: map[string]string{"deny-s3": inline}, ManagedPolicies: []string{arn}}))
	must(t, o.AddRole(soloID, Role{Name: "r-plain"}))
	return o, inline, trust
}

// authPages walks GetAccountAuthorizationDetails with the SDK's paginator.
func authPages(t *testing.T, c iam.GetAccountAuthorizationDetailsAPIClient, in *iam.GetAccountAuthorizationDetailsInput, limit int32) ([]*iam.GetAccountAuthorizationDetailsOutput, error) {
	t.Helper()
	p := iam.NewGetAccountAuthorizationDetailsPaginator(c, in, func(o *iam.GetAccountAuthorizationDetailsPaginatorOptions) { o.Limit = limit })
	var pages []*iam.GetAccountAuthorizationDetailsOutput
	for p.HasMorePages() {
		out, err := p.NextPage(bg)
		if err != nil {
			return pages, err
		}
		if out.IsTruncated != (out.Marker != nil) {
			t.Fatalf("IsTruncated %v with Marker %v", out.IsTruncated, out.Marker)
		}
		pages = append(pages, out)
	}
	return pages, nil
}

// entities lists what the pages hold, "user:u0", "group:ops", "role:r-app",
// "policy:ops-read", in the order returned.
func entities(pages []*iam.GetAccountAuthorizationDetailsOutput) []string {
	var out []string
	for _, p := range pages {
		for _, u := range p.UserDetailList {
			out = append(out, "user:"+*u.UserName)
		}
		for _, g := range p.GroupDetailList {
			out = append(out, "group:"+*g.GroupName)
		}
		for _, r := range p.RoleDetailList {
			out = append(out, "role:"+*r.RoleName)
		}
		for _, m := range p.Policies {
			out = append(out, "policy:"+*m.PolicyName)
		}
	}
	return out
}

// TestAccountAuthorizationDetailsPagesAcrossTypes: MaxItems and Marker
// page across users, groups, roles and policies together (a page can end
// in the middle of one type and the next begin with another); every page
// size returns the same entities once each, in the same order, as one
// page does.
func TestAccountAuthorizationDetailsPagesAcrossTypes(t *testing.T) {
	o, _, _ := authOrg(t)
	c := mustClients(t, o, soloID)
	whole, err := authPages(t, c.IAM, &iam.GetAccountAuthorizationDetailsInput{}, 1000)
	must(t, err)
	all := entities(whole)
	if len(whole) != 1 {
		t.Fatalf("MaxItems 1000: %d pages", len(whole))
	}
	for _, want := range []string{"user:u0", "user:u4", "group:dev", "group:ops", "role:r-app", "role:r-plain", "role:r-vendor", "policy:ops-read"} {
		if !slices.Contains(all, want) {
			t.Errorf("%s missing from %v", want, all)
		}
	}
	for _, limit := range []int32{1, 2, 3, 7} {
		pages, err := authPages(t, c.IAM, &iam.GetAccountAuthorizationDetailsInput{}, limit)
		must(t, err)
		got := entities(pages)
		if !slices.Equal(got, all) {
			t.Errorf("MaxItems %d: %v, want %v", limit, got, all)
		}
		if want := (len(all) + int(limit) - 1) / int(limit); len(pages) != want {
			t.Errorf("MaxItems %d: %d pages, want %d", limit, len(pages), want)
		}
		mixed := false
		for _, p := range pages {
			kinds := 0
			for _, n := range []int{len(p.UserDetailList), len(p.GroupDetailList), len(p.RoleDetailList), len(p.Policies)} {
				if n > 0 {
					kinds++
				}
			}
			mixed = mixed || kinds > 1
			if n := len(p.UserDetailList) + len(p.GroupDetailList) + len(p.RoleDetailList) + len(p.Policies); n > int(limit) {
				t.Errorf("MaxItems %d: a page of %d", limit, n)
			}
		}
		if limit == 7 && !mixed {
			t.Errorf("MaxItems 7: no page holds two entity types")
		}
	}
	_, err = c.IAM.GetAccountAuthorizationDetails(bg, &iam.GetAccountAuthorizationDetailsInput{Marker: aws.String("not-a-marker")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationError" {
		t.Errorf("a bad Marker: %v", err)
	}
}

// TestAccountAuthorizationDetailsFilter: Filter keeps only the entity
// types listed; an unknown type is a validation error.
func TestAccountAuthorizationDetailsFilter(t *testing.T) {
	o, _, _ := authOrg(t)
	c := mustClients(t, o, soloID)
	for _, tc := range []struct {
		filter []types.EntityType
		prefix []string
	}{
		{[]types.EntityType{types.EntityTypeUser}, []string{"user:"}},
		{[]types.EntityType{types.EntityTypeRole}, []string{"role:"}},
		{[]types.EntityType{types.EntityTypeUser, types.EntityTypeRole}, []string{"user:", "role:"}},
		{[]types.EntityType{types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy}, []string{"group:", "policy:"}},
	} {
		pages, err := authPages(t, c.IAM, &iam.GetAccountAuthorizationDetailsInput{Filter: tc.filter}, 2)
		must(t, err)
		got := entities(pages)
		if len(got) == 0 {
			t.Errorf("filter %v: nothing", tc.filter)
		}
		kinds := map[string]bool{}
		for _, e := range got {
			k := e[:strings.Index(e, ":")+1]
			kinds[k] = true
			if !slices.Contains(tc.prefix, k) {
				t.Errorf("filter %v returned %s", tc.filter, e)
			}
		}
		if len(kinds) != len(tc.prefix) {
			t.Errorf("filter %v: kinds %v", tc.filter, kinds)
		}
	}
	users, err := authPages(t, c.IAM, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeUser}}, 1000)
	must(t, err)
	if n := len(entities(users)); n != 5 {
		t.Errorf("users: %d, want 5", n)
	}
	_, err = c.IAM.GetAccountAuthorizationDetails(bg, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{"Users"}})
	if err == nil || !strings.Contains(err.Error(), "enum value set") {
		t.Errorf("an unknown entity type: %v", err)
	}
}

// TestAccountAuthorizationDetailsContent: users and roles carry their tags,
// inline policies and attached policies; groups their attached policies;
// every policy document (inline, trust, managed versions) is URL-encoded
// like AWS's and decodes to the document set.
func TestAccountAuthorizationDetailsContent(t *testing.T) {
	o, inline, trust := authOrg(t)
	c := mustClients(t, o, soloID)
	pages, err := authPages(t, c.IAM, &iam.GetAccountAuthorizationDetailsInput{}, 3)
	must(t, err)
	decodes := func(what, enc, want string) {
		t.Helper()
		if strings.ContainsAny(enc, `{" `) {
			t.Errorf("%s is not URL-encoded: %s", what, enc)
		}
		if got, err := url.QueryUnescape(enc); err != nil || got != want {
			t.Errorf("%s decodes to %q (%v), want %q", what, got, err, want)
		}
	}
	tags := func(ts []types.Tag) map[string]string {
		m := map[string]string{}
		for _, tg := range ts {
			m[*tg.Key] = *tg.Value
		}
		return m
	}
	seen := 0
	for _, p := range pages {
		for _, u := range p.UserDetailList {
			switch *u.UserName {
			case "u1":
				seen++
				if m := tags(u.Tags); len(m) != 2 || m["killswitch:break-glass"] != "true" || m["team"] != "sec" {
					t.Errorf("u1 tags %v", m)
				}
			case "u2":
				seen++
				if len(u.UserPolicyList) != 1 || *u.UserPolicyList[0].PolicyName != "deny-s3" {
					t.Fatalf("u2 inline %+v", u.UserPolicyList)
				}
				decodes("u2's inline policy", *u.UserPolicyList[0].PolicyDocument, inline)
				if !slices.Equal(u.GroupList, []string{"ops"}) {
					t.Errorf("u2 groups %v", u.GroupList)
				}
			case "u0":
				if len(u.Tags) != 0 || len(u.UserPolicyList) != 0 {
					t.Errorf("u0: %+v", u)
				}
			}
		}
		for _, r := range p.RoleDetailList {
			switch *r.RoleName {
			case "r-vendor":
				seen++
				if m := tags(r.Tags); len(m) != 1 || m["owner"] != "vendor" {
					t.Errorf("r-vendor tags %v", m)
				}
				decodes("r-vendor's trust policy", *r.AssumeRolePolicyDocument, trust)
			case "r-app":
				seen++
				if len(r.RolePolicyList) != 1 || len(r.AttachedManagedPolicies) != 1 || *r.AttachedManagedPolicies[0].PolicyName != "ops-read" {
					t.Fatalf("r-app policies %+v %+v", r.RolePolicyList, r.AttachedManagedPolicies)
				}
				decodes("r-app's inline policy", *r.RolePolicyList[0].PolicyDocument, inline)
			}
		}
		for _, g := range p.GroupDetailList {
			if *g.GroupName == "ops" {
				seen++
				if len(g.AttachedManagedPolicies) != 1 || *g.AttachedManagedPolicies[0].PolicyName != "ops-read" {
					t.Errorf("group ops attached %+v", g.AttachedManagedPolicies)
				}
			}
		}
		for _, m := range p.Policies {
			if *m.PolicyName == "ops-read" {
				seen++
				if m.AttachmentCount == nil || *m.AttachmentCount != 2 || len(m.PolicyVersionList) != 1 || !m.PolicyVersionList[0].IsDefaultVersion {
					t.Errorf("ops-read: attachments %v, versions %+v", m.AttachmentCount, m.PolicyVersionList)
				}
				decodes("ops-read's version", *m.PolicyVersionList[0].Document, doc("Allow", "s3:GetObject", "*", ""))
			}
		}
	}
	if seen != 6 {
		t.Errorf("checked %d of the 6 entities", seen)
	}
}
