package drill

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// Scenario is a tabletop exercise: the organization, what the intruder holds
// and does, what the responders do and when, and the service latencies and
// policy propagation delays of the simulated AWS. The README documents the
// YAML form with a commented example; the built-ins are such files
// (scenarios/*.yaml).
type Scenario struct {
	Name        string              `yaml:"name"`
	Description string              `yaml:"description"`
	Org         OrgRef              `yaml:"org"`
	Seed        int64               `yaml:"seed"`
	Duration    Duration            `yaml:"duration"`    // the drill ends here at the latest (default 2h)
	Latency     map[string]Duration `yaml:"latency"`     // per service (action prefix), "*" default
	Propagation map[string]Duration `yaml:"propagation"` // policy changes, per service
	Intruder    Intruder            `yaml:"intruder"`
	Responders  []Move              `yaml:"responders"`
	// Faults make simulated calls fail (throttle) or slow (latency), as
	// the organization file's faults: do.
	Faults []Fault `yaml:"faults"`
	// RateLimits throttle the simulated calls per account and service on
	// the drill's clock (sim.ResolveRateLimits: e.g. {default: {}} or
	// {iam: {rate: 20, burst: 40}}); none: no throttling.
	RateLimits map[string]sim.RateLimit `yaml:"rate_limits"`
	// Without turns lockdown's defenses off, to show what each buys
	// (actions.Defenses: baseline, confirm, coverage, freeze, order,
	// per-principal).
	Without []string `yaml:"without"`

	file  string         // where it was read from ("" for built-ins: "built-in NAME")
	lines map[string]int // YAML path -> line, for messages
}

// OrgRef is the organization: a built-in name, a file (relative to the
// scenario file), or an inline organization document.
type OrgRef struct {
	Name   string
	Inline []byte
}

// UnmarshalYAML accepts a string or a mapping.
func (r *OrgRef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		r.Name = n.Value
		return nil
	case yaml.MappingNode:
		b, err := yaml.Marshal(n)
		if err != nil {
			return err
		}
		r.Inline = b
		return nil
	}
	return fmt.Errorf("line %d: org: give a built-in name (%s), a file name, or an organization mapping", n.Line, strings.Join(sim.BuiltinNames(), ", "))
}

// Intruder is the adversary.
type Intruder struct {
	Holds    []Hold   `yaml:"holds"`    // credentials at the start
	Setup    []string `yaml:"setup"`    // techniques before the response (backup logins)
	Playbook []string `yaml:"playbook"` // techniques once it notices, in order; "all" = every technique
	Random   int      `yaml:"random"`   // instead of a playbook: this many techniques drawn with the seed
	Rate     float64  `yaml:"rate"`     // AWS calls per second (default 1)
	Notices  Notice   `yaml:"notices"`
}

// Notice is when the intruder notices the response.
type Notice struct {
	On    string   `yaml:"on"`    // first-change (default) | first-denied | credential-cut | never
	After Duration `yaml:"after"` // and reacts this long after
}

// Hold is one credential the intruder holds at the start.
type Hold struct {
	Account string `yaml:"account"` // 12 digits; default the organization's first account
	User    string `yaml:"user"`    // an IAM user: its access key (key:) or console password (console: true)
	Key     int    `yaml:"key"`     // which of the user's access keys (0 or 1)
	Console bool   `yaml:"console"`
	Role    string `yaml:"role"` // a session of this role, issued at the start
}

// Move is one responder move.
type Move struct {
	At      Duration `yaml:"at"`      // since the intrusion began (commands and manual moves)
	User    string   `yaml:"user"`    // the responder's Slack user id
	Command string   `yaml:"command"` // a /killswitch command, e.g. "lockdown --all --incident IR-1 reason"
	Approve bool     `yaml:"approve"` // approve the newest pending request...
	After   Duration `yaml:"after"`   // ...this long after its card appears
	Manual  string   `yaml:"manual"`  // the 2014 way, in the console: "change-password USER"
}

// Fault is a simulated AWS fault.
type Fault struct {
	Account   string   `yaml:"account"`   // 12 digits; empty: every account
	Operation string   `yaml:"operation"` // e.g. ListAccessKeys or IAM.ListPolicies; "*" every operation
	Throttle  bool     `yaml:"throttle"`
	Times     int      `yaml:"times"` // 0: every call
	Latency   Duration `yaml:"latency"`
}

// Duration is a YAML duration ("90s", "3m", "1h30m").
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration such as 90s, 3m or 1h30m", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write it like 90s, 3m or 1h30m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Limits on scenario files (hostile input).
const (
	maxScenarioFile = 1 << 20
	maxMoves        = 100
	maxTechniques   = 200
	maxHolds        = 50
	maxDuration     = 24 * time.Hour
	maxLatency      = time.Minute
	maxPropagation  = 10 * time.Minute
	maxRate         = 1000
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// Scenarios lists the built-in scenarios.
func Scenarios() []string {
	ents, _ := builtinFS.ReadDir("scenarios")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// BuiltinSource returns a built-in scenario's YAML.
func BuiltinSource(name string) ([]byte, bool) {
	b, err := builtinFS.ReadFile("scenarios/" + name + ".yaml")
	return b, err == nil
}

// Open returns a built-in scenario by name, or reads a scenario file (a
// name with a slash or a .yaml/.yml suffix is a file).
func Open(nameOrFile string) (*Scenario, error) {
	if b, ok := BuiltinSource(nameOrFile); ok {
		return Parse(b, "built-in "+nameOrFile, "")
	}
	if !strings.ContainsAny(nameOrFile, `/\`) && !strings.HasSuffix(nameOrFile, ".yaml") && !strings.HasSuffix(nameOrFile, ".yml") {
		return nil, &FileError{File: nameOrFile, Msg: fmt.Sprintf("unknown scenario: choose a built-in (%s) or give a YAML file", strings.Join(Scenarios(), ", "))}
	}
	f, err := os.Open(nameOrFile)
	if err != nil {
		return nil, &FileError{File: nameOrFile, Msg: errors.Unwrap(err).Error() + ": give the path of a scenario YAML file"}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScenarioFile+1))
	if err != nil {
		return nil, &FileError{File: nameOrFile, Msg: err.Error()}
	}
	if len(b) > maxScenarioFile {
		return nil, &FileError{File: nameOrFile, Msg: fmt.Sprintf("larger than %d bytes", maxScenarioFile)}
	}
	return Parse(b, nameOrFile, filepath.Dir(nameOrFile))
}

// FileError is a mistake in a scenario file: the file, the line (0 when
// unknown) and what to write instead.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Parse reads a scenario document; dir resolves a relative org file.
func Parse(b []byte, file, dir string) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlError(file, err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: 1, Msg: "a scenario is a YAML mapping (name:, org:, intruder:, responders:, ...)"}
	}
	s := &Scenario{file: file, lines: map[string]int{}}
	if err := checkKeys(root.Content[0], reflect.TypeOf(*s), "", s.lines); err != nil {
		err.File = file
		return nil, err
	}
	if err := root.Content[0].Decode(s); err != nil {
		return nil, yamlError(file, err)
	}
	if s.Org.Name != "" && !slices.Contains(sim.BuiltinNames(), s.Org.Name) && dir != "" && !filepath.IsAbs(s.Org.Name) {
		s.Org.Name = filepath.Join(dir, s.Org.Name)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

var reYAMLLine = regexp.MustCompile(`line (\d+): (.*)`)

func yamlError(file string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
		line := 0
		fmt.Sscan(m[1], &line)
		return &FileError{File: file, Line: line, Msg: strings.TrimPrefix(m[2], "yaml: ")}
	}
	return &FileError{File: file, Msg: msg}
}

// checkKeys walks a YAML node against a Go type: an unknown key is an
// error naming the line and the keys valid at that level; lines records
// where each path is.
func checkKeys(n *yaml.Node, t reflect.Type, path string, lines map[string]int) *FileError {
	lines[path] = n.Line
	if t == reflect.TypeOf(OrgRef{}) || t == reflect.TypeOf(Duration(0)) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return &FileError{Line: n.Line, Msg: fmt.Sprintf("%s: expected a mapping with keys %s", orTop(path), strings.Join(yamlKeys(t), ", "))}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				return &FileError{Line: k.Line, Msg: fmt.Sprintf("unknown key %q in %s: valid keys are %s", k.Value, orTop(path), strings.Join(yamlKeys(t), ", "))}
			}
			if err := checkKeys(v, f.Type, join(path, k.Value), lines); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return &FileError{Line: n.Line, Msg: fmt.Sprintf("%s: expected a list (- item per line, or [a, b])", orTop(path))}
		}
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return &FileError{Line: n.Line, Msg: fmt.Sprintf("%s: expected a mapping", orTop(path))}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), lines); err != nil {
				return err
			}
		}
	}
	return nil
}

func orTop(path string) string {
	if path == "" {
		return "the scenario"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" && tag == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// errAt is a validation error at a YAML path.
func (s *Scenario) errAt(path, format string, a ...any) *FileError {
	line, ok := s.lines[path]
	for !ok && path != "" { // the nearest enclosing path that was written
		if i := strings.LastIndexAny(path, ".["); i >= 0 {
			path = path[:i]
		} else {
			path = ""
		}
		line, ok = s.lines[path]
	}
	return &FileError{File: s.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

var (
	reName      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	reSlackID   = regexp.MustCompile(`^U[A-Z0-9]{2,31}$`)
	reIAMName   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	reAccount   = regexp.MustCompile(`^\d{12}$`)
	reService   = regexp.MustCompile(`^([a-z0-9-]{2,32}|\*)$`)
	reOperation = regexp.MustCompile(`^(\*|([A-Za-z]{2,32}\.)?[A-Z][A-Za-z0-9]{1,63})$`)
)

func printable(s string, max int) bool {
	return len(s) <= max && strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) < 0
}

// validate checks every value as hostile input and fills defaults.
func (s *Scenario) validate() error {
	if !reName.MatchString(s.Name) {
		return s.errAt("name", "name %q: write 1-64 lower-case letters, digits and dashes, e.g. name: my-exercise", clip(s.Name))
	}
	if !printable(s.Description, 2000) {
		return s.errAt("description", "description: at most 2,000 printable characters")
	}
	if s.Org.Name == "" && len(s.Org.Inline) == 0 {
		return s.errAt("org", "org: give a built-in organization (%s), a file, or an inline organization", strings.Join(sim.BuiltinNames(), ", "))
	}
	if s.Duration == 0 {
		s.Duration = Duration(2 * time.Hour)
	}
	if s.Duration.D() < time.Minute || s.Duration.D() > maxDuration {
		return s.errAt("duration", "duration: between 1m and 24h, e.g. duration: 2h")
	}
	for _, m := range []struct {
		key string
		v   map[string]Duration
		max time.Duration
	}{{"latency", s.Latency, maxLatency}, {"propagation", s.Propagation, maxPropagation}} {
		for svc, d := range m.v {
			if !reService.MatchString(svc) {
				return s.errAt(m.key+"."+svc, "%s: %q is not a service: use an action prefix such as iam, organizations, sts, ec2, s3, or * for the rest", m.key, clip(svc))
			}
			if d < 0 || d.D() > m.max {
				return s.errAt(m.key+"."+svc, "%s.%s: between 0s and %s", m.key, svc, m.max)
			}
		}
	}
	for i, f := range s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		switch {
		case f.Account != "" && !reAccount.MatchString(f.Account):
			return s.errAt(p+".account", "account %q: 12 digits, quoted", clip(f.Account))
		case !reOperation.MatchString(f.Operation):
			return s.errAt(p+".operation", "operation %q: an SDK operation name such as ListAccessKeys (or IAM.ListAccessKeys, or *)", clip(f.Operation))
		case f.Times < 0 || f.Times > 100000, f.Latency < 0 || f.Latency.D() > maxLatency:
			return s.errAt(p, "times: 0-100000 (0: every call); latency: 0s-%s", maxLatency)
		case !f.Throttle && f.Latency == 0:
			return s.errAt(p, "a fault throttles (throttle: true) or slows (latency: 2s)")
		}
	}
	if _, err := sim.ResolveRateLimits(s.RateLimits); err != nil {
		return s.errAt("rate_limits", "%v", err)
	}
	for i, d := range s.Without {
		if !slices.Contains(actions.Defenses(), d) {
			return s.errAt(fmt.Sprintf("without[%d]", i), "without: %q is not a defense: choose from %s", clip(d), strings.Join(actions.Defenses(), ", "))
		}
	}
	if err := s.validateIntruder(); err != nil {
		return err
	}
	return s.validateMoves()
}

func (s *Scenario) validateIntruder() error {
	in := &s.Intruder
	if len(in.Holds) == 0 {
		return s.errAt("intruder", "intruder.holds: list at least one credential, e.g. - {user: ops-admin} (its access key)")
	}
	if len(in.Holds) > maxHolds {
		return s.errAt("intruder.holds", "intruder.holds: at most %d credentials", maxHolds)
	}
	for i, h := range in.Holds {
		p := fmt.Sprintf("intruder.holds[%d]", i)
		if h.Account != "" && !reAccount.MatchString(h.Account) {
			return s.errAt(p+".account", "account %q: an AWS account id is 12 digits, quoted: account: \"111122223333\"", clip(h.Account))
		}
		switch {
		case (h.User == "") == (h.Role == ""):
			return s.errAt(p, "a held credential names exactly one of user: (an access key or console password) or role: (a session)")
		case h.User != "" && !reIAMName.MatchString(h.User), h.Role != "" && !reIAMName.MatchString(h.Role):
			return s.errAt(p, "user or role name %q is not a valid IAM name", clip(h.User+h.Role))
		case h.Key < 0 || h.Key > 1:
			return s.errAt(p+".key", "key: 0 or 1 (IAM users have at most two access keys)")
		case h.Role != "" && (h.Console || h.Key != 0):
			return s.errAt(p, "a role session has no key: or console:")
		}
	}
	if len(in.Setup)+len(in.Playbook) > maxTechniques {
		return s.errAt("intruder", "intruder: at most %d techniques in setup and playbook", maxTechniques)
	}
	for _, l := range []struct {
		key string
		ids []string
	}{{"setup", in.Setup}, {"playbook", in.Playbook}} {
		for i, id := range l.ids {
			if id == "all" && l.key == "playbook" {
				continue
			}
			if _, ok := sim.LookupTechnique(id); !ok {
				return s.errAt(fmt.Sprintf("intruder.%s[%d]", l.key, i), "unknown technique %q: choose from %s", clip(id), strings.Join(techniqueIDs(), ", "))
			}
		}
	}
	if in.Random < 0 || in.Random > maxTechniques || (in.Random > 0 && len(in.Playbook) > 0) {
		return s.errAt("intruder.random", "intruder.random: a number of techniques (0-%d) drawn with the seed, instead of a playbook:", maxTechniques)
	}
	if in.Rate == 0 {
		in.Rate = 1
	}
	if in.Rate < 0.01 || in.Rate > maxRate {
		return s.errAt("intruder.rate", "intruder.rate: AWS calls per second, between 0.01 and %d", maxRate)
	}
	switch in.Notices.On {
	case "":
		in.Notices.On = NoticeFirstChange
	case NoticeFirstChange, NoticeFirstDenied, NoticeCredentialCut, NoticeNever:
	default:
		return s.errAt("intruder.notices.on", "intruder.notices.on %q: write first-change, first-denied, credential-cut or never", clip(in.Notices.On))
	}
	if in.Notices.After < 0 || in.Notices.After.D() > maxDuration {
		return s.errAt("intruder.notices.after", "intruder.notices.after: between 0s and 24h")
	}
	return nil
}

// How the intruder notices the response.
const (
	NoticeFirstChange   = "first-change"   // the first change the bot makes
	NoticeFirstDenied   = "first-denied"   // its first denied call
	NoticeCredentialCut = "credential-cut" // a credential of its own stops working
	NoticeNever         = "never"
)

func (s *Scenario) validateMoves() error {
	if len(s.Responders) > maxMoves {
		return s.errAt("responders", "responders: at most %d moves", maxMoves)
	}
	for i, m := range s.Responders {
		p := fmt.Sprintf("responders[%d]", i)
		kinds := 0
		for _, set := range []bool{m.Command != "", m.Approve, m.Manual != ""} {
			if set {
				kinds++
			}
		}
		switch {
		case kinds != 1:
			return s.errAt(p, "a move is one of command: \"lockdown --all reason\", approve: true (with after:), or manual: \"change-password USER\"")
		case !reSlackID.MatchString(m.User) && m.Manual == "":
			return s.errAt(p+".user", "user %q: a Slack user id such as U0RESP01", clip(m.User))
		case m.At < 0 || m.At.D() > maxDuration, m.After < 0 || m.After.D() > maxDuration:
			return s.errAt(p, "at: and after: are between 0s and 24h")
		case m.Command != "" && !printable(m.Command, 1000):
			return s.errAt(p+".command", "command: at most 1,000 printable characters")
		case m.Approve && m.At != 0:
			return s.errAt(p+".at", "an approval happens after: the card appears (after: 90s), not at:")
		case m.Manual != "":
			verb, user, _ := strings.Cut(m.Manual, " ")
			if verb != "change-password" || !reIAMName.MatchString(user) {
				return s.errAt(p+".manual", "manual %q: write change-password USER (the 2014 response)", clip(m.Manual))
			}
		}
	}
	return nil
}

func techniqueIDs() []string {
	var ids []string
	for _, t := range sim.Techniques() {
		ids = append(ids, t.ID)
	}
	return ids
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// loadOrg builds the scenario's organization.
func (s *Scenario) loadOrg() (*sim.Org, error) {
	switch {
	case len(s.Org.Inline) > 0:
		o, err := sim.Load(bytes.NewReader(s.Org.Inline))
		if err != nil {
			return nil, s.errAt("org", "%v", err)
		}
		return o, nil
	case slices.Contains(sim.BuiltinNames(), s.Org.Name):
		return sim.Builtin(s.Org.Name)
	}
	o, err := sim.LoadFile(s.Org.Name)
	if err != nil {
		return nil, s.errAt("org", "%v", err)
	}
	return o, nil
}
