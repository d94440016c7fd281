package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/policies"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdActions(_ context.Context, args []string, out io.Writer) error {
	fs := flags("actions", out)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("actions takes no arguments (got %q); try: killswitch actions --json", pos[0])
	}
	if *asJSON {
		return writeJSON(out, actions.Catalog())
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tUNDO\tSUMMARY")
	for _, a := range actions.Catalog() {
		kind := "read-only"
		if a.Mutating {
			kind = "mutating"
		}
		undo := "no"
		if a.Reversible {
			undo = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, kind, undo, a.Summary)
	}
	return tw.Flush()
}

// configFlag loads the configuration named by --config (or the default).
func configFlag(path string) (*Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, &configError{err}
	}
	return cfg, nil
}

func cmdPlan(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("plan", out)
	accounts := fs.String("accounts", "", "comma-separated account ids (default: all configured accounts)")
	all := fs.Bool("all", false, "every configured account")
	simOrg := fs.String("sim", "", "plan on a simulated organization: a built-in name or a YAML file")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	since := fs.String("since", "", "find-backdoors: report what changed since this RFC 3339 time or this long ago (e.g. 24h)")
	principals := fs.String("principals", "", "contain-identity-center: the IAM Identity Center users and groups to contain, user:NAME,group:NAME (default: every one but break-glass)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("plan needs one action, e.g.: killswitch plan lockdown --all (actions: %s)", strings.Join(actions.Names(), ", "))
	}
	if len(pos) > 1 {
		return usagef("plan takes one action (%s); %q is an extra argument: give flags with two dashes, e.g. killswitch plan %s --accounts 111122223333", pos[0], pos[1], pos[0])
	}
	if _, err := actions.Lookup(pos[0]); err != nil {
		return usagef("%v", err)
	}
	var opt actions.Options
	if *principals != "" {
		if pos[0] != actions.ContainIdentityCenter {
			return usagef("--principals is for %s only", actions.ContainIdentityCenter)
		}
		opt.IdentityCenter = strings.Split(*principals, ",")
		if _, err := actions.ParseICPrincipals(opt.IdentityCenter); err != nil {
			return usagef("--principals: %v", err)
		}
	}
	if *since != "" {
		if opt.Since, err = parseSince(*since, time.Now()); err != nil {
			return err
		}
	}
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	e, err := newEnv(ctx, cfg, *simOrg, nil)
	if err != nil {
		return err
	}
	scope, err := e.scope(*accounts, *all)
	if err != nil {
		return err
	}
	plan, err := e.engine.Plan(ctx, pos[0], scope, opt)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(out, plan); err != nil {
			return err
		}
	} else {
		printPlan(out, plan)
	}
	return planFailure(plan, cfg, *simOrg != "" || cfg.AWS.Backend == "sim")
}

// planFailure is the plan's exit status: a failure (exit 1) when no account
// could be planned, or when AWS refused or could not find the credentials,
// saying how to provide them.
func planFailure(p *actions.Plan, cfg *Config, simulated bool) error {
	failed, creds := 0, 0
	for _, a := range p.Accounts {
		if a.Error == "" {
			continue
		}
		failed++
		if !simulated && credentialError(a.Error) {
			creds++
		}
	}
	var msg string
	switch {
	case creds > 0:
		msg = fmt.Sprintf("%d of %d account(s) could not be planned: no usable AWS credentials. killswitch takes them from the AWS SDK's default chain: "+
			"export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), "+
			"or AWS_PROFILE=NAME for a profile of ~/.aws/config (after aws sso login --profile NAME), "+
			"or run where an instance, ECS task or EKS pod role provides them; "+
			"they must be allowed to assume %s in every account", failed, len(p.Accounts), cfg.AWS.RoleName)
	case failed > 0 && failed == len(p.Accounts):
		msg = fmt.Sprintf("no account could be planned (%d of %d failed): see each account's error", failed, len(p.Accounts))
	default:
		return nil
	}
	return errors.New(msg)
}

// credentialError reports whether an account's error says the base
// credentials are missing, expired or refused.
func credentialError(text string) bool {
	for _, s := range []string{"get credentials:", "failed to refresh cached credentials", "no EC2 IMDS role found", "NoCredentialProviders",
		"InvalidClientTokenId", "ExpiredToken", "UnrecognizedClientException", "SignatureDoesNotMatch", "the security token included in the request is invalid"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q: give a duration like 24h or a time like 2026-11-30T09:00:00Z", s)
}

func printPlan(out io.Writer, p *actions.Plan) {
	t, c, x := p.Counts()
	info, err := actions.Lookup(p.Action)
	if err == nil && !info.Mutating {
		// a read-only action's targets are what it found, not changes
		fmt.Fprintf(out, "plan %s on %d account(s): %d finding(s) about %d principal(s) or policies, %d exempt (read-only: nothing would change)\n", p.Action, len(p.Accounts), c, t, x)
	} else {
		fmt.Fprintf(out, "plan %s on %d account(s): %d target(s), %d change(s), %d exempt\n", p.Action, len(p.Accounts), t, c, x)
	}
	if err == nil {
		for _, cost := range info.Costs {
			fmt.Fprintf(out, "  cost until undo: %s\n", cost)
		}
	}
	for _, a := range p.Accounts {
		fmt.Fprintf(out, "\naccount %s", a.Account)
		if a.Kind != "" {
			fmt.Fprintf(out, " (%s)", a.Kind)
		}
		fmt.Fprintln(out)
		if a.Error != "" {
			fmt.Fprintf(out, "  ERROR: %s\n", a.Error)
		}
		for _, tg := range a.Targets {
			fmt.Fprintf(out, "  %s\n", tg.Principal)
			for _, ch := range tg.Changes {
				fmt.Fprintf(out, "    - %s\n", ch)
			}
		}
		if len(a.Exempt) > 0 {
			fmt.Fprintln(out, "  exempt:")
			for _, ex := range a.Exempt {
				fmt.Fprintf(out, "    %s: %s\n", ex.Principal, ex.Reason)
			}
		}
		for _, w := range a.Warnings {
			fmt.Fprintf(out, "  warning: %s\n", w)
		}
	}
}

func printResult(out io.Writer, r *actions.Result) {
	verb := "apply"
	if r.Undo {
		verb = "undo"
	}
	fmt.Fprintf(out, "%s %s: %s, %d change(s)\n", verb, r.Action, r.Status, r.Changed())
	for _, a := range r.Accounts {
		fmt.Fprintf(out, "\naccount %s: %s\n", a.Account, a.Status)
		if a.Error != "" {
			fmt.Fprintf(out, "  ERROR: %s\n", a.Error)
		}
		for _, s := range a.Steps {
			line := fmt.Sprintf("  [%s] %s: %s", s.Status, s.Principal, s.Change)
			if s.Error != "" {
				line += " (" + s.Error + ")"
			}
			fmt.Fprintln(out, line)
		}
		for _, f := range a.Findings {
			fmt.Fprintf(out, "  finding %s: %s\n", f.Principal, strings.Join(f.Changes, "; "))
		}
		for _, w := range a.Warnings {
			fmt.Fprintf(out, "  warning: %s\n", w)
		}
	}
}

func cmdPolicy(_ context.Context, args []string, out, errOut io.Writer) error {
	fs := flags("policy", out)
	cfgPath := fs.String("config", "", "render with this configuration's exemptions and role (default: the embedded default configuration, as serve and plan use it)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	params := policyParams(cfg)
	sub := ""
	if len(pos) > 0 {
		sub = pos[0]
	}
	switch {
	case sub == "list" && len(pos) == 1:
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, d := range policies.List() {
			kinds := make([]string, len(d.Kinds))
			for i, k := range d.Kinds {
				kinds[i] = string(k)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, strings.Join(kinds, ","), d.Summary)
		}
		return tw.Flush()
	case sub == "show" && len(pos) == 2:
		if _, ok := policies.Lookup(pos[1]); !ok {
			return usagef("no policy document %q; see: killswitch policy list", pos[1])
		}
		doc, err := policies.Show(pos[1], params)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(out, doc); err != nil {
			return err
		}
		for _, n := range policyNotes(pos[1], cfg, *cfgPath, params) {
			fmt.Fprintf(errOut, "note: %s\n", n)
		}
		return nil
	case sub == "validate" && len(pos) == 1:
		errs := policies.ValidateAll(params)
		for _, d := range policies.List() {
			status := "ok"
			for _, e := range errs {
				var ve *policies.ValidationError
				if errors.As(e, &ve) && ve.Document == d.Name || !errors.As(e, &ve) && strings.Contains(e.Error(), d.Name) {
					status = "INVALID"
				}
			}
			fmt.Fprintf(out, "%s: %s\n", d.Name, status)
		}
		errs = append(errs, validateTemplates(out, params)...)
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(out, "  %v\n", e)
			}
			return fmt.Errorf("%d document(s) or template(s) failed validation", len(errs))
		}
		return nil
	case sub == "validate" && len(pos) == 3:
		// validate NAME FILE: check a document file as if it were NAME
		d, ok := policies.Lookup(pos[1])
		if !ok {
			return usagef("no policy document %q; see: killswitch policy list", pos[1])
		}
		data, err := os.ReadFile(pos[2])
		if err != nil {
			return err
		}
		if err := policies.Validate(d, string(data)); err != nil {
			fmt.Fprintf(out, "%s (%s): INVALID\n  %v\n", pos[2], d.Name, err)
			return fmt.Errorf("%s failed validation", pos[2])
		}
		fmt.Fprintf(out, "%s (%s): ok\n", pos[2], d.Name)
		return nil
	case sub == "validate":
		return usagef("policy validate takes no argument (check every document) or NAME FILE (check FILE against NAME's rules), got %d: e.g. killswitch policy validate deny-delete my-policy.json", len(pos)-1)
	case sub == "list" || sub == "show":
		return usagef("policy needs: list | show NAME | validate [NAME FILE]; e.g. killswitch policy show deny-delete")
	}
	return usagef("policy needs: list | show NAME | validate [NAME FILE]")
}

// policyParams are the parameters serve and plan render the documents with
// for cfg: its break-glass patterns and the bot's role in every account,
// its tag, role name and external id. The revocation cut-off and the bot's
// principal are examples (see policyNotes).
func policyParams(cfg *Config) policies.Params {
	params := policies.DefaultParams()
	params.ExemptPatterns = append(append([]string(nil), cfg.BreakGlass.Principals...), "arn:aws:iam::*:role/"+cfg.AWS.RoleName)
	params.ExemptTag = cfg.BreakGlass.Tag
	params.RoleName = cfg.AWS.RoleName
	params.ExternalID = cfg.AWS.ExternalID
	return params
}

// policyNotes say which values of a shown document are examples and what
// is added when it is attached (printed on stderr: show's stdout is the
// rendered JSON alone).
func policyNotes(name string, cfg *Config, cfgPath string, params policies.Params) []string {
	from := "the embedded default configuration"
	if cfgPath != "" {
		from = cfgPath
	}
	var notes []string
	switch name {
	case "revoke-older-sessions":
		notes = append(notes, fmt.Sprintf("the aws:TokenIssueTime cut-off %s is an example: revoke-sessions and lockdown set it to the moment of the run (each account's own cut-off)", params.RevokeBefore.UTC().Format(time.RFC3339)))
	case "responder-trust":
		notes = append(notes, fmt.Sprintf("the trusted principal %s is an example: use the principal killswitch serve runs as", params.BotPrincipal))
	case "deny-delete", "quarantine":
		notes = append(notes, fmt.Sprintf("exemptions from %s: %s", from, strings.Join(params.ExemptPatterns, ", ")))
		if name == "deny-delete" {
			notes = append(notes, fmt.Sprintf("when attached, principals exempt by the tag %s (confirmed by the recorded exemption baseline) are added by ARN, and the document is split into parts that each fit an SCP (%s, %s-2, ...)", cfg.BreakGlass.Tag, actions.DenyDeletePolicyName, actions.DenyDeletePolicyName))
		}
	case "bot-policy":
		notes = append(notes, fmt.Sprintf("role %s from %s", cfg.AWS.RoleName, from))
	}
	return notes
}
