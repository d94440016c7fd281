package actions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// authDetailsPage is the largest page IAM's GetAccountAuthorizationDetails
// allows: an account of up to 1,000 users, roles and groups is one call.
const authDetailsPage = 1000

// errNoAuthDetails: the bot may not call GetAccountAuthorizationDetails (a
// bot policy from before it was needed); the inventory lists instead.
var errNoAuthDetails = errors.New("iam:GetAccountAuthorizationDetails is not allowed")

// authInventory reads the account's users, roles and groups with one paged
// iam:GetAccountAuthorizationDetails (filtered to the kinds wanted) instead
// of List* plus a tag and an inline-policy read per principal: users and
// roles come with their tags and inline policies (documents URL-encoded,
// decoded here), roles with their trust policy. Tags already read in this
// run are kept (an intruder who tags a backdoor as break-glass mid-run
// gains nothing), so only principals created since read new tags.
func (a *acct) authInventory(ctx context.Context, wantUsers, wantRoles, wantGroups bool) (*inventory, error) {
	in := &iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(authDetailsPage)}
	for _, f := range []struct {
		want bool
		t    iamtypes.EntityType
	}{{wantUsers, iamtypes.EntityTypeUser}, {wantRoles, iamtypes.EntityTypeRole}, {wantGroups, iamtypes.EntityTypeGroup}} {
		if f.want {
			in.Filter = append(in.Filter, f.t)
		}
	}
	inv := &inventory{}
	if len(in.Filter) == 0 {
		return inv, nil
	}
	for {
		var out *iam.GetAccountAuthorizationDetailsOutput
		err := a.call("IAM", "GetAccountAuthorizationDetails", "", func() (err error) {
			out, err = a.c.IAM.GetAccountAuthorizationDetails(ctx, in)
			return err
		})
		if accessDenied(err) {
			return nil, errNoAuthDetails
		}
		if err != nil {
			return nil, fmt.Errorf("list users, roles and groups in %s (GetAccountAuthorizationDetails): %w", a.id, err)
		}
		for _, u := range out.UserDetailList {
			p := &principal{kind: "user", arn: aws.ToString(u.Arn), name: aws.ToString(u.UserName), path: aws.ToString(u.Path), created: aws.ToTime(u.CreateDate)}
			a.detailTags(p, u.Tags)
			p.inline = inlineDocs(u.UserPolicyList)
			inv.users = append(inv.users, p)
		}
		for _, r := range out.RoleDetailList {
			p := &principal{kind: "role", arn: aws.ToString(r.Arn), name: aws.ToString(r.RoleName), path: aws.ToString(r.Path), created: aws.ToTime(r.CreateDate), trust: decodeDoc(aws.ToString(r.AssumeRolePolicyDocument))}
			if !serviceLinked(p) && !identityCenter(p) { // their tags cannot exempt or include them
				a.detailTags(p, r.Tags)
			}
			p.inline = inlineDocs(r.RolePolicyList)
			inv.roles = append(inv.roles, p)
		}
		for _, g := range out.GroupDetailList {
			inv.groups = append(inv.groups, &principal{kind: "group", arn: aws.ToString(g.Arn), name: aws.ToString(g.GroupName), path: aws.ToString(g.Path), created: aws.ToTime(g.CreateDate)})
		}
		if !out.IsTruncated || out.Marker == nil {
			return inv, nil
		}
		in.Marker = out.Marker
	}
}

// detailTags sets p's tags: those read earlier in the run, else these.
func (a *acct) detailTags(p *principal, tags []iamtypes.Tag) {
	if a.e.cfg.BreakGlassTag == "" {
		return
	}
	if t, ok := a.cachedTags(p.arn); ok {
		p.tags = t
		return
	}
	p.tags = map[string]string{}
	for _, t := range tags {
		p.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	a.cacheTags(p.arn, p.tags)
}

func inlineDocs(l []iamtypes.PolicyDetail) map[string]string {
	m := make(map[string]string, len(l))
	for _, d := range l {
		m[aws.ToString(d.PolicyName)] = decodeDoc(aws.ToString(d.PolicyDocument))
	}
	return m
}

// DecodePolicyDocument is decodeDoc, for the emulator tests.
func DecodePolicyDocument(s string) string { return decodeDoc(s) }

// decodeDoc decodes a URL-encoded policy document. One already plain JSON
// is kept as it is (moto returns trust policies unencoded; unescaping would
// turn a "+" in them into a space).
func decodeDoc(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

func accessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException")
}
