package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/killswitch/killswitch/policies"
)

// IAM Identity Center: the instance lives in the management account (or,
// as an account instance, in a standalone account). contain-identity-center
// removes account assignments there; the roles they provision in each
// account (AWSReservedSSO_*) carry no IAM change, so their sessions are
// ended by revoke-sessions' SCP (revoke_sso.go).

// ICPrincipal names an Identity Center user or group: "user:NAME" or
// "group:NAME" (Options.IdentityCenter).
type ICPrincipal struct {
	Type string // USER | GROUP
	Name string
}

func (p ICPrincipal) String() string { return strings.ToLower(p.Type) + ":" + p.Name }

// ParseICPrincipals validates "user:NAME" / "group:NAME" entries: a name
// is 1 to 128 printable characters without a comma or space at either end.
func ParseICPrincipals(entries []string) ([]ICPrincipal, error) {
	var out []ICPrincipal
	seen := map[ICPrincipal]bool{}
	for _, e := range entries {
		kind, name, ok := strings.Cut(e, ":")
		p := ICPrincipal{Name: name}
		switch kind {
		case "user":
			p.Type = "USER"
		case "group":
			p.Type = "GROUP"
		default:
			ok = false
		}
		if !ok || name == "" || len(name) > 128 || strings.TrimSpace(name) != name || strings.ContainsAny(name, ",\"\\") ||
			strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' }) >= 0 {
			return nil, fmt.Errorf("identity center principal %q: want user:NAME or group:NAME (a name is 1 to 128 printable characters, no comma, quote or backslash)", clipText(e))
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func clipText(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// icShared is the Identity Center directory read once per run and shared
// by every account of it (openAll).
type icShared struct {
	mu   sync.Mutex
	done bool
	dir  *icDirectory
	err  error
}

// icDirectory is what contain-identity-center knows of the instance.
type icDirectory struct {
	home        *acct // the account the instance lives in
	instanceARN string
	storeID     string
	permSets    []icPermSet       // sorted by name
	users       map[string]string // id -> user name
	groups      map[string]string // id -> group name
	breakGlass  map[string]string // principal id -> why it is exempt
	targets     map[string]bool   // principal ids named in the request (nil: every non-break-glass one)
}

type icPermSet struct{ arn, name, duration string }

// icLabel is how a principal appears in plans and steps.
func (d *icDirectory) icLabel(ptype, id string) string {
	if ptype == "GROUP" {
		return "Identity Center group " + nameOr(d.groups[id], id)
	}
	return "Identity Center user " + nameOr(d.users[id], id)
}

func nameOr(n, id string) string {
	if n == "" {
		return id
	}
	return n
}

// icDir returns the run's Identity Center directory (nil when no instance
// is found), reading it on first use. No lock is held during the reads (a
// drill's scheduler must see every lane blocked in it): the engine reads it
// once before the accounts' fan-out (prepareIC), so the accounts share it.
func (a *acct) icDir(ctx context.Context, opt Options) (*icDirectory, error) {
	sh := a.ic
	if sh == nil {
		sh = &icShared{}
		a.ic = sh
	}
	sh.mu.Lock()
	if sh.done {
		defer sh.mu.Unlock()
		return sh.dir, sh.err
	}
	sh.mu.Unlock()
	d, err := a.readICDirectory(ctx, opt)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.done && ctx.Err() == nil {
		sh.dir, sh.err, sh.done = d, err, true
	}
	return d, err
}

// prepareIC reads the Identity Center directory once, before a phase that
// needs it fans out over the accounts.
func (e *Engine) prepareIC(ctx context.Context, phase string, accts []*acct, opt Options) {
	if phase != ContainIdentityCenter {
		return
	}
	for _, a := range accts {
		if a != nil {
			_, _ = a.icDir(withBaseline(ctx, opt.Baseline), opt) // errors are reported by each account's build
			return
		}
	}
}

func (a *acct) readICDirectory(ctx context.Context, opt Options) (*icDirectory, error) {
	named, err := ParseICPrincipals(opt.IdentityCenter)
	if err != nil {
		return nil, err
	}
	home := a
	if a.kind == KindMember {
		if home, err = a.management(ctx); err != nil {
			return nil, fmt.Errorf("management account %s (IAM Identity Center lives there): %w", a.mgmtID, err)
		}
	}
	if home.c.SSOAdmin == nil || home.c.IdentityStore == nil {
		return nil, nil
	}
	var inst *ssotypes.InstanceMetadata
	err = home.call("SSOAdmin", "ListInstances", "", func() error {
		p := ssoadmin.NewListInstancesPaginator(home.c.SSOAdmin, &ssoadmin.ListInstancesInput{})
		for p.HasMorePages() && inst == nil {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			if len(out.Instances) > 0 {
				inst = &out.Instances[0]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list IAM Identity Center instances in %s: %w", home.id, err)
	}
	if inst == nil {
		return nil, nil
	}
	d := &icDirectory{home: home, instanceARN: aws.ToString(inst.InstanceArn), storeID: aws.ToString(inst.IdentityStoreId),
		users: map[string]string{}, groups: map[string]string{}, breakGlass: map[string]string{}}
	if err := d.readPermSets(ctx); err != nil {
		return nil, err
	}
	if err := d.readPrincipals(ctx); err != nil {
		return nil, err
	}
	if err := d.markBreakGlass(ctx, a.e.cfg); err != nil {
		return nil, err
	}
	return d, d.resolve(named)
}

func (d *icDirectory) readPermSets(ctx context.Context) error {
	h := d.home
	var arns []string
	err := h.call("SSOAdmin", "ListPermissionSets", d.instanceARN, func() error {
		p := ssoadmin.NewListPermissionSetsPaginator(h.c.SSOAdmin, &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(d.instanceARN)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			arns = append(arns, out.PermissionSets...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list permission sets of %s: %w", d.instanceARN, err)
	}
	for _, arn := range arns {
		var out *ssoadmin.DescribePermissionSetOutput
		if err := h.call("SSOAdmin", "DescribePermissionSet", arn, func() (err error) {
			out, err = h.c.SSOAdmin.DescribePermissionSet(ctx, &ssoadmin.DescribePermissionSetInput{InstanceArn: aws.String(d.instanceARN), PermissionSetArn: aws.String(arn)})
			return err
		}); err != nil {
			return fmt.Errorf("describe permission set %s: %w", arn, err)
		}
		ps := icPermSet{arn: arn, name: arn}
		if out.PermissionSet != nil {
			ps.name, ps.duration = nameOr(aws.ToString(out.PermissionSet.Name), arn), aws.ToString(out.PermissionSet.SessionDuration)
		}
		d.permSets = append(d.permSets, ps)
	}
	sort.Slice(d.permSets, func(i, j int) bool { return d.permSets[i].name < d.permSets[j].name })
	return nil
}

func (d *icDirectory) readPrincipals(ctx context.Context) error {
	h, store := d.home, aws.String(d.storeID)
	err := h.call("IdentityStore", "ListUsers", d.storeID, func() error {
		p := identitystore.NewListUsersPaginator(h.c.IdentityStore, &identitystore.ListUsersInput{IdentityStoreId: store})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, u := range out.Users {
				d.users[aws.ToString(u.UserId)] = aws.ToString(u.UserName)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list Identity Center users of %s: %w", d.storeID, err)
	}
	err = h.call("IdentityStore", "ListGroups", d.storeID, func() error {
		p := identitystore.NewListGroupsPaginator(h.c.IdentityStore, &identitystore.ListGroupsInput{IdentityStoreId: store})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, g := range out.Groups {
				d.groups[aws.ToString(g.GroupId)] = aws.ToString(g.DisplayName)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list Identity Center groups of %s: %w", d.storeID, err)
	}
	return nil
}

// markBreakGlass finds the configured break-glass users and groups, and the
// members of those groups (their own assignments are break-glass too).
func (d *icDirectory) markBreakGlass(ctx context.Context, cfg Config) error {
	for id, n := range d.users {
		if slices.Contains(cfg.BreakGlassICUsers, n) {
			d.breakGlass[id] = "break-glass Identity Center user listed in the configuration (break_glass.identity_center_users: " + n + ")"
		}
	}
	for _, gid := range sortedKeys(d.groups) {
		n := d.groups[gid]
		if !slices.Contains(cfg.BreakGlassICGroups, n) {
			continue
		}
		d.breakGlass[gid] = "break-glass Identity Center group listed in the configuration (break_glass.identity_center_groups: " + n + ")"
		h := d.home
		err := h.call("IdentityStore", "ListGroupMemberships", gid, func() error {
			p := identitystore.NewListGroupMembershipsPaginator(h.c.IdentityStore, &identitystore.ListGroupMembershipsInput{IdentityStoreId: aws.String(d.storeID), GroupId: aws.String(gid)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, m := range out.GroupMemberships {
					if u, ok := m.MemberId.(*istypes.MemberIdMemberUserId); ok {
						if _, already := d.breakGlass[u.Value]; !already {
							d.breakGlass[u.Value] = "member of the break-glass Identity Center group " + n
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list members of break-glass Identity Center group %q: %w", n, err)
		}
	}
	return nil
}

// resolve turns the named principals into ids; a name that does not exist
// is an error (the request named the wrong person).
func (d *icDirectory) resolve(named []ICPrincipal) error {
	if len(named) == 0 {
		return nil
	}
	d.targets = map[string]bool{}
	for _, p := range named {
		m := d.users
		if p.Type == "GROUP" {
			m = d.groups
		}
		found := ""
		for id, n := range m {
			if n == p.Name {
				found = id
			}
		}
		if found == "" {
			return fmt.Errorf("%s: no such Identity Center %s in identity store %s", p, strings.ToLower(p.Type), d.storeID)
		}
		if why, bg := d.breakGlass[found]; bg {
			return fmt.Errorf("%s is break-glass (%s): killswitch never touches it", p, why)
		}
		d.targets[found] = true
	}
	return nil
}

// assignments lists the account assignments of one permission set in an
// account.
func (d *icDirectory) assignments(ctx context.Context, account string, ps icPermSet) ([]ssotypes.AccountAssignment, error) {
	h := d.home
	var out []ssotypes.AccountAssignment
	err := h.call("SSOAdmin", "ListAccountAssignments", account, func() error {
		p := ssoadmin.NewListAccountAssignmentsPaginator(h.c.SSOAdmin, &ssoadmin.ListAccountAssignmentsInput{
			InstanceArn: aws.String(d.instanceARN), AccountId: aws.String(account), PermissionSetArn: aws.String(ps.arn)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			out = append(out, page.AccountAssignments...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list assignments of permission set %s in %s: %w", ps.name, account, err)
	}
	return out, nil
}

var errNoInstance = errors.New("no IAM Identity Center instance")

// checkBreakGlassIC validates the break-glass Identity Center names.
func checkBreakGlassIC(cfg Config) error {
	return CheckBreakGlassIC(cfg.BreakGlassICUsers, cfg.BreakGlassICGroups)
}

// CheckBreakGlassIC validates break-glass Identity Center user names (as a
// role session name: they are matched against aws:userid) and group names.
func CheckBreakGlassIC(users, groups []string) error {
	for _, u := range users {
		if err := policies.CheckSSOUserName(u); err != nil {
			return fmt.Errorf("break-glass %w", err)
		}
	}
	for _, g := range groups {
		if _, err := ParseICPrincipals([]string{"group:" + g}); err != nil {
			return fmt.Errorf("break-glass %w", err)
		}
	}
	return nil
}
