// Command killswitch contains an AWS account takeover: vetted containment
// actions, planned read-only, applied after a second responder approves in
// Slack, undoable. See README.md and CONTRACT.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes of CONTRACT.md.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a mistake in how the command was typed; it exits 2 with a
// message that says what to type instead.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const usage = `killswitch: contain an AWS account takeover

usage: killswitch VERB [flags]

  actions [--json]                                  list the vetted actions
  plan ACTION [--accounts ID,ID | --all] [--sim ORG] [--config FILE] [--since 24h|RFC3339] [--json]
                                                    read-only dry run
  policy list | show NAME | validate [NAME FILE] [--config FILE]
                                                    the AWS policy documents
  serve [--config FILE]                             the Slack service
  runbooks --out DIR [--config FILE]                write the runbook pages as static files
  deploy-templates --out DIR [--config FILE] [--public-url URL] [--bot-principal ARN]
                                                    write the Slack app manifests and the CloudFormation templates
  drill [--scenario NAME|FILE] [--seed N] [--json] [--html FILE]
                                                    a tabletop exercise on the simulated organization
  audit verify [--checkpoint FILE | --head [SEQ:]HASH] [--config FILE]
                                                    verify the audit log's hash chain
  audit show [--request ID] [--json] [--config FILE]
  version                                           the version and the commit it was built from
  help [VERB]                                       usage; per verb with its flags

Run "killswitch help VERB" (or "killswitch VERB --help") for a verb's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command line; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	verbs := map[string]func(context.Context, []string, io.Writer) error{
		"actions": cmdActions,
		"plan":    cmdPlan,
		"policy": func(ctx context.Context, args []string, out io.Writer) error {
			return cmdPolicy(ctx, args, out, stderr)
		},
		"drill":            cmdDrill,
		"runbooks":         cmdRunbooks,
		"deploy-templates": cmdDeployTemplates,
		"serve":            cmdServe,
		"audit":            cmdAudit,
		"version":          cmdVersion,
	}
	verb := args[0]
	switch verb {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		if len(args) > 2 {
			fmt.Fprintf(stderr, "killswitch help: give one verb (got %s)\n", strings.Join(args[1:], " "))
			return exitUsage
		}
		if args[1] == "help" {
			verbUsage(stdout, "help", nil)
			return exitOK
		}
		if _, ok := verbs[args[1]]; !ok {
			fmt.Fprintf(stderr, "killswitch help: unknown verb %q\n\n%s", args[1], usage)
			return exitUsage
		}
		verb, args = args[1], []string{args[1], "--help"}
	case "-version", "--version":
		verb = "version"
		args = []string{"version"}
	}
	f, ok := verbs[verb]
	if !ok {
		fmt.Fprintf(stderr, "killswitch: unknown verb %q\n\n%s", verb, usage)
		return exitUsage
	}
	err := f(ctx, args[1:], stdout)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue), errors.As(err, new(*configError)):
		fmt.Fprintf(stderr, "killswitch %s: %v\n", verb, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "killswitch %s: %v\n", verb, err)
		return exitFailure
	}
}

// configError is a configuration problem (exit 2).
type configError struct{ err error }

func (c *configError) Error() string { return c.err.Error() }
func (c *configError) Unwrap() error { return c.err }

// flags returns a FlagSet that reports errors as usage errors.
func flags(verb string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("killswitch "+verb, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {} // parse prints the usage on --help, and only the error otherwise
	return fs
}

// parse parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		w := fs.Output()
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(w)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				verbUsage(w, strings.TrimPrefix(fs.Name(), "killswitch "), fs)
				return nil, err
			}
			return nil, usagef("%v (see: %s --help)", dashes(err), fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// dashes rewrites the flag package's "-name" in an error as "--name", the
// way the flags are documented and typed.
func dashes(err error) string {
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if strings.HasPrefix(msg, p) {
			return p + "-" + msg[len(p):]
		}
	}
	if i := strings.LastIndex(msg, " for flag -"); i >= 0 {
		return msg[:i] + " for flag --" + msg[i+len(" for flag -"):]
	}
	if i := strings.LastIndex(msg, " for -"); i >= 0 {
		return msg[:i] + " for --" + msg[i+len(" for -"):]
	}
	return msg
}

func cmdVersion(_ context.Context, args []string, out io.Writer) error {
	fs := flags("version", out)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version takes no arguments (got %q)", pos[0])
	}
	fmt.Fprintln(out, versionString())
	return nil
}
