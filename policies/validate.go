package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Minify returns doc without insignificant whitespace. It fails on invalid
// JSON.
func Minify(doc string) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(doc)); err != nil {
		return "", fmt.Errorf("minify: invalid JSON: %w", err)
	}
	return b.String(), nil
}

// ValidateDocument validates doc as a document called name attached as kinds;
// denyOnly applies the deny-document rules. It is Validate for a document
// that is not embedded (a file, a test's broken document).
func ValidateDocument(name string, kinds []Kind, denyOnly bool, doc string) error {
	return Validate(Document{Name: name, Kinds: kinds, DenyOnly: denyOnly}, doc)
}

// Validate checks a rendered document and returns a *ValidationError naming
// every problem, or nil. It treats the document as hostile input:
//   - valid UTF-8 and JSON, one value, no duplicate object keys, no control
//     characters, no unrendered placeholders;
//   - IAM policy grammar: Version "2012-10-17", Statement an object or a
//     non-empty list of objects, Effect Allow or Deny, exactly one of Action
//     and NotAction (never an empty list), exactly one of Resource and
//     NotResource (trust policies instead need Principal or NotPrincipal and
//     have no Resource), well-formed actions, ARNs, conditions and Sids,
//     unique Sids;
//   - the size limit of every kind in d.Kinds (SCPs count whitespace, IAM
//     policies do not), so the strictest applies;
//   - for d.DenyOnly: no Allow statement, and no denied action that is or may
//     be read-only (its verb starts with Get, List, Describe, Head, View,
//     Search, Lookup, Query, Scan, Select or BatchGet, or is a wildcard that
//     can match one, like "*", "s3:*", "ec2:D*"), and no NotAction, which
//     denies everything it does not name. d.DenyAll documents skip the
//     read-only rules (see Document).
func Validate(d Document, rendered string) error {
	return validate(d, rendered, true)
}

// validate is Validate, with the size limits checked only when sizes is
// set (a document attached in parts is measured part by part).
func validate(d Document, rendered string, sizes bool) error {
	v := &validator{doc: d, noSize: !sizes}
	v.run(rendered)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Document: d.Name, Problems: v.problems}
}

type validator struct {
	doc      Document
	noSize   bool
	trust    bool
	rcp      bool
	problems []string
}

func (v *validator) problem(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) run(doc string) {
	v.checkKinds()
	if !utf8.ValidString(doc) {
		v.problem("not valid UTF-8")
		return
	}
	if strings.TrimSpace(doc) == "" {
		v.problem("empty document")
		return
	}
	if !v.noSize {
		v.checkSize(doc)
	}

	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			v.problem("invalid JSON at byte %d: %v", se.Offset, err)
		} else {
			v.problem("invalid JSON: %v", err)
		}
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		v.problem("invalid JSON: trailing data after the policy document")
		return
	}
	for _, k := range duplicateKeys(doc) {
		v.problem("duplicate key %s", k)
	}
	walkStrings(root, "", func(path, s string) {
		if hasControl(s) {
			v.problem("control character in %s: %s", where(path), quote(s))
		}
		if strings.Contains(s, "{{") && placeholderRE.MatchString(s) {
			v.problem("unrendered placeholder in %s: %s", where(path), quote(s))
		}
	})
	v.checkPolicy(root)
}

func where(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

func (v *validator) checkKinds() {
	if len(v.doc.Kinds) == 0 {
		v.problem("no kind given (want scp, managed, user-inline, role-inline or trust)")
	}
	for _, k := range v.doc.Kinds {
		if k.Limit() == 0 {
			v.problem("unknown kind %s", quote(string(k)))
		}
		if k == KindTrust {
			v.trust = true
		}
		if k == KindRCP {
			v.rcp = true
		}
	}
	if v.rcp && len(v.doc.Kinds) > 1 {
		v.problem("a resource control policy cannot also be attached as another kind (it names a Principal)")
	}
	if v.trust && len(v.doc.Kinds) > 1 {
		v.problem("a trust policy cannot also be attached as a permission policy")
	}
	if v.trust && v.doc.DenyOnly {
		v.problem("a trust policy cannot be a deny-only document")
	}
}

func (v *validator) checkSize(doc string) {
	for _, k := range v.doc.Kinds {
		limit := k.Limit()
		if limit == 0 {
			continue
		}
		if n := Size(k, doc); n > limit {
			how := "excluding whitespace"
			if k.CountsWhitespace() {
				how = "including whitespace"
			}
			v.problem("too large for %s: %d characters %s, limit %d", k, n, how, limit)
		}
	}
}

var (
	actionRE = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*?]+$`)
	sidRE    = regexp.MustCompile(`^[A-Za-z0-9]*$`)
)

func (v *validator) checkPolicy(root any) {
	top, ok := root.(map[string]any)
	if !ok {
		v.problem("the document is not a JSON object")
		return
	}
	for k := range top {
		if k != "Version" && k != "Id" && k != "Statement" {
			v.problem("unknown top-level key %s", quote(k))
		}
	}
	switch ver, ok := top["Version"]; {
	case !ok:
		v.problem(`missing Version (want "2012-10-17")`)
	case ver != "2012-10-17":
		v.problem(`Version is %s, want "2012-10-17"`, jsonText(ver))
	}
	if id, ok := top["Id"]; ok {
		if _, isStr := id.(string); !isStr {
			v.problem("Id is not a string")
		}
	}
	var stmts []any
	switch s := top["Statement"].(type) {
	case nil:
		v.problem("missing Statement")
		return
	case map[string]any:
		stmts = []any{s}
	case []any:
		if len(s) == 0 {
			v.problem("Statement is an empty list")
		}
		stmts = s
	default:
		v.problem("Statement is neither an object nor a list")
		return
	}
	sids := map[string]int{}
	for i, s := range stmts {
		m, ok := s.(map[string]any)
		if !ok {
			v.problem("statement %d is not an object", i+1)
			continue
		}
		v.checkStatement(i, m, sids)
	}
}

var statementKeys = map[string]bool{
	"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true, "Action": true,
	"NotAction": true, "Resource": true, "NotResource": true, "Condition": true,
}

func (v *validator) checkStatement(i int, s map[string]any, sids map[string]int) {
	label := fmt.Sprintf("statement %d", i+1)
	if sid, ok := s["Sid"]; ok {
		str, isStr := sid.(string)
		switch {
		case !isStr:
			v.problem("%s: Sid is not a string", label)
		case !sidRE.MatchString(str):
			v.problem("%s: Sid %s may only hold letters and digits", label, quote(str))
		case str != "":
			label = fmt.Sprintf("statement %d (Sid %s)", i+1, quote(str))
			if first, dup := sids[str]; dup {
				v.problem("%s: duplicate Sid, also statement %d", label, first)
			} else {
				sids[str] = i + 1
			}
		}
	}
	keys := slices.Sorted(maps.Keys(s))
	for _, k := range keys {
		if !statementKeys[k] {
			v.problem("%s: unknown key %s", label, quote(k))
		}
	}

	effect, _ := s["Effect"].(string)
	switch {
	case s["Effect"] == nil:
		v.problem("%s: missing Effect (want Allow or Deny)", label)
	case effect != "Allow" && effect != "Deny":
		v.problem("%s: Effect is %s, want Allow or Deny", label, jsonText(s["Effect"]))
	}

	_, hasAction := s["Action"]
	_, hasNotAction := s["NotAction"]
	switch {
	case hasAction && hasNotAction:
		v.problem("%s: has both Action and NotAction", label)
	case !hasAction && !hasNotAction:
		v.problem("%s: missing Action (or NotAction)", label)
	}
	actions := v.stringList(label, "Action", s["Action"], hasAction)
	notActions := v.stringList(label, "NotAction", s["NotAction"], hasNotAction)
	for _, a := range append(append([]string(nil), actions...), notActions...) {
		if a != "*" && !actionRE.MatchString(a) {
			v.problem("%s: malformed action %s (want service:Verb, * and ? allowed in the verb)", label, quote(a))
		}
	}

	_, hasRes := s["Resource"]
	_, hasNotRes := s["NotResource"]
	_, hasPrin := s["Principal"]
	_, hasNotPrin := s["NotPrincipal"]
	if v.trust {
		if hasRes || hasNotRes {
			v.problem("%s: a trust policy statement has no Resource", label)
		}
		if !hasPrin && !hasNotPrin {
			v.problem("%s: missing Principal (a trust policy names who may assume the role)", label)
		}
	} else {
		if v.rcp {
			v.checkRCPStatement(label, s, effect, hasNotAction)
		} else if hasPrin || hasNotPrin {
			v.problem("%s: Principal is only allowed in a trust policy", label)
		}
		switch {
		case hasRes && hasNotRes:
			v.problem("%s: has both Resource and NotResource", label)
		case !hasRes && !hasNotRes:
			v.problem("%s: missing Resource (or NotResource)", label)
		}
	}
	for _, f := range []struct {
		key string
		has bool
	}{{"Resource", hasRes}, {"NotResource", hasNotRes}} {
		for _, r := range v.stringList(label, f.key, s[f.key], f.has) {
			if r != "*" && (!strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5) {
				v.problem("%s: malformed %s %s (want * or arn:partition:service:region:account:resource)", label, f.key, quote(r))
			}
		}
	}
	for _, f := range []struct {
		key string
		has bool
	}{{"Principal", hasPrin}, {"NotPrincipal", hasNotPrin}} {
		if f.has && !v.rcp {
			v.checkPrincipal(label, f.key, s[f.key])
		}
	}
	if c, ok := s["Condition"]; ok {
		v.checkCondition(label, c)
	}

	if v.doc.DenyOnly {
		if effect == "Allow" {
			v.problem("%s: Allow statement in a deny-only document", label)
		}
		if effect == "Deny" && !v.doc.DenyAll {
			if hasNotAction {
				v.problem("%s: NotAction in a deny-only document denies every call it does not name, read-only ones included", label)
			}
			for _, a := range actions {
				if verb, ok := deniesReadOnly(a); ok {
					v.problem("%s: denies read-only calls: %s matches %s", label, quote(a), verb)
				}
			}
		}
	}
}

// checkRCPStatement applies AWS's rules for resource control policies: every
// statement denies (only the AWS managed RCPFullAWSAccess may allow), names
// Principal "*" and no NotPrincipal, and uses Action, not NotAction.
func (v *validator) checkRCPStatement(label string, s map[string]any, effect string, hasNotAction bool) {
	if effect != "" && effect != "Deny" {
		v.problem("%s: a resource control policy may only Deny (only RCPFullAWSAccess allows)", label)
	}
	if _, ok := s["NotPrincipal"]; ok {
		v.problem("%s: NotPrincipal is not supported in a resource control policy", label)
	}
	switch p, ok := s["Principal"]; {
	case !ok:
		v.problem(`%s: missing Principal (a resource control policy statement needs "Principal": "*")`, label)
	case p != "*":
		v.problem(`%s: Principal is %s; a resource control policy only takes "*" (narrow it with conditions on aws:PrincipalArn)`, label, jsonText(p))
	}
	if hasNotAction {
		v.problem("%s: NotAction is not supported in a resource control policy", label)
	}
}

// stringList checks a string-or-list value and returns its strings.
func (v *validator) stringList(label, key string, val any, present bool) []string {
	if !present {
		return nil
	}
	switch x := val.(type) {
	case string:
		if x == "" {
			v.problem("%s: %s is an empty string", label, key)
			return nil
		}
		return []string{x}
	case []any:
		if len(x) == 0 {
			v.problem("%s: %s is an empty list", label, key)
			return nil
		}
		var out []string
		for j, e := range x {
			s, ok := e.(string)
			if !ok || s == "" {
				v.problem("%s: %s[%d] is not a non-empty string", label, key, j)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	v.problem("%s: %s is neither a string nor a list of strings", label, key)
	return nil
}

var principalTypes = map[string]bool{"AWS": true, "Service": true, "Federated": true, "CanonicalUser": true}

func (v *validator) checkPrincipal(label, key string, val any) {
	if s, ok := val.(string); ok {
		if s != "*" {
			v.problem("%s: %s is the string %s; want * or an object such as {\"AWS\": ARN}", label, key, quote(s))
		}
		return
	}
	m, ok := val.(map[string]any)
	if !ok || len(m) == 0 {
		v.problem("%s: %s is not a non-empty object", label, key)
		return
	}
	types := slices.Sorted(maps.Keys(m))
	for _, t := range types {
		if !principalTypes[t] {
			v.problem("%s: %s has unknown type %s (want AWS, Service, Federated or CanonicalUser)", label, key, quote(t))
		}
		v.stringList(label, key+"."+t, m[t], true)
	}
}

var conditionOperators = map[string]bool{}

func init() {
	for _, op := range strings.Fields(`StringEquals StringNotEquals StringEqualsIgnoreCase
		StringNotEqualsIgnoreCase StringLike StringNotLike NumericEquals NumericNotEquals
		NumericLessThan NumericLessThanEquals NumericGreaterThan NumericGreaterThanEquals
		DateEquals DateNotEquals DateLessThan DateLessThanEquals DateGreaterThan
		DateGreaterThanEquals Bool BinaryEquals IpAddress NotIpAddress ArnEquals ArnLike
		ArnNotEquals ArnNotLike Null`) {
		conditionOperators[op] = true
	}
}

func validOperator(op string) bool {
	base := op
	for _, p := range []string{"ForAnyValue:", "ForAllValues:"} {
		base = strings.TrimPrefix(base, p)
	}
	if b, ok := strings.CutSuffix(base, "IfExists"); ok && b != "Null" {
		base = b
	}
	return conditionOperators[base]
}

func (v *validator) checkCondition(label string, c any) {
	m, ok := c.(map[string]any)
	if !ok {
		v.problem("%s: Condition is not an object", label)
		return
	}
	if len(m) == 0 {
		v.problem("%s: Condition is empty", label)
	}
	ops := slices.Sorted(maps.Keys(m))
	for _, op := range ops {
		if !validOperator(op) {
			v.problem("%s: unknown condition operator %s", label, quote(op))
		}
		keys, ok := m[op].(map[string]any)
		if !ok || len(keys) == 0 {
			v.problem("%s: condition %s is not a non-empty object of condition keys", label, op)
			continue
		}
		names := slices.Sorted(maps.Keys(keys))
		for _, key := range names {
			val := keys[key]
			if key == "" {
				v.problem("%s: condition %s has an empty key", label, op)
			}
			if !conditionValue(val) {
				v.problem("%s: condition %s %s: want a string, number, boolean or a non-empty list of them", label, op, quote(key))
			}
		}
	}
}

func conditionValue(val any) bool {
	switch x := val.(type) {
	case string, bool, json.Number:
		return true
	case []any:
		if len(x) == 0 {
			return false
		}
		for _, e := range x {
			switch e.(type) {
			case string, bool, json.Number:
			default:
				return false
			}
		}
		return true
	}
	return false
}

// readOnlyPrefixes start the verbs of calls that only read.
var readOnlyPrefixes = []string{"Get", "List", "Describe", "Head", "View", "Search", "Lookup", "Query", "Scan", "Select", "BatchGet"}

// notReadOnly are exact actions whose verb looks read-only but which mint
// credentials; a deny document may deny them.
var notReadOnly = map[string]bool{
	"sts:getfederationtoken": true,
	"sts:getsessiontoken":    true,
}

// deniesReadOnly reports whether denying action may deny a read-only call,
// and which read-only verb prefix it can match. Action names are matched
// case-insensitively, as IAM does.
func deniesReadOnly(action string) (string, bool) {
	svc, verb, ok := strings.Cut(action, ":")
	if !ok {
		// "*" or something malformed: only a wildcard can match anything.
		if strings.Trim(action, "*?") == "" {
			return "every call", true
		}
		return "", false
	}
	if notReadOnly[strings.ToLower(svc+":"+verb)] {
		return "", false
	}
	for _, p := range readOnlyPrefixes {
		if globMatchesPrefix(verb, p) {
			return svc + ":" + p + "...", true
		}
	}
	return "", false
}

// globMatchesPrefix reports whether some string starting with prefix matches
// the IAM glob pattern (* any run, ? any one character), ignoring case. It
// runs the pattern as a set of positions over the prefix: any position still
// alive at the end can be completed by some suffix.
func globMatchesPrefix(glob, prefix string) bool {
	closure := func(set map[int]bool) map[int]bool {
		for i := 0; i < len(glob); i++ {
			if set[i] && glob[i] == '*' {
				set[i+1] = true
			}
		}
		return set
	}
	states := closure(map[int]bool{0: true})
	for k := 0; k < len(prefix); k++ {
		c := prefix[k]
		next := map[int]bool{}
		for i := range states {
			if i >= len(glob) {
				continue
			}
			switch g := glob[i]; {
			case g == '*':
				next[i] = true
			case g == '?' || lower(g) == lower(c):
				next[i+1] = true
			}
		}
		states = closure(next)
		if len(states) == 0 {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// duplicateKeys returns the object keys that occur twice in one object of
// doc, with their path. encoding/json silently keeps the last one, which
// could hide a statement's real Effect from a reviewer.
func duplicateKeys(doc string) []string {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var dups []string
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if seen[k] {
					dups = append(dups, fmt.Sprintf("%s in %s", quote(k), where(path)))
				}
				seen[k] = true
				if err := walk(join(path, k)); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // closing delimiter
		return err
	}
	_ = walk("")
	return dups
}

// join extends a location path with an object key; a key that is not plain
// is quoted, so a hostile key cannot forge or garble the location.
func join(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		return path + "[" + quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9:/_.@+=-]{1,128}$`)

// walkStrings calls f on every string in v, object keys included.
func walkStrings(v any, path string, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		for _, k := range keys {
			f("a key in "+where(path), k)
			walkStrings(x[k], join(path, k), f)
		}
	}
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return quote(string(b))
}
