// Package runbook renders the runbook pages of killswitch's actions: HTML
// from the action registry (actions.Catalog) and the policy documents as
// this deployment renders them (policies.Show), never written by hand. The
// service serves them at /runbooks and /runbooks/{action}; `killswitch
// runbooks --out DIR` writes them as static files.
package runbook

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/policies"
)

// Deployment is what the pages say about this configuration.
type Deployment struct {
	Params       policies.Params     // the documents' parameters (as policy show renders them)
	Notes        map[string][]string // per document: which values are examples, what is added when attached
	Patterns     []string            // break-glass ARN patterns of the configuration
	BotPattern   string              // the bot's own role pattern (always exempt)
	Tag          string              // break-glass tag key
	BaselineAge  time.Duration       // a tag or wildcard exemption counts only when a baseline this old confirms it
	Required     int                 // approval.required
	Approvers    int                 // how many approvers are configured
	Expiry       time.Duration       // a pending request expires after this
	SlashCommand string              // e.g. /killswitch
}

// Request is one recent request of an action as a page shows it: no
// reason, plan or result (they may name principals and accounts), no
// secret.
type Request struct {
	ID        string
	Kind      string // action | undo
	State     string
	Requester string
	Approvers []string
	Created   time.Time
	Updated   time.Time
}

// Links say where pages and the stylesheet are: served (/runbooks/...) or
// static files (NAME.html).
type Links struct {
	Index  string
	Style  string
	Action func(name string) string
}

// Served are the service's URLs.
var Served = Links{Index: "/runbooks", Style: "/runbooks/style.css", Action: func(n string) string { return "/runbooks/" + n }}

// Static are the file names `killswitch runbooks --out DIR` writes.
var Static = Links{Index: "index.html", Style: "style.css", Action: func(n string) string { return n + ".html" }}

// StaticFile is the file an action's static page is written to.
func StaticFile(name string) string { return name + ".html" }

// Stylesheet is the pages' CSS (served, never inline: the pages' CSP allows
// only 'self' styles and no script at all).
//
//go:embed style.css
var Stylesheet []byte

// CSP is the Content-Security-Policy of every page.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed page.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"join": strings.Join,
}).Parse(pageTemplate))

type phase struct {
	Name, Summary, Link string
}

type document struct {
	Name, Summary, Cost, Text string
	Kinds                     []string
	Split                     bool
	Notes                     []string
}

type view struct {
	Title  string
	Links  Links
	Dep    Deployment
	Index  []indexRow
	Action *actionView
}

type indexRow struct {
	Name, Summary, Link, Kind string
	Reversible                bool
}

type actionView struct {
	actions.Info
	Phases    []phase
	Documents []document
	Approvals int
	Commands  []string
	Recent    []Request
	Live      bool // served: recent requests are read from the store
}

// Index renders the list of actions.
func Index(d Deployment, l Links) ([]byte, error) {
	v := view{Title: "killswitch runbooks", Links: l, Dep: d}
	for _, i := range actions.Catalog() {
		kind := "read-only"
		if i.Mutating {
			kind = "mutating"
		}
		v.Index = append(v.Index, indexRow{Name: i.Name, Summary: i.Summary, Link: l.Action(i.Name), Kind: kind, Reversible: i.Reversible})
	}
	return execute(v)
}

// Action renders the runbook of the action called name; live marks a
// served page, whose recent requests come from the store.
func Action(d Deployment, l Links, name string, recent []Request, live bool) ([]byte, error) {
	info, err := actions.Lookup(name)
	if err != nil {
		return nil, err
	}
	av := &actionView{Info: info, Approvals: max(d.Required, 1) + info.ExtraApprovals, Recent: recent, Live: live}
	for _, p := range phases(info) {
		pi, err := actions.Lookup(p)
		if err != nil {
			return nil, fmt.Errorf("runbook %s: phase %s: %w", name, p, err)
		}
		av.Phases = append(av.Phases, phase{Name: p, Summary: pi.Summary, Link: l.Action(p)})
	}
	for _, pn := range info.Policies {
		doc, err := policyDocument(d, pn)
		if err != nil {
			return nil, fmt.Errorf("runbook %s: %w", name, err)
		}
		av.Documents = append(av.Documents, doc)
	}
	av.Commands = commands(d.SlashCommand, info)
	return execute(view{Title: "killswitch runbook: " + name, Links: l, Dep: d, Action: av})
}

func phases(i actions.Info) []string {
	if len(i.Playbook) > 0 {
		return i.Playbook
	}
	return []string{i.Name}
}

func policyDocument(d Deployment, name string) (document, error) {
	meta, ok := policies.Lookup(name)
	if !ok {
		return document{}, fmt.Errorf("no policy document %q", name)
	}
	text, err := policies.Show(name, d.Params)
	if err != nil {
		return document{}, fmt.Errorf("policy %s: %w", name, err)
	}
	doc := document{Name: name, Summary: meta.Summary, Cost: meta.Cost, Text: text, Split: meta.Split, Notes: d.Notes[name]}
	for _, k := range meta.Kinds {
		doc.Kinds = append(doc.Kinds, string(k))
	}
	return doc, nil
}

// commands are the slash commands to copy for an action.
func commands(slash string, i actions.Info) []string {
	if slash == "" {
		slash = "/killswitch"
	}
	out := []string{slash + " plan " + i.Name + " --all", slash + " " + i.Name + " --all --incident IR-123 REASON"}
	if i.Mutating && i.Reversible {
		out = append(out, slash+" undo REQUEST REASON")
	}
	return out
}

func execute(v view) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("runbook: %w", err)
	}
	return b.Bytes(), nil
}

// Default is a deployment with the documents' example parameters, for a
// service built without one (tests).
func Default() Deployment {
	p := policies.DefaultParams()
	return Deployment{Params: p, Patterns: p.ExemptPatterns[:1], BotPattern: p.ExemptPatterns[1], Tag: p.ExemptTag,
		BaselineAge: actions.DefaultBaselineMinAge, Required: 1, Expiry: 15 * time.Minute, SlashCommand: "/killswitch"}
}
