package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/killswitch/killswitch/actions"
)

// verbHelp is each verb's usage line and what it does, shown by
// "killswitch help VERB" and "killswitch VERB --help".
var verbHelp = map[string]struct{ synopsis, about string }{
	"actions": {"killswitch actions [--json]",
		"List the vetted actions: name, mutating or read-only, reversible, summary."},
	"plan": {"killswitch plan ACTION [--accounts ID,ID | --all] [--sim ORG] [--config FILE] [--since 24h|RFC3339] [--json]",
		"Read-only dry run of ACTION: per account, every principal or target affected, every exemption and why, every warning. Nothing is changed."},
	"policy": {"killswitch policy list | show NAME | validate [NAME FILE] [--config FILE]",
		"The AWS policy documents the actions attach. list: one a line, NAME first. show NAME: the rendered JSON alone, as serve and plan would attach it for the configuration (notes on examples go to stderr). validate: check every document against JSON and AWS size limits; validate NAME FILE: check a hand-edited FILE against NAME's rules."},
	"serve": {"killswitch serve [--config FILE]",
		"The Slack service (HTTP, or Socket Mode with slack.socket_mode). Secrets come from SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN (and SLACK_APP_TOKEN)."},
	"drill": {"killswitch drill [--scenario NAME|FILE] [--seed N] [--json] [--html FILE]",
		"A tabletop exercise on the simulated organization, through the in-process service. --html FILE also writes the report for people (timeline, resources over time, scorecard, and the 2014 response beside it). Exit 1 when the intrusion was not contained."},
	"audit": {"killswitch audit verify [--checkpoint FILE | --head [SEQ:]HASH] [--config FILE]\n       killswitch audit show [--request ID] [--json] [--config FILE]",
		"verify: check the audit log's hash chain, and against a signed checkpoint or a recorded head. show: the audit entries, oldest first."},
	"audit verify": {"killswitch audit verify [--checkpoint FILE | --head [SEQ:]HASH] [--config FILE]",
		"Check the audit log's hash chain, and against the newest signed checkpoint of FILE or a head recorded elsewhere; exit 1 naming the first bad entry, or saying the log was truncated or rewritten."},
	"audit show": {"killswitch audit show [--request ID] [--json] [--config FILE]",
		"The audit entries, oldest first: time, actor, request, event, AWS call and outcome."},
	"runbooks": {"killswitch runbooks --out DIR [--config FILE]",
		"Write the runbook pages (index.html, ACTION.html, style.css) as static files for a wiki: the same pages serve answers at /runbooks, without the recent requests."},
	"deploy-templates": {"killswitch deploy-templates --out DIR [--config FILE] [--public-url URL] [--bot-principal ARN]",
		"Write what a platform team deploys, for this configuration: the Slack app manifest (" + manifestHTTP + ", needs the public URL) and its Socket Mode variant (" + manifestSocket + "), and the CloudFormation templates of the responder and canary roles (" + templateMembers + " for a service-managed StackSet across the Organization, " + templateManagement + " for the management account), rendered from the policy documents."},
	"version": {"killswitch version (also: killswitch --version)",
		"The version and the commit killswitch was built from."},
	"help": {"killswitch help [VERB]",
		"Usage, per verb with its flags and, for plan, the actions."},
}

// verbUsage prints a verb's usage: its line, what it does, its flags with
// two dashes and, for plan, the actions.
func verbUsage(w io.Writer, verb string, fs *flag.FlagSet) {
	h, ok := verbHelp[verb]
	if !ok {
		h.synopsis = "killswitch " + verb + " [flags]"
	}
	fmt.Fprintf(w, "usage: %s\n", h.synopsis)
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", h.about)
	}
	if fs != nil {
		printFlags(w, fs, h.synopsis)
	}
	if verb == "plan" {
		fmt.Fprintln(w, "\nactions (ACTION):")
		printActionList(w)
	}
}

// printFlags lists fs's flags the way they are typed: --name VALUE.
func printFlags(w io.Writer, fs *flag.FlagSet, synopsis string) {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if v := synopsisValue(synopsis, f.Name); v != "" {
			arg = v
		} else if arg != "" {
			arg = strings.ToUpper(arg)
		}
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintln(w, line)
		if def := f.DefValue; def != "" && def != "false" && def != "0" {
			text += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "        %s\n", text)
	})
}

// synopsisValue is the value a usage line shows for --name ("FILE" for
// "--config FILE"), or "".
func synopsisValue(synopsis, name string) string {
	i := strings.Index(synopsis, "--"+name+" ")
	if i < 0 {
		return ""
	}
	rest := synopsis[i+len(name)+3:]
	if j := strings.IndexAny(rest, " \n"); j >= 0 {
		rest = rest[:j]
	}
	for strings.HasSuffix(rest, "]") && strings.Count(rest, "]") > strings.Count(rest, "[") {
		rest = rest[:len(rest)-1]
	}
	if rest == "" || rest == "|" || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "[--") {
		return ""
	}
	return rest
}

// printActionList prints every action with the first part of its summary.
func printActionList(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range actions.Catalog() {
		kind := "read-only"
		if a.Mutating {
			kind = "mutating"
		}
		summary := a.Summary
		if r := []rune(summary); len(r) > 72 {
			cut := string(r[:72])
			if i := strings.LastIndex(cut, " "); i > 40 {
				cut = cut[:i]
			}
			summary = strings.TrimRight(cut, " ,;:") + " …"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, kind, summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n(killswitch actions --json for every detail)")
}

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version of the build information is used.
var version = ""

// readBuildInfo is debug.ReadBuildInfo (a variable for tests).
var readBuildInfo = debug.ReadBuildInfo

// versionString is "killswitch VERSION, commit REV of TIME" (", with
// uncommitted changes" when the tree was modified); "(devel)" and "commit
// unknown" where the build recorded nothing.
func versionString() string {
	v, commit, when, modified := version, "", "", false
	if bi, ok := readBuildInfo(); ok && bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if commit == "" {
		return "killswitch " + v + ", commit unknown (built without version control information)"
	}
	out := "killswitch " + v + ", commit " + commit
	if when != "" {
		out += " of " + when
	}
	if modified {
		out += ", with uncommitted changes"
	}
	return out
}
