package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// IAM Identity Center, as AWS runs it: one instance in the management
// account (or a standalone account), an identity store of users and
// groups, permission sets, and account assignments. Assigning a permission
// set to a principal in an account provisions the role
// AWSReservedSSO_<PermissionSet>_<hex> (path /aws-reserved/sso.amazonaws.com/,
// trusting the instance's SAML provider) in that account, with the
// permission set's managed policies. A user whose assignment (direct or
// through a group) exists can get a session of that role from the access
// portal (SSORoleCredentials, the analogue of sso:GetRoleCredentials).
// Removing the assignment stops new sessions, not the sessions already
// issued: they last until they expire, as in AWS ("Revoke active IAM role
// sessions created by permission sets"). The role stays while the
// simulation runs (a held session is never ended by the removal alone).

// identityCenter is the instance and its identity store.
type identityCenter struct {
	home        string // the account the instance lives in
	instanceARN string
	storeID     string
	users       map[string]*icUser  // by id
	groups      map[string]*icGroup // by id
	permSets    map[string]*icPermSet
	assignments []icAssignment
	requests    map[string]icRequest // assignment creation/deletion requests by id
	seq         int
}

type icUser struct {
	id, name    string
	compromised bool // the intruder holds this user's access-portal sign-in
}

type icGroup struct {
	id, name string
	members  []string // user ids
}

type icPermSet struct {
	arn, name, duration string
	managed             []string
	roles               map[string]string // account -> provisioned role name
}

type icAssignment struct{ ps, ptype, pid, account string }

type icRequest struct {
	id, status string // IN_PROGRESS | FAILED | SUCCEEDED
	a          icAssignment
	failure    string
	create     bool
}

// ICAssignment is one account assignment, by names.
type ICAssignment struct {
	PermissionSet string // the permission set's name
	PrincipalType string // USER | GROUP
	Principal     string // the user name or group display name
	Account       string
}

// EnableIdentityCenter creates the Identity Center instance in the
// management account (or the standalone account). Idempotent.
func (o *Org) EnableIdentityCenter() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ic != nil {
		return nil
	}
	home := o.mgmt
	if home == "" {
		ids := o.accountIDsLocked()
		if len(ids) == 0 {
			return fmt.Errorf("enable Identity Center: no account: %w", ErrNotFound)
		}
		home = ids[0]
	}
	id := hashID(o.seed+"/sso", 16, lowerHex)
	o.ic = &identityCenter{
		home:        home,
		instanceARN: "arn:aws:sso:::instance/ssoins-" + id,
		storeID:     "d-" + hashID(o.seed+"/idstore", 10, lowerHex),
		users:       map[string]*icUser{}, groups: map[string]*icGroup{},
		permSets: map[string]*icPermSet{}, requests: map[string]icRequest{},
	}
	return nil
}

const lowerHex = "0123456789abcdef"

func (o *Org) icLocked() (*identityCenter, error) {
	if o.ic == nil {
		return nil, fmt.Errorf("IAM Identity Center is not enabled: %w", ErrNotFound)
	}
	return o.ic, nil
}

// AddICUser adds an Identity Center user; compromised: the intruder holds
// its access-portal sign-in (the sso-session technique uses it).
func (o *Org) AddICUser(name string, compromised bool) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ic, err := o.icLocked()
	if err != nil {
		return "", err
	}
	if ic.userByName(name) != nil || name == "" || len(name) > 128 {
		return "", fmt.Errorf("add Identity Center user %q: empty, too long or exists", clip(name))
	}
	u := &icUser{id: o.icID(ic, "user/"+name), name: name, compromised: compromised}
	ic.users[u.id] = u
	return u.id, nil
}

// AddICGroup adds an Identity Center group with members (user names).
func (o *Org) AddICGroup(name string, members ...string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ic, err := o.icLocked()
	if err != nil {
		return "", err
	}
	if ic.groupByName(name) != nil || name == "" || len(name) > 1024 {
		return "", fmt.Errorf("add Identity Center group %q: empty, too long or exists", clip(name))
	}
	g := &icGroup{id: o.icID(ic, "group/"+name), name: name}
	for _, m := range members {
		u := ic.userByName(m)
		if u == nil {
			return "", fmt.Errorf("add Identity Center group %q: member %q: %w", clip(name), clip(m), ErrNotFound)
		}
		g.members = append(g.members, u.id)
	}
	ic.groups[g.id] = g
	return g.id, nil
}

// AddICPermissionSet adds a permission set with AWS managed policies and
// returns its ARN.
func (o *Org) AddICPermissionSet(name string, managed ...string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ic, err := o.icLocked()
	if err != nil {
		return "", err
	}
	if ic.permSetByName(name) != nil || name == "" || len(name) > 32 {
		return "", fmt.Errorf("add permission set %q: empty, longer than 32 or exists", clip(name))
	}
	id := strings.TrimPrefix(ic.instanceARN, "arn:aws:sso:::instance/")
	ps := &icPermSet{arn: "arn:aws:sso:::permissionSet/" + id + "/ps-" + hashID(o.seed+"/ps/"+name, 16, lowerHex),
		name: name, duration: "PT1H", managed: managed, roles: map[string]string{}}
	ic.permSets[ps.arn] = ps
	return ps.arn, nil
}

// AssignIC assigns a permission set (by name) to a user or group (ptype
// USER or GROUP, by name) in an account, provisioning its role there.
func (o *Org) AssignIC(permSet, ptype, principal, account string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	ic, err := o.icLocked()
	if err != nil {
		return err
	}
	ps := ic.permSetByName(permSet)
	if ps == nil {
		return fmt.Errorf("assign: permission set %q: %w", clip(permSet), ErrNotFound)
	}
	pid := ""
	switch ptype {
	case "USER":
		if u := ic.userByName(principal); u != nil {
			pid = u.id
		}
	case "GROUP":
		if g := ic.groupByName(principal); g != nil {
			pid = g.id
		}
	}
	if pid == "" {
		return fmt.Errorf("assign: %s %q: %w", ptype, clip(principal), ErrNotFound)
	}
	return o.assignLocked(ic, icAssignment{ps: ps.arn, ptype: ptype, pid: pid, account: account}, BaseTime)
}

// assignLocked adds an assignment (idempotent) and provisions the role.
func (o *Org) assignLocked(ic *identityCenter, as icAssignment, created time.Time) error {
	a, err := o.account(as.account)
	if err != nil {
		return err
	}
	ps := ic.permSets[as.ps]
	if ps == nil {
		return fmt.Errorf("permission set %s: %w", as.ps, ErrNotFound)
	}
	if _, ok := ps.roles[a.id]; !ok {
		name := "AWSReservedSSO_" + ps.name + "_" + hashID(o.seed+"/ssorole/"+a.id+"/"+ps.arn, 16, lowerHex)
		if a.roles[strings.ToLower(name)] == nil {
			if _, err := o.addRoleLimited(a, Role{Name: name, Path: "/aws-reserved/sso.amazonaws.com/", ManagedPolicies: ps.managed, Created: created}, false); err != nil {
				return fmt.Errorf("provision %s in %s: %w", ps.name, a.id, err)
			}
		}
		ps.roles[a.id] = name
	}
	for _, x := range ic.assignments {
		if x == as {
			return nil
		}
	}
	ic.assignments = append(ic.assignments, as)
	return nil
}

func (o *Org) icID(ic *identityCenter, what string) string {
	h := hashID(o.seed+"/ic/"+what, 32, lowerHex)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (ic *identityCenter) userByName(n string) *icUser {
	for _, u := range ic.users {
		if u.name == n {
			return u
		}
	}
	return nil
}

func (ic *identityCenter) groupByName(n string) *icGroup {
	for _, g := range ic.groups {
		if g.name == n {
			return g
		}
	}
	return nil
}

func (ic *identityCenter) permSetByName(n string) *icPermSet {
	for _, p := range ic.permSets {
		if p.name == n {
			return p
		}
	}
	return nil
}

// ICAssignments returns every account assignment by names, sorted.
func (o *Org) ICAssignments() []ICAssignment {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ic == nil {
		return nil
	}
	var out []ICAssignment
	for _, as := range o.ic.assignments {
		out = append(out, o.ic.named(as))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (a ICAssignment) key() string {
	return a.Account + "|" + a.PermissionSet + "|" + a.PrincipalType + "|" + a.Principal
}

func (ic *identityCenter) named(as icAssignment) ICAssignment {
	out := ICAssignment{PrincipalType: as.ptype, Account: as.account, Principal: as.pid}
	if ps := ic.permSets[as.ps]; ps != nil {
		out.PermissionSet = ps.name
	}
	if u := ic.users[as.pid]; u != nil && as.ptype == "USER" {
		out.Principal = u.name
	}
	if g := ic.groups[as.pid]; g != nil && as.ptype == "GROUP" {
		out.Principal = g.name
	}
	return out
}

// ICRoleName is the role a permission set (by name) is provisioned as in an
// account ("" when it is not).
func (o *Org) ICRoleName(permSet, account string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ic == nil {
		return ""
	}
	if ps := o.ic.permSetByName(permSet); ps != nil {
		return ps.roles[account]
	}
	return ""
}

// entitledLocked reports whether user (by id) has the permission set in the
// account, directly or through a group.
func (ic *identityCenter) entitled(uid, psARN, account string) bool {
	for _, as := range ic.assignments {
		if as.ps != psARN || as.account != account {
			continue
		}
		if as.ptype == "USER" && as.pid == uid {
			return true
		}
		if g := ic.groups[as.pid]; as.ptype == "GROUP" && g != nil && containsStr(g.members, uid) {
			return true
		}
	}
	return false
}

// SSORoleCredentials is the access portal's GetRoleCredentials: a session
// of the permission set's role in the account, issued now, for an Identity
// Center user (by name) entitled to it. It needs no IAM permission (the
// portal is signed in with the user's access token) and no SCP stops it:
// only removing the assignment does.
func (o *Org) SSORoleCredentials(ctx context.Context, userName, permSet, account string) (Credential, error) {
	if err := o.preflight(ctx, account, "sso", "GetRoleCredentials"); err != nil {
		return Credential{}, err
	}
	if err := o.latency(ctx, "sso"); err != nil {
		return Credential{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ic, err := o.icLocked()
	if err != nil {
		return Credential{}, err
	}
	u := ic.userByName(userName)
	ps := ic.permSetByName(permSet)
	if u == nil || ps == nil || !ic.entitled(u.id, ps.arn, account) {
		return Credential{}, denied("", "Identity Center user %s has no assignment of %s in %s (No access)", userName, permSet, account)
	}
	return Credential{Account: account, Principal: "arn:aws:sts::" + account + ":assumed-role/" + ps.roles[account] + "/" + u.name, SessionIssued: o.now()}, nil
}
