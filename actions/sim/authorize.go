package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// Credential is what the simulated intruder (or any caller of Authorize)
// holds.
//
//   - AccessKeyID set, SessionIssued zero: a long-term access key; valid only
//     while the key exists on that user and is Active.
//   - Console set, SessionIssued zero: a fresh console password sign-in;
//     valid only while the user has a login profile.
//   - SessionIssued non-zero: a temporary session issued then (an assumed
//     role, GetSessionToken, or a console session already signed in); valid
//     while its principal exists, whatever happened to the key or password
//     since (exactly the gap revoke-sessions closes). aws:TokenIssueTime is
//     SessionIssued.
//
// Principal is a user ARN, a role ARN, an assumed-role ARN
// (arn:aws:sts::ACCT:assumed-role/NAME/SESSION) or the account root
// (arn:aws:iam::ACCT:root). A role needs SessionIssued (roles have no
// long-term credentials). A root credential is valid while the root user
// has that access key (Active) or, for Console (or no credential field), a
// password; a root session (SessionIssued) stays valid. IAM policies never
// apply to the root user, SCPs do (except in the management account).
type Credential struct {
	Account       string
	Principal     string
	AccessKeyID   string
	Console       bool
	SessionIssued time.Time
	// RootTask is the task policy of a root session minted with
	// sts:AssumeRoot (arn:aws:iam::aws:policy/root-task/...): the session
	// can make only the calls that policy allows (root.go).
	RootTask string
}

// Denied is the refusal Authorize and the attacker helpers return.
type Denied struct {
	// Reason explains the refusal, e.g. "explicit deny in SCP p-abc
	// (KillSwitchDenyDelete) attached to account 222222222222" or "access key
	// AKIA... is Inactive".
	Reason string
	// Policy names what denied: an SCP id, a managed policy ARN or an
	// inline policy name; "" when the credential itself is invalid.
	Policy string
}

func (d *Denied) Error() string { return "access denied: " + d.Reason }

func denied(policy, format string, args ...any) *Denied {
	return &Denied{Reason: fmt.Sprintf(format, args...), Policy: policy}
}

// Authorize reports whether a call of action (e.g. "ec2:DeleteSnapshot") on
// resource (an ARN, or "*") by credential c would succeed now: nil when
// allowed, otherwise a *Denied.
//
// The intruder is assumed to hold every Allow it needs; only these refuse:
// an invalid credential (see Credential), an explicit Deny in an identity
// policy (the user's inline and managed policies and those of its groups,
// or the role's inline and managed policies), an explicit Deny in an SCP
// attached to the root, an OU above the account or the account, and an SCP
// level (root, each OU, account) where no attached SCP allows the action.
// SCPs never restrict the management account nor service-linked roles.
// Permission boundaries, resource policies and session policies are not
// modelled.
//
// Conditions: String*, Arn*, Date*, Numeric*, Bool and Null operators with
// their IfExists forms and ForAnyValue/ForAllValues qualifiers, on the keys
// aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:PrincipalTag/KEY,
// aws:PrincipalOrgID, aws:username, aws:userid, aws:TokenIssueTime (present only
// for sessions), aws:CurrentTime, aws:EpochTime, aws:RequestedRegion,
// aws:SecureTransport, aws:PrincipalIsAWSService and aws:ViaAWSService. Other
// keys are absent from the request (false, except negated operators,
// IfExists and ForAllValues, which are true, like AWS). An operator the
// simulation does not know (IpAddress, ...) or a value it cannot parse makes
// a Deny statement apply and an Allow not apply: the intruder is refused when
// in doubt. Policy variables (${aws:username}) are not expanded.
func (o *Org) Authorize(c Credential, action, resource string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.authorizeLocked(c, action, resource)
}

type principalRef struct {
	kind    string // "user", "role", "root"
	name    string
	session string
}

func parsePrincipal(arn, acct string) (principalRef, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" {
		return principalRef{}, fmt.Errorf("principal %q is not an ARN", clip(arn))
	}
	if parts[4] != acct {
		return principalRef{}, fmt.Errorf("principal %q is not in account %s", clip(arn), acct)
	}
	res := parts[5]
	switch {
	case parts[2] == "iam" && res == "root":
		return principalRef{kind: "root"}, nil
	case parts[2] == "iam" && strings.HasPrefix(res, "user/"):
		return principalRef{kind: "user", name: res[strings.LastIndexByte(res, '/')+1:]}, nil
	case parts[2] == "iam" && strings.HasPrefix(res, "role/"):
		return principalRef{kind: "role", name: res[strings.LastIndexByte(res, '/')+1:]}, nil
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		rest := strings.TrimPrefix(res, "assumed-role/")
		name, sess, ok := strings.Cut(rest, "/")
		if !ok || name == "" {
			break
		}
		return principalRef{kind: "role", name: name, session: sess}, nil
	}
	return principalRef{}, fmt.Errorf("principal %q is not a user, role, assumed role or root ARN", clip(arn))
}

// principalOf finds the account and principal a credential names.
func (o *Org) principalOf(c Credential) (*account, principalRef, error) {
	a := o.callerAccountLocked(c.Account)
	if a == nil {
		return nil, principalRef{}, denied("", "account %s is not in the simulated organization", c.Account)
	}
	ref, err := parsePrincipal(c.Principal, a.id)
	if err != nil {
		return nil, principalRef{}, denied("", "%v", err)
	}
	return a, ref, nil
}

func (o *Org) authorizeLocked(c Credential, action, resource string) error {
	return o.authorizeWithLocked(c, action, resource, nil)
}

// authorizeWithLocked is authorizeLocked with request context extra sets
// (sts:TaskPolicyArn, say).
func (o *Org) authorizeWithLocked(c Credential, action, resource string, extra func(r *reqCtx)) error {
	a, ref, err := o.principalOf(c)
	if err != nil {
		return err
	}
	r := &reqCtx{action: strings.ToLower(action), resource: resource, account: a.id, orgID: o.orgID, issued: c.SessionIssued, now: o.now()}
	if !o.isOrg || a.left {
		r.orgID = "" // a standalone or outside account: no aws:PrincipalOrgID
	}
	if extra != nil {
		extra(r)
	}

	var u *user
	var ro *role
	switch ref.kind {
	case "user":
		u = a.users[strings.ToLower(ref.name)]
		if u == nil {
			return denied("", "user %s does not exist in %s", ref.name, a.id)
		}
		switch {
		case !c.SessionIssued.IsZero():
		case c.AccessKeyID != "":
			var k *accessKey
			for _, x := range u.keys {
				if x.id == c.AccessKeyID {
					k = x
				}
			}
			if k == nil {
				return denied("", "access key %s does not exist for user %s", c.AccessKeyID, u.name)
			}
			if !k.active {
				return denied("", "access key %s is Inactive", k.id)
			}
		case c.Console:
			if u.login == nil {
				return denied("", "user %s has no login profile (console password)", u.name)
			}
		default:
			return denied("", "no credential: set AccessKeyID, Console or SessionIssued")
		}
		r.principalARN, r.principalType, r.username, r.userID, r.tags = u.arn(a.id), "User", u.name, u.id, u.tags
	case "role":
		ro = a.roles[strings.ToLower(ref.name)]
		if ro == nil {
			return denied("", "role %s does not exist in %s", ref.name, a.id)
		}
		if c.SessionIssued.IsZero() {
			return denied("", "role %s has no long-term credentials: a role credential needs SessionIssued", ro.name)
		}
		sess := ref.session
		if sess == "" {
			sess = "session"
		}
		r.principalARN, r.principalType, r.userID, r.tags = ro.arn(a.id), "AssumedRole", ro.id+":"+sess, ro.tags
	case "root":
		if err := o.validRootLocked(a, c); err != nil {
			return err
		}
		if c.RootTask != "" && !taskAllows(c.RootTask, r.action) {
			return denied(c.RootTask, "the root session's task policy %s does not allow %s", policyName(c.RootTask), action)
		}
		r.principalARN, r.principalType, r.userID, r.assumedRoot = "arn:aws:iam::"+a.id+":root", "Account", a.id, c.RootTask != ""
	}

	scpApplies := o.isOrg && o.scpEnabled && a.id != o.mgmt && !a.left &&
		(ro == nil || !strings.HasPrefix(ro.path, "/aws-service-role/"))
	var chain []string
	if scpApplies {
		chain = o.chainLocked(a)
		for _, target := range chain {
			for _, id := range o.attached[target] {
				p := o.scps[id]
				if o.pendingLocked(scpAttachment{target, id}) {
					continue
				}
				if st, ok := o.scpDocLocked(p).matchDeny(r); ok {
					return denied(id, "explicit deny in SCP %s (%s) attached to %s%s", id, p.name, o.targetDesc(target), sidDesc(st))
				}
			}
		}
	}

	if u != nil {
		if d := o.identityDeny(r, a, "user "+u.name, &u.entity); d != nil {
			return d
		}
		for _, gk := range u.groups {
			g := a.groups[gk]
			if d := o.identityDeny(r, a, "group "+g.name, &g.entity); d != nil {
				return d
			}
		}
	}
	if ro != nil {
		if d := o.identityDeny(r, a, "role "+ro.name, &ro.entity); d != nil {
			return d
		}
	}

	slr := ro != nil && strings.HasPrefix(ro.path, "/aws-service-role/")
	if d := o.resourceSideLocked(r, a, slr); d != nil {
		return d
	}

	for _, target := range chain {
		allowed := false
		for _, id := range o.attached[target] {
			if o.scpDocLocked(o.scps[id]).allows(r) {
				allowed = true
				break
			}
		}
		if !allowed {
			return denied("", "no SCP attached to %s allows %s (implicit deny)", o.targetDesc(target), action)
		}
	}
	return nil
}

// validCredentialLocked checks only that a credential is valid now (see
// Credential), without any policy: for the calls no policy controls.
func (o *Org) validCredentialLocked(c Credential) error {
	a, ref, err := o.principalOf(c)
	if err != nil {
		return err
	}
	switch ref.kind {
	case "user":
		u := a.users[strings.ToLower(ref.name)]
		if u == nil {
			return denied("", "user %s does not exist in %s", ref.name, a.id)
		}
		switch {
		case !c.SessionIssued.IsZero():
		case c.AccessKeyID != "":
			for _, k := range u.keys {
				if k.id == c.AccessKeyID {
					if !k.active {
						return denied("", "access key %s is Inactive", k.id)
					}
					return nil
				}
			}
			return denied("", "access key %s does not exist for user %s", c.AccessKeyID, u.name)
		case c.Console:
			if u.login == nil {
				return denied("", "user %s has no login profile (console password)", u.name)
			}
		default:
			return denied("", "no credential: set AccessKeyID, Console or SessionIssued")
		}
	case "role":
		if a.roles[strings.ToLower(ref.name)] == nil {
			return denied("", "role %s does not exist in %s", ref.name, a.id)
		}
		if c.SessionIssued.IsZero() {
			return denied("", "role %s has no long-term credentials: a role credential needs SessionIssued", ref.name)
		}
	case "root":
		return o.validRootLocked(a, c)
	}
	return nil
}

// identityDeny finds an explicit deny in an entity's inline and managed
// policies; a policy still propagating (see SetPropagation) is not yet in
// effect.
func (o *Org) identityDeny(r *reqCtx, a *account, owner string, e *entity) *Denied {
	inline, managed := e.inline, e.managed
	if len(inline) == 0 && len(managed) == 0 {
		return nil
	}
	for _, name := range sortedMapKeys(inline) {
		if o.pendingLocked(inline[name]) {
			continue
		}
		if st, ok := inline[name].parsed.matchDeny(r); ok {
			return denied(name, "explicit deny in inline policy %s of %s%s", name, owner, sidDesc(st))
		}
	}
	for _, arn := range managed {
		p := a.lookupPolicy(arn)
		if p == nil || o.pendingLocked(managedAttachment{e, arn}) {
			continue
		}
		if st, ok := o.versionDocLocked(p).matchDeny(r); ok {
			return denied(arn, "explicit deny in managed policy %s attached to %s%s", arn, owner, sidDesc(st))
		}
	}
	return nil
}

func sidDesc(st *statement) string {
	if st == nil || st.sid == "" {
		return ""
	}
	return " (statement " + st.sid + ")"
}

func (o *Org) targetDesc(target string) string {
	switch {
	case target == o.rootID:
		return "root " + target
	case strings.HasPrefix(target, "ou-"):
		if u := o.ous[target]; u != nil {
			return "OU " + target + " (" + u.path + ")"
		}
		return "OU " + target
	}
	return "account " + target
}

// ---- the simulated intruder's IAM moves ----

// AttackerCreateUser is the intruder creating a backdoor user: it
// authorizes iam:CreateUser, iam:CreateLoginProfile and iam:CreateAccessKey
// with c, then adds the user with a console password and one Active key,
// created now (by the Org's clock).
func (o *Org) AttackerCreateUser(c Credential, name string) (AccessKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(c.Account)
	if err != nil {
		return AccessKey{}, err
	}
	arn := "arn:aws:iam::" + a.id + ":user/" + name
	for _, act := range []string{"iam:CreateUser", "iam:CreateLoginProfile", "iam:CreateAccessKey"} {
		if err := o.authorizeLocked(c, act, arn); err != nil {
			return AccessKey{}, err
		}
	}
	now := o.now()
	if err := o.addUserLocked(a, User{Name: name, Password: true, AccessKeys: []AccessKey{{Active: true}}, Created: now}); err != nil {
		return AccessKey{}, fmt.Errorf("attacker create user %q in %s: %w", clip(name), a.id, err)
	}
	k := a.users[strings.ToLower(name)].keys[0]
	return AccessKey{ID: k.id, Active: true, Created: k.created}, nil
}

// AttackerCreateAccessKey is the intruder adding an access key to a user
// (iam:CreateAccessKey); a third key fails with LimitExceededException.
func (o *Org) AttackerCreateAccessKey(c Credential, userName string) (AccessKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, u, err := o.attackerUser(c, "iam:CreateAccessKey", userName)
	if err != nil {
		return AccessKey{}, err
	}
	if len(u.keys) >= maxAccessKeys {
		return AccessKey{}, &types.LimitExceededException{Message: aws.String("Cannot exceed quota for AccessKeysPerUser: 2")}
	}
	k := &accessKey{credBase: credBase{id: o.newAccessKeyID(), active: true, created: o.now()}}
	o.keyOwners[k.id] = a.id
	u.keys = append(u.keys, k)
	return AccessKey{ID: k.id, Active: true, Created: k.created}, nil
}

// AttackerCreateLoginProfile is the intruder giving a user a console
// password (iam:CreateLoginProfile).
func (o *Org) AttackerCreateLoginProfile(c Credential, userName string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, u, err := o.attackerUser(c, "iam:CreateLoginProfile", userName)
	if err != nil {
		return err
	}
	if u.login != nil {
		return &types.EntityAlreadyExistsException{Message: aws.String("Login Profile for user " + u.name + " already exists.")}
	}
	u.login = &loginProfile{created: o.now()}
	return nil
}

// AttackerSetAccessKeyStatus is the intruder re-enabling (or disabling) a
// key (iam:UpdateAccessKey).
func (o *Org) AttackerSetAccessKeyStatus(c Credential, userName, keyID string, active bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, u, err := o.attackerUser(c, "iam:UpdateAccessKey", userName)
	if err != nil {
		return err
	}
	return setCredStatus(u.keys, keyID, active, "The Access Key with id %s cannot be found.")
}

// AttackerDeleteUserPolicy is the intruder removing an inline policy (for
// example a session-revocation deny) from a user (iam:DeleteUserPolicy).
func (o *Org) AttackerDeleteUserPolicy(c Credential, userName, policyName string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, u, err := o.attackerUser(c, "iam:DeleteUserPolicy", userName)
	if err != nil {
		return err
	}
	if u.inline[policyName] == nil {
		return &types.NoSuchEntityException{Message: aws.String("The user policy with name " + policyName + " cannot be found.")}
	}
	delete(u.inline, policyName)
	return nil
}

// AttackerCreateRole is the intruder creating a role, e.g. one trusting an
// outside account (iam:CreateRole, plus iam:PutRolePolicy and
// iam:AttachRolePolicy when r carries policies).
func (o *Org) AttackerCreateRole(c Credential, r Role) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(c.Account)
	if err != nil {
		return err
	}
	arn := "arn:aws:iam::" + a.id + ":role/" + r.Name
	acts := []string{"iam:CreateRole"}
	if len(r.InlinePolicies) > 0 {
		acts = append(acts, "iam:PutRolePolicy")
	}
	if len(r.ManagedPolicies) > 0 {
		acts = append(acts, "iam:AttachRolePolicy")
	}
	for _, act := range acts {
		if err := o.authorizeLocked(c, act, arn); err != nil {
			return err
		}
	}
	if strings.HasPrefix(r.Path, "/aws-") || (r.Path == "" && (strings.HasPrefix(r.Name, "AWSServiceRoleFor") || strings.HasPrefix(r.Name, "AWSReservedSSO_"))) {
		return fmt.Errorf("attacker create role %q: reserved name or path", clip(r.Name))
	}
	r.Created = o.now()
	if _, err := o.addRoleLocked(a, r); err != nil {
		return fmt.Errorf("attacker create role %q in %s: %w", clip(r.Name), a.id, err)
	}
	return nil
}

func (o *Org) attackerUser(c Credential, action, userName string) (*account, *user, error) {
	a, err := o.account(c.Account)
	if err != nil {
		return nil, nil, err
	}
	u := a.users[strings.ToLower(userName)]
	if err := o.authorizeLocked(c, action, userKind.res(userName)(a)); err != nil {
		return nil, nil, err
	}
	if u == nil {
		return nil, nil, &types.NoSuchEntityException{Message: aws.String("The user with name " + userName + " cannot be found.")}
	}
	return a, u, nil
}
