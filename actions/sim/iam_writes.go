package sim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// IAM writes the intruder's techniques make that the bot's API does not:
// user deletion, policy versions, group membership, user tags.

// maxPolicyVersions is the IAM limit on versions per managed policy.
const maxPolicyVersions = 5

// deleteUserLocked is iam:DeleteUser: like AWS it fails with
// DeleteConflict while the user has a login profile, access keys, SSH
// keys, service-specific credentials, inline or managed policies or
// groups. Afterwards every call naming the user answers NoSuchEntity.
func (o *Org) deleteUserLocked(a *account, name string) error {
	key := strings.ToLower(name)
	u := a.users[key]
	if u == nil {
		return noSuchEntity("The user with name %s cannot be found.", name)
	}
	if u.login != nil || len(u.keys) > 0 || len(u.ssh) > 0 || len(u.svc) > 0 || len(u.inline) > 0 || len(u.managed) > 0 || len(u.groups) > 0 {
		return &types.DeleteConflictException{Message: aws.String("Cannot delete entity, must delete login profile, access keys, signing certificates, SSH public keys, service-specific credentials, policies and group memberships first.")}
	}
	delete(a.users, key)
	a.userKeys = removeKey(a.userKeys, key)
	o.principals--
	return nil
}

// deleteAccessKeyLocked is iam:DeleteAccessKey.
func (o *Org) deleteAccessKeyLocked(u *user, id string) error {
	for i, k := range u.keys {
		if k.id == id {
			u.keys = append(u.keys[:i:i], u.keys[i+1:]...)
			delete(o.keyOwners, id)
			return nil
		}
	}
	return noSuchEntity("The Access Key with id %s cannot be found.", id)
}

// removeUserFromGroupLocked is iam:RemoveUserFromGroup.
func removeUserFromGroupLocked(a *account, u *user, groupName string) error {
	gk := strings.ToLower(groupName)
	g := a.groups[gk]
	if g == nil {
		return noSuchEntity("The group with name %s cannot be found.", groupName)
	}
	uk := strings.ToLower(u.name)
	if !hasKey(u.groups, gk) {
		return noSuchEntity("User %s is not in group %s.", u.name, g.name)
	}
	u.groups = removeKey(u.groups, gk)
	g.members = removeKey(g.members, uk)
	return nil
}

// createPolicyVersionLocked is iam:CreatePolicyVersion: a new version
// v<N> (N one more than the highest so far, never reused), at most five
// versions (LimitExceeded, like AWS: delete one first). setDefault makes
// it the default version; it applies once it has propagated, the previous
// default staying in effect until then.
func (o *Org) createPolicyVersionLocked(p *managedPolicy, doc string, setDefault bool) (string, error) {
	if p.aws {
		return "", &types.InvalidInputException{Message: aws.String("Cannot create a version of an AWS managed policy: " + p.arn)}
	}
	if len(p.versions) >= maxPolicyVersions {
		return "", &types.LimitExceededException{Message: aws.String(fmt.Sprintf("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions))}
	}
	if policySize(doc) > maxManagedPolicySize {
		return "", &types.LimitExceededException{Message: aws.String(fmt.Sprintf("Cannot exceed quota for PolicySize: %d", maxManagedPolicySize))}
	}
	parsed, err := parsePolicy(doc, identityPolicy)
	if err != nil {
		return "", &types.MalformedPolicyDocumentException{Message: aws.String(err.Error())}
	}
	n := 1
	for _, v := range p.versions {
		if k, err := strconv.Atoi(strings.TrimPrefix(v.id, "v")); err == nil && k > n {
			n = k
		}
	}
	if p.verSeq > n {
		n = p.verSeq
	}
	n++
	p.verSeq = n
	now := o.now()
	v := &policyVersion{id: "v" + strconv.Itoa(n), doc: doc, parsed: parsed, created: now}
	if setDefault {
		v.prev = o.versionDocLocked(p)
	}
	p.versions = append(p.versions, v)
	p.updated = now
	if setDefault {
		p.defaultVer = v.id
		o.propagateLocked(v)
	}
	return v.id, nil
}

// deletePolicyVersionLocked is iam:DeletePolicyVersion; the default
// version cannot be deleted (DeleteConflict).
func deletePolicyVersionLocked(p *managedPolicy, id string) error {
	if id == p.defaultVer {
		return &types.DeleteConflictException{Message: aws.String("Cannot delete the default version of a policy.")}
	}
	for i, v := range p.versions {
		if v.id == id {
			p.versions = append(p.versions[:i:i], p.versions[i+1:]...)
			return nil
		}
	}
	return noSuchEntity("Policy %s version %s does not exist.", p.arn, id)
}

// PolicyVersions returns the version ids of a managed policy of an
// account, oldest first, and its default version.
func (o *Org) PolicyVersions(acct, arn string) (ids []string, defaultID string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return nil, "", false
	}
	p := a.lookupPolicy(arn)
	if p == nil {
		return nil, "", false
	}
	for _, v := range p.versions {
		ids = append(ids, v.id)
	}
	return ids, p.defaultVer, true
}
