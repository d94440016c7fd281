package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// policyKind selects the grammar a document is checked against.
type policyKind int

const (
	identityPolicy policyKind = iota // IAM inline and managed: Resource required, no Principal
	scpPolicy                        // SCP: no Principal, Resource optional (defaults to *)
	trustPolicy                      // role trust: Principal required, no Resource
	rcpPolicy                        // RCP: Principal "*" required, Deny only (but RCPFullAWSAccess), Resource optional
	resourcePolicy                   // resource-based (bucket policy): Principal required, Resource required
)

// maxPolicyBytes bounds parsing work on hostile documents, well above every
// AWS size limit.
const maxPolicyBytes = 64 << 10

type policy struct {
	statements []statement
}

type statement struct {
	sid         string
	deny        bool
	actions     []string // lower-case patterns
	notAction   bool
	resources   []string
	notResource bool
	conds       []condition
	principals  []string // resource and RCP policies: the AWS principals ("*", an account id or root ARN, a principal ARN)
}

type condition struct {
	op       string // as written, for messages
	base     string // lower-case operator without qualifier and IfExists
	qual     string // "", "foranyvalue", "forallvalues"
	ifExists bool
	key      string // lower-case condition key
	values   []string
}

var reVendor = regexp.MustCompile(`^[A-Za-z0-9*?-]+$`)

// parsePolicy parses and validates a policy document the way AWS does on
// write; the error text becomes the MalformedPolicyDocument message.
func parsePolicy(doc string, kind policyKind) (*policy, error) {
	if len(doc) > maxPolicyBytes {
		return nil, fmt.Errorf("policy document is larger than %d bytes", maxPolicyBytes)
	}
	if !utf8.ValidString(doc) {
		return nil, errors.New("policy document is not valid UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("syntax error in policy: %v", err)
	}
	if dec.More() {
		return nil, errors.New("syntax error in policy: trailing data")
	}
	if top == nil {
		return nil, errors.New("syntax error in policy: not a JSON object")
	}
	for k := range top {
		switch k {
		case "Version", "Statement", "Id":
		default:
			return nil, fmt.Errorf("syntax error in policy: unknown field %q", clip(k))
		}
	}
	if v, ok := top["Version"]; ok {
		s, _ := v.(string)
		if s != "2012-10-17" && s != "2008-10-17" {
			return nil, errors.New("the policy must contain a valid version string")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, errors.New("policy is missing the required Statement field")
	}
	var stmts []any
	switch v := raw.(type) {
	case []any:
		stmts = v
	case map[string]any:
		stmts = []any{v}
	default:
		return nil, errors.New("Statement must be an object or an array of objects")
	}
	p := &policy{statements: make([]statement, 0, len(stmts))}
	for i, s := range stmts {
		m, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %d is not an object", i)
		}
		st, err := parseStatement(m, kind)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(m map[string]any, kind policyKind) (statement, error) {
	var st statement
	for k := range m {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition":
		case "Principal", "NotPrincipal":
			if kind != trustPolicy && kind != rcpPolicy && kind != resourcePolicy {
				return st, errors.New("policy document should not specify a principal")
			}
			if k == "NotPrincipal" && kind == rcpPolicy {
				return st, errors.New("NotPrincipal is not supported in a resource control policy")
			}
		default:
			return st, fmt.Errorf("unknown field %q", clip(k))
		}
	}
	if v, ok := m["Sid"]; ok {
		s, ok := v.(string)
		if !ok {
			return st, errors.New("Sid must be a string")
		}
		st.sid = s
	}
	switch m["Effect"] {
	case "Allow":
	case "Deny":
		st.deny = true
	default:
		return st, errors.New("Effect must be Allow or Deny")
	}
	if kind == rcpPolicy || kind == resourcePolicy {
		ps, err := policyPrincipals(m["Principal"], kind)
		if err != nil {
			return st, err
		}
		st.principals = ps
	}
	if kind == trustPolicy {
		if _, ok := m["Principal"]; !ok {
			if _, ok := m["NotPrincipal"]; !ok {
				return st, errors.New("a trust policy statement must specify a principal")
			}
		}
	}
	var hasA, hasR bool
	var err error
	if st.actions, st.notAction, hasA, err = listOrNot(m, "Action"); err != nil {
		return st, err
	}
	if !hasA {
		return st, errors.New("policy statement must contain actions")
	}
	for i, act := range st.actions {
		if act != "*" {
			vendor, name, ok := strings.Cut(act, ":")
			if !ok || vendor == "" || name == "" || !reVendor.MatchString(vendor) {
				return st, fmt.Errorf("action %q must be prefaced by a vendor, e.g. iam:ListUsers", clip(act))
			}
		}
		st.actions[i] = strings.ToLower(act)
	}
	if st.resources, st.notResource, hasR, err = listOrNot(m, "Resource"); err != nil {
		return st, err
	}
	if !hasR {
		if kind == identityPolicy || kind == resourcePolicy {
			return st, errors.New("policy statement must contain resources")
		}
		st.resources = []string{"*"}
	}
	if c, ok := m["Condition"]; ok {
		st.conds, err = parseConditions(c)
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// listOrNot reads a statement's field or its Not form (not both): the list,
// whether it is the Not form and whether either is present.
func listOrNot(m map[string]any, field string) (list []string, not, present bool, err error) {
	v, has := m[field]
	nv, hasNot := m["Not"+field]
	switch {
	case has && hasNot:
		return nil, false, true, fmt.Errorf("statement has both %s and Not%s", field, field)
	case has:
		list, err = stringList(field, v)
	case hasNot:
		list, err = stringList("Not"+field, nv)
	}
	return list, hasNot, has || hasNot, err
}

func stringList(field string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		if len(x) == 0 {
			return nil, fmt.Errorf("%s must not be empty", field)
		}
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s must hold strings", field)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a string or an array of strings", field)
}

func parseConditions(v any) ([]condition, error) {
	ops, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("Condition must be an object")
	}
	var out []condition
	for op, kv := range ops {
		keys, ok := kv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("condition %q must map keys to values", clip(op))
		}
		base := strings.ToLower(op)
		qual := ""
		if q, rest, ok := strings.Cut(base, ":"); ok {
			qual, base = q, rest
		}
		ifExists := strings.HasSuffix(base, "ifexists")
		base = strings.TrimSuffix(base, "ifexists")
		for key, raw := range keys {
			vals, err := condValues(raw)
			if err != nil {
				return nil, fmt.Errorf("condition %s %s: %w", clip(op), clip(key), err)
			}
			out = append(out, condition{op: op, base: base, qual: qual, ifExists: ifExists, key: strings.ToLower(key), values: vals})
		}
	}
	return out, nil
}

func condValues(v any) ([]string, error) {
	one := func(e any) (string, error) {
		switch x := e.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		case json.Number:
			return x.String(), nil
		}
		return "", errors.New("values must be strings, numbers or booleans")
	}
	if arr, ok := v.([]any); ok {
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, err := one(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := one(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// ---- evaluation ----

// reqCtx is the request context of one call. Condition keys are computed
// on demand (most statements have no condition).
type reqCtx struct {
	action   string // lower-case "service:operation"
	resource string

	principalARN  string
	principalType string // "User", "AssumedRole", "Account"
	account       string
	username      string // users only
	userID        string
	orgID         string
	issued        time.Time // zero: no aws:TokenIssueTime
	now           time.Time
	tags          map[string]string
	assumedRoot   bool   // aws:AssumedRoot: a root session minted with sts:AssumeRoot
	taskPolicy    string // sts:TaskPolicyArn of an sts:AssumeRoot request
}

// lookup returns a condition key's value; key is lower-case.
func (r *reqCtx) lookup(key string) (string, bool) {
	switch key {
	case "aws:principalarn":
		return r.principalARN, true
	case "aws:principalaccount":
		return r.account, true
	case "aws:principaltype":
		return r.principalType, true
	case "aws:username":
		return r.username, r.username != ""
	case "aws:userid":
		return r.userID, true
	case "aws:principalorgid":
		return r.orgID, r.orgID != ""
	case "aws:tokenissuetime":
		if r.issued.IsZero() {
			return "", false
		}
		return r.issued.UTC().Format(time.RFC3339Nano), true
	case "aws:currenttime":
		return r.now.UTC().Format(time.RFC3339Nano), true
	case "aws:epochtime":
		return strconv.FormatInt(r.now.Unix(), 10), true
	case "aws:requestedregion":
		return Region, true
	case "aws:securetransport":
		return "true", true
	case "aws:principalisawsservice", "aws:viaawsservice":
		return "false", true
	case "aws:assumedroot":
		return "true", r.assumedRoot
	case "sts:taskpolicyarn":
		return r.taskPolicy, r.taskPolicy != ""
	}
	if tag, ok := strings.CutPrefix(key, "aws:principaltag/"); ok {
		for k, v := range r.tags {
			if strings.EqualFold(k, tag) {
				return v, true
			}
		}
	}
	return "", false
}

// matchDeny returns the first Deny statement of p that applies to r.
func (p *policy) matchDeny(r *reqCtx) (*statement, bool) {
	for i := range p.statements {
		st := &p.statements[i]
		if st.deny && st.applies(r, true) {
			return st, true
		}
	}
	return nil, false
}

// allows reports whether an Allow statement of p applies to r.
func (p *policy) allows(r *reqCtx) bool {
	for i := range p.statements {
		st := &p.statements[i]
		if !st.deny && st.applies(r, false) {
			return true
		}
	}
	return false
}

func (st *statement) applies(r *reqCtx, deny bool) bool {
	if globAny(st.actions, r.action) == st.notAction || globAny(st.resources, r.resource) == st.notResource {
		return false
	}
	for i := range st.conds {
		if !st.conds[i].eval(r, deny) {
			return false
		}
	}
	return true
}

// eval evaluates one condition key of one operator. Values of one key are
// ORed (NOR for negated operators); the caller ANDs keys and operators.
//
// An operator the simulation does not implement, or a value it cannot parse,
// makes a Deny statement match and an Allow statement not match: the
// simulated intruder is always refused when in doubt (fail closed).
func (c *condition) eval(r *reqCtx, deny bool) bool {
	cmp, negated, known := conditionOp(c.base)
	if !known || (c.qual != "" && c.qual != "foranyvalue" && c.qual != "forallvalues") {
		return deny
	}
	v, present := r.lookup(c.key)
	if c.base == "null" {
		for _, want := range c.values {
			switch strings.ToLower(want) {
			case "true":
				if !present {
					return true
				}
			case "false":
				if present {
					return true
				}
			default:
				return deny
			}
		}
		return false
	}
	if !present {
		// AWS: an absent key makes the condition false, except for
		// ...IfExists, ForAllValues and negated operators, which are true.
		return c.ifExists || c.qual == "forallvalues" || negated
	}
	hit := false
	for _, want := range c.values {
		ok, valid := cmp(v, want)
		if !valid {
			return deny
		}
		if ok {
			hit = true
			break
		}
	}
	if negated {
		return !hit
	}
	return hit
}

type cmpFunc func(have, want string) (match, valid bool)

func conditionOp(base string) (cmpFunc, bool, bool) {
	switch base {
	case "null":
		return nil, false, true
	case "stringequals":
		return strEq, false, true
	case "stringnotequals":
		return strEq, true, true
	case "stringequalsignorecase":
		return strEqFold, false, true
	case "stringnotequalsignorecase":
		return strEqFold, true, true
	case "stringlike":
		return strLike, false, true
	case "stringnotlike":
		return strLike, true, true
	case "arnequals", "arnlike":
		return arnLike, false, true
	case "arnnotequals", "arnnotlike":
		return arnLike, true, true
	case "bool":
		return boolEq, false, true
	case "dateequals":
		return dateCmp(func(a, b time.Time) bool { return a.Equal(b) }), false, true
	case "datenotequals":
		return dateCmp(func(a, b time.Time) bool { return a.Equal(b) }), true, true
	case "datelessthan":
		return dateCmp(func(a, b time.Time) bool { return a.Before(b) }), false, true
	case "datelessthanequals":
		return dateCmp(func(a, b time.Time) bool { return !a.After(b) }), false, true
	case "dategreaterthan":
		return dateCmp(func(a, b time.Time) bool { return a.After(b) }), false, true
	case "dategreaterthanequals":
		return dateCmp(func(a, b time.Time) bool { return !a.Before(b) }), false, true
	case "numericequals":
		return numCmp(func(a, b float64) bool { return a == b }), false, true
	case "numericnotequals":
		return numCmp(func(a, b float64) bool { return a == b }), true, true
	case "numericlessthan":
		return numCmp(func(a, b float64) bool { return a < b }), false, true
	case "numericlessthanequals":
		return numCmp(func(a, b float64) bool { return a <= b }), false, true
	case "numericgreaterthan":
		return numCmp(func(a, b float64) bool { return a > b }), false, true
	case "numericgreaterthanequals":
		return numCmp(func(a, b float64) bool { return a >= b }), false, true
	}
	return nil, false, false
}

func strEq(h, w string) (bool, bool)     { return h == w, true }
func strEqFold(h, w string) (bool, bool) { return strings.EqualFold(h, w), true }
func strLike(h, w string) (bool, bool)   { return globMatch(w, h), true }
func boolEq(h, w string) (bool, bool) {
	if !strings.EqualFold(w, "true") && !strings.EqualFold(w, "false") {
		return false, false
	}
	return strings.EqualFold(h, w), true
}

// arnLike matches each of the six colon-separated ARN components separately.
func arnLike(h, w string) (bool, bool) {
	hp := strings.SplitN(h, ":", 6)
	wp := strings.SplitN(w, ":", 6)
	if len(hp) != 6 || len(wp) != 6 {
		return w == "*" || (len(wp) == 1 && globMatch(w, h)), true
	}
	for i := range hp {
		if !globMatch(wp[i], hp[i]) {
			return false, true
		}
	}
	return true, true
}

func dateCmp(f func(a, b time.Time) bool) cmpFunc {
	return func(h, w string) (bool, bool) {
		a, ok1 := parseDate(h)
		b, ok2 := parseDate(w)
		if !ok1 || !ok2 {
			return false, false
		}
		return f(a, b), true
	}
}

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func numCmp(f func(a, b float64) bool) cmpFunc {
	return func(h, w string) (bool, bool) {
		a, err1 := strconv.ParseFloat(h, 64)
		b, err2 := strconv.ParseFloat(w, 64)
		if err1 != nil || err2 != nil {
			return false, false
		}
		return f(a, b), true
	}
}

// globAny reports whether one of patterns matches s.
func globAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch matches s against pattern with * (any run) and ? (one
// character). Case-sensitive; callers lower-case both sides for actions.
func globMatch(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	if !isASCII(pattern) || !isASCII(s) {
		return glob([]rune(pattern), []rune(s))
	}
	return glob([]byte(pattern), []byte(s)) // the compiler does not copy: glob only reads
}

// glob is globMatch over bytes (ASCII) or runes.
func glob[E byte | rune](pattern, s []E) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// awsURLEncode percent-encodes like AWS does for policy documents in IAM
// responses (RFC 3986: everything but unreserved characters), so both
// url.QueryUnescape and url.PathUnescape return the original text.
func awsURLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
