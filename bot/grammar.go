package bot

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/killswitch/killswitch/actions"
)

// The slash command grammar (CONTRACT.md):
//
//	help | actions
//	plan ACTION [SCOPE]
//	ACTION [SCOPE] [--incident ID] REASON...      request; a reason is required
//	status [REQUEST] | cancel REQUEST | undo REQUEST [--incident ID] REASON...
//	baseline                                      record the exemption baseline now
//	SCOPE: --accounts 111122223333,444455556666 | --all   (default: all configured accounts)
//
// Flags come before the reason, in any order; "--flag=value" works too, and
// so do the dashes Slack clients turn "--" into ("—", "–") and every other
// character that looks like a hyphen (see dashes): a flag typed with them is
// read as the flag, never as reason text (which would silently widen the
// scope to every configured account). Once the reason has started, the rest
// of the text is the reason, except that a scope or incident flag there is
// an error (it would otherwise be silently ignored).

// Verbs of Command.
const (
	VerbHelp    = "help"
	VerbActions = "actions"
	VerbPlan    = "plan"
	VerbRequest = "request" // ACTION [SCOPE] [--incident ID] REASON...
	VerbStatus  = "status"
	VerbCancel  = "cancel"
	VerbUndo    = "undo"
	VerbDrill   = "drill" // drill start SCENARIO | drill stop
	// VerbBaseline records the exemption baseline now.
	VerbBaseline = "baseline"
)

// Limits of the grammar.
const (
	MaxReason      = 500 // characters
	MaxCommandText = 4000
)

// Command is a parsed slash command.
type Command struct {
	Verb      string
	Action    string   // plan, request
	Accounts  []string // plan, request: the resolved scope (never empty)
	All       bool     // the scope is every configured account (--all or no scope)
	Incident  string   // request, undo
	Reason    string   // request, undo
	RequestID string   // status (optional), cancel, undo
	DrillOp   string   // drill: "start" or "stop"
	Scenario  string   // drill start: a built-in scenario name
	// Principals: contain-identity-center's --principals user:NAME,group:NAME
	// (plan, request); empty means every Identity Center user and group but
	// break-glass.
	Principals []string
}

var (
	incidentRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	requestIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// commandVerbs are the words that are not actions.
var commandVerbs = []string{VerbHelp, VerbActions, VerbPlan, VerbStatus, VerbCancel, VerbUndo, VerbDrill, VerbBaseline}

var scenarioRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// ParseError is a user-facing explanation of what is wrong with a command.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

func perr(format string, a ...any) error { return &ParseError{Msg: fmt.Sprintf(format, a...)} }

// ParseCommand parses the text of a /killswitch command. configured is the
// scope of --all (and of a command with no scope); it must not be empty for
// plan and request commands. The text is as Slack sends it: &, < and > are
// HTML-escaped, and are decoded here. ParseCommand is pure: no I/O, no clock.
func ParseCommand(text string, configured []string) (Command, error) {
	if !utf8.ValidString(text) {
		return Command{}, perr("the command is not valid UTF-8 text")
	}
	if utf8.RuneCountInString(text) > MaxCommandText {
		return Command{}, perr("the command is %d characters; keep it under %d (the reason is limited to %d)", utf8.RuneCountInString(text), MaxCommandText, MaxReason)
	}
	text = unescapeSlack(text)
	if i := strings.IndexFunc(text, forbiddenRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(text[i:])
		return Command{}, perr("the command contains a control or bidirectional-override character (%U); type it on one line, without tabs", r)
	}
	words := strings.Fields(text)
	if len(words) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	head := strings.ToLower(words[0])
	rest := words[1:]
	switch head {
	case VerbHelp, "-h", "--help", "?":
		return Command{Verb: VerbHelp}, nil
	case VerbActions:
		if len(rest) > 0 {
			return Command{}, perr("actions takes no arguments (got %q); try: /killswitch actions", rest[0])
		}
		return Command{Verb: VerbActions}, nil
	case VerbStatus:
		c := Command{Verb: VerbStatus}
		switch len(rest) {
		case 0:
		case 1:
			id, err := requestID(rest[0], "status")
			if err != nil {
				return Command{}, err
			}
			c.RequestID = id
		default:
			return Command{}, perr("status takes at most one request id, e.g. /killswitch status ks-7f3a9c2e")
		}
		return c, nil
	case VerbCancel:
		if len(rest) != 1 {
			return Command{}, perr("cancel needs one request id, e.g. /killswitch cancel ks-7f3a9c2e")
		}
		id, err := requestID(rest[0], "cancel")
		if err != nil {
			return Command{}, err
		}
		return Command{Verb: VerbCancel, RequestID: id}, nil
	case VerbUndo:
		if len(rest) == 0 {
			return Command{}, perr("undo needs the request id and a reason, e.g. /killswitch undo ks-7f3a9c2e containment confirmed, restoring access")
		}
		id, err := requestID(rest[0], "undo")
		if err != nil {
			return Command{}, err
		}
		f, err := parseFlags(rest[1:], false, true)
		if err != nil {
			return Command{}, err
		}
		if f.reason == "" {
			return Command{}, perr("a reason is required: /killswitch undo %s containment confirmed, restoring access", id)
		}
		return Command{Verb: VerbUndo, RequestID: id, Incident: f.incident, Reason: f.reason}, nil
	case VerbDrill:
		return parseDrill(rest)
	case VerbBaseline:
		if len(rest) > 0 {
			return Command{}, perr("baseline takes no arguments (got %q); try: /killswitch baseline", clip(rest[0], 40))
		}
		return Command{Verb: VerbBaseline}, nil
	case VerbPlan:
		if len(rest) == 0 {
			return Command{}, perr("plan needs an action, e.g. /killswitch plan lockdown --all (actions: %s)", strings.Join(actions.Names(), ", "))
		}
		action, err := actionName(rest[0])
		if err != nil {
			return Command{}, err
		}
		f, err := parseFlags(rest[1:], true, false)
		if err != nil {
			return Command{}, err
		}
		if f.reason != "" {
			return Command{}, perr("plan takes no reason (got %q): /killswitch plan %s [--accounts ID,ID | --all]", clip(f.reason, 40), action)
		}
		c := Command{Verb: VerbPlan, Action: action}
		if c.Accounts, c.All, err = resolveScope(f, configured); err != nil {
			return Command{}, err
		}
		if c.Principals, err = principalsFor(action, f); err != nil {
			return Command{}, err
		}
		return c, nil
	}
	if startsWithDash(head) {
		return Command{}, perr("start with an action or a command, not the flag %q: /killswitch lockdown --all --incident INC-1 attacker has console access", words[0])
	}
	action, err := actionName(words[0])
	if err != nil {
		return Command{}, err
	}
	f, err := parseFlags(rest, true, true)
	if err != nil {
		return Command{}, err
	}
	if f.reason == "" {
		return Command{}, perr("a reason is required: /killswitch %s --all --incident INC-1 attacker has console access", action)
	}
	c := Command{Verb: VerbRequest, Action: action, Incident: f.incident, Reason: f.reason}
	if c.Accounts, c.All, err = resolveScope(f, configured); err != nil {
		return Command{}, err
	}
	if c.Principals, err = principalsFor(action, f); err != nil {
		return Command{}, err
	}
	return c, nil
}

// forbiddenRune: control characters and the bidirectional overrides that
// make text read differently from what it is ("Trojan Source").
func forbiddenRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == utf8.RuneError
}

// unescapeSlack decodes the three entities Slack escapes in message text.
func unescapeSlack(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func actionName(word string) (string, error) {
	name := strings.ToLower(word)
	if _, err := actions.Lookup(name); err != nil {
		return "", perr("unknown action or command %q: actions are %s; commands are %s", clip(word, 40),
			strings.Join(actions.Names(), ", "), strings.Join(commandVerbs, ", "))
	}
	return name, nil
}

func requestID(word, verb string) (string, error) {
	if !requestIDRE.MatchString(word) {
		return "", perr("%s: %q is not a request id (like ks-7f3a9c2e)", verb, clip(word, 40))
	}
	return word, nil
}

type flagSet struct {
	all         bool
	accounts    []string
	hasAccounts bool
	incident    string
	reason      string
	principals  []string // --principals user:NAME,group:NAME (contain-identity-center)
}

// isDash: the ASCII hyphen-minus and the characters that look like it: all
// dash punctuation (U+2010 hyphen, U+2011 non-breaking hyphen, U+2012
// figure dash, U+2013 en dash, U+2014 em dash, U+2015 horizontal bar, U+FE58
// small em dash, U+FE63 small hyphen-minus, U+FF0D fullwidth hyphen-minus,
// …) and the minus signs (U+2212, U+2796, U+02D7, U+207B, U+208B), and U+2043
// hyphen bullet.
func isDash(r rune) bool {
	switch r {
	case '-', '\u2212', '\u2796', '\u02D7', '\u207B', '\u208B', '\u2043':
		return true
	}
	return unicode.Is(unicode.Pd, r)
}

// isFormat: invisible format characters (zero-width space and joiners, soft
// hyphen, word joiner, byte order mark) that can hide in front of a flag.
func isFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }

// startsWithDash: w begins, after invisible characters, with something that
// looks like a hyphen.
func startsWithDash(w string) bool {
	r, _ := utf8.DecodeRuneInString(strings.TrimLeftFunc(w, isFormat))
	return isDash(r)
}

// dashes reads a word that looks like a flag as one: a leading run of
// hyphen look-alikes (the long dashes Slack clients substitute for "--",
// a figure dash, a minus sign; see isDash), possibly after invisible
// characters, followed by a letter, becomes "--" and the rest. It reports
// whether the word was not typed with plain ASCII hyphens. Anything else
// (plain ASCII, "−5", a lone "—") is returned unchanged.
func dashes(w string) (string, bool) {
	t := strings.TrimLeftFunc(w, isFormat)
	i, ascii := 0, len(t) == len(w)
	for i < len(t) {
		r, n := utf8.DecodeRuneInString(t[i:])
		if !isDash(r) {
			break
		}
		ascii = ascii && r == '-'
		i += n
	}
	if i == 0 || ascii {
		return w, false
	}
	if r, _ := utf8.DecodeRuneInString(t[i:]); !unicode.IsLetter(r) {
		return w, false
	}
	return "--" + t[i:], true
}

// flagWord is dashes without the report.
func flagWord(w string) string {
	f, _ := dashes(w)
	return f
}

// parseFlags reads SCOPE and --incident flags, then the reason.
func parseFlags(words []string, scope, incident bool) (flagSet, error) {
	var f flagSet
	known := func(name string) bool {
		switch name {
		case "--all", "--accounts", "--principals":
			return scope
		case "--incident":
			return incident
		}
		return false
	}
	allowed := func() string {
		var fl []string
		if scope {
			fl = append(fl, "--accounts ID,ID", "--all")
		}
		if incident {
			fl = append(fl, "--incident ID")
		}
		if len(fl) == 0 {
			return "none"
		}
		return strings.Join(fl, ", ")
	}
	i := 0
	for ; i < len(words); i++ {
		w, lookalike := dashes(words[i])
		if !strings.HasPrefix(w, "--") {
			if strings.HasPrefix(w, "-") && len(w) > 1 && !isNumberish(w) {
				return f, perr("unknown flag %q: flags are %s", clip(words[i], 40), allowed())
			}
			break
		}
		name, value, hasValue := strings.Cut(w, "=")
		if !known(name) {
			if lookalike {
				typed, _, _ := strings.Cut(words[i], "=")
				return f, perr("unknown flag %q (typed with a dash that is not an ASCII hyphen; type flags with two ASCII hyphens, e.g. --accounts): flags are %s", clip(typed, 40), allowed())
			}
			return f, perr("unknown flag %q: flags are %s", clip(name, 40), allowed())
		}
		takeValue := func(what string) (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(words) || strings.HasPrefix(flagWord(words[i+1]), "--") {
				return "", perr("%s needs %s", name, what)
			}
			i++
			return words[i], nil
		}
		switch name {
		case "--all":
			if hasValue {
				return f, perr("--all takes no value")
			}
			f.all = true
		case "--accounts":
			if f.hasAccounts {
				return f, perr("give --accounts once, with the ids separated by commas: --accounts 111122223333,444455556666")
			}
			v, err := takeValue("account ids, e.g. --accounts 111122223333,444455556666")
			if err != nil {
				return f, err
			}
			// "--accounts 111122223333, 444455556666": the list continues
			// while a comma joins the words.
			for i+1 < len(words) && (strings.HasSuffix(v, ",") || strings.HasPrefix(words[i+1], ",")) && accountListWord(words[i+1]) {
				i++
				v += words[i]
			}
			f.hasAccounts = true
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					f.accounts = append(f.accounts, a)
				}
			}
			if len(f.accounts) == 0 {
				return f, perr("--accounts is empty: give account ids like 111122223333,444455556666 or use --all")
			}
		case "--principals":
			if f.principals != nil {
				return f, perr("give --principals once, the names separated by commas: --principals user:alice,group:Admins")
			}
			v, err := takeValue("Identity Center users or groups, e.g. --principals user:alice,group:Admins")
			if err != nil {
				return f, err
			}
			if f.principals, err = principalList(v); err != nil {
				return f, err
			}
		case "--incident":
			if f.incident != "" {
				return f, perr("give --incident once")
			}
			v, err := takeValue("an incident id, e.g. --incident INC-7")
			if err != nil {
				return f, err
			}
			if !incidentRE.MatchString(v) {
				return f, perr("--incident %q: an incident id is 1-64 letters, digits, '.', '_' or '-', e.g. INC-7", clip(v, 70))
			}
			f.incident = v
		}
	}
	if i < len(words) {
		for _, w := range words[i:] {
			name, _, _ := strings.Cut(flagWord(w), "=")
			if known(name) {
				return f, perr("put %s before the reason: /killswitch lockdown --accounts 111122223333 --incident INC-1 attacker has console access", name)
			}
		}
		f.reason = strings.Join(words[i:], " ")
		if n := utf8.RuneCountInString(f.reason); n > MaxReason {
			return f, perr("the reason is %d characters; keep it to %d and link the incident document for details", n, MaxReason)
		}
	}
	return f, nil
}

// accountListWord: a word made of digits and commas only.
func accountListWord(w string) bool {
	return strings.Trim(w, "0123456789,") == ""
}

func isNumberish(w string) bool {
	return len(w) > 1 && w[0] == '-' && w[1] >= '0' && w[1] <= '9'
}

// resolveScope checks the scope flags against the configured accounts.
func resolveScope(f flagSet, configured []string) ([]string, bool, error) {
	if f.all && f.hasAccounts {
		return nil, false, perr("give --accounts or --all, not both")
	}
	if !f.hasAccounts {
		if len(configured) == 0 {
			return nil, false, perr("no accounts are configured for killswitch; ask an operator to set aws.accounts")
		}
		return slices.Clone(configured), true, nil
	}
	var out []string
	for _, a := range f.accounts {
		if !actions.ValidAccountID(a) {
			return nil, false, perr("%q is not an AWS account id: an account id is 12 digits, e.g. 111122223333", clip(a, 40))
		}
		if !slices.Contains(configured, a) {
			return nil, false, perr("account %s is not configured for killswitch (configured: %s)", a, listClip(configured, 10))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, false, nil
}

func listClip(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(", …and %d more", len(list)-n)
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// parseDrill parses "drill start SCENARIO" and "drill stop". Only built-in
// scenario names are accepted from Slack, never a file path.
func parseDrill(rest []string) (Command, error) {
	switch {
	case len(rest) == 1 && strings.ToLower(rest[0]) == "stop":
		return Command{Verb: VerbDrill, DrillOp: "stop"}, nil
	case len(rest) == 2 && strings.ToLower(rest[0]) == "start":
		name := strings.ToLower(rest[1])
		if !scenarioRE.MatchString(name) {
			return Command{}, perr("drill start takes a built-in scenario name such as codespaces (got %q)", clip(rest[1], 40))
		}
		return Command{Verb: VerbDrill, DrillOp: "start", Scenario: name}, nil
	}
	return Command{}, perr("drill takes start SCENARIO or stop, e.g. /killswitch drill start codespaces")
}

// maxPrincipals bounds --principals.
const maxPrincipals = 50

// principalList parses --principals: user:NAME or group:NAME, comma
// separated, validated strictly (actions.ParseICPrincipals).
func principalList(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p == "" {
			return nil, perr("--principals %q: an empty entry; give user:NAME or group:NAME separated by commas, e.g. --principals user:alice,group:Admins", clip(v, 70))
		}
		out = append(out, p)
	}
	if len(out) > maxPrincipals {
		return nil, perr("--principals names %d users and groups; at most %d (or none: every one but break-glass)", len(out), maxPrincipals)
	}
	if _, err := actions.ParseICPrincipals(out); err != nil {
		return nil, perr("--principals: %v; e.g. --principals user:alice,group:Admins", err)
	}
	return out, nil
}

// principalsFor allows --principals only where an action uses it.
func principalsFor(action string, f flagSet) ([]string, error) {
	if f.principals != nil && action != actions.ContainIdentityCenter {
		return nil, perr("--principals is for %s only (it names the IAM Identity Center users and groups to contain)", actions.ContainIdentityCenter)
	}
	return f.principals, nil
}
