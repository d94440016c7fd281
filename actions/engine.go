// Package actions holds the vetted containment actions: Plan (read-only),
// Apply (idempotent, records the prior state of everything it changes) and
// Undo (reverses only what Apply changed). It talks to AWS only through the
// narrow interfaces of actions/awsapi, so the same code runs against real AWS
// and the in-memory simulation.
package actions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// Config is what the engine needs to know about the organization and its
// exemptions.
type Config struct {
	// BreakGlassPatterns are ARN patterns (ArnLike: * and ?) never touched.
	BreakGlassPatterns []string
	// BreakGlassTag: principals carrying this tag key are never touched.
	BreakGlassTag string
	// BreakGlassICUsers and BreakGlassICGroups are IAM Identity Center user
	// names and group display names never touched: their assignments stay,
	// and their users' sessions are exempt from the SSO session revocation.
	BreakGlassICUsers, BreakGlassICGroups []string
	// BotRoleName is the responder role assumed in every account; it is
	// always exempt.
	BotRoleName string
	// Concurrency bounds how many accounts are worked on at once (default:
	// every account in scope; each costs well under 1 MiB, see README).
	Concurrency int
	// Regions, if set, are the regions backup-readiness and lock-backups
	// work in (default: aws.region, then every enabled region, at most
	// MaxBackupRegions).
	Regions []string
	// PerAccount bounds how many principals are worked on at once inside
	// one account (default 8); the pacer (pace.go) keeps the calls within
	// the account's rate whatever this is.
	PerAccount int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnCall, if set, is called after every AWS call (audit log, metrics).
	// It must be safe for concurrent use.
	OnCall func(Call)
	// Runner runs the per-account fan-out (default: goroutines).
	Runner Runner
	// ConfirmTimeout bounds the wait for the guardrail to be shown in
	// effect in an account (default 60s); then the run proceeds and says so.
	ConfirmTimeout time.Duration
	// ConfirmEvery is the interval between canary checks (default 1s).
	ConfirmEvery time.Duration
	// Sleep waits (default: a timer); a drill passes its virtual clock's.
	Sleep func(ctx context.Context, d time.Duration) error
	// Without turns defenses off (see Defenses): drills only, to show what
	// each buys. Production configurations never set it.
	Without []string
	// Rates are the calls per second per account the engine starts at,
	// by service ("IAM", "Organizations", "STS", ...); a service not listed
	// starts unpaced and is paced from its first throttling (pace.go).
	Rates map[string]float64
	// ThrottleRetries: how often a throttled call is retried, at a slower
	// pace (default DefaultThrottleRetries; negative: never).
	ThrottleRetries int
	// BaselineMinAge: an exemption by tag or pattern counts only when the
	// principal was exempt in an exemption baseline at least this old
	// (Options.Baseline; default 24h). See baseline.go.
	BaselineMinAge time.Duration
}

// Engine plans, applies and undoes the vetted actions.
type Engine struct {
	provider awsapi.Provider
	cfg      Config

	partsMu sync.Mutex
	parts   map[string][]string // rendered guardrail parts by exempt ARNs (denyDeleteParts)

	pace        pacer // per account and service (pace.go)
	virtualPace bool  // Config.Sleep was given: pace on Config.Now
}

// DefaultPerAccount is how many principals are worked on at once inside
// one account by default.
const DefaultPerAccount = 8

// DefaultBotRoleName is the responder role's default name.
const DefaultBotRoleName = "KillSwitchResponder"

// New validates the configuration and returns an engine.
func New(p awsapi.Provider, cfg Config) (*Engine, error) {
	if p == nil {
		return nil, errors.New("actions: no AWS provider")
	}
	if cfg.BotRoleName == "" {
		cfg.BotRoleName = DefaultBotRoleName
	}
	if cfg.PerAccount <= 0 {
		cfg.PerAccount = DefaultPerAccount
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Runner == nil {
		cfg.Runner = goroutines{}
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = DefaultConfirmTimeout
	}
	if cfg.ConfirmEvery <= 0 {
		cfg.ConfirmEvery = time.Second
	}
	virtualPace := cfg.Sleep != nil
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.ThrottleRetries == 0 {
		cfg.ThrottleRetries = DefaultThrottleRetries
	}
	if err := checkDefenses(cfg.Without); err != nil {
		return nil, err
	}
	for _, p := range cfg.BreakGlassPatterns {
		if err := ValidatePattern(p); err != nil {
			return nil, err
		}
	}
	if strings.IndexFunc(cfg.BreakGlassTag, unicode.IsControl) >= 0 || len(cfg.BreakGlassTag) > 128 {
		return nil, fmt.Errorf("break-glass tag %q: a tag key has at most 128 printable characters", cfg.BreakGlassTag)
	}
	if err := checkBreakGlassIC(cfg); err != nil {
		return nil, err
	}
	if !validName(cfg.BotRoleName) {
		return nil, fmt.Errorf("bot role name %q is not a valid IAM role name", cfg.BotRoleName)
	}
	return &Engine{provider: p, cfg: cfg, virtualPace: virtualPace}, nil
}

// ValidatePattern checks a break-glass ARN pattern.
func ValidatePattern(p string) error {
	if !strings.HasPrefix(p, "arn:aws") || strings.Count(p, ":") < 5 {
		return fmt.Errorf("break-glass pattern %q: want an ARN pattern such as arn:aws:iam::*:role/BreakGlass*", p)
	}
	if strings.IndexFunc(p, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '"' || r == '\\' }) >= 0 {
		return fmt.Errorf("break-glass pattern %q contains a space, quote, backslash or control character", p)
	}
	resource := strings.SplitN(p, ":", 6)[5]
	if kind, rest, _ := strings.Cut(resource, "/"); strings.Trim(resource, "*?") == "" || strings.Trim(rest, "*?/") == "" && (kind == "user" || kind == "role" || strings.Trim(kind, "*?") == "") {
		return fmt.Errorf("break-glass pattern %q would exempt every principal; name the break-glass principals, e.g. arn:aws:iam::*:role/BreakGlass*", p)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("+=,.@_-", r))) {
			return false
		}
	}
	return true
}

// ValidAccountID reports whether s is a 12-digit AWS account id.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }

// account kinds
const (
	KindMember     = "member"
	KindManagement = "management"
	KindStandalone = "standalone"
)

// acct is one account being worked on.
type acct struct {
	e       *Engine
	ctx     context.Context // the run's, where the pacer waits (pace.go)
	id      string
	reqID   string
	c       *awsapi.Clients
	kind    string
	mgmtID  string
	caller  string // the bot's principal ARN in this account
	started time.Time
	known   map[string]bool // accounts in scope and the management account

	// guardARNs: the principals exempt by tag in every account in scope,
	// named in the guardrail (tagExempt).
	guardARNs []string

	// iamGuardrail: deny-delete here is the IAM managed-policy fallback,
	// re-checked before each later phase of a playbook.
	iamGuardrail bool

	// tags caches principals' tags for the whole run: a later phase reads
	// only new principals' tags (and an intruder who tags a backdoor as
	// break-glass mid-run gains nothing).
	tagMu sync.Mutex
	tags  map[string]map[string]string
	fps   map[string]string // fingerprints of principals claiming an exemption (fingerprint.go)

	ic *icShared // the run's IAM Identity Center directory (identitycenter.go)

	// mgmt: for a member, the management account opened once for the run
	// (management); nil until openAll.
	mgmt    *acct
	mgmtErr error
}

// call runs one AWS call and reports it.
func (a *acct) call(service, op, target string, f func() error) error {
	return a.e.call(a.ctx, a.reqID, a.id, service, op, target, f)
}

// call runs f paced for the account and service (pace.go); ctx is where
// the pacer waits (the run's, from open: on a drill's clock, a lane's).
func (e *Engine) call(ctx context.Context, reqID, account, service, op, target string, f func() error) error {
	start := time.Now()
	err := e.paced(ctx, account, service, op, f)
	if e.cfg.OnCall != nil {
		c := Call{RequestID: reqID, Service: service, Operation: op, Account: account, Target: target, Outcome: "ok", Duration: time.Since(start)}
		if err != nil {
			c.Outcome = "error"
			c.Error = errorText(err)
		}
		e.cfg.OnCall(c)
	}
	return err
}

// errorText is an error's message, never anything more (no request dumps).
func errorText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// open reads who the bot is in the account and what kind of account it is.
func (e *Engine) open(ctx context.Context, id, reqID string) (*acct, error) {
	if !ValidAccountID(id) {
		return nil, fmt.Errorf("account %q: an AWS account id is 12 digits", id)
	}
	c, err := e.provider.Clients(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("clients for account %s: %w", id, err)
	}
	a := &acct{e: e, ctx: ctx, id: id, reqID: reqID, c: c, started: e.now()}
	var who *sts.GetCallerIdentityOutput
	if err := a.call("STS", "GetCallerIdentity", "", func() (err error) {
		who, err = c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("who am I in account %s: %w", id, err)
	}
	a.caller = principalOfCaller(aws.ToString(who.Arn))
	var org *organizations.DescribeOrganizationOutput
	err = a.call("Organizations", "DescribeOrganization", "", func() (err error) {
		org, err = c.Organizations.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		return err
	})
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	switch {
	case errors.As(err, &notInUse):
		a.kind = KindStandalone
	case err != nil:
		return nil, fmt.Errorf("describe organization from account %s: %w", id, err)
	case aws.ToString(org.Organization.MasterAccountId) == id:
		a.kind, a.mgmtID = KindManagement, id
	default:
		a.kind, a.mgmtID = KindMember, aws.ToString(org.Organization.MasterAccountId)
	}
	return a, nil
}

// principalOfCaller turns an assumed-role ARN into the role's ARN.
// arn:aws:sts::123:assumed-role/Name/session -> arn:aws:iam::123:role/Name
func principalOfCaller(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[2] == "sts" && strings.HasPrefix(parts[5], "assumed-role/") {
		rest := strings.Split(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", parts[1], parts[4], rest[0])
	}
	return arn
}

// Runner runs the engine's fan-out: f(ctx, i) for every i in [0, n), at
// most limit at a time, returning when all have returned. The default runs
// goroutines; a drill passes its virtual clock (sim.Clock), which runs them
// as deterministic lanes on simulated time.
type Runner interface {
	ForEach(ctx context.Context, n, limit int, f func(ctx context.Context, i int))
}

// goroutines is the default Runner.
type goroutines struct{}

func (goroutines) ForEach(ctx context.Context, n, limit int, f func(ctx context.Context, i int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			f(ctx, i)
		}(i)
	}
	wg.Wait()
}

// forEach runs f on every account with bounded parallelism, keeping order.
func (e *Engine) forEach(ctx context.Context, n int, f func(ctx context.Context, i int)) {
	limit := e.cfg.Concurrency
	if limit <= 0 {
		limit = n
	}
	e.cfg.Runner.ForEach(ctx, n, limit, f)
}

// openAll opens every account in scope in parallel.
func (e *Engine) openAll(ctx context.Context, accounts []string, reqID string) ([]*acct, []error) {
	out := make([]*acct, len(accounts))
	errs := make([]error, len(accounts))
	e.forEach(ctx, len(accounts), func(ctx context.Context, i int) {
		out[i], errs[i] = e.open(ctx, accounts[i], reqID)
	})
	known := map[string]bool{}
	ic := &icShared{}
	for i, a := range out {
		known[accounts[i]] = true
		if a != nil && a.mgmtID != "" {
			known[a.mgmtID] = true
		}
	}
	mgmt := map[string]*acct{} // the management account as members' lanes use it
	mgmtErr := map[string]error{}
	for _, a := range out {
		if a != nil && a.kind == KindMember {
			if _, ok := mgmt[a.mgmtID]; !ok {
				mgmt[a.mgmtID], mgmtErr[a.mgmtID] = e.open(ctx, a.mgmtID, reqID)
			}
		}
	}
	for _, a := range out {
		if a != nil {
			a.known, a.ic = known, ic
			a.mgmt, a.mgmtErr = mgmt[a.mgmtID], mgmtErr[a.mgmtID]
		}
	}
	for _, m := range mgmt {
		if m != nil {
			m.known, m.ic = known, ic
		}
	}
	return out, errs
}

// management is the management account as a member's work uses it
// (Identity Center, the SSO session SCP), opened once per run for every
// member: a lane of its own, apart from the management account's own
// lane.
func (a *acct) management(ctx context.Context) (*acct, error) {
	if a.mgmt != nil || a.mgmtErr != nil {
		return a.mgmt, a.mgmtErr
	}
	return a.e.open(ctx, a.mgmtID, a.reqID)
}

func checkAccounts(accounts []string) ([]string, error) {
	if len(accounts) == 0 {
		return nil, errors.New("no accounts in scope")
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range accounts {
		if !ValidAccountID(a) {
			return nil, fmt.Errorf("account %q: an AWS account id is 12 digits", a)
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// Plan is the read-only dry run of an action on the accounts. A failure to
// read one account is reported in its AccountPlan; the others are planned.
func (e *Engine) Plan(ctx context.Context, action string, accounts []string, opt Options) (*Plan, error) {
	info, err := Lookup(action)
	if err != nil {
		return nil, err
	}
	if accounts, err = checkAccounts(accounts); err != nil {
		return nil, err
	}
	opt = e.defaults(opt)
	accts, errs := e.openAll(ctx, accounts, opt.RequestID)
	plan := &Plan{Action: action, Accounts: make([]AccountPlan, len(accounts))}
	for i, id := range accounts {
		plan.Accounts[i] = AccountPlan{Account: id, Targets: []Target{}, Exempt: []Exemption{}, Warnings: []string{}}
		if errs[i] != nil {
			plan.Accounts[i].Error = errorText(errs[i])
		} else {
			plan.Accounts[i].Kind = accts[i].kind
		}
	}
	for _, phase := range e.phasesFor(info) {
		var org *orgWork
		if phase == DenyDelete {
			e.tagExempt(ctx, accts, opt)
			org, err = e.orgWork(ctx, accts, opt)
			if err != nil {
				for i := range plan.Accounts {
					if accts[i] != nil && accts[i].kind == KindMember {
						plan.Accounts[i].Warnings = append(plan.Accounts[i].Warnings, errorText(err))
					}
				}
			} else if org != nil && len(org.allOps()) > 0 {
				// organization-level changes are made in (and shown with) the management account
				idx := -1
				for i := range plan.Accounts {
					if plan.Accounts[i].Account == org.mgmt.id {
						idx = i
					}
				}
				if idx < 0 {
					plan.Accounts = append(plan.Accounts, AccountPlan{Account: org.mgmt.id, Kind: KindManagement, Targets: []Target{}, Exempt: []Exemption{}, Warnings: []string{"not in scope: only the organization's SCP is created here"}})
					accts = append(accts, nil)
					idx = len(plan.Accounts) - 1
				}
				plan.Accounts[idx].Targets = append(plan.Accounts[idx].Targets, opsTargets(org.allOps())...)
			}
		}
		e.prepareIC(ctx, phase, accts, opt)
		works := make([]*work, len(accts))
		werrs := make([]error, len(accts))
		e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
			if accts[i] != nil {
				works[i], werrs[i] = e.build(ctx, accts[i], phase, opt, org)
			}
		})
		for i := range accts {
			ap := &plan.Accounts[i]
			if werrs[i] != nil {
				ap.Warnings = append(ap.Warnings, fmt.Sprintf("%s: %s", phase, errorText(werrs[i])))
				continue
			}
			if works[i] == nil {
				continue
			}
			ap.Targets = append(ap.Targets, opsTargets(works[i].ops)...)
			ap.Targets = append(ap.Targets, works[i].findings...)
			ap.Exempt = append(ap.Exempt, works[i].exempt...)
			ap.Warnings = append(ap.Warnings, works[i].warnings...)
			ap.Failures = append(ap.Failures, works[i].failuresOf(phase)...)
		}
	}
	if action == Lockdown {
		e.planReadiness(ctx, accts, plan)
		e.planRoot(ctx, accts, plan) // the root user, which lockdown does not touch (root.go)
	}
	for i := range plan.Accounts {
		ap := &plan.Accounts[i]
		ap.Targets = mergeTargets(ap.Targets)
		ap.Exempt = unique(ap.Exempt)
		sort.SliceStable(ap.Exempt, func(i, j int) bool { return ap.Exempt[i].Principal < ap.Exempt[j].Principal })
		tidyPlan(action, ap) // groups repeated warnings (warnings.go)
		ap.Failures = unique(ap.Failures)
	}
	return plan, nil
}

func (e *Engine) defaults(opt Options) Options {
	if opt.RevokeBefore.IsZero() {
		opt.RevokeBefore = e.now()
	}
	// The policy carries whole seconds: round the cut-off up, never down,
	// so no session issued before the pinned time survives.
	rb := opt.RevokeBefore.UTC()
	if t := rb.Truncate(time.Second); t.Before(rb) {
		rb = t.Add(time.Second)
	}
	opt.RevokeBefore = rb
	if opt.Since.IsZero() {
		opt.Since = e.now().Add(-24 * time.Hour)
	}
	return opt
}

// opsTargets groups the changes of ops by principal.
func opsTargets(ops []op) []Target {
	var out []Target
	for _, o := range ops {
		out = append(out, Target{Principal: o.step.Principal, Changes: []string{o.step.Change}})
	}
	return out
}

func mergeTargets(ts []Target) []Target {
	idx := map[string]int{}
	out := []Target{}
	for _, t := range ts {
		if i, ok := idx[t.Principal]; ok {
			out[i].Changes = append(out[i].Changes, t.Changes...)
			continue
		}
		idx[t.Principal] = len(out)
		out = append(out, Target{Principal: t.Principal, Changes: append([]string(nil), t.Changes...)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out
}

// unique keeps the first of equal elements, in order.
func unique[T comparable](xs []T) []T {
	seen := map[T]bool{}
	out := []T{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Apply runs the action on the accounts: phase by phase (a playbook's
// deny-delete lands everywhere before any session is revoked), accounts in
// parallel within a phase. It re-reads the live state, so what changed since
// the plan is contained too; what is already contained is left alone, so a
// second Apply changes nothing. A failure in one account is reported in its
// AccountResult and the other accounts carry on.
func (e *Engine) Apply(ctx context.Context, action string, accounts []string, opt Options, rec Recorder) (*Result, error) {
	info, err := Lookup(action)
	if err != nil {
		return nil, err
	}
	if accounts, err = checkAccounts(accounts); err != nil {
		return nil, err
	}
	opt = e.defaults(opt)
	ctx = awsapi.WithRequestID(ctx, opt.RequestID)
	res := &Result{Action: action, RequestID: opt.RequestID, Accounts: make([]AccountResult, len(accounts))}
	accts, errs := e.openAll(ctx, accounts, opt.RequestID)
	for i, id := range accounts {
		res.Accounts[i] = AccountResult{Account: id, Steps: []Step{}}
		if errs[i] != nil {
			res.Accounts[i].Error = errorText(errs[i])
		}
	}
	phases := e.phasesFor(info)
	var guard *orgWork // the organization's guardrail work, kept for later phases' re-checks
	if phases[0] == DenyDelete {
		guard = e.applyGuardrail(ctx, accts, opt, rec, res)
		phases = phases[1:]
	}
	if ctx.Err() == nil && len(phases) > 0 {
		for _, phase := range phases {
			e.prepareIC(ctx, phase, accts, opt) // the Identity Center directory, read once for every account
		}
		// Past the guardrail nothing is shared between accounts: each runs
		// its remaining phases as soon as it is ready, so a slow account
		// holds up only itself.
		e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
			if accts[i] == nil {
				return
			}
			for _, phase := range phases {
				if ctx.Err() != nil {
					return
				}
				e.applyPhase(ctx, info, phase, accts[i], opt, guard, rec, &res.Accounts[i])
			}
		})
	}
	finish(res)
	return res, ctx.Err()
}

// applyGuardrail runs deny-delete everywhere (the Organization's policies
// first, from the management account, then each account's part) and
// confirms it in effect in each account right after its own part; it
// returns when every account is confirmed (or timed out): the one barrier
// of a playbook, because the first cut anywhere tips the intruder off.
func (e *Engine) applyGuardrail(ctx context.Context, accts []*acct, opt Options, rec Recorder, res *Result) *orgWork {
	e.tagExempt(ctx, accts, opt)
	org, err := e.orgWork(ctx, accts, opt)
	if err == nil && org != nil {
		err = e.runOrg(ctx, org, rec, res, accts)
	}
	guard := org
	if err != nil {
		for i := range accts {
			if accts[i] != nil && accts[i].kind == KindMember {
				res.Accounts[i].Error = joinErr(res.Accounts[i].Error, fmt.Sprintf("deny-delete: %s", errorText(err)))
			}
		}
		org = nil
	}
	info, _ := Lookup(DenyDelete)
	e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
		a := accts[i]
		if a == nil {
			return
		}
		e.applyPhase(ctx, info, DenyDelete, a, opt, org, rec, &res.Accounts[i])
		if e.has(DefenseConfirm) && ctx.Err() == nil {
			e.confirmGuardrail(ctx, a, &res.Accounts[i])
		}
	})
	return guard
}

// applyPhase runs one phase of info in one account: for a playbook's later
// phases the guardrail re-check and the quarantine come first.
func (e *Engine) applyPhase(ctx context.Context, info Info, phase string, a *acct, opt Options, org *orgWork, rec Recorder, ar *AccountResult) {
	if phase != DenyDelete && a.iamGuardrail && slices.Contains(info.phases(), DenyDelete) {
		e.recheckGuardrail(ctx, a, opt, org, rec, ar)
	}
	if phase == DisableUsers && len(info.Playbook) > 0 {
		e.quarantine(ctx, a, opt, rec, ar)
	}
	w, err := e.build(ctx, a, phase, e.phaseOptions(info, phase, opt, ar), org)
	if err != nil {
		ar.Error = joinErr(ar.Error, fmt.Sprintf("%s: %s", phase, errorText(err)))
		return
	}
	ar.Warnings = append(ar.Warnings, w.warnings...)
	ar.Findings = append(ar.Findings, w.findings...)
	ar.Failures = append(ar.Failures, w.failuresOf(phase)...)
	if err := e.runOps(ctx, opt.RequestID, w.ops, rec, ar); err != nil {
		ar.Error = joinErr(ar.Error, fmt.Sprintf("%s: %s", phase, errorText(err)))
	}
}

// phaseOptions are the options of one phase in one account. In a playbook
// the revocation cut-off is moved past the last long-term credential this
// run cut in the account: a session the intruder minted from a key or a
// console password before it was cut was issued before the cut-off, so no
// session minted during the run survives (the guardrail's freeze keeps a
// key from minting sessions in other accounts). A run that cut nothing
// there keeps the request's pinned time, so a second Apply changes nothing.
func (e *Engine) phaseOptions(info Info, phase string, opt Options, ar *AccountResult) Options {
	if phase != RevokeSessions || len(info.Playbook) == 0 || !e.has(DefenseOrder) {
		return opt
	}
	for _, s := range ar.Steps {
		if (s.Action == DisableUsers || s.Action == ContainIdentityCenter) && s.Status == StepDone && s.At.After(opt.RevokeBefore) {
			opt.RevokeBefore = s.At
		}
	}
	return e.defaults(opt)
}

// recheckGuardrail attaches the IAM fallback guardrail to principals created
// since the deny-delete phase (a management or standalone account, where no
// SCP binds new principals), before a later phase cuts access.
func (e *Engine) recheckGuardrail(ctx context.Context, a *acct, opt Options, org *orgWork, rec Recorder, ar *AccountResult) {
	e.runExtra(ctx, a, "deny-delete re-check", DenyDelete, opt, org, rec, ar)
}

// quarantine denies every session of the principals that look exempt (a
// break-glass tag or pattern) but that the exemption baseline does not
// confirm, first among lockdown's cuts: a pattern may keep them out of the
// guardrail, and the guardrail is confirmed everywhere by now.
func (e *Engine) quarantine(ctx context.Context, a *acct, opt Options, rec Recorder, ar *AccountResult) {
	opt.quarantineOnly = true
	e.runExtra(ctx, a, "quarantine", RevokeSessions, opt, nil, rec, ar)
}

// runExtra builds and runs a step a playbook adds to one of its phases in
// one account; its failures go into the account's result under label.
func (e *Engine) runExtra(ctx context.Context, a *acct, label, phase string, opt Options, org *orgWork, rec Recorder, ar *AccountResult) {
	w, err := e.build(ctx, a, phase, opt, org)
	if err != nil {
		ar.Error = joinErr(ar.Error, fmt.Sprintf("%s: %s", label, errorText(err)))
		return
	}
	ar.Failures = append(ar.Failures, w.failuresOf(phase)...)
	if err := e.runOps(ctx, opt.RequestID, w.ops, rec, ar); err != nil {
		ar.Error = joinErr(ar.Error, fmt.Sprintf("%s: %s", label, errorText(err)))
	}
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// runOps runs the ops, recording each step. Ops of one principal run in
// order; different principals' ops run in parallel (Config.PerAccount at a
// time), and an op that is not about a principal (creating the policy
// the next ops attach, say) runs alone, after everything before it. It
// stops only when the context ends or a step cannot be recorded. Steps are
// kept in the ops' order.
func (e *Engine) runOps(ctx context.Context, reqID string, ops []op, rec Recorder, ar *AccountResult) error {
	for len(ops) > 0 {
		n := 1
		if isPrincipal(ops[0].step.Principal) {
			for n < len(ops) && isPrincipal(ops[n].step.Principal) {
				n++
			}
		}
		if err := e.runBatch(ctx, reqID, ops[:n], rec, ar); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

func isPrincipal(p string) bool { return strings.HasPrefix(p, "arn:") }

// runBatch runs ops of several principals, each principal's in order.
func (e *Engine) runBatch(ctx context.Context, reqID string, ops []op, rec Recorder, ar *AccountResult) error {
	var groups [][]int // op indexes by principal, in order of first appearance
	at := map[string]int{}
	for i, o := range ops {
		g, ok := at[o.step.Principal]
		if !ok {
			g = len(groups)
			at[o.step.Principal] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	steps := make([]*Step, len(ops))
	errs := make([]error, len(groups))
	var stop atomic.Bool // a step could not be recorded: nothing more starts
	run := func(ctx context.Context, g int) {
		for _, i := range groups[g] {
			if stop.Load() {
				return
			}
			if steps[i], errs[g] = e.runOp(ctx, reqID, ops[i], rec); errs[g] != nil {
				stop.Store(true)
				return
			}
		}
	}
	if len(groups) == 1 {
		run(ctx, 0)
	} else {
		e.cfg.Runner.ForEach(ctx, len(groups), e.cfg.PerAccount, run)
	}
	for _, s := range steps {
		if s != nil {
			ar.Steps = append(ar.Steps, *s)
		}
	}
	return errors.Join(errs...)
}

// runOp records, runs and records one op; a nil step means it did not run.
func (e *Engine) runOp(ctx context.Context, reqID string, o op, rec Recorder) (*Step, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := o.step
	s.Request = reqID
	if rec != nil {
		s.Status, s.At = StepStarted, e.now()
		if rerr := rec.Record(ctx, s); rerr != nil {
			return nil, fmt.Errorf("record step %s: %w", s.Key, rerr)
		}
	}
	err := o.run(ctx, &s)
	s.At = e.now()
	switch {
	case err != nil && ctx.Err() != nil:
		s.Status, s.Error = StepInterrupted, errorText(err)
	case err != nil:
		s.Status, s.Error = StepFailed, errorText(err)
	default:
		s.Status = StepDone
	}
	if rec != nil {
		if rerr := rec.Record(context.WithoutCancel(ctx), s); rerr != nil {
			return &s, fmt.Errorf("record step %s: %w", s.Key, rerr)
		}
	}
	return &s, nil
}

// finish sets account and overall statuses.
func finish(res *Result) {
	ok, bad := 0, 0
	for i := range res.Accounts {
		ar := &res.Accounts[i]
		failed, done := 0, 0
		for _, s := range ar.Steps {
			switch s.Status {
			case StepFailed, StepUndoFailed, StepInterrupted, StepStarted:
				failed++
			default:
				done++
			}
		}
		switch {
		case ar.Error == "" && failed == 0 && len(ar.Failures) == 0:
			ar.Status = StatusSucceeded
		case done > 0 || ar.Error == "" && failed == 0: // only principal failures: the rest is contained
			ar.Status = StatusPartial
		default:
			ar.Status = StatusFailed
		}
		if ar.Status == StatusSucceeded {
			ok++
		} else {
			bad++
		}
		if ar.Status == StatusPartial {
			ok++
		}
	}
	switch {
	case bad == 0:
		res.Status = StatusSucceeded
	case ok > 0:
		res.Status = StatusPartial
	default:
		res.Status = StatusFailed
	}
}

// timestamps in change texts: the plan shows the planning time, the run
// uses the time pinned when it starts.
var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

func diffKey(account, principal, change string) string {
	return account + "|" + principal + "|" + timestamp.ReplaceAllString(change, "<time>")
}

// Diff lists what Apply did that the plan did not show, and what the plan
// showed that Apply did not do: approvers approve the intent, Apply works on
// the live state, and the result says how the two differed. Times in the
// changes (the revocation cut-off) are not differences.
func Diff(p *Plan, r *Result) (unplanned, notDone []string) {
	planned := map[string]bool{}
	for _, a := range p.Accounts {
		for _, t := range a.Targets {
			for _, c := range t.Changes {
				planned[diffKey(a.Account, t.Principal, c)] = true
			}
		}
	}
	done := map[string]bool{}
	for _, a := range r.Accounts {
		for _, s := range a.Steps {
			k := diffKey(a.Account, s.Principal, s.Change)
			done[k] = true
			if s.Status == StepDone && !planned[k] {
				unplanned = append(unplanned, fmt.Sprintf("%s %s: %s", a.Account, s.Principal, s.Change))
			}
		}
	}
	for _, a := range p.Accounts {
		for _, t := range a.Targets {
			for _, c := range t.Changes {
				if !done[diffKey(a.Account, t.Principal, c)] && p.Action != FindBackdoors && p.Action != BackupReadiness {
					notDone = append(notDone, fmt.Sprintf("%s %s: %s", a.Account, t.Principal, c))
				}
			}
		}
	}
	return unplanned, notDone
}

func awsapiWithRequest(ctx context.Context, id string) context.Context {
	return awsapi.WithRequestID(ctx, id)
}
