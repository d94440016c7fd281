package bot

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/killswitch/killswitch/actions"
)

var configured = []string{"111122223333", "444455556666", "777788889999"}

func TestParseCommand(t *testing.T) {
	long := strings.Repeat("x", MaxReason+1)
	cases := []struct {
		name string
		text string
		want Command
		err  string // substring of the error; "" = no error
	}{
		{name: "empty is help", text: "", want: Command{Verb: VerbHelp}},
		{name: "blank is help", text: "   ", want: Command{Verb: VerbHelp}},
		{name: "help", text: "help", want: Command{Verb: VerbHelp}},
		{name: "HELP", text: "HELP", want: Command{Verb: VerbHelp}},
		{name: "actions", text: "actions", want: Command{Verb: VerbActions}},
		{name: "actions extra", text: "actions now", err: "actions takes no arguments"},
		{name: "baseline", text: "Baseline", want: Command{Verb: VerbBaseline}},
		{name: "baseline extra", text: "baseline --all", err: "baseline takes no arguments"},

		{name: "plan default scope", text: "plan lockdown",
			want: Command{Verb: VerbPlan, Action: "lockdown", Accounts: configured, All: true}},
		{name: "plan all", text: "plan deny-delete --all",
			want: Command{Verb: VerbPlan, Action: "deny-delete", Accounts: configured, All: true}},
		{name: "plan accounts", text: "plan revoke-sessions --accounts 444455556666,111122223333",
			want: Command{Verb: VerbPlan, Action: "revoke-sessions", Accounts: []string{"444455556666", "111122223333"}}},
		{name: "plan accounts equals", text: "plan revoke-sessions --accounts=444455556666",
			want: Command{Verb: VerbPlan, Action: "revoke-sessions", Accounts: []string{"444455556666"}}},
		{name: "plan accounts spaced list", text: "plan lockdown --accounts 111122223333, 444455556666",
			want: Command{Verb: VerbPlan, Action: "lockdown", Accounts: []string{"111122223333", "444455556666"}}},
		{name: "plan accounts deduped", text: "plan lockdown --accounts 111122223333,111122223333",
			want: Command{Verb: VerbPlan, Action: "lockdown", Accounts: []string{"111122223333"}}},
		{name: "plan no action", text: "plan", err: "plan needs an action"},
		{name: "plan unknown action", text: "plan nuke", err: `unknown action or command "nuke": actions are contain-identity-center, deny-delete, disable-users, find-backdoors, lockdown, revoke-sessions, rotate-keys`},
		{name: "plan with reason", text: "plan lockdown because", err: "plan takes no reason"},
		{name: "plan with incident", text: "plan lockdown --incident INC-1", err: `unknown flag "--incident"`},

		{name: "request", text: "lockdown --all --incident INC-7 attacker in prod",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Incident: "INC-7", Reason: "attacker in prod"}},
		{name: "request default scope", text: "disable-users backup logins found",
			want: Command{Verb: VerbRequest, Action: "disable-users", Accounts: configured, All: true, Reason: "backup logins found"}},
		{name: "request flags any order", text: "lockdown --incident INC-7 --accounts 777788889999 go",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: []string{"777788889999"}, Incident: "INC-7", Reason: "go"}},
		{name: "request em dashes", text: "lockdown —all —incident INC-7 attacker",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Incident: "INC-7", Reason: "attacker"}},
		{name: "request capitalised action", text: "Lockdown --all attacker",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: "attacker"}},
		{name: "request reason collapses spaces", text: "lockdown   attacker    has  console",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: "attacker has console"}},
		{name: "request reason with dashes", text: "lockdown attacker ran rm --force -rf",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: "attacker ran rm --force -rf"}},
		{name: "request reason decoded", text: "lockdown attacker &lt;@U999&gt; &amp; friends",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: "attacker <@U999> & friends"}},
		{name: "request reason max", text: "lockdown " + strings.Repeat("y", MaxReason),
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: strings.Repeat("y", MaxReason)}},
		{name: "request reason unicode counts runes", text: "lockdown " + strings.Repeat("é", MaxReason),
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: strings.Repeat("é", MaxReason)}},
		{name: "request negative number in reason", text: "lockdown -5 degrees in the DC",
			want: Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Reason: "-5 degrees in the DC"}},

		{name: "missing reason", text: "lockdown --all --incident INC-1",
			err: "a reason is required: /killswitch lockdown --all --incident INC-1 attacker has console access"},
		{name: "missing reason bare", text: "lockdown", err: "a reason is required"},
		{name: "unknown action", text: "nuke --all now", err: `unknown action or command "nuke": actions are contain-identity-center, deny-delete, disable-users`},
		{name: "unknown action lists commands", text: "stauts", err: "commands are help, actions, plan, status, cancel, undo"},
		{name: "flag first", text: "--all lockdown x", err: "start with an action or a command"},
		{name: "unknown flag", text: "lockdown --everything attacker", err: `unknown flag "--everything": flags are --accounts ID,ID, --all, --incident ID`},
		{name: "unknown short flag", text: "lockdown -a attacker", err: `unknown flag "-a"`},
		{name: "typo flag", text: "lockdown --all --incidnet INC-1 attacker", err: `unknown flag "--incidnet"`},
		{name: "bad account short", text: "lockdown --accounts 12345 x", err: `"12345" is not an AWS account id: an account id is 12 digits, e.g. 111122223333`},
		{name: "bad account letters", text: "lockdown --accounts 11112222333a x", err: `"11112222333a" is not an AWS account id`},
		{name: "bad account second", text: "lockdown --accounts 111122223333,4444 x", err: `"4444" is not an AWS account id`},
		{name: "account not configured", text: "lockdown --accounts 999999999999 x", err: "account 999999999999 is not configured for killswitch (configured: 111122223333, 444455556666, 777788889999)"},
		{name: "accounts and all", text: "lockdown --all --accounts 111122223333 x", err: "give --accounts or --all, not both"},
		{name: "accounts twice", text: "lockdown --accounts 111122223333 --accounts 444455556666 x", err: "give --accounts once"},
		{name: "accounts empty", text: "lockdown --accounts , x", err: "--accounts is empty"},
		{name: "accounts missing value", text: "lockdown --accounts", err: "--accounts needs account ids"},
		{name: "accounts value is flag", text: "lockdown --accounts --all x", err: "--accounts needs account ids"},
		{name: "all with value", text: "lockdown --all=yes x", err: "--all takes no value"},
		{name: "incident bad chars", text: "lockdown --incident INC/7 x", err: `--incident "INC/7": an incident id is 1-64 letters, digits`},
		{name: "incident too long", text: "lockdown --incident " + strings.Repeat("I", 65) + " x", err: "an incident id is 1-64"},
		{name: "incident missing", text: "lockdown --incident", err: "--incident needs an incident id"},
		{name: "incident twice", text: "lockdown --incident A --incident B x", err: "give --incident once"},
		{name: "flag after reason", text: "lockdown attacker in prod --accounts 111122223333", err: "put --accounts before the reason"},
		{name: "incident after reason", text: "lockdown attacker --incident INC-1", err: "put --incident before the reason"},
		{name: "reason too long", text: "lockdown " + long, err: "the reason is 501 characters; keep it to 500"},
		{name: "newline", text: "lockdown attacker\nrm -rf", err: "control or bidirectional-override character (U+000A)"},
		{name: "tab", text: "lockdown\tattacker", err: "U+0009"},
		{name: "nul", text: "lockdown attacker\x00", err: "U+0000"},
		{name: "bidi override", text: "lockdown attacker \u202Egnp.exe", err: "U+202E"},
		{name: "invalid utf8", text: "lockdown \xff", err: "not valid UTF-8"},
		{name: "too long text", text: "lockdown " + strings.Repeat("z", MaxCommandText), err: "keep it under 4000"},

		{name: "status", text: "status", want: Command{Verb: VerbStatus}},
		{name: "status id", text: "status ks-7f3a9c2e", want: Command{Verb: VerbStatus, RequestID: "ks-7f3a9c2e"}},
		{name: "status bad id", text: "status ks/../x", err: `status: "ks/../x" is not a request id`},
		{name: "status two ids", text: "status a b", err: "status takes at most one request id"},
		{name: "cancel", text: "cancel ks-7f3a9c2e", want: Command{Verb: VerbCancel, RequestID: "ks-7f3a9c2e"}},
		{name: "cancel missing", text: "cancel", err: "cancel needs one request id"},
		{name: "cancel extra", text: "cancel ks-1 now", err: "cancel needs one request id"},
		{name: "undo", text: "undo ks-7f3a9c2e contained, restoring access",
			want: Command{Verb: VerbUndo, RequestID: "ks-7f3a9c2e", Reason: "contained, restoring access"}},
		{name: "undo incident", text: "undo ks-7f3a9c2e --incident INC-7 contained",
			want: Command{Verb: VerbUndo, RequestID: "ks-7f3a9c2e", Incident: "INC-7", Reason: "contained"}},
		{name: "undo no reason", text: "undo ks-7f3a9c2e", err: "a reason is required: /killswitch undo ks-7f3a9c2e"},
		{name: "undo nothing", text: "undo", err: "undo needs the request id and a reason"},
		{name: "undo scope flag", text: "undo ks-1 --all because", err: `unknown flag "--all"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCommand(c.text, configured)
			if c.err != "" {
				if err == nil {
					t.Fatalf("ParseCommand(%q) = %+v, want error containing %q", c.text, got, c.err)
				}
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is %T, want *ParseError", err, err)
				}
				if !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseCommand(%q) error\n  %q\nwant it to contain\n  %q", c.text, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", c.text, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseCommand(%q)\n got %+v\nwant %+v", c.text, got, c.want)
			}
		})
	}
}

func TestParseCommandNoAccountsConfigured(t *testing.T) {
	if _, err := ParseCommand("lockdown x", nil); err == nil || !strings.Contains(err.Error(), "no accounts are configured") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseCommandDoesNotAliasConfigured(t *testing.T) {
	conf := []string{"111122223333"}
	c, err := ParseCommand("plan lockdown", conf)
	if err != nil {
		t.Fatal(err)
	}
	c.Accounts[0] = "changed"
	if conf[0] != "111122223333" {
		t.Fatal("the parsed scope aliases the configured accounts")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"", "help", "actions", "plan lockdown --all", "lockdown --all --incident INC-7 attacker in prod",
		"lockdown --accounts 111122223333,444455556666 x", "status ks-1", "cancel ks-1", "undo ks-1 reason",
		"lockdown —all x", "lockdown --accounts 111122223333, 444455556666 x", "lockdown &lt;!channel&gt;",
		"lockdown --incident=INC-1 x", "plan lockdown --accounts=", "x\x00y", "lockdown \u202e",
		"lockdown \u2012\u2012accounts 111122223333 x", "lockdown \u2212all x", "lockdown x \uff0d\uff0dincident I",
		"lockdown \u200b--accounts 111122223333 x", "lockdown \u22125 x", "drill stop", "baseline",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text, configured)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("error %v is not a user-facing *ParseError", err)
			}
			if !utf8.ValidString(pe.Msg) || len(pe.Msg) > 2000 {
				t.Fatalf("error message is not short valid text: %q", pe.Msg)
			}
			return
		}
		switch c.Verb {
		case VerbHelp, VerbActions, VerbStatus, VerbCancel, VerbUndo, VerbPlan, VerbRequest, VerbDrill, VerbBaseline:
		default:
			t.Fatalf("unknown verb %q", c.Verb)
		}
		if c.Verb == VerbPlan || c.Verb == VerbRequest {
			if _, err := actions.Lookup(c.Action); err != nil {
				t.Fatalf("accepted unknown action %q", c.Action)
			}
			if len(c.Accounts) == 0 {
				t.Fatal("empty scope accepted")
			}
			for _, a := range c.Accounts {
				if !actions.ValidAccountID(a) {
					t.Fatalf("accepted bad account %q", a)
				}
				found := false
				for _, k := range configured {
					found = found || a == k
				}
				if !found {
					t.Fatalf("accepted unconfigured account %q", a)
				}
			}
		}
		// no flag is ever taken for reason text, however its dashes look
		for _, w := range strings.Fields(c.Reason) {
			name, _, _ := strings.Cut(flagWord(w), "=")
			if name == "--incident" || c.Verb == VerbRequest && (name == "--all" || name == "--accounts") {
				t.Fatalf("the flag %q was read as reason text %q", w, c.Reason)
			}
		}
		if (c.Verb == VerbRequest || c.Verb == VerbUndo) && strings.TrimSpace(c.Reason) == "" {
			t.Fatal("request without a reason accepted")
		}
		if utf8.RuneCountInString(c.Reason) > MaxReason {
			t.Fatalf("reason of %d characters accepted", utf8.RuneCountInString(c.Reason))
		}
		if strings.IndexFunc(c.Reason, forbiddenRune) >= 0 {
			t.Fatalf("reason with a control character accepted: %q", c.Reason)
		}
		if c.Incident != "" && !incidentRE.MatchString(c.Incident) {
			t.Fatalf("bad incident accepted: %q", c.Incident)
		}
		if (c.Verb == VerbCancel || c.Verb == VerbUndo) && !requestIDRE.MatchString(c.RequestID) {
			t.Fatalf("bad request id accepted: %q", c.RequestID)
		}
	})
}

// lookalikeDashes are the characters that look like a hyphen and that people
// (or their keyboards, phones and chat clients) type instead of "-".
var lookalikeDashes = []rune{
	'\u2010', // hyphen
	'\u2011', // non-breaking hyphen
	'\u2012', // figure dash
	'\u2013', // en dash (what Slack makes of "--" on some clients)
	'\u2014', // em dash (what Slack makes of "--")
	'\u2015', // horizontal bar
	'\u2212', // minus sign
	'\uFE58', // small em dash
	'\uFE63', // small hyphen-minus
	'\uFF0D', // fullwidth hyphen-minus
	'\u2796', // heavy minus sign
	'\u02D7', // modifier letter minus sign
	'\u207B', // superscript minus
	'\u208B', // subscript minus
}

// TestLookalikeDashesAreFlags: a flag typed with a look-alike dash, one or
// two of them, mixed with an ASCII hyphen or after an invisible character,
// is read as the flag, never as reason text: "‒‒accounts 111122223333 x" read
// as a reason would silently widen the scope to every configured account.
func TestLookalikeDashesAreFlags(t *testing.T) {
	one := []string{"111122223333"}
	for _, d := range lookalikeDashes {
		for _, prefix := range []string{string(d), string(d) + string(d), "-" + string(d), string(d) + "-", "\u200b" + string(d) + string(d)} {
			t.Run(fmt.Sprintf("%U/%q", d, prefix), func(t *testing.T) {
				cases := []struct {
					text string
					want Command
				}{
					{prefix + "accounts 111122223333 attacker in prod",
						Command{Verb: VerbRequest, Action: "lockdown", Accounts: one, Reason: "attacker in prod"}},
					{prefix + "accounts=111122223333 attacker",
						Command{Verb: VerbRequest, Action: "lockdown", Accounts: one, Reason: "attacker"}},
					{prefix + "incident INC-7 " + prefix + "accounts 111122223333 attacker",
						Command{Verb: VerbRequest, Action: "lockdown", Accounts: one, Incident: "INC-7", Reason: "attacker"}},
					{prefix + "all " + prefix + "incident INC-7 attacker",
						Command{Verb: VerbRequest, Action: "lockdown", Accounts: configured, All: true, Incident: "INC-7", Reason: "attacker"}},
				}
				for _, c := range cases {
					got, err := ParseCommand("lockdown "+c.text, configured)
					if err != nil {
						t.Fatalf("ParseCommand(%q): %v", "lockdown "+c.text, err)
					}
					if !reflect.DeepEqual(got, c.want) {
						t.Fatalf("ParseCommand(%q)\n got %+v\nwant %+v", "lockdown "+c.text, got, c.want)
					}
				}
				plan, err := ParseCommand("plan lockdown "+prefix+"accounts 444455556666", configured)
				if err != nil || !reflect.DeepEqual(plan.Accounts, []string{"444455556666"}) || plan.All {
					t.Fatalf("plan with %q: %+v, %v", prefix, plan, err)
				}
				undo, err := ParseCommand("undo ks-1 "+prefix+"incident INC-7 contained", configured)
				if err != nil || undo.Incident != "INC-7" || undo.Reason != "contained" {
					t.Fatalf("undo with %q: %+v, %v", prefix, undo, err)
				}
				refusals := map[string]string{
					"lockdown attacker in prod " + prefix + "accounts 111122223333": "put --accounts before the reason",
					"lockdown attacker " + prefix + "incident INC-1":                "put --incident before the reason",
					"lockdown " + prefix + "acounts 111122223333 attacker":          "type flags with two ASCII hyphens",
					"lockdown " + prefix + "accounts " + prefix + "all attacker":    "--accounts needs account ids",
					prefix + "all lockdown attacker":                                "start with an action or a command",
				}
				for text, want := range refusals {
					got, err := ParseCommand(text, configured)
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("ParseCommand(%q) = %+v, %v; want an error containing %q", text, got, err, want)
					}
				}
			})
		}
		// a look-alike minus before a number, or a lone dash, is reason text
		for _, text := range []string{string(d) + "5 degrees in the DC", "attacker " + string(d) + " still active"} {
			got, err := ParseCommand("lockdown "+text, configured)
			if err != nil || got.Reason != text {
				t.Errorf("ParseCommand(%q) = %+v, %v; want the reason %q", "lockdown "+text, got, err, text)
			}
		}
	}
}
