package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a YAML organization file.
const MaxFileSize = 8 << 20

// spec is the YAML organization format (see the package documentation);
// the built-in organizations are specs too, so both share one builder.
type spec struct {
	Organization bool          `yaml:"organization"`
	SCPEnabled   bool          `yaml:"scp_enabled"`
	Accounts     []specAccount `yaml:"accounts"`
	Faults       []specFault   `yaml:"faults"`
	// RateLimits throttle calls per account and service (throttle.go).
	RateLimits map[string]RateLimit `yaml:"rate_limits"`
	// RootAccess: centralised root access (root.go).
	RootAccess *specRootAccess `yaml:"root_access"`
}

type specRootAccess struct {
	CredentialsManagement bool `yaml:"credentials_management"`
	RootSessions          bool `yaml:"root_sessions"`
}

// specRoot is an account's root user; absent: a password and one MFA device.
type specRoot struct {
	Password            bool      `yaml:"password"`
	AccessKeys          []specKey `yaml:"access_keys"`
	MFA                 int       `yaml:"mfa"`
	SigningCertificates int       `yaml:"signing_certificates"`
}

type specAccount struct {
	ID         string              `yaml:"id"`
	Name       string              `yaml:"name"`
	OU         string              `yaml:"ou"`
	Management bool                `yaml:"management"`
	Policies   []specPolicy        `yaml:"policies"`
	Groups     []specGroup         `yaml:"groups"`
	Users      []specUser          `yaml:"users"`
	Roles      []specRole          `yaml:"roles"`
	Generate   *specGenerate       `yaml:"generate"`
	Resources  map[string][]string `yaml:"resources"`
	Root       *specRoot           `yaml:"root"`
	// RecycleBinRules: Recycle Bin retention rules (backups.go).
	RecycleBinRules []specRbinRule `yaml:"recycle_bin_rules"`
}

type specRbinRule struct {
	ID              string            `yaml:"id"`
	Region          string            `yaml:"region"`
	ResourceType    string            `yaml:"resource_type"` // EBS_SNAPSHOT | EC2_IMAGE
	RetentionDays   int32             `yaml:"retention_days"`
	Locked          bool              `yaml:"locked"`
	UnlockDelayDays int32             `yaml:"unlock_delay_days"`
	ResourceTags    map[string]string `yaml:"resource_tags"`
	ExcludeTags     map[string]string `yaml:"exclude_tags"`
}

type specUser struct {
	Name               string            `yaml:"name"`
	Path               string            `yaml:"path"`
	Password           bool              `yaml:"password"`
	Tags               map[string]string `yaml:"tags"`
	AccessKeys         []specKey         `yaml:"access_keys"`
	SSHKeys            int               `yaml:"ssh_keys"`
	ServiceCredentials int               `yaml:"service_credentials"`
	Groups             []string          `yaml:"groups"`
	InlinePolicies     map[string]string `yaml:"inline_policies"`
	ManagedPolicies    []string          `yaml:"managed_policies"`
	Created            time.Time         `yaml:"created"`
}

type specKey struct {
	ID      string    `yaml:"id"`
	Active  *bool     `yaml:"active"`
	Created time.Time `yaml:"created"`
}

type specRole struct {
	Name            string            `yaml:"name"`
	Path            string            `yaml:"path"`
	Description     string            `yaml:"description"`
	Tags            map[string]string `yaml:"tags"`
	Trust           string            `yaml:"trust"`
	InlinePolicies  map[string]string `yaml:"inline_policies"`
	ManagedPolicies []string          `yaml:"managed_policies"`
	Created         time.Time         `yaml:"created"`
}

type specGroup struct {
	Name            string            `yaml:"name"`
	Path            string            `yaml:"path"`
	InlinePolicies  map[string]string `yaml:"inline_policies"`
	ManagedPolicies []string          `yaml:"managed_policies"`
}

type specPolicy struct {
	Name        string `yaml:"name"`
	Path        string `yaml:"path"`
	Description string `yaml:"description"`
	Document    string `yaml:"document"`
}

type specGenerate struct {
	Users int `yaml:"users"`
	Roles int `yaml:"roles"`
}

// Load reads a YAML organization (see the package documentation). Unknown
// keys, a second document, more than MaxFileSize bytes and every value AWS
// would refuse are errors.
func Load(r io.Reader) (*Org, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("sim: read organization: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("sim: organization file is larger than %d bytes", MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("sim: organization file is empty")
		}
		return nil, fmt.Errorf("sim: organization file: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("sim: organization file must hold exactly one YAML document")
	}
	o, err := build(&s)
	if err != nil {
		return nil, fmt.Errorf("sim: organization file: %w", err)
	}
	if err := injectFaults(o, s.Faults); err != nil {
		return nil, fmt.Errorf("sim: organization file: %w", err)
	}
	if err := applyRates(o, s.RateLimits); err != nil {
		return nil, fmt.Errorf("sim: organization file: %w", err)
	}
	return o, nil
}

// LoadFile reads a YAML organization file.
func LoadFile(path string) (*Org, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	defer f.Close()
	o, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

// build validates a spec as hostile input and builds the Org.
func build(s *spec) (*Org, error) {
	if len(s.Accounts) == 0 {
		return nil, errors.New("accounts: at least one account is required")
	}
	if len(s.Accounts) > MaxAccounts {
		return nil, fmt.Errorf("accounts: %d accounts, at most %d", len(s.Accounts), MaxAccounts)
	}
	principals, resources := 0, 0
	mgmt := -1
	for i, a := range s.Accounts {
		if err := validAccountID(a.ID); err != nil {
			return nil, fmt.Errorf("accounts[%d]: %w", i, err)
		}
		if a.Management {
			if mgmt >= 0 {
				return nil, fmt.Errorf("accounts[%d] (%s): only one account can be the management account (also %s)", i, a.ID, s.Accounts[mgmt].ID)
			}
			mgmt = i
		}
		if a.Generate != nil {
			if a.Generate.Users < 0 || a.Generate.Roles < 0 {
				return nil, fmt.Errorf("accounts[%d] (%s): generate counts must not be negative", i, a.ID)
			}
			if a.Generate.Users > MaxPrincipals || a.Generate.Roles > MaxPrincipals {
				return nil, fmt.Errorf("accounts[%d] (%s): generate: more than %d principals", i, a.ID, MaxPrincipals)
			}
			principals += a.Generate.Users + a.Generate.Roles
		}
		principals += len(a.Users) + len(a.Roles) + len(a.Groups)
		if principals > MaxPrincipals {
			return nil, fmt.Errorf("more than %d principals in total", MaxPrincipals)
		}
		if len(a.Policies) > MaxPoliciesPerAccount {
			return nil, fmt.Errorf("accounts[%d] (%s): %d policies, at most %d", i, a.ID, len(a.Policies), MaxPoliciesPerAccount)
		}
		for _, ids := range a.Resources {
			resources += len(ids)
		}
		if resources > MaxResources {
			return nil, fmt.Errorf("more than %d resources in total", MaxResources)
		}
	}
	var o *Org
	if s.Organization {
		if mgmt < 0 {
			return nil, errors.New("organization: true needs exactly one account with management: true")
		}
		m := s.Accounts[mgmt]
		if m.OU != "" {
			return nil, fmt.Errorf("accounts[%d] (%s): the management account lives under the root (no ou)", mgmt, m.ID)
		}
		o = NewOrganization(m.ID)
		if m.Name != "" {
			if err := validAccountName(m.Name); err != nil {
				return nil, fmt.Errorf("accounts[%d] (%s): %w", mgmt, m.ID, err)
			}
			o.accounts[m.ID].name = m.Name
		}
	} else {
		if len(s.Accounts) != 1 {
			return nil, fmt.Errorf("a standalone account file (organization: false) holds exactly one account, not %d", len(s.Accounts))
		}
		if s.SCPEnabled {
			return nil, errors.New("scp_enabled needs organization: true")
		}
		a := s.Accounts[0]
		if a.Management || a.OU != "" {
			return nil, errors.New("management and ou need organization: true")
		}
		o = NewStandalone(a.ID)
		if a.Name != "" {
			if err := validAccountName(a.Name); err != nil {
				return nil, fmt.Errorf("accounts[0] (%s): %w", a.ID, err)
			}
			o.accounts[a.ID].name = a.Name
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, sa := range s.Accounts {
		if i != mgmt && s.Organization {
			if err := o.addAccountLocked(sa.ID, sa.Name, sa.OU); err != nil {
				return nil, fmt.Errorf("accounts[%d]: %w", i, err)
			}
		}
	}
	for i := range s.Accounts {
		sa := &s.Accounts[i]
		if err := o.buildAccountLocked(o.accounts[sa.ID], sa); err != nil {
			return nil, fmt.Errorf("accounts[%d] (%s): %w", i, sa.ID, err)
		}
	}
	if s.SCPEnabled {
		o.enableSCPLocked()
	}
	if err := o.buildRootsLocked(s); err != nil {
		return nil, err
	}
	return o, nil
}

func orBase(t time.Time) time.Time {
	if t.IsZero() {
		return BaseTime
	}
	return t
}

func (o *Org) buildAccountLocked(a *account, sa *specAccount) error {
	for i, p := range sa.Policies {
		if _, err := o.addPolicyLocked(a, Policy{Name: p.Name, Path: p.Path, Description: p.Description, Document: p.Document, Created: BaseTime}); err != nil {
			return fmt.Errorf("policies[%d] (%s): %w", i, clip(p.Name), err)
		}
	}
	for i, g := range sa.Groups {
		if err := o.addGroupLocked(a, Group{Name: g.Name, Path: g.Path, InlinePolicies: g.InlinePolicies, ManagedPolicies: g.ManagedPolicies, Created: BaseTime}); err != nil {
			return fmt.Errorf("groups[%d] (%s): %w", i, clip(g.Name), err)
		}
	}
	for i, u := range sa.Users {
		if len(u.AccessKeys) > maxAccessKeys {
			return fmt.Errorf("users[%d] (%s): %d access keys, at most %d", i, clip(u.Name), len(u.AccessKeys), maxAccessKeys)
		}
		keys := make([]AccessKey, 0, len(u.AccessKeys))
		for _, k := range u.AccessKeys {
			active := k.Active == nil || *k.Active
			keys = append(keys, AccessKey{ID: k.ID, Active: active, Created: k.Created})
		}
		err := o.addUserLocked(a, User{
			Name: u.Name, Path: u.Path, Tags: u.Tags, Password: u.Password, AccessKeys: keys,
			SSHKeys: u.SSHKeys, ServiceCredentials: u.ServiceCredentials, Groups: u.Groups,
			InlinePolicies: u.InlinePolicies, ManagedPolicies: u.ManagedPolicies, Created: orBase(u.Created),
		})
		if err != nil {
			return fmt.Errorf("users[%d] (%s): %w", i, clip(u.Name), err)
		}
	}
	for i, r := range sa.Roles {
		_, err := o.addRoleLocked(a, Role{
			Name: r.Name, Path: r.Path, Description: r.Description, Tags: r.Tags, Trust: r.Trust,
			InlinePolicies: r.InlinePolicies, ManagedPolicies: r.ManagedPolicies, Created: orBase(r.Created),
		})
		if err != nil {
			return fmt.Errorf("roles[%d] (%s): %w", i, clip(r.Name), err)
		}
	}
	if g := sa.Generate; g != nil {
		if err := o.generateLocked(a, g.Users, g.Roles); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	kinds := sortedMapKeys(sa.Resources)
	for _, kind := range kinds {
		ids := append([]string(nil), sa.Resources[kind]...)
		sort.Strings(ids)
		for _, id := range ids {
			if err := o.addResourceLocked(a, kind, id); err != nil {
				return fmt.Errorf("resources: %w", err)
			}
		}
	}
	for _, r := range sa.RecycleBinRules {
		lock := RbinUnlocked
		if r.Locked {
			lock = RbinLocked
		}
		if _, err := o.addRuleLocked(a, RecycleBinRule{ID: r.ID, Region: r.Region, ResourceType: r.ResourceType, RetentionDays: r.RetentionDays,
			Lock: lock, UnlockDelayDays: r.UnlockDelayDays, ResourceTags: r.ResourceTags, ExcludeTags: r.ExcludeTags}); err != nil {
			return fmt.Errorf("recycle_bin_rules: %w", err)
		}
	}
	return nil
}

var generatedTeams = []string{"web", "api", "data", "platform"}

// generateLocked adds users user-0001... and roles role-0001... with
// deterministic, varied credentials and creation times.
func (o *Org) generateLocked(a *account, users, roles int) error {
	for i := 1; i <= users; i++ {
		u := User{
			Name:    fmt.Sprintf("user-%04d", i),
			Path:    "/",
			Tags:    map[string]string{"team": generatedTeams[i%len(generatedTeams)]},
			Created: BaseTime.Add(time.Duration(i) * time.Minute),
		}
		if i%10 == 0 {
			u.Path = "/generated/"
		}
		u.Password = i%3 == 0
		u.AccessKeys = []AccessKey{{Active: i%7 != 0}}
		if i%5 == 0 {
			u.AccessKeys = append(u.AccessKeys, AccessKey{Active: true})
		}
		if i%10 == 0 {
			u.SSHKeys = 1
		}
		if i%25 == 0 {
			u.ServiceCredentials = 1
		}
		if err := o.addUserLocked(a, u); err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
	}
	for i := 1; i <= roles; i++ {
		r := Role{Name: fmt.Sprintf("role-%04d", i), Created: BaseTime.Add(time.Duration(i) * time.Minute)}
		switch {
		case i%5 == 0:
			r.Trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		case i%3 == 0:
			r.Trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		}
		if i%4 == 0 {
			r.Tags = map[string]string{"team": generatedTeams[i%len(generatedTeams)]}
		}
		if _, err := o.addRoleLocked(a, r); err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
	}
	return nil
}
