package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
)

// ErrUnknownDocument is returned (wrapped) by Render for a name that is not
// an embedded document.
var ErrUnknownDocument = errors.New("unknown policy document")

// Render renders the document called name with p and returns it minified
// and validated. A document marked Split is returned whole, checked for
// everything but size: attach RenderParts' parts. Invalid parameters and an invalid result are reported as a
// *ValidationError naming every problem.
func Render(name string, p Params) (string, error) {
	d, ok := Lookup(name)
	if !ok {
		return "", fmt.Errorf("render %s: %w (have %s)", quote(name), ErrUnknownDocument, strings.Join(names(), ", "))
	}
	src, err := template(name)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", quote(name), err)
	}
	out, problems := render(src, p)
	if len(problems) > 0 {
		return "", &ValidationError{Document: name, Problems: problems}
	}
	// A document attached in parts may be larger than one policy as a
	// whole: RenderParts checks each part's size.
	if err := validate(d, out, !d.Split); err != nil {
		return "", err
	}
	return out, nil
}

// ValidateAll renders and validates every document with p. It returns one
// error per failing document, none when all are valid.
func ValidateAll(p Params) []error {
	var errs []error
	for _, d := range List() {
		var err error
		if d.Split {
			_, err = RenderParts(d.Name, p)
		} else {
			_, err = Render(d.Name, p)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// BotOperations returns every action the bot policy allows (for example
// "iam:ListUsers"), sorted. Besides the calls made through actions/awsapi it
// holds sts:AssumeRole, which the client factory uses to enter each account.
func BotOperations() []string {
	src, err := template("bot-policy")
	if err != nil {
		panic("policies: bot-policy template missing: " + err.Error())
	}
	doc, err := decodeTemplate(src)
	if err != nil {
		panic("policies: bot-policy template: " + err.Error())
	}
	seen := map[string]bool{}
	var ops []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action.vals {
			if !seen[a] {
				seen[a] = true
				ops = append(ops, a)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

func names() []string {
	var out []string
	for _, d := range registry {
		out = append(out, d.Name)
	}
	return out
}

// policyDoc, statement and strList are the typed form of a template. Field
// order is the order AWS documents use, so rendered JSON reads naturally.
type policyDoc struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid          string                        `json:"Sid,omitempty"`
	Effect       string                        `json:"Effect"`
	Principal    principals                    `json:"Principal,omitzero"`
	NotPrincipal principals                    `json:"NotPrincipal,omitzero"`
	Action       strList                       `json:"Action,omitzero"`
	NotAction    strList                       `json:"NotAction,omitzero"`
	Resource     strList                       `json:"Resource,omitzero"`
	NotResource  strList                       `json:"NotResource,omitzero"`
	Condition    map[string]map[string]strList `json:"Condition,omitempty"`
}

// principals is a Principal element: "*" (every principal, as resource
// control policies require) or an object of principal types.
type principals struct {
	star bool
	m    map[string]strList
}

func (p principals) IsZero() bool { return !p.star && len(p.m) == 0 }

func (p principals) MarshalJSON() ([]byte, error) {
	if p.star {
		return []byte(`"*"`), nil
	}
	return json.Marshal(p.m)
}

func (p *principals) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "*" {
			return fmt.Errorf("a Principal string must be \"*\", got %q", s)
		}
		*p = principals{star: true}
		return nil
	}
	return json.Unmarshal(b, &p.m)
}

// strList is a policy value that is a string or a list of strings. It keeps
// the form the template used; a list parameter that expands to several
// values always makes a list.
type strList struct {
	vals  []string
	array bool
}

func (l strList) IsZero() bool { return len(l.vals) == 0 && !l.array }

func (l strList) MarshalJSON() ([]byte, error) {
	if !l.array && len(l.vals) == 1 {
		return json.Marshal(l.vals[0])
	}
	vals := l.vals
	if vals == nil {
		vals = []string{}
	}
	return json.Marshal(vals)
}

func (l *strList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = strList{vals: []string{s}}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %s", b)
	}
	*l = strList{vals: ss, array: true}
	return nil
}

func decodeTemplate(src []byte) (*policyDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	var doc policyDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode template: trailing data")
	}
	return &doc, nil
}

var placeholderRE = regexp.MustCompile(`\{\{([A-Za-z]+)(\?)?\}\}`)

// param describes one template parameter.
type param struct {
	list     bool // expands to several values; only as a whole string
	required bool // an empty value is an error, not a removal
}

var params = map[string]param{
	"ExemptPatterns": {list: true},
	"ExemptARNs":     {list: true},
	"ExemptTag":      {},
	"RevokeBefore":   {required: true},
	"BotPrincipal":   {required: true},
	"ExternalID":     {},
	"RoleName":       {required: true}, // defaulted, so never empty
	"OrgID":          {},
	"ExemptSSOUsers": {list: true},
}

type drop int

const (
	keep          drop = iota
	dropElement        // an optional value is empty: remove what it sits in
	dropStatement      // a value the statement needs is empty: remove the statement
)

// renderer substitutes validated parameter values into a decoded template.
type renderer struct {
	values   map[string][]string // validated values by placeholder name; empty: not set
	omit     []string            // Sids of statements to drop (Params.OmitSids)
	problems []string
}

func (r *renderer) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// render renders a template with p: it validates the parameters the template
// uses, substitutes them structurally and encodes the result. It returns the
// minified document or the problems found.
func render(src []byte, p Params) (string, []string) {
	doc, err := decodeTemplate(src)
	if err != nil {
		return "", []string{"template: " + err.Error()}
	}
	r := &renderer{values: map[string][]string{}, omit: p.OmitSids}
	for _, m := range placeholderRE.FindAllSubmatch(src, -1) {
		name := string(m[1])
		if _, ok := r.values[name]; ok {
			continue
		}
		if _, ok := params[name]; !ok {
			r.problem("template: unknown placeholder {{%s}}", name)
			continue
		}
		r.values[name] = r.param(name, p)
	}
	if len(r.problems) > 0 {
		return "", r.problems
	}
	out := policyDoc{Version: doc.Version, ID: doc.ID}
	for i, s := range doc.Statement {
		if rs, ok := r.statement(i, s); ok {
			out.Statement = append(out.Statement, rs)
		}
	}
	if len(r.problems) > 0 {
		return "", r.problems
	}
	if len(out.Statement) == 0 {
		return "", []string{"every statement was removed for lack of parameters; nothing to render"}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", []string{"encode: " + err.Error()}
	}
	return string(b), nil
}

// param validates and formats one parameter. It records a problem naming the
// bad value and returns nil when the value is invalid.
func (r *renderer) param(name string, p Params) []string {
	switch name {
	case "ExemptPatterns":
		var out []string
		seen := map[string]bool{}
		for i, pat := range p.ExemptPatterns {
			if err := checkExemptPattern(pat); err != nil {
				r.problem("ExemptPatterns[%d]: %v", i, err)
				continue
			}
			if !seen[pat] {
				seen[pat] = true
				out = append(out, pat)
			}
		}
		return out
	case "ExemptARNs":
		if len(p.ExemptARNs) > maxExemptARNs {
			r.problem("ExemptARNs: %d ARNs, at most %d (each one is repeated in every statement)", len(p.ExemptARNs), maxExemptARNs)
			return nil
		}
		var out []string
		seen := map[string]bool{}
		for i, arn := range p.ExemptARNs {
			if err := checkExemptARN(arn); err != nil {
				r.problem("ExemptARNs[%d]: %v", i, err)
				continue
			}
			if !seen[arn] {
				seen[arn] = true
				out = append(out, arn)
			}
		}
		sort.Strings(out) // deterministic, whatever order the baseline came in
		return out
	case "ExemptSSOUsers":
		return r.ssoUsers(p.ExemptSSOUsers)
	case "ExemptTag":
		if p.ExemptTag == "" {
			return nil
		}
		if err := checkTagKey(p.ExemptTag); err != nil {
			r.problem("ExemptTag: %v", err)
			return nil
		}
		return []string{p.ExemptTag}
	case "RevokeBefore":
		if p.RevokeBefore.IsZero() {
			r.problem("RevokeBefore is not set: refusing to render a session revocation without a cut-off time (a fixed or empty date revokes nothing)")
			return nil
		}
		t := p.RevokeBefore.UTC()
		if t.Before(minRevokeBefore) {
			r.problem("RevokeBefore %s is before %s, when AWS temporary sessions did not exist: such a cut-off revokes nothing", t.Format(time.RFC3339), minRevokeBefore.Format("2006"))
			return nil
		}
		if t.Year() > 9999 {
			r.problem("RevokeBefore %s is out of range", t.String())
			return nil
		}
		// Round up so no session issued before the instant survives:
		// aws:TokenIssueTime is compared at one-second precision.
		if rt := t.Truncate(time.Second); rt.Before(t) {
			t = rt.Add(time.Second)
		}
		return []string{t.Format(time.RFC3339)}
	case "BotPrincipal":
		if p.BotPrincipal == "" {
			r.problem("BotPrincipal is not set: the responder role must trust exactly the bot's principal ARN")
			return nil
		}
		if err := checkPrincipalARN(p.BotPrincipal); err != nil {
			r.problem("BotPrincipal: %v", err)
			return nil
		}
		return []string{p.BotPrincipal}
	case "ExternalID":
		if p.ExternalID == "" {
			return nil
		}
		if n := len(p.ExternalID); n < 2 || n > 1224 || !externalIDRE.MatchString(p.ExternalID) {
			r.problem("ExternalID %s: want 2 to 1224 characters from letters, digits and +=,.@:/-_", quote(p.ExternalID))
			return nil
		}
		return []string{p.ExternalID}
	case "OrgID":
		if p.OrgID == "" {
			return nil
		}
		if !orgIDRE.MatchString(p.OrgID) {
			r.problem("OrgID %s: want an Organization id, o- and 10 to 32 lowercase letters or digits", quote(p.OrgID))
			return nil
		}
		return []string{p.OrgID}
	case "RoleName":
		name := p.RoleName
		if name == "" {
			name = DefaultRoleName
		}
		if !roleNameRE.MatchString(name) {
			r.problem("RoleName %s: want 1 to 64 characters from letters, digits and +=,.@-_", quote(name))
			return nil
		}
		return []string{name}
	}
	return nil
}

var minRevokeBefore = time.Date(2011, time.January, 1, 0, 0, 0, 0, time.UTC)

var (
	// arn:partition:iam|sts::account:resource, wildcards allowed in the
	// account and the resource.
	exemptPatternRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:(iam|sts)::[0-9*?]{1,12}:(root|[a-z-]+/[A-Za-z0-9_+=,.@/*?-]+)$`)
	principalARNRE  = regexp.MustCompile(`^arn:aws(-[a-z]+)*:(iam|sts)::[0-9]{12}:(root|(user|role|assumed-role)/[A-Za-z0-9_+=,.@/-]+)$`)
	tagKeyRE        = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	externalIDRE    = regexp.MustCompile(`^[A-Za-z0-9_+=,.@:/-]+$`)
	orgIDRE         = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	roleNameRE      = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,64}$`)
)

func checkExemptPattern(pat string) error {
	if len(pat) > 2048 {
		return fmt.Errorf("exempt pattern %s is longer than 2048 bytes", quote(pat))
	}
	if hasControl(pat) {
		return fmt.Errorf("exempt pattern %s contains a control character", quote(pat))
	}
	if !exemptPatternRE.MatchString(pat) {
		return fmt.Errorf("exempt pattern %s is not an IAM principal ARN pattern (want arn:aws:iam::ACCOUNT:role/NAME, * and ? allowed in ACCOUNT and NAME)", quote(pat))
	}
	// The resource part must name something: role/* or user/* would exempt
	// every role or user and make every deny a no-op.
	res := pat[strings.Index(pat, "::")+2:]
	res = res[strings.Index(res, ":")+1:]
	if res != "root" {
		name := res[strings.Index(res, "/")+1:]
		if strings.Trim(name, "*?/") == "" {
			return fmt.Errorf("exempt pattern %s is too broad: it exempts every principal of its type", quote(pat))
		}
	}
	return nil
}

// maxExemptARNs bounds Params.ExemptARNs: every ARN is repeated in every
// deny statement, so a long list costs SCP slots (see RenderParts).
const maxExemptARNs = 100

// exemptARNRE: an IAM user, a role or an account root, no wildcards. An
// assumed-role (session) ARN is never the value of aws:PrincipalArn, so it
// would exempt nothing and is refused.
var exemptARNRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(root|(user|role)/[A-Za-z0-9_+=,.@/-]+)$`)

func checkExemptARN(arn string) error {
	if hasControl(arn) {
		return fmt.Errorf("%s contains a control character", quote(arn))
	}
	if len(arn) > 2048 || !exemptARNRE.MatchString(arn) {
		return fmt.Errorf("%s is not an IAM user, role or root ARN (want arn:aws:iam::123456789012:role/NAME, no wildcards; for a role session give the role)", quote(arn))
	}
	return nil
}

func checkPrincipalARN(arn string) error {
	if hasControl(arn) {
		return fmt.Errorf("%s contains a control character", quote(arn))
	}
	if len(arn) > 2048 || !principalARNRE.MatchString(arn) {
		return fmt.Errorf("%s is not an IAM principal ARN (want arn:aws:iam::123456789012:role/NAME, no wildcards)", quote(arn))
	}
	return nil
}

func checkTagKey(key string) error {
	if hasControl(key) {
		return fmt.Errorf("tag key %s contains a control character", quote(key))
	}
	if !tagKeyRE.MatchString(key) {
		return fmt.Errorf("tag key %s is not a valid IAM tag key (1 to 128 letters, digits, spaces and _.:/=+-@)", quote(key))
	}
	if strings.HasPrefix(strings.ToLower(key), "aws:") {
		return fmt.Errorf("tag key %s uses the reserved prefix aws:", quote(key))
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// expand substitutes the placeholders in one template string. A list
// parameter must be the whole string and yields one value per element.
func (r *renderer) expand(s string) ([]string, drop) {
	ms := placeholderRE.FindAllStringSubmatchIndex(s, -1)
	if len(ms) == 0 {
		return []string{s}, keep
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		name, optional := s[m[2]:m[3]], m[4] >= 0
		vals := r.values[name]
		if len(vals) == 0 {
			if params[name].required {
				// Already reported by param.
				return nil, dropStatement
			}
			if optional {
				return nil, dropElement
			}
			return nil, dropStatement
		}
		if params[name].list {
			if m[0] != 0 || m[1] != len(s) {
				r.problem("template: list placeholder {{%s}} must be a whole string, found in %q", name, s)
				return nil, dropStatement
			}
			return append([]string(nil), vals...), keep
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(vals[0])
		last = m[1]
	}
	b.WriteString(s[last:])
	return []string{b.String()}, keep
}

// expandList expands every element of l. It reports whether the statement
// must be dropped.
func (r *renderer) expandList(l strList) (strList, drop) {
	out := strList{array: l.array}
	for _, v := range l.vals {
		vals, d := r.expand(v)
		switch d {
		case dropStatement:
			return strList{}, dropStatement
		case dropElement:
			continue
		}
		out.vals = append(out.vals, vals...)
	}
	if len(out.vals) > 1 {
		out.array = true
	}
	if len(out.vals) == 0 && len(l.vals) > 0 {
		return strList{}, dropElement
	}
	return out, keep
}

// statement renders one template statement; false means it is dropped.
func (r *renderer) statement(i int, s statement) (statement, bool) {
	if placeholderRE.MatchString(s.Sid) || placeholderRE.MatchString(s.Effect) {
		r.problem("template: statement %d: placeholders are not allowed in Sid or Effect", i+1)
		return statement{}, false
	}
	if slices.Contains(r.omit, s.Sid) {
		return statement{}, false
	}
	out := statement{Sid: s.Sid, Effect: s.Effect}
	// Action, NotAction, Resource, NotResource: a list left empty drops the
	// statement (an empty list would be invalid, and the statement would
	// otherwise change meaning).
	for _, f := range []struct {
		in  strList
		out *strList
	}{{s.Action, &out.Action}, {s.NotAction, &out.NotAction}, {s.Resource, &out.Resource}, {s.NotResource, &out.NotResource}} {
		l, d := r.expandList(f.in)
		if d != keep {
			return statement{}, false
		}
		*f.out = l
	}
	for _, f := range []struct {
		in  principals
		out *principals
	}{{s.Principal, &out.Principal}, {s.NotPrincipal, &out.NotPrincipal}} {
		if f.in.star {
			*f.out = f.in
			continue
		}
		if len(f.in.m) == 0 {
			continue
		}
		m := map[string]strList{}
		for k, v := range f.in.m {
			l, d := r.expandList(v)
			if d == dropStatement {
				return statement{}, false
			}
			if d == keep {
				m[k] = l
			}
		}
		if len(m) == 0 {
			return statement{}, false
		}
		*f.out = principals{m: m}
	}
	// Conditions: an optional value left empty removes its key; an empty
	// operator or block disappears.
	for op, keys := range s.Condition {
		if placeholderRE.MatchString(op) {
			r.problem("template: statement %d: placeholders are not allowed in condition operators", i+1)
			return statement{}, false
		}
		m := map[string]strList{}
		for k, v := range keys {
			ks, d := r.expand(k)
			if d == dropStatement {
				return statement{}, false
			}
			if d == dropElement {
				continue
			}
			if len(ks) != 1 {
				r.problem("template: statement %d: a list placeholder cannot be a condition key", i+1)
				return statement{}, false
			}
			l, d := r.expandList(v)
			if d == dropStatement {
				return statement{}, false
			}
			if d == keep {
				m[ks[0]] = l
			}
		}
		if len(m) > 0 {
			if out.Condition == nil {
				out.Condition = map[string]map[string]strList{}
			}
			out.Condition[op] = m
		}
	}
	return out, true
}
