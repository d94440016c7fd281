package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

var builtins = map[string]func() *spec{
	"codespaces": codespacesSpec,
	"org":        orgSpec,
}

// BuiltinNames returns the names of the built-in organizations, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Builtin returns a fresh copy of a built-in organization:
//
//   - "codespaces": one standalone account 111122223333 modelled on Code
//     Spaces (2014): developers with console passwords and keys, a deploy
//     user with two keys, a user with a 150-character path, a break-glass
//     user tagged killswitch:break-glass=true and a BreakGlassAdmin role, a
//     service-linked role, IAM Identity Center roles, a Developers group,
//     and the data the intruder deleted (EBS snapshots, AMIs, volumes, S3
//     buckets, backups, ...).
//   - "org": an Organization with management account 111111111111 and
//     members 222222222222 (Prod, 150 users), 333333333333 (NonProd),
//     444444444444 (Security) and 555555555555 (NonProd/Sandbox); SCPs
//     enabled; break-glass, service-linked and SSO roles and data in every
//     account; several hundred principals; centralised root access
//     enabled, and prod's root user has a password, an access key and no
//     MFA (every other root user: a password and MFA).
//
// Creation dates derive from BaseTime, so built-ins are deterministic.
func Builtin(name string) (*Org, error) {
	f, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("sim: unknown built-in organization %q (built-ins: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	o, err := build(f())
	if err == nil && name == "org" {
		err = orgIdentityCenter(o)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: built-in %s: %w", name, err)
	}
	return o, nil
}

func on() *bool  { t := true; return &t }
func off() *bool { f := false; return &f }

func days(n int) time.Time { return BaseTime.AddDate(0, 0, n) }

const (
	adminARN    = "arn:aws:iam::aws:policy/AdministratorAccess"
	powerARN    = "arn:aws:iam::aws:policy/PowerUserAccess"
	readOnlyARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	backupARN   = "arn:aws:iam::aws:policy/AWSBackupFullAccess"
	s3ARN       = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
	supportSLR  = "arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy"
)

// BreakGlassTag is the tag key the built-ins put on break-glass users.
const BreakGlassTag = "killswitch:break-glass"

func serviceTrust(service string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + service + `"},"Action":"sts:AssumeRole"}]}`
}

// principalTrust trusts one named principal (break-glass roles trust the
// break-glass user, never a whole account: an intruder with an administrator
// key in that account could otherwise become break-glass).
func principalTrust(arn string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + arn + `"},"Action":"sts:AssumeRole"}]}`
}

func accountTrust(acct string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
}

// longPath is a 150-character IAM path.
var longPath = func() string {
	p := "/org/engineering/platform/storage/archival/long-term-retention/compliance/audit/evidence/incident-response/"
	for len(p) < 149 {
		p += "x"
	}
	return p + "/"
}()

func codespacesSpec() *spec {
	const acct = "111122223333"
	dev := func(name, team string, created int, extra func(*specUser)) specUser {
		u := specUser{
			Name: name, Password: true, Tags: map[string]string{"team": team},
			AccessKeys: []specKey{{Active: on(), Created: days(created + 1)}},
			Groups:     []string{"Developers"}, Created: days(created),
		}
		if extra != nil {
			extra(&u)
		}
		return u
	}
	s3Deploy := `{"Version":"2012-10-17","Statement":[{"Sid":"Deploy","Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::codespaces-artifacts","arn:aws:s3:::codespaces-artifacts/*"]}]}`
	return &spec{
		Accounts: []specAccount{{
			ID:   acct,
			Name: "codespaces-prod",
			Groups: []specGroup{
				{Name: "Developers", ManagedPolicies: []string{powerARN}},
				{Name: "Admins", ManagedPolicies: []string{adminARN}},
			},
			Users: []specUser{
				dev("alice", "web", -400, func(u *specUser) { u.SSHKeys = 1 }),
				dev("bob", "web", -380, func(u *specUser) { u.SSHKeys = 1 }),
				dev("carol", "api", -350, func(u *specUser) { u.ServiceCredentials = 1 }),
				dev("dave", "api", -300, nil),
				dev("erin", "data", -200, func(u *specUser) {
					u.AccessKeys = append(u.AccessKeys, specKey{Active: off(), Created: days(-250)})
				}),
				{
					Name: "deploy", Path: "/service/", Tags: map[string]string{"purpose": "deploy"},
					AccessKeys:     []specKey{{Active: on(), Created: days(-500)}, {Active: on(), Created: days(-30)}},
					InlinePolicies: map[string]string{"deploy-artifacts": s3Deploy}, Created: days(-500),
				},
				{Name: "ci-runner", Path: "/service/", AccessKeys: []specKey{{Active: on()}}, ManagedPolicies: []string{s3ARN}, Created: days(-450)},
				{Name: "backup-operator", Password: true, AccessKeys: []specKey{{Active: on()}}, ManagedPolicies: []string{backupARN}, Created: days(-420)},
				{Name: "ops-admin", Password: true, AccessKeys: []specKey{{Active: on()}}, Groups: []string{"Admins"}, SSHKeys: 1, Created: days(-600)},
				{Name: "legacy-ftp", AccessKeys: []specKey{{Active: off(), Created: days(-1500)}}, Created: days(-1500)},
				{Name: "archivist", Path: longPath, Password: true, AccessKeys: []specKey{{Active: on()}}, ManagedPolicies: []string{readOnlyARN}, Created: days(-700)},
				{Name: "breakglass-admin", Password: true, Tags: map[string]string{BreakGlassTag: "true"}, ManagedPolicies: []string{adminARN}, Created: days(-900)},
			},
			Roles: []specRole{
				{Name: "BreakGlassAdmin", Description: "Emergency access; never touched by killswitch", ManagedPolicies: []string{adminARN},
					Trust: principalTrust("arn:aws:iam::" + acct + ":user/breakglass-admin"), Created: days(-900)},
				{Name: "AWSServiceRoleForSupport", Path: "/aws-service-role/support.amazonaws.com/", ManagedPolicies: []string{supportSLR}, Created: days(-1000)},
				{Name: "AWSServiceRoleForTrustedAdvisor", Created: days(-1000)},
				{Name: "AWSReservedSSO_AdministratorAccess_abc123", Path: "/aws-reserved/sso.amazonaws.com/", ManagedPolicies: []string{adminARN}, Created: days(-800)},
				{Name: "AWSReservedSSO_ReadOnlyAccess_def456", ManagedPolicies: []string{readOnlyARN}, Created: days(-800)},
				{Name: "app-server", Trust: serviceTrust("ec2.amazonaws.com"), ManagedPolicies: []string{s3ARN}, Created: days(-450)},
				{Name: "backup-lambda", Trust: serviceTrust("lambda.amazonaws.com"), ManagedPolicies: []string{backupARN}, Created: days(-420)},
				{Name: "ci-deploy", Trust: accountTrust(acct), Tags: map[string]string{"purpose": "deploy"}, Created: days(-300)},
			},
			Resources: map[string][]string{
				"snapshot":    {"snap-0a1b2c3d4e5f60001", "snap-0a1b2c3d4e5f60002", "snap-0a1b2c3d4e5f60003", "snap-0a1b2c3d4e5f60004", "snap-0a1b2c3d4e5f60005"},
				"ami":         {"ami-0c0de5ace0000001", "ami-0c0de5ace0000002", "ami-0c0de5ace0000003"},
				"volume":      {"vol-0c0de5ace0000001", "vol-0c0de5ace0000002", "vol-0c0de5ace0000003"},
				"bucket":      {"codespaces-backups", "codespaces-repos", "codespaces-artifacts"},
				"backup":      {"b0c0de5a-0000-4000-8000-000000000001", "b0c0de5a-0000-4000-8000-000000000002"},
				"db-snapshot": {"codespaces-db-2014-06-16"},
				"table":       {"codespaces-sessions"},
				"log-group":   {"/codespaces/app"},
				"trail":       {"codespaces-trail"},
			},
		}},
	}
}

func orgSpec() *spec {
	type member struct {
		id, name, ou string
		users, roles int
	}
	members := []member{
		{"111111111111", "management", "", 20, 10},
		{"222222222222", "prod", "Prod", 150, 40},
		{"333333333333", "staging", "NonProd", 60, 20},
		{"444444444444", "security", "Security", 20, 10},
		{"555555555555", "sandbox", "NonProd/Sandbox", 30, 10},
	}
	const mgmt = "111111111111"
	s := &spec{Organization: true, SCPEnabled: true, RootAccess: &specRootAccess{CredentialsManagement: true, RootSessions: true}}
	for i, m := range members {
		a := specAccount{
			ID: m.id, Name: m.name, OU: m.ou, Management: m.id == mgmt,
			Generate: &specGenerate{Users: m.users, Roles: m.roles},
			Groups:   []specGroup{{Name: "Developers", ManagedPolicies: []string{powerARN}}},
			Users: []specUser{
				{Name: "admin-" + m.name, Password: true, AccessKeys: []specKey{{Active: on()}}, ManagedPolicies: []string{adminARN}, Created: days(-700)},
				{Name: "dev-" + m.name, Password: true, AccessKeys: []specKey{{Active: on()}, {Active: off()}}, Groups: []string{"Developers"}, Created: days(-300)},
				{Name: "deploy", Path: "/service/", AccessKeys: []specKey{{Active: on()}, {Active: on()}}, Created: days(-500)},
				{Name: "breakglass", Password: true, Tags: map[string]string{BreakGlassTag: "true"}, ManagedPolicies: []string{adminARN}, Created: days(-900)},
			},
			Roles: []specRole{
				{Name: "BreakGlassAdmin", ManagedPolicies: []string{adminARN}, Trust: principalTrust("arn:aws:iam::" + mgmt + ":user/breakglass"), Created: days(-900)},
				{Name: "AWSServiceRoleForSupport", ManagedPolicies: []string{supportSLR}, Created: days(-1000)},
				{Name: "AWSReservedSSO_AdministratorAccess_" + fmt.Sprintf("%06x", 0xa00000+i), ManagedPolicies: []string{adminARN}, Created: days(-800)},
				{Name: "app-server", Trust: serviceTrust("ec2.amazonaws.com"), Created: days(-400)},
			},
			Resources: map[string][]string{
				"snapshot": {fmt.Sprintf("snap-%s0001", m.id), fmt.Sprintf("snap-%s0002", m.id)},
				"ami":      {fmt.Sprintf("ami-%s01", m.id)},
				"volume":   {fmt.Sprintf("vol-%s01", m.id)},
				"bucket":   {m.name + "-" + m.id + "-backups", m.name + "-" + m.id + "-data"},
				"backup":   {fmt.Sprintf("rp-%s-0001", m.id)},
			},
		}
		if m.id == mgmt {
			a.Roles = append(a.Roles, specRole{Name: "AWSServiceRoleForOrganizations", Created: days(-1000)})
			a.Resources["trail"] = []string{"org-trail"}
		} else {
			a.Roles = append(a.Roles, specRole{Name: "OrganizationAccountAccessRole", ManagedPolicies: []string{adminARN}, Trust: accountTrust(mgmt), Created: days(-1000)})
		}
		if m.id == "222222222222" {
			// an unlocked region-level rule: deleted snapshots are
			// restorable until someone deletes the rule
			a.RecycleBinRules = []specRbinRule{{ID: "prod-snapshots-rbin", ResourceType: RbinSnapshot, RetentionDays: 7}}
			a.Resources["db-snapshot"] = []string{"prod-db-final"}
			a.Resources["table"] = []string{"prod-orders"}
			a.Resources["log-group"] = []string{"/prod/app"}
			// a root user with a password, an old access key and no MFA
			a.Root = &specRoot{Password: true, AccessKeys: []specKey{{Active: on(), Created: days(-2000)}}}
		}
		s.Accounts = append(s.Accounts, a)
	}
	return s
}
