package sim

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"time"
)

// User describes an IAM user for AddUser.
type User struct {
	Name, Path         string
	Tags               map[string]string
	Password           bool // has a login profile (console password)
	AccessKeys         []AccessKey
	SSHKeys            int // SSH public keys, all Active
	ServiceCredentials int // service-specific credentials (CodeCommit), all Active
	Groups             []string
	InlinePolicies     map[string]string // name -> JSON document
	ManagedPolicies    []string          // policy ARNs (AWS managed or this account's)
	Created            time.Time         // zero: the Org's clock
}

// AccessKey is a long-term access key. ID is generated (AKIA + 16
// characters) when empty.
type AccessKey struct {
	ID      string
	Active  bool
	Created time.Time // zero: the user's creation time
}

// Role describes an IAM role for AddRole. A name starting AWSServiceRoleFor
// with no path is placed under /aws-service-role/<service>.amazonaws.com/ (a
// service-linked role); a name starting AWSReservedSSO_ with no path under
// /aws-reserved/sso.amazonaws.com/ (an IAM Identity Center role). Both are
// unmodifiable through the IAM API, like in AWS.
type Role struct {
	Name, Path      string
	Tags            map[string]string
	Trust           string // JSON trust policy; "" trusts the account (or the service / SAML provider, see above)
	Description     string
	InlinePolicies  map[string]string
	ManagedPolicies []string
	Created         time.Time
}

// Group describes an IAM group for AddGroup. Add groups before the users
// that name them.
type Group struct {
	Name, Path      string
	InlinePolicies  map[string]string
	ManagedPolicies []string
	Created         time.Time
}

// Policy describes a customer managed IAM policy for AddPolicy.
type Policy struct {
	Name, Path, Description string
	Document                string
	Created                 time.Time
}

// entity is what users, roles and groups share.
type entity struct {
	name, path, id string
	created        time.Time
	inline         map[string]*inlinePolicy
	managed        []string // policy ARNs, sorted
}

type user struct {
	entity
	tags   map[string]string
	login  *loginProfile
	keys   []*accessKey
	ssh    []*cred
	svc    []*cred
	groups []string // lower-case group names, sorted
}

type loginProfile struct {
	created       time.Time
	resetRequired bool
}

// credBase is what access keys, SSH public keys and service-specific
// credentials share.
type credBase struct {
	id      string
	active  bool
	created time.Time
}

func (c *credBase) base() *credBase { return c }

type accessKey struct {
	credBase
	secretHash [32]byte
}

// cred is an SSH public key or a service-specific credential.
type cred struct {
	credBase
	service     string
	serviceUser string
}

type inlinePolicy struct {
	doc    string
	parsed *policy
}

type role struct {
	entity
	tags        map[string]string
	trust       string
	description string
}

type group struct {
	entity
	members []string // lower-case user names, sorted
}

type managedPolicy struct {
	arn, name, path, id, desc string
	created, updated          time.Time
	versions                  []*policyVersion
	defaultVer                string
	verSeq                    int // the highest version number created so far (ids are never reused)
	aws                       bool
	tags                      map[string]string
}

type policyVersion struct {
	id      string
	doc     string
	parsed  *policy
	prev    *policy // the default version in effect until this one, made default, has propagated
	created time.Time
}

func (p *managedPolicy) current() *policyVersion {
	for _, v := range p.versions {
		if v.id == p.defaultVer {
			return v
		}
	}
	return p.versions[len(p.versions)-1]
}

// iamARN is the ARN of a user, role or group (kind).
func iamARN(acct, kind, path, name string) string {
	return "arn:aws:iam::" + acct + ":" + kind + path + name
}

func (u *user) arn(acct string) string  { return iamARN(acct, "user", u.path, u.name) }
func (r *role) arn(acct string) string  { return iamARN(acct, "role", r.path, r.name) }
func (g *group) arn(acct string) string { return iamARN(acct, "group", g.path, g.name) }

// unmodifiable reports whether IAM refuses policy changes on the role:
// service-linked roles and IAM Identity Center (SSO) roles.
func (r *role) unmodifiable() bool {
	return strings.HasPrefix(r.path, "/aws-service-role/") || strings.HasPrefix(r.path, "/aws-reserved/sso.amazonaws.com/")
}

// entityKind describes users, roles or groups (T) to the code that treats
// the three alike: the builder and the IAM operations.
type entityKind[T any] struct {
	name      string // "user", "role" or "group", as in ARNs and messages
	param     string // the IAM API's name parameter, e.g. "UserName"
	nameMax   int    // the longest name
	inlineMax int    // the aggregate size of the inline policies
	quota     string // the IAM quota on managed policies, e.g. "PoliciesPerUser"

	all     func(a *account) map[string]*T // by lower-case name
	keys    func(a *account) *[]string     // the sorted lower-case names
	entity  func(t *T) *entity
	protect func(t *T) error // refuses the policy changes IAM refuses (nil: none)
}

var (
	userKind = &entityKind[user]{
		name: "user", param: "UserName", nameMax: 64, inlineMax: maxUserInlineSize, quota: "PoliciesPerUser",
		all:    func(a *account) map[string]*user { return a.users },
		keys:   func(a *account) *[]string { return &a.userKeys },
		entity: func(u *user) *entity { return &u.entity },
	}
	roleKind = &entityKind[role]{
		name: "role", param: "RoleName", nameMax: 64, inlineMax: maxRoleInlineSize, quota: "PoliciesPerRole",
		all:     func(a *account) map[string]*role { return a.roles },
		keys:    func(a *account) *[]string { return &a.roleKeys },
		entity:  func(r *role) *entity { return &r.entity },
		protect: unmodifiableRole,
	}
	groupKind = &entityKind[group]{
		name: "group", param: "GroupName", nameMax: 128, inlineMax: maxGroupInlineSize, quota: "PoliciesPerGroup",
		all:    func(a *account) map[string]*group { return a.groups },
		keys:   func(a *account) *[]string { return &a.groupKey },
		entity: func(g *group) *entity { return &g.entity },
	}
)

// ---- AWS managed policies (a small, shared, read-only catalog) ----

var awsManaged = map[string]*managedPolicy{}
var awsManagedARNs []string

func init() {
	created := time.Date(2015, 2, 6, 18, 39, 46, 0, time.UTC)
	add := func(name, path, doc string) {
		p, err := parsePolicy(doc, identityPolicy)
		if err != nil {
			panic("sim: AWS managed policy " + name + ": " + err.Error())
		}
		arn := "arn:aws:iam::aws:policy" + path + name
		awsManaged[arn] = &managedPolicy{
			arn: arn, name: name, path: path, id: "ANPA" + hashID("aws-managed/"+name, 17, upperAlnum),
			created: created, updated: created, aws: true, defaultVer: "v1",
			versions: []*policyVersion{{id: "v1", doc: doc, parsed: p, created: created}},
		}
		awsManagedARNs = append(awsManagedARNs, arn)
	}
	allow := func(actions string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + actions + `,"Resource":"*"}]}`
	}
	add("AdministratorAccess", "/", allow(`"*"`))
	add("PowerUserAccess", "/", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions"],"Resource":"*"}]}`)
	add("ReadOnlyAccess", "/", allow(`["*:Get*","*:List*","*:Describe*"]`))
	add("SecurityAudit", "/", allow(`["*:Get*","*:List*","*:Describe*"]`))
	add("IAMFullAccess", "/", allow(`["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:ListAccounts"]`))
	add("AmazonEC2FullAccess", "/", allow(`["ec2:*","elasticloadbalancing:*","cloudwatch:*","autoscaling:*"]`))
	add("AmazonS3FullAccess", "/", allow(`["s3:*","s3-object-lambda:*"]`))
	add("AWSBackupFullAccess", "/", allow(`["backup:*","backup-storage:*"]`))
	add("AWSSupportAccess", "/", allow(`["support:*"]`))
	add("AWSDenyAll", "/", `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAll","Effect":"Deny","Action":"*","Resource":"*"}]}`)
	add("AWSSupportServiceRolePolicy", "/aws-service-role/", allow(`["support:*","trustedadvisor:Describe*"]`))
	add("AWSTrustedAdvisorServiceRolePolicy", "/aws-service-role/", allow(`["trustedadvisor:*","ec2:Describe*"]`))
	add("AWSOrganizationsServiceTrustPolicy", "/aws-service-role/", allow(`["iam:DeleteRole"]`))
	sort.Strings(awsManagedARNs)
}

// AWSManagedPolicies returns the ARNs of the AWS managed policies the
// simulation knows (attaching any other arn:aws:iam::aws:policy/... fails
// with NoSuchEntity).
func AWSManagedPolicies() []string { return append([]string(nil), awsManagedARNs...) }

// lookupPolicy resolves a managed policy ARN visible from account a.
func (a *account) lookupPolicy(arn string) *managedPolicy {
	if p := awsManaged[arn]; p != nil {
		return p
	}
	prefix := "arn:aws:iam::" + a.id + ":policy/"
	if !strings.HasPrefix(arn, prefix) {
		return nil
	}
	rest := arn[len(prefix):]
	name := rest[strings.LastIndexByte(rest, '/')+1:]
	p := a.policies[strings.ToLower(name)]
	if p == nil || p.arn != arn {
		return nil
	}
	return p
}

// ---- builder ----

// addIn runs add on account acct under the lock, for AddUser, AddRole,
// AddGroup and AddPolicy; its errors name the kind and name.
func (o *Org) addIn(acct, kind, name string, add func(a *account) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return fmt.Errorf("add %s %q: %w", kind, name, err)
	}
	if err := add(a); err != nil {
		return fmt.Errorf("add %s %q in %s: %w", kind, clip(name), acct, err)
	}
	return nil
}

// newKey checks the name of a new user, role or group (valid, not taken
// whatever the case) and, when limit, the Org's principal quota; it returns
// the entity's key.
func (k *entityKind[T]) newKey(o *Org, a *account, name string, limit bool) (string, error) {
	if err := validName(k.name, name, k.nameMax); err != nil {
		return "", err
	}
	key := strings.ToLower(name)
	if k.all(a)[key] != nil {
		return "", fmt.Errorf("%s already exists", k.name)
	}
	if limit && o.principals >= MaxPrincipals {
		return "", fmt.Errorf("more than %d principals", MaxPrincipals)
	}
	return key, nil
}

// policies builds a new entity's inline policies and resolves its managed
// ones.
func (k *entityKind[T]) policies(a *account, inline map[string]string, managed []string) (map[string]*inlinePolicy, []string, error) {
	in, err := buildInline(inline, k.inlineMax)
	if err != nil {
		return nil, nil, err
	}
	arns, err := resolveManaged(a, managed)
	if err != nil {
		return nil, nil, err
	}
	return in, arns, nil
}

// register adds a new entity under key, counting its managed policy
// attachments and the Org's principals.
func (k *entityKind[T]) register(o *Org, a *account, key string, t *T) {
	for _, arn := range k.entity(t).managed {
		a.attachN[arn]++
	}
	k.all(a)[key] = t
	keys := k.keys(a)
	*keys = insertKey(*keys, key)
	o.principals++
}

// orRoot returns path, or "/" when it is empty, if it is valid.
func orRoot(path string) (string, error) {
	if path == "" {
		path = "/"
	}
	return path, validPath(path)
}

// createdOr returns t, or now when it is zero.
func (o *Org) createdOr(t time.Time) time.Time {
	if t.IsZero() {
		return o.now()
	}
	return t
}

// AddUser adds an IAM user, validated like the IAM API would (names,
// paths, tags, two access keys, policy sizes, ten managed policies).
func (o *Org) AddUser(acct string, u User) error {
	return o.addIn(acct, "user", u.Name, func(a *account) error { return o.addUserLocked(a, u) })
}

func (o *Org) addUserLocked(a *account, in User) error {
	key, err := userKind.newKey(o, a, in.Name, true)
	if err != nil {
		return err
	}
	path, err := orRoot(in.Path)
	if err != nil {
		return err
	}
	if err := validTags(in.Tags); err != nil {
		return err
	}
	if len(in.AccessKeys) > maxAccessKeys {
		return fmt.Errorf("%d access keys: at most %d", len(in.AccessKeys), maxAccessKeys)
	}
	if in.SSHKeys < 0 || in.SSHKeys > maxSSHKeys {
		return fmt.Errorf("ssh_keys %d: 0 to %d", in.SSHKeys, maxSSHKeys)
	}
	if in.ServiceCredentials < 0 || in.ServiceCredentials > maxServiceCreds {
		return fmt.Errorf("service_credentials %d: 0 to %d", in.ServiceCredentials, maxServiceCreds)
	}
	if len(in.Groups) > maxGroupsPerUser {
		return fmt.Errorf("%d groups: at most %d", len(in.Groups), maxGroupsPerUser)
	}
	var groups []*group
	for _, g := range in.Groups {
		grp := a.groups[strings.ToLower(g)]
		if grp == nil {
			return fmt.Errorf("group %q: %w (add groups before their users)", clip(g), ErrNotFound)
		}
		groups = append(groups, grp)
	}
	inline, managed, err := userKind.policies(a, in.InlinePolicies, in.ManagedPolicies)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range in.AccessKeys {
		if k.ID == "" {
			continue
		}
		if !reAccessKey.MatchString(k.ID) {
			return fmt.Errorf("access key id %q must be 16-128 characters of [A-Z0-9]", clip(k.ID))
		}
		if _, dup := o.keyOwners[k.ID]; dup || seen[k.ID] {
			return fmt.Errorf("access key id %s already exists", k.ID)
		}
		seen[k.ID] = true
	}

	created := o.createdOr(in.Created)
	u := &user{
		entity: entity{name: in.Name, path: path, id: o.newID("AIDA", 17, upperAlnum), created: created, inline: inline, managed: managed},
		tags:   copyStringMap(in.Tags),
	}
	if in.Password {
		u.login = &loginProfile{created: created}
	}
	for _, k := range in.AccessKeys {
		id := k.ID
		if id == "" {
			id = o.newAccessKeyID()
		}
		kc := k.Created
		if kc.IsZero() {
			kc = created
		}
		o.keyOwners[id] = a.id
		u.keys = append(u.keys, &accessKey{credBase: credBase{id: id, active: k.Active, created: kc}})
	}
	for range in.SSHKeys {
		u.ssh = append(u.ssh, &cred{credBase: credBase{id: o.newID("APKA", 16, keyAlpha), active: true, created: created}})
	}
	for range in.ServiceCredentials {
		u.svc = append(u.svc, &cred{
			credBase: credBase{id: o.newID("ACCA", 17, upperAlnum), active: true, created: created},
			service:  "codecommit.amazonaws.com", serviceUser: in.Name + "-at-" + a.id,
		})
	}
	for _, g := range groups {
		gk := strings.ToLower(g.name)
		u.groups = insertKey(u.groups, gk)
		g.members = insertKey(g.members, key)
	}
	userKind.register(o, a, key, u)
	return nil
}

// AddRole adds an IAM role (see Role for service-linked and SSO roles).
func (o *Org) AddRole(acct string, r Role) error {
	return o.addIn(acct, "role", r.Name, func(a *account) error {
		_, err := o.addRoleLocked(a, r)
		return err
	})
}

func (o *Org) addRoleLocked(a *account, in Role) (*role, error) {
	return o.addRoleLimited(a, in, true)
}

func (o *Org) addRoleLimited(a *account, in Role, limit bool) (*role, error) {
	key, err := roleKind.newKey(o, a, in.Name, limit)
	if err != nil {
		return nil, err
	}
	path := in.Path
	service := ""
	if strings.HasPrefix(in.Name, "AWSServiceRoleFor") {
		service = strings.ToLower(strings.TrimPrefix(in.Name, "AWSServiceRoleFor"))
		if i := strings.IndexByte(service, '_'); i >= 0 {
			service = service[:i]
		}
		if service == "" {
			service = "unknown"
		}
		service += ".amazonaws.com"
	}
	if path == "" {
		switch {
		case service != "":
			path = "/aws-service-role/" + service + "/"
		case strings.HasPrefix(in.Name, "AWSReservedSSO_"):
			path = "/aws-reserved/sso.amazonaws.com/"
		default:
			path = "/"
		}
	}
	if err := validPath(path); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	if len(in.Description) > 1000 {
		return nil, fmt.Errorf("description longer than 1000 characters")
	}
	trust := in.Trust
	if trust == "" {
		switch {
		case strings.HasPrefix(path, "/aws-service-role/"):
			if service == "" {
				service = strings.TrimSuffix(strings.TrimPrefix(path, "/aws-service-role/"), "/")
			}
			trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + service + `"},"Action":"sts:AssumeRole"}]}`
		case strings.HasPrefix(path, "/aws-reserved/sso.amazonaws.com/"):
			trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + a.id +
				`:saml-provider/AWSSSO_` + hashID(a.id+"/sso", 16, hexAlpha) + `_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}`
		default:
			trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + a.id + `:root"},"Action":"sts:AssumeRole"}]}`
		}
	}
	if len(trust) > 2048 {
		return nil, fmt.Errorf("trust policy longer than 2048 characters")
	}
	if _, err := parsePolicy(trust, trustPolicy); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	inline, managed, err := roleKind.policies(a, in.InlinePolicies, in.ManagedPolicies)
	if err != nil {
		return nil, err
	}
	created := o.createdOr(in.Created)
	r := &role{
		entity: entity{name: in.Name, path: path, id: o.newID("AROA", 17, upperAlnum), created: created, inline: inline, managed: managed},
		tags:   copyStringMap(in.Tags), trust: trust, description: in.Description,
	}
	roleKind.register(o, a, key, r)
	return r, nil
}

// AddGroup adds an IAM group.
func (o *Org) AddGroup(acct string, g Group) error {
	return o.addIn(acct, "group", g.Name, func(a *account) error { return o.addGroupLocked(a, g) })
}

func (o *Org) addGroupLocked(a *account, in Group) error {
	key, err := groupKind.newKey(o, a, in.Name, true)
	if err != nil {
		return err
	}
	path, err := orRoot(in.Path)
	if err != nil {
		return err
	}
	inline, managed, err := groupKind.policies(a, in.InlinePolicies, in.ManagedPolicies)
	if err != nil {
		return err
	}
	created := o.createdOr(in.Created)
	g := &group{entity: entity{name: in.Name, path: path, id: o.newID("AGPA", 17, upperAlnum), created: created, inline: inline, managed: managed}}
	groupKind.register(o, a, key, g)
	return nil
}

// AddPolicy adds a customer managed policy (version v1) to an account; its
// ARN is arn:aws:iam::ACCOUNT:policy<path><name>.
func (o *Org) AddPolicy(acct string, p Policy) (string, error) {
	arn := ""
	err := o.addIn(acct, "policy", p.Name, func(a *account) error {
		mp, err := o.addPolicyLocked(a, p)
		if err == nil {
			arn = mp.arn
		}
		return err
	})
	return arn, err
}

// errPolicy classifies addPolicyLocked failures for the IAM API.
type errPolicy struct {
	kind string // "exists", "malformed", "limit", "invalid"
	msg  string
}

func (e *errPolicy) Error() string { return e.msg }

func (o *Org) addPolicyLocked(a *account, in Policy) (*managedPolicy, error) {
	if err := validName("policy", in.Name, 128); err != nil {
		return nil, &errPolicy{"invalid", err.Error()}
	}
	path, err := orRoot(in.Path)
	if err != nil {
		return nil, &errPolicy{"invalid", err.Error()}
	}
	if len(in.Description) > 1000 {
		return nil, &errPolicy{"invalid", "description longer than 1000 characters"}
	}
	key := strings.ToLower(in.Name)
	if a.policies[key] != nil {
		return nil, &errPolicy{"exists", "A policy called " + in.Name + " already exists. Duplicate names are not allowed."}
	}
	if len(a.policies) >= MaxPoliciesPerAccount {
		return nil, &errPolicy{"limit", fmt.Sprintf("Cannot exceed quota for PoliciesPerAccount: %d", MaxPoliciesPerAccount)}
	}
	if n := policySize(in.Document); n > maxManagedPolicySize {
		return nil, &errPolicy{"limit", fmt.Sprintf("Cannot exceed quota for PolicySize: %d", maxManagedPolicySize)}
	}
	parsed, err := parsePolicy(in.Document, identityPolicy)
	if err != nil {
		return nil, &errPolicy{"malformed", err.Error()}
	}
	created := o.createdOr(in.Created)
	p := &managedPolicy{
		arn: "arn:aws:iam::" + a.id + ":policy" + path + in.Name, name: in.Name, path: path,
		id: o.newID("ANPA", 17, upperAlnum), desc: in.Description, created: created, updated: created,
		defaultVer: "v1", tags: map[string]string{},
		versions: []*policyVersion{{id: "v1", doc: in.Document, parsed: parsed, created: created}},
	}
	a.policies[key] = p
	a.policyKeys = insertKey(a.policyKeys, key)
	return p, nil
}

func buildInline(docs map[string]string, limit int) (map[string]*inlinePolicy, error) {
	if len(docs) > maxInlinePolicies {
		return nil, fmt.Errorf("%d inline policies: the simulation allows at most %d", len(docs), maxInlinePolicies)
	}
	out := make(map[string]*inlinePolicy, len(docs))
	total := 0
	for name, doc := range docs {
		if err := validName("policy", name, 128); err != nil {
			return nil, err
		}
		total += policySize(doc)
		if total > limit {
			return nil, fmt.Errorf("inline policies exceed the aggregate size limit of %d characters", limit)
		}
		p, err := parsePolicy(doc, identityPolicy)
		if err != nil {
			return nil, fmt.Errorf("inline policy %q: %w", name, err)
		}
		out[name] = &inlinePolicy{doc: doc, parsed: p}
	}
	return out, nil
}

func resolveManaged(a *account, arns []string) ([]string, error) {
	if len(arns) > maxManagedPerEntity {
		return nil, fmt.Errorf("%d managed policies: at most %d", len(arns), maxManagedPerEntity)
	}
	var out []string
	for _, arn := range arns {
		if a.lookupPolicy(arn) == nil {
			return nil, fmt.Errorf("managed policy %q: %w (known AWS managed policies: %s)", clip(arn), ErrNotFound, strings.Join(awsManagedARNs, ", "))
		}
		if hasKey(out, arn) {
			continue
		}
		out = insertKey(out, arn)
	}
	return out, nil
}

func inlineSize(m map[string]*inlinePolicy, replacing string) int {
	n := 0
	for name, p := range m {
		if name != replacing {
			n += policySize(p.doc)
		}
	}
	return n
}

// ensureBotRoleLocked creates the bot role in a when missing.
// ServiceRole is the role the killswitch service runs as (in the management
// account, or the account itself when standalone); the simulated responder
// role trusts it alone, as the responder template's trust does (never a
// whole account, which would let an intruder with an administrator key
// become the bot). It is not created in the simulation.
const ServiceRole = "killswitch-service"

func (o *Org) ensureBotRoleLocked(a *account, name string) {
	if a.roles[strings.ToLower(name)] != nil {
		return
	}
	trusted := a.id
	if o.mgmt != "" {
		trusted = o.mgmt
	}
	_, err := o.addRoleLimited(a, Role{
		Name:        name,
		Description: "killswitch responder (simulated)",
		Trust:       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + trusted + `:role/` + ServiceRole + `"},"Action":"sts:AssumeRole"}]}`,
	}, false)
	if err != nil {
		panic(fmt.Sprintf("sim: create bot role %q in %s: %v", name, a.id, err))
	}
}

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// UserARN returns the ARN of a user (with its path).
func (o *Org) UserARN(acct, name string) (string, bool) { return userKind.arnIn(o, acct, name) }

// RoleARN returns the ARN of a role (with its path).
func (o *Org) RoleARN(acct, name string) (string, bool) { return roleKind.arnIn(o, acct, name) }

func (k *entityKind[T]) arnIn(o *Org, acct, name string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return "", false
	}
	t := k.all(a)[strings.ToLower(name)]
	if t == nil {
		return "", false
	}
	e := k.entity(t)
	return iamARN(acct, k.name, e.path, e.name), true
}

// AccessKeyIDs returns the ids of a user's access keys, oldest first.
func (o *Org) AccessKeyIDs(acct, name string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return nil
	}
	u := a.users[strings.ToLower(name)]
	if u == nil {
		return nil
	}
	ids := make([]string, 0, len(u.keys))
	for _, k := range u.keys {
		ids = append(ids, k.id)
	}
	return ids
}

// VerifyAccessKeySecret reports whether secret is the secret access key
// CreateAccessKey returned for key id (the simulation keeps only a hash).
func (o *Org) VerifyAccessKeySecret(acct, id, secret string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return false
	}
	for _, k := range a.userKeys {
		for _, ak := range a.users[k].keys {
			if ak.id == id {
				return ak.secretHash != [32]byte{} && ak.secretHash == hashSecret(secret)
			}
		}
	}
	return false
}
