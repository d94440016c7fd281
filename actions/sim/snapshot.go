package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"
)

// AccountState is a deep copy of one account's IAM, SCP-attachment,
// secrets and data state. It holds no pointers into the live simulation,
// lists are sorted and maps are never nil, so two snapshots compare with
// reflect.DeepEqual.
type AccountState struct {
	Account   string
	Name      string
	Users     []UserState   // by lower-case name
	Roles     []RoleState   // by lower-case name
	Groups    []GroupState  // by lower-case name
	Policies  []PolicyState // customer managed, by lower-case name
	SCPs      []SCPState    // SCPs applying to the account: root, OUs top-down, then the account
	Secrets   []SecretState // by name
	Resources []Resource    // by kind, then id
}

// UserState is a user in an AccountState.
type UserState struct {
	Name, Path, Arn, ID string
	Created             time.Time
	Tags                map[string]string
	LoginProfile        bool
	AccessKeys          []CredentialState // oldest first
	SSHKeys             []CredentialState
	ServiceCredentials  []CredentialState
	Groups              []string          // group names, sorted
	InlinePolicies      map[string]string // name -> document as stored
	ManagedPolicies     []string          // ARNs, sorted
}

// CredentialState is an access key, SSH key or service-specific credential.
type CredentialState struct {
	ID      string
	Active  bool
	Created time.Time
}

// RoleState is a role in an AccountState.
type RoleState struct {
	Name, Path, Arn, ID string
	Created             time.Time
	Tags                map[string]string
	Trust               string
	InlinePolicies      map[string]string
	ManagedPolicies     []string
}

// GroupState is a group in an AccountState.
type GroupState struct {
	Name, Path, Arn, ID string
	Members             []string // user names, sorted
	InlinePolicies      map[string]string
	ManagedPolicies     []string
}

// PolicyState is a customer managed policy in an AccountState.
type PolicyState struct {
	Name, Path, Arn, ID, Description string
	DefaultVersion                   string
	Document                         string // of the default version
	Versions                         int
	AttachmentCount                  int
	Created, Updated                 time.Time
	Tags                             map[string]string
}

// SCPState is one SCP attached to the account or above it.
type SCPState struct {
	Target   string // r-..., ou-... or the account id
	PolicyID string
	Name     string
	Content  string
}

// SecretState is a secret's metadata; the value is represented by its
// SHA-256 only (use SecretValue to read it).
type SecretState struct {
	Name, Arn, Description string
	Tags                   map[string]string
	Versions               int
	ValueSHA256            string
	Created, Changed       time.Time
}

// Snapshot returns a deep copy of an account's state (the zero AccountState
// for an unknown account).
func (o *Org) Snapshot(acct string) AccountState {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return AccountState{}
	}
	st := AccountState{
		Account: a.id, Name: a.name,
		Users: []UserState{}, Roles: []RoleState{}, Groups: []GroupState{}, Policies: []PolicyState{},
		SCPs: []SCPState{}, Secrets: []SecretState{}, Resources: a.resourceList(),
	}
	for _, k := range a.userKeys {
		u := a.users[k]
		us := UserState{
			Name: u.name, Path: u.path, Arn: u.arn(a.id), ID: u.id, Created: u.created,
			Tags: copyStringMap(u.tags), LoginProfile: u.login != nil,
			AccessKeys: credStates(u.keys), SSHKeys: credStates(u.ssh), ServiceCredentials: credStates(u.svc),
			Groups: groupKind.names(a, u.groups), InlinePolicies: inlineDocs(u.inline), ManagedPolicies: append([]string{}, u.managed...),
		}
		st.Users = append(st.Users, us)
	}
	for _, k := range a.roleKeys {
		r := a.roles[k]
		st.Roles = append(st.Roles, RoleState{
			Name: r.name, Path: r.path, Arn: r.arn(a.id), ID: r.id, Created: r.created, Tags: copyStringMap(r.tags),
			Trust: r.trust, InlinePolicies: inlineDocs(r.inline), ManagedPolicies: append([]string{}, r.managed...),
		})
	}
	for _, k := range a.groupKey {
		g := a.groups[k]
		st.Groups = append(st.Groups, GroupState{
			Name: g.name, Path: g.path, Arn: g.arn(a.id), ID: g.id, Members: userKind.names(a, g.members),
			InlinePolicies: inlineDocs(g.inline), ManagedPolicies: append([]string{}, g.managed...),
		})
	}
	for _, k := range a.policyKeys {
		p := a.policies[k]
		st.Policies = append(st.Policies, PolicyState{
			Name: p.name, Path: p.path, Arn: p.arn, ID: p.id, Description: p.desc, DefaultVersion: p.defaultVer,
			Document: p.current().doc, Versions: len(p.versions), AttachmentCount: a.attachN[p.arn],
			Created: p.created, Updated: p.updated, Tags: copyStringMap(p.tags),
		})
	}
	if o.isOrg {
		for _, t := range o.chainLocked(a) {
			for _, id := range o.attached[t] {
				p := o.scps[id]
				st.SCPs = append(st.SCPs, SCPState{Target: t, PolicyID: id, Name: p.name, Content: p.content})
			}
		}
	}
	for _, name := range sortedMapKeys(a.secrets) {
		s := a.secrets[name]
		ss := SecretState{Name: s.name, Arn: s.arn, Description: s.desc, Tags: copyStringMap(s.tags), Versions: len(s.versions), Created: s.created, Changed: s.changed}
		if v := s.versions[s.current]; v != nil {
			h := sha256.Sum256(append([]byte(v.value), v.binary...))
			ss.ValueSHA256 = hex.EncodeToString(h[:])
		}
		st.Secrets = append(st.Secrets, ss)
	}
	return st
}

func credStates[C credLike](cs []C) []CredentialState {
	out := make([]CredentialState, 0, len(cs))
	for _, c := range cs {
		b := c.base()
		out = append(out, CredentialState{ID: b.id, Active: b.active, Created: b.created})
	}
	return out
}

// names returns the names of k's entities with the given keys, sorted.
func (k *entityKind[T]) names(a *account, keys []string) []string {
	all := k.all(a)
	out := make([]string, 0, len(keys))
	for _, key := range keys {
		out = append(out, k.entity(all[key]).name)
	}
	sort.Strings(out)
	return out
}

func inlineDocs(m map[string]*inlinePolicy) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.doc
	}
	return out
}
