package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"golang.org/x/time/rate"
	"sort"
	"strings"
	"sync"
	"time"
)

// Region is the region the simulation reports in ARNs and regional responses.
const Region = "us-east-1"

// DefaultBotRole is the bot role name used by Provider("").
const DefaultBotRole = "KillSwitchResponder"

// BaseTime is the fixed time from which built-in and YAML-loaded principals
// take their creation dates when none is given, so simulations are
// deterministic.
var BaseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrNotFound is wrapped by builder and attacker helpers when an account,
// principal or resource does not exist.
var ErrNotFound = errors.New("not found")

// Limits applied to the builder (and so to YAML files and built-ins).
const (
	MaxAccounts           = 1000
	MaxPrincipals         = 100000 // users + roles + groups over the whole Org
	MaxResources          = 100000 // data resources over the whole Org
	MaxPoliciesPerAccount = 1500   // customer managed policies, the AWS default quota
	maxOUDepth            = 5
	maxTags               = 50
	maxInlinePolicies     = 20
	maxSSHKeys            = 5
	maxServiceCreds       = 2
	maxGroupsPerUser      = 10
	maxManagedPerEntity   = 10
	maxAccessKeys         = 2
	maxSCPsPerTarget      = 5
	maxSCPs               = 1000
	maxSCPSize            = 5120
	maxManagedPolicySize  = 6144
	maxUserInlineSize     = 2048
	maxRoleInlineSize     = 10240
	maxGroupInlineSize    = 5120
	maxSecrets            = 10000
)

// Org is an in-memory simulated AWS Organization (or a single standalone
// account). It is safe for concurrent use: every method takes one mutex,
// held only for in-memory work (never while sleeping for a latency fault).
type Org struct {
	mu    sync.Mutex
	clock func() time.Time

	isOrg      bool
	mgmt       string
	orgID      string
	rootID     string
	scpEnabled bool

	ic *identityCenter // IAM Identity Center (identitycenter.go); nil until enabled

	accounts map[string]*account
	ous      map[string]*ou // by id
	ouPaths  map[string]*ou // by name path "Prod/Web"

	scps     map[string]*scp     // by id
	attached map[string][]string // target id -> SCP ids, in attach order

	rcpEnabled  bool
	billingOnly bool                // consolidated billing only: no SCP or RCP type can be enabled
	rcps        map[string]*scp     // resource control policies by id (rcp.go)
	rcpAttached map[string][]string // target id -> RCP ids, in attach order
	outside     map[string]*account // accounts outside the Organization (outside.go)

	faults []*faultState
	calls  map[string]int

	limits    map[string]RateLimit     // per service (action prefix); nil: no throttling (throttle.go)
	buckets   map[string]*rate.Limiter // "account/prefix"
	acctCalls map[string]int           // "account|Service"
	throttled map[string]int           // "account|Service"

	sched  Schedule          // the drill's virtual clock, latencies, propagation
	effect map[any]time.Time // policy changes still propagating, until when

	firstChange time.Time    // the bot's first successful change
	rootAccess  rootFeatures // centralised root access (root.go)

	seed       string
	seq        uint64
	keyOwners  map[string]string // access key id -> account
	botRoles   []string
	principals int
	resources  int
}

type ou struct {
	id, name, path string
	parent         string // parent OU id, or the root id
}

type account struct {
	id, name string
	parent   string // OU id or root id; "" when standalone
	joined   time.Time

	users    map[string]*user // by lower-case name
	userKeys []string         // sorted lower-case names
	roles    map[string]*role
	roleKeys []string
	groups   map[string]*group
	groupKey []string

	policies   map[string]*managedPolicy // customer managed, by lower-case name
	policyKeys []string
	attachN    map[string]int // managed policy ARN -> attachment count in this account

	secrets        map[string]*secret // by name
	resources      map[string]map[string]struct{}
	lost           map[string]map[string]string // kind -> id -> how it was lost (see ResourceStates)
	left           bool                         // left the Organization (LeaveOrganization): standalone now
	backups        *backupState                 // regions, Recycle Bin, locks, vaults (backups.go)
	bucketPolicies map[string]*bucketPolicy     // bucket name -> its bucket policy (outside.go)
	root           *rootUser                    // the root user's credentials (root.go); nil: the default
}

func newOrg(seedID string) *Org {
	return &Org{
		clock:       time.Now,
		accounts:    map[string]*account{},
		ous:         map[string]*ou{},
		ouPaths:     map[string]*ou{},
		scps:        map[string]*scp{},
		attached:    map[string][]string{},
		rcps:        map[string]*scp{},
		rcpAttached: map[string][]string{},
		outside:     map[string]*account{},
		calls:       map[string]int{},
		seed:        seedID,
		keyOwners:   map[string]string{},
	}
}

// NewOrganization returns an Organization whose management account is
// managementID (named "management"), with a root r-xxxx. The SCP policy type
// is not enabled until EnablePolicyType (or EnableSCPs) is called, or the
// YAML file says scp_enabled: true. It panics when managementID is not 12
// digits (Load validates files instead).
func NewOrganization(managementID string) *Org {
	o := newOrg(managementID)
	o.isOrg = true
	o.mgmt = managementID
	o.orgID = "o-" + hashID("org:"+managementID, 10, lowerAlnum)
	o.rootID = "r-" + hashID("root:"+managementID, 4, lowerAlnum)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.addAccountLocked(managementID, "management", ""); err != nil {
		panic(fmt.Sprintf("sim: NewOrganization(%q): %v", managementID, err))
	}
	return o
}

// NewStandalone returns a single account that belongs to no Organization.
// It panics when accountID is not 12 digits.
func NewStandalone(accountID string) *Org {
	o := newOrg(accountID)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.addAccountLocked(accountID, "standalone", ""); err != nil {
		panic(fmt.Sprintf("sim: NewStandalone(%q): %v", accountID, err))
	}
	return o
}

// SetClock replaces the clock (default time.Now). Every CreateDate, session
// time and TokenIssueTime uses it. The function must not call back into o.
func (o *Org) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	o.mu.Lock()
	o.clock = now
	o.mu.Unlock()
}

// now returns the clock's time without a monotonic reading, so stored times
// compare with reflect.DeepEqual. Caller holds o.mu.
func (o *Org) now() time.Time { return o.clock().Round(0) }

// Standalone reports whether o is one account without an Organization.
func (o *Org) Standalone() bool { return !o.isOrg }

// ManagementAccount returns the management account id, or "" when standalone.
func (o *Org) ManagementAccount() string { return o.mgmt }

// OrganizationID returns the o-xxxxxxxxxx id, or "" when standalone.
func (o *Org) OrganizationID() string { return o.orgID }

// RootID returns the r-xxxx id of the root, or "" when standalone.
func (o *Org) RootID() string { return o.rootID }

// Accounts returns the account ids, sorted, the management account first.
func (o *Org) Accounts() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.accountIDsLocked()
}

func (o *Org) accountIDsLocked() []string {
	ids := make([]string, 0, len(o.accounts))
	for id := range o.accounts {
		if id != o.mgmt {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if o.mgmt != "" {
		ids = append([]string{o.mgmt}, ids...)
	}
	return ids
}

// AccountName returns the name an account was added with.
func (o *Org) AccountName(id string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[id]
	if a == nil {
		return "", false
	}
	return a.name, true
}

// AddAccount adds a member account. ou is a name path such as "Prod" or
// "Prod/Web" (OUs are created on first use); "" places the account directly
// under the root. A standalone Org holds exactly one account.
func (o *Org) AddAccount(id, name, ouPath string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.isOrg {
		return fmt.Errorf("add account %s: a standalone account cannot hold other accounts", id)
	}
	return o.addAccountLocked(id, name, ouPath)
}

func (o *Org) addAccountLocked(id, name, ouPath string) error {
	if err := validAccountID(id); err != nil {
		return fmt.Errorf("add account: %w", err)
	}
	if _, ok := o.accounts[id]; ok {
		return fmt.Errorf("add account %s: already exists", id)
	}
	if len(o.accounts) >= MaxAccounts {
		return fmt.Errorf("add account %s: more than %d accounts", id, MaxAccounts)
	}
	if name == "" {
		name = "account-" + id
	}
	if err := validAccountName(name); err != nil {
		return fmt.Errorf("add account %s: %w", id, err)
	}
	parent := ""
	if o.isOrg {
		parent = o.rootID
		if ouPath != "" {
			if id == o.mgmt {
				return fmt.Errorf("add account %s: the management account lives under the root", id)
			}
			u, err := o.ensureOULocked(ouPath)
			if err != nil {
				return fmt.Errorf("add account %s: %w", id, err)
			}
			parent = u.id
		}
	} else if ouPath != "" {
		return fmt.Errorf("add account %s: OU %q given for a standalone account", id, ouPath)
	}
	a := &account{
		id: id, name: name, parent: parent, joined: BaseTime,
		users: map[string]*user{}, roles: map[string]*role{}, groups: map[string]*group{},
		policies: map[string]*managedPolicy{}, attachN: map[string]int{},
		secrets: map[string]*secret{}, resources: map[string]map[string]struct{}{},
	}
	o.accounts[id] = a
	if o.scpEnabled {
		o.attached[id] = []string{fullAccessID}
	}
	for _, r := range o.botRoles {
		o.ensureBotRoleLocked(a, r)
		o.ensureCanaryRoleLocked(a, r)
	}
	return nil
}

// ensureOULocked returns the OU at a name path, creating missing levels.
func (o *Org) ensureOULocked(p string) (*ou, error) {
	parts := strings.Split(p, "/")
	if len(parts) > maxOUDepth {
		return nil, fmt.Errorf("OU path %q is deeper than %d levels", p, maxOUDepth)
	}
	parent := o.rootID
	var cur *ou
	for i, name := range parts {
		if err := validOUName(name); err != nil {
			return nil, fmt.Errorf("OU path %q: %w", p, err)
		}
		path := strings.Join(parts[:i+1], "/")
		if u := o.ouPaths[path]; u != nil {
			cur = u
			parent = u.id
			continue
		}
		cur = &ou{
			id:     "ou-" + strings.TrimPrefix(o.rootID, "r-") + "-" + hashID(o.seed+"/ou/"+path, 8, lowerAlnum),
			name:   name,
			path:   path,
			parent: parent,
		}
		o.ous[cur.id] = cur
		o.ouPaths[path] = cur
		if o.scpEnabled {
			o.attached[cur.id] = []string{fullAccessID}
		}
		parent = cur.id
	}
	return cur, nil
}

// OUID returns the id of the OU at a name path such as "Prod/Web".
func (o *Org) OUID(path string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.ouPaths[path]
	if u == nil {
		return "", false
	}
	return u.id, true
}

// chainLocked returns the targets whose SCPs apply to an account: the root,
// the OUs from the top down, then the account.
func (o *Org) chainLocked(a *account) []string {
	var ous []string
	for p := a.parent; p != "" && p != o.rootID; {
		ous = append(ous, p)
		u := o.ous[p]
		if u == nil {
			break
		}
		p = u.parent
	}
	chain := make([]string, 0, len(ous)+2)
	chain = append(chain, o.rootID)
	for i := len(ous) - 1; i >= 0; i-- {
		chain = append(chain, ous[i])
	}
	return append(chain, a.id)
}

func (o *Org) account(id string) (*account, error) {
	a := o.accounts[id]
	if a == nil {
		return nil, fmt.Errorf("account %s: %w", id, ErrNotFound)
	}
	return a, nil
}

// ---- identifiers ----

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	keyAlpha   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlph = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	hexAlpha   = "0123456789abcdef"
)

// hashID derives n characters of alphabet from seed, deterministically.
func hashID(seed string, n int, alphabet string) string {
	out := make([]byte, 0, n)
	for block := uint64(0); len(out) < n; block++ {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], block)
		h := sha256.Sum256(append([]byte(seed), b[:]...))
		for _, c := range h {
			if len(out) == n {
				break
			}
			out = append(out, alphabet[int(c)%len(alphabet)])
		}
	}
	return string(out)
}

// newID returns a fresh deterministic id. Caller holds o.mu.
func (o *Org) newID(prefix string, n int, alphabet string) string {
	o.seq++
	return prefix + hashID(fmt.Sprintf("%s#%d", o.seed, o.seq), n, alphabet)
}

func (o *Org) newAccessKeyID() string {
	for {
		id := o.newID("AKIA", 16, keyAlpha)
		if _, dup := o.keyOwners[id]; !dup {
			return id
		}
	}
}

func (o *Org) newUUID() string {
	h := o.newID("", 32, hexAlpha)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// ---- sorted key slices ----

func insertKey(keys []string, k string) []string {
	i := sort.SearchStrings(keys, k)
	if i < len(keys) && keys[i] == k {
		return keys
	}
	keys = append(keys, "")
	copy(keys[i+1:], keys[i:])
	keys[i] = k
	return keys
}

func removeKey(keys []string, k string) []string {
	i := sort.SearchStrings(keys, k)
	if i < len(keys) && keys[i] == k {
		return append(keys[:i], keys[i+1:]...)
	}
	return keys
}

func hasKey(keys []string, k string) bool {
	i := sort.SearchStrings(keys, k)
	return i < len(keys) && keys[i] == k
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func copyStringMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
