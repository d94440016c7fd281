package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/audit"
)

// Config is the YAML configuration of CONTRACT.md. Unknown keys are an
// error; secrets come only from the environment.
type Config struct {
	Listen     string           `yaml:"listen"`
	Slack      SlackConfig      `yaml:"slack"`
	Approval   ApprovalConfig   `yaml:"approval"`
	BreakGlass BreakGlassConfig `yaml:"break_glass"`
	AWS        AWSConfig        `yaml:"aws"`
	Store      StoreConfig      `yaml:"store"`
	Audit      AuditConfig      `yaml:"audit"`
	Service    ServiceConfig    `yaml:"service"`
}

// ServiceConfig is the service: section: the bound on serve's planning
// and running (bot.Config.Workers and Queue).
type ServiceConfig struct {
	Workers int `yaml:"workers"` // plans and runs worked on at once (default bot.DefaultWorkers)
	Queue   int `yaml:"queue"`   // how many more wait before a command is answered "busy" (default bot.DefaultQueue)
}

// AuditConfig is the audit: section: the checkpoints that anchor the audit
// chain outside the database. The signing key is only in the environment
// (KILLSWITCH_AUDIT_KEY); the public key here verifies checkpoints.
type AuditConfig struct {
	PublicKey       string `yaml:"public_key"`       // base64 Ed25519 public key
	CheckpointEvery int    `yaml:"checkpoint_every"` // a checkpoint at least every N entries (default 100)
}

// SlackConfig is the slack: section.
type SlackConfig struct {
	TeamID     string `yaml:"team_id"`
	Channel    string `yaml:"channel"`
	APIURL     string `yaml:"api_url"`
	SocketMode bool   `yaml:"socket_mode"`
	// PublicURL is the https base URL Slack and people reach serve at:
	// the app manifest's request URLs, the drill report links.
	PublicURL string `yaml:"public_url"`
}

// ApprovalConfig is the approval: section.
type ApprovalConfig struct {
	Requesters []string      `yaml:"requesters"`
	Approvers  []string      `yaml:"approvers"`
	Required   int           `yaml:"required"`
	Expiry     time.Duration `yaml:"expiry"`
}

// BreakGlassConfig is the break_glass: section.
type BreakGlassConfig struct {
	Principals []string `yaml:"principals"`
	Tag        string   `yaml:"tag"`
	// BaselineAge: an exemption by tag or by a pattern with wildcards
	// counts only when an exemption baseline this old confirms it.
	BaselineAge time.Duration `yaml:"baseline_age"`
	// BaselineInterval: how often serve records the exemption baseline
	// while no request is pending, approved or running.
	BaselineInterval time.Duration `yaml:"baseline_interval"`
	// IdentityCenterUsers and IdentityCenterGroups: IAM Identity Center
	// user names and group display names never touched (their assignments
	// stay; their users' sessions are not revoked).
	IdentityCenterUsers  []string `yaml:"identity_center_users"`
	IdentityCenterGroups []string `yaml:"identity_center_groups"`
}

// AWSConfig is the aws: section.
type AWSConfig struct {
	Backend           string   `yaml:"backend"`
	Sim               string   `yaml:"sim"`
	Region            string   `yaml:"region"`
	EndpointURL       string   `yaml:"endpoint_url"`
	RoleName          string   `yaml:"role_name"`
	ExternalID        string   `yaml:"external_id"`
	ManagementAccount string   `yaml:"management_account"`
	Accounts          []string `yaml:"accounts"`
	Organization      bool     `yaml:"organization"`
	Concurrency       int      `yaml:"concurrency"`
	// Regions: the regions backup-readiness and lock-backups read and lock
	// (default: region, then every enabled region, at most 20).
	Regions []string `yaml:"regions"`
	// PerAccount: principals worked on at once inside one account.
	PerAccount int `yaml:"per_account"`
	// ConfirmTimeout bounds the wait for the guardrail to be shown in
	// effect (the canary's dry run refused) before access is cut.
	ConfirmTimeout time.Duration `yaml:"confirm_timeout"`
	// CallTimeout bounds one AWS call, retries included (default 30s): a
	// hung endpoint fails each call instead of stalling the run.
	CallTimeout time.Duration `yaml:"call_timeout"`
}

// StoreConfig is the store: section.
type StoreConfig struct {
	Driver string `yaml:"driver"`
	DSN    string `yaml:"dsn"`
}

//go:embed default.yaml
var defaultConfig []byte

// maxConfigBytes caps a configuration file: it is hostile input like any other.
const maxConfigBytes = 1 << 20

// loadConfig reads the file, or the embedded default when path is "". A
// relative SQLite store.dsn in a file is resolved against the file's folder.
func loadConfig(path string) (*Config, error) {
	data := defaultConfig
	name := "embedded default configuration"
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
		if err != nil {
			return nil, fmt.Errorf("configuration %s: %w", path, err)
		}
		if len(data) > maxConfigBytes {
			return nil, fmt.Errorf("configuration %s is larger than %d bytes", path, maxConfigBytes)
		}
		name = path
	}
	cfg, err := parseConfigFile(name, data)
	var ke *keyError
	if errors.As(err, &ke) {
		return nil, err // it names the file and the line
	}
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", name, err)
	}
	if path != "" && cfg.Store.Driver == "sqlite" {
		cfg.Store.DSN = resolveSQLite(filepath.Dir(path), cfg.Store.DSN)
	}
	return cfg, nil
}

// resolveSQLite joins dir and a relative SQLite DSN's file path, keeping a
// file: prefix and ?options; in-memory and absolute DSNs are unchanged.
func resolveSQLite(dir, dsn string) string {
	rest, prefix := dsn, ""
	if strings.HasPrefix(rest, "file:") {
		prefix, rest = "file:", rest[len("file:"):]
	}
	file, query := rest, ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		file, query = rest[:i], rest[i:]
	}
	if file == "" || file == ":memory:" || strings.Contains(strings.ToLower(query), "mode=memory") || filepath.IsAbs(file) {
		return dsn
	}
	return prefix + filepath.Join(dir, file) + query
}

func parseConfig(data []byte) (*Config, error) { return parseConfigFile("", data) }

// parseConfigFile parses and checks a configuration; name is the file for
// messages. An unknown key is a *keyError naming the file, the line and the
// keys valid there.
func parseConfigFile(name string, data []byte) (*Config, error) {
	cfg := &Config{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if len(root.Content) > 0 {
		if err := checkKeys(name, root.Content[0], reflect.TypeOf(Config{}), ""); err != nil {
			return nil, err
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// keyError is an unknown configuration key.
type keyError struct {
	file, section, key string
	line               int
	valid              []string
}

func (k *keyError) Error() string {
	where := "at the top level"
	if k.section != "" {
		where = "in " + k.section
	}
	file := k.file
	if file == "" {
		file = "configuration"
	}
	return fmt.Sprintf("%s:%d: unknown key %q %s (valid keys there: %s)", file, k.line, k.key, where, strings.Join(k.valid, ", "))
}

// checkKeys reports the first key of the mapping n that t (a struct) has no
// yaml field for, recursing into nested sections.
func checkKeys(file string, n *yaml.Node, t reflect.Type, section string) error {
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	var valid []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = t.Field(i).Type
		valid = append(valid, tag)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		if !ok {
			return &keyError{file: file, section: section, key: k.Value, line: k.Line, valid: valid}
		}
		sub := k.Value
		if section != "" {
			sub = section + "." + k.Value
		}
		if err := checkKeys(file, v, ft, sub); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Approval.Required == 0 {
		c.Approval.Required = 1
	}
	if c.Approval.Expiry == 0 {
		c.Approval.Expiry = 15 * time.Minute
	}
	if c.BreakGlass.Tag == "" {
		c.BreakGlass.Tag = "killswitch:break-glass"
	}
	if c.BreakGlass.BaselineAge == 0 {
		c.BreakGlass.BaselineAge = actions.DefaultBaselineMinAge
	}
	if c.BreakGlass.BaselineInterval == 0 {
		c.BreakGlass.BaselineInterval = time.Hour
	}
	if c.AWS.Backend == "" {
		c.AWS.Backend = "aws"
	}
	if c.AWS.Backend == "sim" && c.AWS.Sim == "" {
		c.AWS.Sim = "codespaces"
	}
	if c.AWS.Region == "" {
		c.AWS.Region = "us-east-1"
	}
	if c.AWS.RoleName == "" {
		c.AWS.RoleName = actions.DefaultBotRoleName
	}
	if c.AWS.CallTimeout == 0 {
		c.AWS.CallTimeout = awsapi.DefaultCallTimeout
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Audit.CheckpointEvery == 0 {
		c.Audit.CheckpointEvery = audit.DefaultCheckpointEvery
	}
	if c.Service.Workers == 0 {
		c.Service.Workers = bot.DefaultWorkers
	}
	if c.Service.Queue == 0 {
		c.Service.Queue = bot.DefaultQueue
	}
	if c.Store.DSN == "" && c.Store.Driver == "sqlite" {
		c.Store.DSN = "killswitch.db"
	}
}

var (
	reTeam    = regexp.MustCompile(`^T[A-Z0-9]{2,31}$`)
	reChannel = regexp.MustCompile(`^[CGD][A-Z0-9]{2,31}$`)
	reUser    = regexp.MustCompile(`^[UW][A-Z0-9]{2,31}$`)
	reRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

func (c *Config) validate() error {
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: want host:port, e.g. 127.0.0.1:8080", c.Listen)
	}
	if err := validPublicURL(c.Slack.PublicURL); err != nil {
		bad("%v", err)
	}
	if c.Slack.TeamID != "" && !reTeam.MatchString(c.Slack.TeamID) {
		bad("slack.team_id %q: a Slack team id looks like T0123ABCD", c.Slack.TeamID)
	}
	if c.Slack.Channel != "" && !reChannel.MatchString(c.Slack.Channel) {
		bad("slack.channel %q: a Slack channel id looks like C0123ABCD", c.Slack.Channel)
	}
	if c.Slack.APIURL != "" && !strings.HasPrefix(c.Slack.APIURL, "http://") && !strings.HasPrefix(c.Slack.APIURL, "https://") {
		bad("slack.api_url %q: want an http(s) URL", c.Slack.APIURL)
	}
	for _, u := range append(append([]string(nil), c.Approval.Requesters...), c.Approval.Approvers...) {
		if !reUser.MatchString(u) {
			bad("approval: %q is not a Slack user id (like U0123ABCD)", u)
		}
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{"approval.requesters", c.Approval.Requesters}, {"approval.approvers", c.Approval.Approvers}} {
		if d := duplicates(l.list); len(d) > 0 {
			bad("%s lists %s more than once: each person counts once toward approval.required (%d), so list each user id once", l.key, strings.Join(d, ", "), c.Approval.Required)
		}
	}
	if c.Approval.Required < 1 {
		bad("approval.required must be at least 1 (the two-person rule)")
	}
	if c.Approval.Expiry < time.Minute || c.Approval.Expiry > 24*time.Hour {
		bad("approval.expiry %s: between 1m and 24h", c.Approval.Expiry)
	}
	if len(c.Approval.Requesters) > 0 {
		for _, r := range c.Approval.Requesters {
			others := 0
			for _, a := range uniqueStrings(c.Approval.Approvers) {
				if a != r {
					others++
				}
			}
			if others < c.Approval.Required {
				bad("approval: requester %s can never get %d approval(s): list more approvers besides them", r, c.Approval.Required)
			}
		}
	}
	if err := actions.CheckBreakGlassIC(c.BreakGlass.IdentityCenterUsers, c.BreakGlass.IdentityCenterGroups); err != nil {
		bad("break_glass.identity_center_users/groups: %v", err)
	}
	for _, p := range c.BreakGlass.Principals {
		if err := actions.ValidatePattern(p); err != nil {
			bad("break_glass.principals: %v", err)
		}
	}
	if c.BreakGlass.BaselineAge < time.Hour || c.BreakGlass.BaselineAge > 30*24*time.Hour {
		bad("break_glass.baseline_age %s: between 1h and 720h (default 24h)", c.BreakGlass.BaselineAge)
	}
	if c.BreakGlass.BaselineInterval < time.Minute || c.BreakGlass.BaselineInterval > 24*time.Hour {
		bad("break_glass.baseline_interval %s: between 1m and 24h (default 1h)", c.BreakGlass.BaselineInterval)
	}
	switch c.AWS.Backend {
	case "aws":
		if !c.AWS.Organization && len(c.AWS.Accounts) == 0 && c.AWS.ManagementAccount == "" {
			bad("aws: list aws.accounts, or set organization: true with management_account")
		}
		if c.AWS.Organization && c.AWS.ManagementAccount == "" {
			bad("aws.organization: true needs aws.management_account")
		}
	case "sim":
	default:
		bad("aws.backend %q: aws or sim", c.AWS.Backend)
	}
	if !reRegion.MatchString(c.AWS.Region) {
		bad("aws.region %q: a region looks like us-east-1", c.AWS.Region)
	}
	if c.AWS.EndpointURL != "" && !strings.HasPrefix(c.AWS.EndpointURL, "http://") && !strings.HasPrefix(c.AWS.EndpointURL, "https://") {
		bad("aws.endpoint_url %q: want an http(s) URL", c.AWS.EndpointURL)
	}
	if c.AWS.ManagementAccount != "" && !actions.ValidAccountID(c.AWS.ManagementAccount) {
		bad("aws.management_account %q: an account id is 12 digits", c.AWS.ManagementAccount)
	}
	for _, a := range c.AWS.Accounts {
		if !actions.ValidAccountID(a) {
			bad("aws.accounts: %q: an account id is 12 digits", a)
		}
	}
	if c.AWS.Concurrency < 0 || c.AWS.Concurrency > 1000 {
		bad("aws.concurrency %d: between 1 and 1000 (default: every account in scope at once)", c.AWS.Concurrency)
	}
	for _, r := range c.AWS.Regions {
		if !reRegion.MatchString(r) {
			bad("aws.regions: %q is not an AWS region name (like eu-west-1)", r)
		}
	}
	if len(c.AWS.Regions) > actions.MaxBackupRegions {
		bad("aws.regions: %d regions; at most %d", len(c.AWS.Regions), actions.MaxBackupRegions)
	}
	if c.AWS.PerAccount < 0 || c.AWS.PerAccount > 64 {
		bad("aws.per_account %d: between 1 and 64 (default %d)", c.AWS.PerAccount, actions.DefaultPerAccount)
	}
	if c.AWS.ConfirmTimeout < 0 || c.AWS.ConfirmTimeout > 15*time.Minute {
		bad("aws.confirm_timeout %s: between 1s and 15m (default %s)", c.AWS.ConfirmTimeout, actions.DefaultConfirmTimeout)
	}
	if c.AWS.CallTimeout < time.Second || c.AWS.CallTimeout > 10*time.Minute {
		bad("aws.call_timeout %s: between 1s and 10m (default %s)", c.AWS.CallTimeout, awsapi.DefaultCallTimeout)
	}
	switch c.Store.Driver {
	case "sqlite", "postgres":
		if c.Store.DSN == "" {
			bad("store.dsn is empty")
		}
	default:
		bad("store.driver %q: sqlite or postgres", c.Store.Driver)
	}
	if c.Audit.PublicKey != "" {
		if _, err := audit.ParsePublicKey(c.Audit.PublicKey); err != nil {
			bad("audit.public_key: %v", err)
		}
	}
	if c.Audit.CheckpointEvery < 1 || c.Audit.CheckpointEvery > 1_000_000 {
		bad("audit.checkpoint_every %d: between 1 and 1000000 entries", c.Audit.CheckpointEvery)
	}
	if c.Service.Workers < 1 || c.Service.Workers > 256 {
		bad("service.workers %d: between 1 and 256 (default %d)", c.Service.Workers, bot.DefaultWorkers)
	}
	if c.Service.Queue < 1 || c.Service.Queue > 100_000 {
		bad("service.queue %d: between 1 and 100000 (default %d)", c.Service.Queue, bot.DefaultQueue)
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// duplicates returns the values listed more than once, in order of first repeat.
func duplicates(list []string) []string {
	seen := map[string]int{}
	var out []string
	for _, v := range list {
		seen[v]++
		if seen[v] == 2 {
			out = append(out, v)
		}
	}
	return out
}

// uniqueStrings returns list without repeats, in order.
func uniqueStrings(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
