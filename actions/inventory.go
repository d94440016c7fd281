package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// principal is an IAM user, role or group.
type principal struct {
	kind    string // user | role | group
	arn     string
	name    string
	path    string
	tags    map[string]string
	created time.Time
	trust   string // roles: the trust policy document
	// err: its tags could not be read, so whether it is break-glass is
	// unknown: sortOut reports it and it is never touched.
	err error
	// base: the baseline its exemption by tag or pattern is checked
	// against (nil: unchecked; baseline.go).
	base *acctBaseline
	// fp: the fingerprint of a principal that claims an exemption
	// (fingerprint.go), checked against the baseline's.
	fp string
	// inline: its inline policies by name, decoded, when the inventory
	// read them (authdetails.go; nil: not read, ask IAM).
	inline map[string]string
}

// inventory lists the account's principals with their tags. It is read
// afresh for every phase, so a backdoor created since the plan (or since an
// earlier phase) is still contained.
type inventory struct {
	users, roles, groups []*principal
}

func (a *acct) inventory(ctx context.Context, wantUsers, wantRoles, wantGroups bool) (*inventory, error) {
	inv, err := a.authInventory(ctx, wantUsers, wantRoles, wantGroups)
	if errors.Is(err, errNoAuthDetails) {
		inv, err = a.listInventory(ctx, wantUsers, wantRoles, wantGroups)
	}
	if err != nil {
		return nil, err
	}
	if err := a.fingerprints(ctx, append(append([]*principal(nil), inv.users...), inv.roles...)); err != nil {
		return nil, err
	}
	base := a.baselineFor(ctx)
	for _, l := range [][]*principal{inv.users, inv.roles, inv.groups} {
		sort.Slice(l, func(i, j int) bool { return l[i].arn < l[j].arn })
		for _, p := range l {
			p.base = base
		}
	}
	return inv, nil
}

// listInventory lists the principals with List* and reads each one's tags:
// the way of a bot policy without iam:GetAccountAuthorizationDetails.
func (a *acct) listInventory(ctx context.Context, wantUsers, wantRoles, wantGroups bool) (*inventory, error) {
	inv := &inventory{}
	c := a.c.IAM
	if wantUsers {
		var marker *string
		for {
			var out *iam.ListUsersOutput
			err := a.call("IAM", "ListUsers", "", func() (err error) {
				out, err = c.ListUsers(ctx, &iam.ListUsersInput{Marker: marker})
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("list users in %s: %w", a.id, err)
			}
			for _, u := range out.Users {
				inv.users = append(inv.users, &principal{kind: "user", arn: aws.ToString(u.Arn), name: aws.ToString(u.UserName), path: aws.ToString(u.Path), created: aws.ToTime(u.CreateDate)})
			}
			if !out.IsTruncated || out.Marker == nil {
				break
			}
			marker = out.Marker
		}
		if a.e.cfg.BreakGlassTag != "" {
			for _, u := range inv.users {
				if err := a.userTags(ctx, u); err != nil {
					if ctx.Err() != nil {
						return nil, err
					}
					u.err = err
				}
			}
		}
	}
	if wantRoles {
		var marker *string
		for {
			var out *iam.ListRolesOutput
			err := a.call("IAM", "ListRoles", "", func() (err error) {
				out, err = c.ListRoles(ctx, &iam.ListRolesInput{Marker: marker})
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("list roles in %s: %w", a.id, err)
			}
			for _, r := range out.Roles {
				trust := aws.ToString(r.AssumeRolePolicyDocument)
				if d, err := url.QueryUnescape(trust); err == nil {
					trust = d
				}
				inv.roles = append(inv.roles, &principal{kind: "role", arn: aws.ToString(r.Arn), name: aws.ToString(r.RoleName), path: aws.ToString(r.Path), created: aws.ToTime(r.CreateDate), trust: trust})
			}
			if !out.IsTruncated || out.Marker == nil {
				break
			}
			marker = out.Marker
		}
		if a.e.cfg.BreakGlassTag != "" {
			for _, r := range inv.roles {
				if serviceLinked(r) || identityCenter(r) {
					continue // their tags cannot exempt or include them
				}
				if err := a.roleTags(ctx, r); err != nil {
					if ctx.Err() != nil {
						return nil, err
					}
					r.err = err
				}
			}
		}
	}
	if wantGroups {
		var marker *string
		for {
			var out *iam.ListGroupsOutput
			err := a.call("IAM", "ListGroups", "", func() (err error) {
				out, err = c.ListGroups(ctx, &iam.ListGroupsInput{Marker: marker})
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("list groups in %s: %w", a.id, err)
			}
			for _, g := range out.Groups {
				inv.groups = append(inv.groups, &principal{kind: "group", arn: aws.ToString(g.Arn), name: aws.ToString(g.GroupName), path: aws.ToString(g.Path), created: aws.ToTime(g.CreateDate)})
			}
			if !out.IsTruncated || out.Marker == nil {
				break
			}
			marker = out.Marker
		}
	}
	return inv, nil
}

// cachedTags returns the tags read earlier in this run.
func (a *acct) cachedTags(arn string) (map[string]string, bool) {
	a.tagMu.Lock()
	defer a.tagMu.Unlock()
	t, ok := a.tags[arn]
	return t, ok
}

func (a *acct) cacheTags(arn string, t map[string]string) {
	a.tagMu.Lock()
	defer a.tagMu.Unlock()
	if a.tags == nil {
		a.tags = map[string]map[string]string{}
	}
	a.tags[arn] = t
}

func (a *acct) userTags(ctx context.Context, u *principal) error {
	if t, ok := a.cachedTags(u.arn); ok {
		u.tags = t
		return nil
	}
	u.tags = map[string]string{}
	var marker *string
	for {
		var out *iam.ListUserTagsOutput
		err := a.call("IAM", "ListUserTags", u.arn, func() (err error) {
			out, err = a.c.IAM.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(u.name), Marker: marker})
			return err
		})
		if err != nil {
			return fmt.Errorf("list tags of user %q in %s: %w", u.name, a.id, err)
		}
		for _, t := range out.Tags {
			u.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !out.IsTruncated || out.Marker == nil {
			a.cacheTags(u.arn, u.tags) // only complete tag sets: a missed break-glass tag would touch break-glass
			return nil
		}
		marker = out.Marker
	}
}

func (a *acct) roleTags(ctx context.Context, r *principal) error {
	if t, ok := a.cachedTags(r.arn); ok {
		r.tags = t
		return nil
	}
	r.tags = map[string]string{}
	var marker *string
	for {
		var out *iam.ListRoleTagsOutput
		err := a.call("IAM", "ListRoleTags", r.arn, func() (err error) {
			out, err = a.c.IAM.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String(r.name), Marker: marker})
			return err
		})
		if err != nil {
			return fmt.Errorf("list tags of role %q in %s: %w", r.name, a.id, err)
		}
		for _, t := range out.Tags {
			r.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !out.IsTruncated || out.Marker == nil {
			a.cacheTags(r.arn, r.tags)
			return nil
		}
		marker = out.Marker
	}
}

func serviceLinked(p *principal) bool {
	return p.kind == "role" && strings.HasPrefix(p.path, "/aws-service-role/")
}

func identityCenter(p *principal) bool {
	return p.kind == "role" && (strings.HasPrefix(p.name, "AWSReservedSSO_") || strings.HasPrefix(p.path, "/aws-reserved/sso.amazonaws.com/"))
}

// Exemption reasons. The break-glass ones are matched first so that a
// break-glass principal always says why it is untouched.
const (
	reasonSLR = "service-linked role: AWS allows no inline or attached policy on it and only its service can assume it; contain the service instead (and review it with iam:GetServiceLastAccessedDetails)"
	reasonSSO = "IAM Identity Center role: IAM refuses changes to it, so no policy is put on or attached to it (in a member account the guardrail SCP binds it all the same); contain it in IAM Identity Center (remove the account assignment or permission set, then revoke the user's active sessions there)"
	// ssoWarning counts the IAM Identity Center roles of an account.
	ssoWarning = "%d IAM Identity Center role(s) cannot carry the change: contain them in IAM Identity Center"
)

// exemption says why the bot will never touch p, or "" when it may. The
// bot is recognised by its identity, not by its role's name; an exemption
// by tag or pattern counts only when the baseline confirms it (baseline.go).
func (a *acct) exemption(p *principal) string {
	if a.isCaller(p) {
		return "the bot's own role (" + p.name + ")"
	}
	if arn := a.configured(p); arn != "" {
		return "break-glass principal listed in the configuration (" + arn + ")"
	}
	if c := a.claim(p); c != "" && p.base.trusts(p) {
		return c
	}
	if serviceLinked(p) {
		return reasonSLR
	}
	if identityCenter(p) {
		return reasonSSO
	}
	return ""
}

// sortOut splits principals into those to act on and those exempt, and warns
// about break-glass principals created recently (an intruder may name or tag
// a backdoor to look like break-glass) and about those contained although
// they look exempt (the baseline did not confirm them). A principal whose
// tags could not be read is neither: it is reported as a failure and left
// alone (it may be break-glass), unless a pattern or the bot's identity
// exempts it anyway.
func (a *acct) sortOut(ps []*principal, w *work) []*principal {
	var act []*principal
	slr, sso := 0, 0
	for _, p := range ps {
		a.warnNoBaseline(p.base, w)
		r := a.exemption(p)
		if p.err != nil && r == "" {
			w.fail(p, p.err)
			continue
		}
		if r == "" {
			a.warnContained(p, w)
			act = append(act, p)
			continue
		}
		w.exempt = append(w.exempt, Exemption{Principal: p.arn, Reason: r})
		switch r {
		case reasonSLR:
			slr++
		case reasonSSO:
			sso++
		default:
			if !p.created.IsZero() && a.started.Sub(p.created) < 7*24*time.Hour && !strings.HasPrefix(r, "the bot") {
				w.warnings = append(w.warnings, fmt.Sprintf("%s is exempt (%s) but was created %s: make sure it is genuinely break-glass and not a backdoor", p.arn, r, p.created.UTC().Format(time.RFC3339)))
			}
			if acct, ok := trustsWholeAccount(p); ok {
				w.warnings = append(w.warnings, fmt.Sprintf("exempt role %s trusts all of account %s: any principal there allowed sts:AssumeRole (an intruder with an administrator key) can become it and act unbound; trust only named principals (break-glass: with MFA; the responder role: the killswitch service's role)", p.arn, acct))
			}
		}
	}
	if slr > 0 {
		w.warnings = append(w.warnings, fmt.Sprintf("%d service-linked role(s) cannot carry the change and are reported as exempt", slr))
	}
	if sso > 0 {
		w.warnings = append(w.warnings, fmt.Sprintf(ssoWarning, sso))
	}
	return act
}

// ArnLike matches an ARN against a pattern the way IAM's ArnLike does for
// the characters killswitch uses: * matches any run of characters, ? one.
func ArnLike(pattern, s string) bool {
	// iterative glob with backtracking on the last *
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// mask shows an access key id the way the plan does: AKIA...1234.
func mask(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[:4] + "..." + id[len(id)-4:]
}

// nameFromARN returns the last path element of an IAM ARN.
func nameFromARN(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// kindFromARN returns user, role or group for an IAM ARN.
func kindFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	k, _, _ := strings.Cut(parts[5], "/")
	return k
}

// trustsWholeAccount reports whether a role's trust policy allows a whole
// account (its root or id) to assume it, and which.
func trustsWholeAccount(p *principal) (string, bool) {
	if p.kind != "role" || p.trust == "" {
		return "", false
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Principal struct {
				AWS any
			}
		}
	}
	if json.Unmarshal([]byte(p.trust), &doc) != nil {
		return "", false
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		var list []any
		switch v := st.Principal.AWS.(type) {
		case string:
			list = []any{v}
		case []any:
			list = v
		}
		for _, x := range list {
			s, _ := x.(string)
			if ValidAccountID(s) {
				return s, true
			}
			if strings.HasSuffix(s, ":root") && strings.HasPrefix(s, "arn:") {
				return strings.SplitN(s, ":", 6)[4], true
			}
		}
	}
	return "", false
}
