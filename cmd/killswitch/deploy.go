package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/runbook"
)

// Files deploy-templates writes besides the CloudFormation templates.
const (
	manifestHTTP   = "slack-app-manifest.yaml"
	manifestSocket = "slack-app-manifest-socket-mode.yaml"
)

// runbookDeployment is what the runbook pages say about cfg: the
// documents rendered as policy show renders them, with its notes.
func runbookDeployment(cfg *Config, cfgPath string) *runbook.Deployment {
	params := policyParams(cfg)
	d := &runbook.Deployment{Params: params, Notes: map[string][]string{}, Patterns: cfg.BreakGlass.Principals,
		BotPattern: "arn:aws:iam::*:role/" + cfg.AWS.RoleName, Tag: cfg.BreakGlass.Tag, BaselineAge: cfg.BreakGlass.BaselineAge,
		Required: cfg.Approval.Required, Approvers: len(cfg.Approval.Approvers), Expiry: cfg.Approval.Expiry, SlashCommand: bot.SlashCommand}
	for _, i := range actions.Catalog() {
		for _, p := range i.Policies {
			d.Notes[p] = policyNotes(p, cfg, cfgPath, params)
		}
	}
	return d
}

func cmdRunbooks(_ context.Context, args []string, out io.Writer) error {
	fs := flags("runbooks", out)
	dir := fs.String("out", "", "the folder to write the pages into (created if missing)")
	cfgPath := fs.String("config", "", "render for this configuration (default: the embedded default)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *dir == "" {
		return usagef("runbooks needs --out DIR and takes no arguments, e.g. killswitch runbooks --out runbooks --config killswitch.yaml")
	}
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	dep := *runbookDeployment(cfg, *cfgPath)
	files := map[string][]byte{"style.css": runbook.Stylesheet}
	if files["index.html"], err = runbook.Index(dep, runbook.Static); err != nil {
		return err
	}
	for _, name := range actions.Names() {
		if files[runbook.StaticFile(name)], err = runbook.Action(dep, runbook.Static, name, nil, false); err != nil {
			return err
		}
	}
	if err := writeFiles(*dir, files); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d runbook files to %s (open index.html)\n", len(files), *dir)
	return nil
}

func cmdDeployTemplates(_ context.Context, args []string, out io.Writer) error {
	fs := flags("deploy-templates", out)
	dir := fs.String("out", "", "the folder to write the Slack app manifests and CloudFormation templates into (created if missing)")
	cfgPath := fs.String("config", "", "render for this configuration (default: the embedded default)")
	public := fs.String("public-url", "", "the https URL Slack reaches killswitch serve at (default: slack.public_url of the configuration)")
	botARN := fs.String("bot-principal", "", "default of the templates' BotPrincipalArn parameter: the ARN killswitch serve runs as")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *dir == "" {
		return usagef("deploy-templates needs --out DIR and takes no arguments, e.g. killswitch deploy-templates --out deploy --config killswitch.yaml")
	}
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	if *public == "" {
		*public = cfg.Slack.PublicURL
	}
	files, notes, err := deployFiles(cfg, *public, *botARN)
	if err != nil {
		return err
	}
	if err := writeFiles(*dir, files); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d files to %s\n", len(files), *dir)
	for _, n := range notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	return nil
}

// deployFiles renders the Slack app manifests and the CloudFormation
// templates for cfg, checked like policy validate checks them.
func deployFiles(cfg *Config, public, botARN string) (map[string][]byte, []string, error) {
	files := map[string][]byte{}
	var notes []string
	var err error
	if public != "" {
		if files[manifestHTTP], err = bot.Manifest(bot.ManifestOptions{PublicURL: public}); err != nil {
			return nil, nil, usagef("%v", err)
		}
	} else {
		notes = append(notes, fmt.Sprintf("no public URL (slack.public_url or --public-url): %s not written; the Socket Mode manifest needs none", manifestHTTP))
	}
	if files[manifestSocket], err = bot.Manifest(bot.ManifestOptions{SocketMode: true}); err != nil {
		return nil, nil, err
	}
	if botARN == "" {
		notes = append(notes, "no --bot-principal: the templates ask for BotPrincipalArn when deployed")
	}
	for name, mgmt := range map[string]bool{templateMembers: false, templateManagement: true} {
		t, err := cfnTemplate(templateSpec{management: mgmt, params: policyParams(cfg), botPrincipal: botARN})
		if err != nil {
			return nil, nil, err
		}
		if err := validateTemplate(name, t); err != nil {
			return nil, nil, err
		}
		files[name] = t
	}
	return files, notes, nil
}

// writeFiles writes each file into dir (created if missing).
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for name, data := range files {
		if err := writeFileAtomic(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// validPublicURL checks the public_url key: empty, or an https base URL.
func validPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(raw, " \t\r\n") {
		return fmt.Errorf("slack.public_url %q: want https://host[/path] (Slack only calls https)", raw)
	}
	return nil
}
