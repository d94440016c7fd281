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
  plan ACTION [--accounts ID,ID | --all] [--sim ORG] [--config FILE] [--json]
                                                    read-only dry run
  policy list | show NAME | validate [FILE]         the AWS policy documents
  serve [--config FILE]                             the Slack service
  drill [--scenario NAME|FILE] [--json]             a tabletop exercise on the simulated organization
  audit verify [--config FILE]                      verify the audit log's hash chain
  audit show [--request ID] [--json] [--config FILE]

Run "killswitch VERB --help" for a verb's flags.
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
		"policy":  cmdPolicy,
		"drill":   cmdDrill,
		"serve":   cmdServe,
		"audit":   cmdAudit,
	}
	verb := args[0]
	if verb == "help" || verb == "-h" || verb == "--help" {
		fmt.Fprint(stdout, usage)
		return exitOK
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
	return fs
}

// parse parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v (see: %s --help)", err, fs.Name())
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
