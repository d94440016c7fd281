package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The intruder's IAM and STS techniques: persistence (new principals,
// credentials and sessions) and working around the guardrail (removing,
// detaching or rewriting it, exemptions it could have made).

func iamTechniques() []Technique {
	return []Technique{
		{ID: "backdoor-user", Name: "create a user with an access key and a console password", Tactic: "persistence", MITRE: "T1136.003", Stratus: "aws.persistence.iam-create-admin-user", Run: backdoorUser},
		{ID: "add-access-key", Name: "add an access key to an existing user with a free key slot", Tactic: "persistence", MITRE: "T1098.001", Stratus: "aws.persistence.iam-backdoor-user", Run: addAccessKey},
		{ID: "add-login-profile", Name: "give an existing user without one a console password", Tactic: "persistence", MITRE: "T1098.001", Stratus: "aws.persistence.iam-create-user-login-profile", Run: addLoginProfile},
		{ID: "change-password", Name: "change the console password of another user that has one", Tactic: "privilege-escalation", MITRE: "T1098.001", Stratus: "aws.privilege-escalation.iam-update-user-login-profile", Run: changePassword},
		{ID: "reactivate-access-key", Name: "reactivate a deactivated access key", Tactic: "persistence", MITRE: "T1098.001", Run: reactivateKey},
		{ID: "backdoor-role", Name: "create a role trusting an outside account, with AdministratorAccess", Tactic: "persistence", MITRE: "T1098.003", Stratus: "aws.persistence.iam-create-backdoor-role", Run: backdoorRole},
		{ID: "assume-role", Name: "mint a session of a role whose trust policy lets the credential assume it (sts:AssumeRole)", Tactic: "privilege-escalation", MITRE: "T1078.004", Run: assumeAnyRole},
		{ID: "get-session-token", Name: "mint a user session from an access key (sts:GetSessionToken; no policy can deny it)", Tactic: "persistence", MITRE: "T1550.001", Run: getSessionToken},
		{ID: "get-federation-token", Name: "mint a federated session from an access key (sts:GetFederationToken)", Tactic: "persistence", MITRE: "T1550.001", Stratus: "aws.persistence.sts-federation-token", Run: getFederationToken},
		{ID: "delete-revocation-policy", Name: "delete the KillSwitch* inline policy (session revocation) from its own user or role", Tactic: "defense-evasion", MITRE: "T1562.001", Run: deleteRevocationPolicy},
		{ID: "detach-guardrail", Name: "detach KillSwitch* managed policies from itself, its groups or its role", Tactic: "defense-evasion", MITRE: "T1562.001", Run: detachGuardrail},
		{ID: "rewrite-guardrail", Name: "make an allow-all version the default of the KillSwitch* managed policies that apply to it (iam:CreatePolicyVersion)", Tactic: "defense-evasion", MITRE: "T1562.001", Run: rewriteGuardrail},
		{ID: "leave-guardrail-group", Name: "remove itself from the groups that carry a KillSwitch* policy", Tactic: "defense-evasion", MITRE: "T1562.001", Run: leaveGuardrailGroup},
		{ID: "tag-break-glass", Name: "tag itself (or, from a role, a new user with a key) with the break-glass tag", Tactic: "defense-evasion", MITRE: "T1098", Run: tagBreakGlass},
		{ID: "create-break-glass-role", Name: "create a role named like break-glass, trusting its own and an outside account, and assume it", Tactic: "persistence", MITRE: "T1098.003", Run: createBreakGlassRole},
		{ID: "backdoor-break-glass-role", Name: "add its own and an outside account to a BreakGlass* role's trust policy and assume it", Tactic: "persistence", MITRE: "T1098.003", Stratus: "aws.persistence.iam-backdoor-role", Run: backdoorBreakGlassRole},
		{ID: "delete-user", Name: "delete a throwaway user (Attempt.Name) so calls naming it fail: credentials, policies and groups first, then iam:DeleteUser", Tactic: "defense-evasion", MITRE: "T1070", Run: deleteThrowawayUser},
	}
}

const allowAllDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

func findUser(a *account, name string) (*user, error) { return userKind.find(a, name) }

// newKeyLocked adds an Active access key to u (at most two).
func (o *Org) newKeyLocked(a *account, u *user) (*accessKey, error) {
	if len(u.keys) >= maxAccessKeys {
		return nil, &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeys))}
	}
	secret := o.newID("", 40, secretAlph)
	k := &accessKey{credBase: credBase{id: o.newAccessKeyID(), active: true, created: o.now()}, secretHash: hashSecret(secret)}
	o.keyOwners[k.id] = a.id
	u.keys = append(u.keys, k)
	return k, nil
}

func keyCred(acct string, u *user, id string) Credential {
	return Credential{Account: acct, Principal: u.arn(acct), AccessKeyID: id}
}

// createUser is iam:CreateUser of a user named name at path /.
func (r *run) createUser(ctx context.Context, eff *Effect, name string, tags map[string]string) error {
	o, acct := r.Org, r.Cred.Account
	return r.act(ctx, "iam:CreateUser", iamARN(acct, "user", "/", name), func(a *account) error {
		if a.users[strings.ToLower(name)] != nil {
			return &types.EntityAlreadyExistsException{Message: aws.String("User with name " + name + " already exists.")}
		}
		if err := o.addUserLocked(a, User{Name: name, Tags: tags}); err != nil {
			return fmt.Errorf("create user %q in %s: %w", name, acct, err)
		}
		eff.says("created user %s", name)
		return nil
	})
}

// createKey is iam:CreateAccessKey for user name.
func (r *run) createKey(ctx context.Context, eff *Effect, name string) error {
	o, acct := r.Org, r.Cred.Account
	return r.act(ctx, "iam:CreateAccessKey", userKind.res(name)(r.accountNow()), func(a *account) error {
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		k, err := o.newKeyLocked(a, u)
		if err != nil {
			return err
		}
		eff.says("created access key %s for user %s", k.id, u.name)
		eff.Creds = append(eff.Creds, keyCred(acct, u, k.id))
		return nil
	})
}

// accountNow returns the credential's account for computing ARNs before a
// call (under the lock, briefly).
func (r *run) accountNow() *account {
	r.Org.mu.Lock()
	defer r.Org.mu.Unlock()
	a := r.Org.accounts[r.Cred.Account]
	if a == nil {
		return &account{id: r.Cred.Account, users: map[string]*user{}, roles: map[string]*role{}, groups: map[string]*group{}}
	}
	return a
}

func backdoorUser(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.createUser(ctx, &eff, r.Name, nil); err != nil {
		return eff, err
	}
	if err := r.createKey(ctx, &eff, r.Name); err != nil {
		return eff, err
	}
	err := r.createLogin(ctx, &eff, r.Name)
	return eff, err
}

// createLogin is iam:CreateLoginProfile for user name.
func (r *run) createLogin(ctx context.Context, eff *Effect, name string) error {
	o, acct := r.Org, r.Cred.Account
	return r.act(ctx, "iam:CreateLoginProfile", userKind.res(name)(r.accountNow()), func(a *account) error {
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		if u.login != nil {
			return &types.EntityAlreadyExistsException{Message: aws.String("Login Profile for user " + u.name + " already exists.")}
		}
		u.login = &loginProfile{created: o.now()}
		eff.says("gave user %s a console password", u.name)
		eff.Creds = append(eff.Creds, Credential{Account: acct, Principal: u.arn(acct), Console: true})
		return nil
	})
}

// firstUser returns the name of the first user (sorted) that pick accepts.
func (r *run) firstUser(pick func(u *user) bool) (string, error) {
	name := ""
	err := r.peek(func(a *account) {
		for _, k := range a.userKeys {
			if u := a.users[k]; pick(u) {
				name = u.name
				return
			}
		}
	})
	return name, err
}

func addAccessKey(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	name, err := r.firstUser(func(u *user) bool { return len(u.keys) < maxAccessKeys })
	if err != nil {
		return eff, err
	}
	if name == "" {
		return eff, nothing("add-access-key", r.Cred.Account, "user with a free access key slot")
	}
	return eff, r.createKey(ctx, &eff, name)
}

func addLoginProfile(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	name, err := r.firstUser(func(u *user) bool { return u.login == nil })
	if err != nil {
		return eff, err
	}
	if name == "" {
		return eff, nothing("add-login-profile", r.Cred.Account, "user without a console password")
	}
	return eff, r.createLogin(ctx, &eff, name)
}

func changePassword(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	acct := r.Cred.Account
	name, err := r.firstUser(func(u *user) bool { return u.login != nil && u.arn(acct) != r.Cred.Principal })
	if err != nil {
		return eff, err
	}
	if name == "" {
		return eff, nothing("change-password", acct, "other user with a console password")
	}
	err = r.act(ctx, "iam:UpdateLoginProfile", userKind.res(name)(r.accountNow()), func(a *account) error {
		u, err := findLogin(a, &name)
		if err != nil {
			return err
		}
		u.login = &loginProfile{created: u.login.created}
		eff.says("changed the console password of user %s", u.name)
		eff.Creds = append(eff.Creds, Credential{Account: acct, Principal: u.arn(acct), Console: true})
		return nil
	})
	return eff, err
}

func reactivateKey(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	acct := r.Cred.Account
	keyID := ""
	name, err := r.firstUser(func(u *user) bool {
		for _, k := range u.keys {
			if !k.active {
				keyID = k.id
				return true
			}
		}
		return false
	})
	if err != nil {
		return eff, err
	}
	if name == "" {
		return eff, nothing("reactivate-access-key", acct, "user with an Inactive access key")
	}
	err = r.act(ctx, "iam:UpdateAccessKey", userKind.res(name)(r.accountNow()), func(a *account) error {
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		if err := setCredStatus(u.keys, keyID, true, "The Access Key with id %s cannot be found."); err != nil {
			return err
		}
		eff.says("reactivated access key %s of user %s", keyID, u.name)
		eff.Creds = append(eff.Creds, keyCred(acct, u, keyID))
		return nil
	})
	return eff, err
}

// trustDoc trusts the roots of the given accounts.
func trustDoc(accts ...string) string {
	var ps []string
	for _, a := range accts {
		ps = append(ps, `"arn:aws:iam::`+a+`:root"`)
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":[` + strings.Join(ps, ",") + `]},"Action":"sts:AssumeRole"}]}`
}

// createAdminRole is iam:CreateRole with trust, then iam:AttachRolePolicy
// of AdministratorAccess.
func (r *run) createAdminRole(ctx context.Context, eff *Effect, name, trust string) error {
	o, acct := r.Org, r.Cred.Account
	arn := iamARN(acct, "role", "/", name)
	err := r.act(ctx, "iam:CreateRole", arn, func(a *account) error {
		if a.roles[strings.ToLower(name)] != nil {
			return &types.EntityAlreadyExistsException{Message: aws.String("Role with name " + name + " already exists.")}
		}
		if _, err := o.addRoleLocked(a, Role{Name: name, Trust: trust}); err != nil {
			return fmt.Errorf("create role %q in %s: %w", name, acct, err)
		}
		eff.says("created role %s with trust %s", name, trust)
		return nil
	})
	if err != nil {
		return err
	}
	return r.act(ctx, "iam:AttachRolePolicy", arn, func(a *account) error {
		ro, err := roleKind.find(a, name)
		if err != nil {
			return err
		}
		had := hasKey(ro.managed, adminARN)
		if err := attachManaged(a, &ro.managed, adminARN, roleKind.quota); err != nil {
			return err
		}
		if !had {
			o.propagateLocked(managedAttachment{&ro.entity, adminARN})
		}
		eff.says("attached AdministratorAccess to role %s", name)
		return nil
	})
}

// roleSession is a session of role name in acct issued now.
func (r *run) roleSession(name string) Credential {
	return Credential{Account: r.Cred.Account, Principal: "arn:aws:sts::" + r.Cred.Account + ":assumed-role/" + name + "/" + r.Name, SessionIssued: r.now()}
}

func backdoorRole(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.createAdminRole(ctx, &eff, r.Name, trustDoc(r.Outside)); err != nil {
		return eff, err
	}
	// The outside account can assume the role whenever it likes: that
	// sts:AssumeRole call is made in the outside account, beyond the
	// simulation, so the session is handed over as minted now.
	c := r.roleSession(r.Name)
	eff.says("account %s can now assume role %s (session %s)", r.Outside, r.Name, c.Principal)
	eff.Creds = append(eff.Creds, c)
	return eff, nil
}

// callerARN is the principal a trust policy sees: a user ARN, the role of
// an assumed role, or the root.
func (r *run) callerARN(a *account) string {
	u, ro := r.self(a)
	switch {
	case u != nil:
		return u.arn(a.id)
	case ro != nil:
		return ro.arn(a.id)
	}
	return "arn:aws:iam::" + a.id + ":root"
}

// assume is sts:AssumeRole of role name: the trust policy must let the
// caller in (else AccessDenied, a *Denied); the session is a new
// credential.
func (r *run) assume(ctx context.Context, eff *Effect, name string) error {
	arn := roleKind.res(name)(r.accountNow())
	return r.act(ctx, "sts:AssumeRole", arn, func(a *account) error {
		ro, err := roleKind.find(a, name)
		if err != nil {
			return err
		}
		if !trustAllows(ro.trust, a.id, r.callerARN(a)) {
			return denied("", "the trust policy of role %s does not allow %s to call sts:AssumeRole", ro.name, r.callerARN(a))
		}
		c := Credential{Account: a.id, Principal: "arn:aws:sts::" + a.id + ":assumed-role/" + ro.name + "/" + r.Name, SessionIssued: r.Org.now()}
		eff.says("assumed role %s (session %s)", ro.name, c.Principal)
		eff.Creds = append(eff.Creds, c)
		return nil
	})
}

func assumeAnyRole(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	name := ""
	if err := r.peek(func(a *account) {
		caller := r.callerARN(a)
		_, self := r.self(a)
		for _, k := range a.roleKeys {
			ro := a.roles[k]
			if ro == self || ro.unmodifiable() {
				continue
			}
			if trustAllows(ro.trust, a.id, caller) {
				name = ro.name
				return
			}
		}
	}); err != nil {
		return eff, err
	}
	if name == "" {
		return eff, nothing("assume-role", r.Cred.Account, "role whose trust policy lets "+r.Cred.Principal+" assume it")
	}
	return eff, r.assume(ctx, &eff, name)
}

// longTermUser checks that the credential is an IAM user's access key, as
// GetSessionToken and GetFederationToken require.
func (r *run) longTermUser(op string) error {
	if r.Cred.AccessKeyID == "" || !r.Cred.SessionIssued.IsZero() || !strings.Contains(r.Cred.Principal, ":user/") {
		return fmt.Errorf("%s needs the long-term access key of an IAM user, not %s", op, r.Cred.Principal)
	}
	return nil
}

// getSessionToken is sts:GetSessionToken. AWS documents that no policy
// controls it ("You cannot use policies to control authentication
// operations"), so it is not authorized through Act: only the key itself
// must be valid. The session is the user's, issued now; in AWS it cannot
// call IAM or STS without MFA, which the simulation does not model.
func getSessionToken(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.longTermUser("sts:GetSessionToken"); err != nil {
		return eff, err
	}
	o, c := r.Org, r.Cred
	if err := o.preflight(ctx, c.Account, "sts", "GetSessionToken"); err != nil {
		return eff, err
	}
	r.calls++
	if err := o.latency(ctx, "sts"); err != nil {
		return eff, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.validCredentialLocked(c); err != nil {
		return eff, err
	}
	s := Credential{Account: c.Account, Principal: c.Principal, SessionIssued: o.now()}
	eff.says("got a session token for %s", c.Principal)
	eff.Creds = append(eff.Creds, s)
	return eff, nil
}

// getFederationToken is sts:GetFederationToken, which IAM policies and
// SCPs do control. The federated session is modelled as a session of the
// user that called it (its permissions are at most the user's), issued
// now; in AWS it cannot call IAM, which the simulation does not model.
func getFederationToken(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.longTermUser("sts:GetFederationToken"); err != nil {
		return eff, err
	}
	c := r.Cred
	err := r.act(ctx, "sts:GetFederationToken", "arn:aws:sts::"+c.Account+":federated-user/"+r.Name, func(a *account) error {
		s := Credential{Account: c.Account, Principal: c.Principal, SessionIssued: r.Org.now()}
		eff.says("got a federation token (federated user %s) for %s", r.Name, c.Principal)
		eff.Creds = append(eff.Creds, s)
		return nil
	})
	return eff, err
}

// target is one IAM entity a guardrail technique acts on.
type target struct {
	kind, name, arn string // "user", "group" or "role"
	policy          string // a policy name or ARN
}

func deleteRevocationPolicy(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	var ts []target
	if err := r.peek(func(a *account) {
		u, ro := r.self(a)
		switch {
		case u != nil:
			for _, n := range sortedMapKeys(u.inline) {
				if hasGuardrailPrefix(n) {
					ts = append(ts, target{"user", u.name, u.arn(a.id), n})
				}
			}
		case ro != nil:
			for _, n := range sortedMapKeys(ro.inline) {
				if hasGuardrailPrefix(n) {
					ts = append(ts, target{"role", ro.name, ro.arn(a.id), n})
				}
			}
		}
	}); err != nil {
		return eff, err
	}
	if len(ts) == 0 {
		return eff, nothing("delete-revocation-policy", r.Cred.Account, GuardrailPrefix+"* inline policy on "+r.Cred.Principal)
	}
	err := keepGoing(ts, func(t target) error {
		action := "iam:DeleteUserPolicy"
		if t.kind == "role" {
			action = "iam:DeleteRolePolicy"
		}
		return r.act(ctx, action, t.arn, func(a *account) error {
			var e *entity
			if t.kind == "role" {
				ro, err := roleKind.find(a, t.name)
				if err != nil {
					return err
				}
				if err := unmodifiableRole(ro); err != nil {
					return err
				}
				e = &ro.entity
			} else {
				u, err := findUser(a, t.name)
				if err != nil {
					return err
				}
				e = &u.entity
			}
			if e.inline[t.policy] == nil {
				return noSuchEntity("The %s policy with name %s cannot be found.", t.kind, t.policy)
			}
			delete(e.inline, t.policy)
			eff.says("deleted inline policy %s of %s %s", t.policy, t.kind, t.name)
			return nil
		})
	})
	return eff, err
}

// guardrailAttachments are the KillSwitch* managed policies attached to
// the caller, its groups or its role.
func (r *run) guardrailAttachments(a *account) []target {
	var ts []target
	add := func(kind, name, arn string, managed []string) {
		for _, p := range managed {
			if hasGuardrailPrefix(policyName(p)) {
				ts = append(ts, target{kind, name, arn, p})
			}
		}
	}
	u, ro := r.self(a)
	if u != nil {
		add("user", u.name, u.arn(a.id), u.managed)
		for _, gk := range u.groups {
			g := a.groups[gk]
			add("group", g.name, g.arn(a.id), g.managed)
		}
	}
	if ro != nil {
		add("role", ro.name, ro.arn(a.id), ro.managed)
	}
	return ts
}

func detachGuardrail(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	var ts []target
	if err := r.peek(func(a *account) { ts = r.guardrailAttachments(a) }); err != nil {
		return eff, err
	}
	if len(ts) == 0 {
		return eff, nothing("detach-guardrail", r.Cred.Account, GuardrailPrefix+"* managed policy attached to "+r.Cred.Principal+", its groups or its role")
	}
	err := keepGoing(ts, func(t target) error {
		action := map[string]string{"user": "iam:DetachUserPolicy", "group": "iam:DetachGroupPolicy", "role": "iam:DetachRolePolicy"}[t.kind]
		return r.act(ctx, action, t.arn, func(a *account) error {
			var e *entity
			switch t.kind {
			case "user":
				u, err := findUser(a, t.name)
				if err != nil {
					return err
				}
				e = &u.entity
			case "group":
				g, err := groupKind.find(a, t.name)
				if err != nil {
					return err
				}
				e = &g.entity
			case "role":
				ro, err := roleKind.find(a, t.name)
				if err != nil {
					return err
				}
				if err := unmodifiableRole(ro); err != nil {
					return err
				}
				e = &ro.entity
			}
			if err := detachManaged(a, &e.managed, t.policy); err != nil {
				return err
			}
			eff.says("detached %s from %s %s", t.policy, t.kind, t.name)
			return nil
		})
	})
	return eff, err
}

func rewriteGuardrail(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	type rewrite struct {
		arn, drop string // drop: a version to delete first (five exist)
	}
	var rs []rewrite
	if err := r.peek(func(a *account) {
		seen := map[string]bool{}
		for _, t := range r.guardrailAttachments(a) {
			p := a.lookupPolicy(t.policy)
			if p == nil || p.aws || seen[p.arn] {
				continue
			}
			seen[p.arn] = true
			rw := rewrite{arn: p.arn}
			if len(p.versions) >= maxPolicyVersions {
				for _, v := range p.versions {
					if v.id != p.defaultVer {
						rw.drop = v.id
						break
					}
				}
			}
			rs = append(rs, rw)
		}
	}); err != nil {
		return eff, err
	}
	if len(rs) == 0 {
		return eff, nothing("rewrite-guardrail", r.Cred.Account, GuardrailPrefix+"* customer managed policy that applies to "+r.Cred.Principal)
	}
	o := r.Org
	err := keepGoing(rs, func(rw rewrite) error {
		if rw.drop != "" {
			err := r.act(ctx, "iam:DeletePolicyVersion", rw.arn, func(a *account) error {
				p, err := findPolicy(a, rw.arn)
				if err != nil {
					return err
				}
				return deletePolicyVersionLocked(p, rw.drop)
			})
			if err != nil {
				return err
			}
			eff.says("deleted version %s of %s", rw.drop, rw.arn)
		}
		return r.act(ctx, "iam:CreatePolicyVersion", rw.arn, func(a *account) error {
			p, err := findPolicy(a, rw.arn)
			if err != nil {
				return err
			}
			id, err := o.createPolicyVersionLocked(p, allowAllDoc, true)
			if err != nil {
				return err
			}
			eff.says("made allow-all version %s the default of %s", id, rw.arn)
			return nil
		})
	})
	return eff, err
}

// carriesGuardrail reports whether a group has a KillSwitch* policy.
func carriesGuardrail(g *group) bool {
	for n := range g.inline {
		if hasGuardrailPrefix(n) {
			return true
		}
	}
	for _, p := range g.managed {
		if hasGuardrailPrefix(policyName(p)) {
			return true
		}
	}
	return false
}

func leaveGuardrailGroup(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	var ts []target
	if err := r.peek(func(a *account) {
		u, _ := r.self(a)
		if u == nil {
			return
		}
		for _, gk := range u.groups {
			if g := a.groups[gk]; carriesGuardrail(g) {
				ts = append(ts, target{"group", g.name, g.arn(a.id), u.name})
			}
		}
	}); err != nil {
		return eff, err
	}
	if len(ts) == 0 {
		return eff, nothing("leave-guardrail-group", r.Cred.Account, "group of "+r.Cred.Principal+" carrying a "+GuardrailPrefix+"* policy")
	}
	err := keepGoing(ts, func(t target) error {
		return r.act(ctx, "iam:RemoveUserFromGroup", t.arn, func(a *account) error {
			u, err := findUser(a, t.policy)
			if err != nil {
				return err
			}
			if err := removeUserFromGroupLocked(a, u, t.name); err != nil {
				return err
			}
			eff.says("removed user %s from group %s", u.name, t.name)
			return nil
		})
	})
	return eff, err
}

// tagUser is iam:TagUser with the break-glass tag.
func (r *run) tagUser(ctx context.Context, eff *Effect, name string) error {
	tag := r.BreakGlassTag
	return r.act(ctx, "iam:TagUser", userKind.res(name)(r.accountNow()), func(a *account) error {
		u, err := findUser(a, name)
		if err != nil {
			return err
		}
		next := copyStringMap(u.tags)
		next[tag] = "true"
		if err := validTags(next); err != nil {
			return &types.InvalidInputException{Message: aws.String(err.Error())}
		}
		u.tags = next
		eff.says("tagged user %s %s=true", u.name, tag)
		return nil
	})
}

func tagBreakGlass(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	self := ""
	if err := r.peek(func(a *account) {
		if u, _ := r.self(a); u != nil {
			self = u.name
		}
	}); err != nil {
		return eff, err
	}
	if self != "" {
		return eff, r.tagUser(ctx, &eff, self)
	}
	if err := r.createUser(ctx, &eff, r.Name, nil); err != nil {
		return eff, err
	}
	if err := r.tagUser(ctx, &eff, r.Name); err != nil {
		return eff, err
	}
	return eff, r.createKey(ctx, &eff, r.Name)
}

func createBreakGlassRole(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	if err := r.createAdminRole(ctx, &eff, r.BreakGlassRole, trustDoc(r.Cred.Account, r.Outside)); err != nil {
		return eff, err
	}
	return eff, r.assume(ctx, &eff, r.BreakGlassRole)
}

// addTrust returns trust with a statement trusting the roots of accts
// appended.
func addTrust(trust string, accts ...string) (string, error) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(trust), &doc); err != nil {
		return "", err
	}
	var stmts []any
	switch s := doc["Statement"].(type) {
	case []any:
		stmts = s
	case map[string]any:
		stmts = []any{s}
	}
	var ps []any
	for _, a := range accts {
		ps = append(ps, "arn:aws:iam::"+a+":root")
	}
	doc["Statement"] = append(stmts, map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": ps}, "Action": "sts:AssumeRole"})
	b, err := json.Marshal(doc)
	return string(b), err
}

func backdoorBreakGlassRole(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	name := ""
	if err := r.peek(func(a *account) {
		for _, k := range a.roleKeys {
			if ro := a.roles[k]; strings.HasPrefix(ro.name, "BreakGlass") && !ro.unmodifiable() {
				name = ro.name
				return
			}
		}
	}); err != nil {
		return eff, err
	}
	if name == "" {
		return eff, nothing("backdoor-break-glass-role", r.Cred.Account, "role named BreakGlass*")
	}
	err := r.act(ctx, "iam:UpdateAssumeRolePolicy", roleKind.res(name)(r.accountNow()), func(a *account) error {
		ro, err := roleKind.find(a, name)
		if err != nil {
			return err
		}
		if err := unmodifiableRole(ro); err != nil {
			return err
		}
		trust, err := addTrust(ro.trust, a.id, r.Outside)
		if err != nil {
			return &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
		}
		if len(trust) > 2048 {
			return &types.LimitExceededException{Message: aws.String("Cannot exceed quota for ACLSizePerRole: 2048")}
		}
		if _, err := parsePolicy(trust, trustPolicy); err != nil {
			return &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
		}
		ro.trust = trust
		eff.says("role %s now trusts accounts %s and %s", ro.name, a.id, r.Outside)
		return nil
	})
	if err != nil {
		return eff, err
	}
	return eff, r.assume(ctx, &eff, name)
}

// deleteThrowawayUser deletes user Attempt.Name the way AWS requires:
// login profile, access keys, SSH keys, service-specific credentials,
// inline policies, managed policies and group memberships first, then
// iam:DeleteUser. Afterwards the bot's calls naming the user answer
// NoSuchEntity.
func deleteThrowawayUser(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	acct := r.Cred.Account
	type step struct{ action, id string }
	var steps []step
	arn := ""
	if err := r.peek(func(a *account) {
		u := a.users[strings.ToLower(r.Name)]
		if u == nil {
			return
		}
		arn = u.arn(a.id)
		if u.login != nil {
			steps = append(steps, step{"iam:DeleteLoginProfile", ""})
		}
		for _, k := range u.keys {
			steps = append(steps, step{"iam:DeleteAccessKey", k.id})
		}
		for _, k := range u.ssh {
			steps = append(steps, step{"iam:DeleteSSHPublicKey", k.id})
		}
		for _, k := range u.svc {
			steps = append(steps, step{"iam:DeleteServiceSpecificCredential", k.id})
		}
		for _, n := range sortedMapKeys(u.inline) {
			steps = append(steps, step{"iam:DeleteUserPolicy", n})
		}
		for _, p := range u.managed {
			steps = append(steps, step{"iam:DetachUserPolicy", p})
		}
		for _, g := range u.groups {
			steps = append(steps, step{"iam:RemoveUserFromGroup", g})
		}
		steps = append(steps, step{"iam:DeleteUser", ""})
	}); err != nil {
		return eff, err
	}
	if arn == "" {
		return eff, nothing("delete-user", acct, "user "+r.Name)
	}
	o := r.Org
	for _, s := range steps {
		res := arn
		if s.action == "iam:RemoveUserFromGroup" {
			res = groupKind.res(s.id)(r.accountNow())
		}
		err := r.act(ctx, s.action, res, func(a *account) error {
			u, err := findUser(a, r.Name)
			if err != nil {
				return err
			}
			switch s.action {
			case "iam:DeleteLoginProfile":
				u.login = nil
			case "iam:DeleteAccessKey":
				return o.deleteAccessKeyLocked(u, s.id)
			case "iam:DeleteSSHPublicKey":
				u.ssh = dropCred(u.ssh, s.id)
			case "iam:DeleteServiceSpecificCredential":
				u.svc = dropCred(u.svc, s.id)
			case "iam:DeleteUserPolicy":
				delete(u.inline, s.id)
			case "iam:DetachUserPolicy":
				return detachManaged(a, &u.managed, s.id)
			case "iam:RemoveUserFromGroup":
				g, err := groupKind.find(a, s.id)
				if err != nil {
					return err
				}
				return removeUserFromGroupLocked(a, u, g.name)
			case "iam:DeleteUser":
				if err := o.deleteUserLocked(a, u.name); err != nil {
					return err
				}
				eff.says("deleted user %s", u.name)
			}
			return nil
		})
		if err != nil {
			return eff, err
		}
	}
	return eff, nil
}

func dropCred(cs []*cred, id string) []*cred {
	out := cs[:0:0]
	for _, c := range cs {
		if c.id != id {
			out = append(out, c)
		}
	}
	return out
}
