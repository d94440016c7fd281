package actions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Exemptions the intruder cannot grant itself.
//
// Anyone who can tag a principal, or create one with a chosen name, can make
// it look exempt: a break-glass tag or a name that matches a break-glass
// pattern is a claim, not proof. The claim counts only when the principal
// was already exempt in an exemption baseline recorded at least
// Config.BaselineMinAge (24h) before the run, when things were calm. ARNs
// listed in the configuration without wildcards and the bot's own identity
// (the caller of sts:GetCallerIdentity, not a role name) are always exempt.
//
// With Options.Baseline set and no baseline old enough for an account,
// nobody there is exempt by tag or pattern: that is the safe default, and
// the plan says so. With Options.Baseline nil the claims are not checked
// (callers that keep no baseline: drills, the plan verb).

// Baseline is what a request's exemptions by tag or pattern are checked
// against: per account, the newest recorded baseline old enough to trust.
type Baseline struct {
	// Accounts maps an account id to its baseline. An account missing here
	// (or whose baseline is younger than the minimum age) has none.
	Accounts map[string]Recorded `json:"accounts"`
}

// Recorded is one account's exemption baseline: the principals exempt by
// tag or pattern at a time.
type Recorded struct {
	At         time.Time `json:"at"`
	Principals []string  `json:"principals"`
}

// DefaultBaselineMinAge is Config.BaselineMinAge's default.
const DefaultBaselineMinAge = 24 * time.Hour

// BaselineMinAge is how old a baseline must be to be trusted.
func (e *Engine) BaselineMinAge() time.Duration {
	if e.cfg.BaselineMinAge > 0 {
		return e.cfg.BaselineMinAge
	}
	return DefaultBaselineMinAge
}

// Warning texts the card recognises (see IsBaselineWarning).
const (
	warnNoBaseline = "no exemption baseline older than %s: principals exempt only by tag or pattern are contained; record one when things are calm"
	howToExempt    = "to exempt it deliberately, list its ARN in break_glass.principals in the configuration"
)

// IsBaselineWarning reports whether w is one of the warnings about
// exemptions the baseline did not confirm (the card shows them first).
func IsBaselineWarning(w string) bool {
	return strings.HasPrefix(w, "no exemption baseline older than ") || strings.Contains(w, howToExempt) ||
		strings.Contains(w, "is named like the bot's role but is not the bot")
}

// acctBaseline is one account's view of the request's baseline.
type acctBaseline struct {
	minAge time.Duration
	at     time.Time         // zero: no baseline old enough
	arns   map[string]string // ARN -> fingerprint ("" matches any state)
}

// trusts reports whether p's claim is confirmed (nil: unchecked): the
// baseline recorded p, as it is now.
func (b *acctBaseline) trusts(p *principal) bool {
	if b == nil {
		return true
	}
	fp, ok := b.arns[p.arn]
	return ok && (fp == "" || fp == p.fp)
}

// changed reports whether the baseline recorded p in another state.
func (b *acctBaseline) changed(p *principal) bool {
	if b == nil {
		return false
	}
	fp, ok := b.arns[p.arn]
	return ok && fp != "" && fp != p.fp
}

type baselineKey struct{}

// withBaseline carries the request's baseline from build to inventory.
func withBaseline(ctx context.Context, b *Baseline) context.Context {
	if b == nil {
		return ctx
	}
	return context.WithValue(ctx, baselineKey{}, b)
}

// baselineFor is the baseline the account's principals are checked
// against, or nil when the request carries none. A recording younger than
// the minimum age (measured from when the account was opened) is ignored.
func (a *acct) baselineFor(ctx context.Context) *acctBaseline {
	b, _ := ctx.Value(baselineKey{}).(*Baseline)
	if b == nil {
		return nil
	}
	ab := &acctBaseline{minAge: a.e.BaselineMinAge(), arns: map[string]string{}}
	r, ok := b.Accounts[a.id]
	if !ok || r.At.IsZero() || r.At.After(a.started.Add(-ab.minAge)) {
		return ab
	}
	ab.at = r.At
	for _, e := range r.Principals {
		arn, fp := parseEntry(e)
		ab.arns[arn] = fp
	}
	return ab
}

// isCaller reports whether p is the bot's own identity in this account.
// Assumed-role ARNs carry no path, so a role is matched by account and name
// (role names are unique in an account, whatever their path).
func (a *acct) isCaller(p *principal) bool {
	if p.arn == a.caller {
		return true
	}
	return p.kind == "role" && a.caller == fmt.Sprintf("arn:%s:iam::%s:role/%s", a.partition(), a.id, p.name)
}

// configured returns the wildcard-free break-glass ARN naming p, or "".
func (a *acct) configured(p *principal) string {
	for _, pat := range a.e.cfg.BreakGlassPatterns {
		if !strings.ContainsAny(pat, "*?") && pat == p.arn {
			return pat
		}
	}
	return ""
}

// claim says why p looks exempt by a break-glass pattern with wildcards or
// by the break-glass tag (what anyone with IAM rights could have made), or "".
func (a *acct) claim(p *principal) string {
	cfg := a.e.cfg
	for _, pat := range cfg.BreakGlassPatterns {
		if strings.ContainsAny(pat, "*?") && ArnLike(pat, p.arn) {
			return "break-glass pattern " + pat
		}
	}
	if cfg.BreakGlassTag != "" {
		if _, ok := p.tags[cfg.BreakGlassTag]; ok {
			return "break-glass tag " + cfg.BreakGlassTag
		}
	}
	return ""
}

// namedLikeBot: a role whose name starts like the bot's role.
func (a *acct) namedLikeBot(p *principal) bool {
	return p.kind == "role" && strings.HasPrefix(strings.ToLower(p.name), strings.ToLower(a.e.cfg.BotRoleName))
}

// warnContained warns about a principal that is contained although it
// looks exempt, naming how to exempt it deliberately.
func (a *acct) warnContained(p *principal, w *work) {
	if c := a.claim(p); c != "" && p.base != nil {
		why := fmt.Sprintf("there is no exemption baseline older than %s", human(p.base.minAge))
		switch {
		case p.base.changed(p):
			why = fmt.Sprintf("it changed since the exemption baseline of %s (a key or console password added, or its trust policy edited): someone may have made it a backdoor", p.base.at.UTC().Format(time.RFC3339))
		case !p.base.at.IsZero():
			why = fmt.Sprintf("it was not exempt in the exemption baseline of %s (the newest older than %s)", p.base.at.UTC().Format(time.RFC3339), human(p.base.minAge))
		}
		w.warn(fmt.Sprintf("%s is contained although it is exempt by %s: %s; %s", p.arn, c, why, howToExempt))
	}
	if a.namedLikeBot(p) {
		w.warn(fmt.Sprintf("%s is named like the bot's role but is not the bot (%s): it is contained", p.arn, a.caller))
	}
}

// warnNoBaseline says plainly that no baseline is old enough.
func (a *acct) warnNoBaseline(b *acctBaseline, w *work) {
	if b != nil && b.at.IsZero() {
		w.warn(fmt.Sprintf(warnNoBaseline, human(b.minAge)))
	}
}

// warn adds a warning once.
func (w *work) warn(s string) {
	for _, x := range w.warnings {
		if x == s {
			return
		}
	}
	w.warnings = append(w.warnings, s)
}

// human prints whole hours as "24h", anything else as time.Duration does.
func human(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// ExemptBaseline reads (read-only) the live principals of the accounts and
// returns, per account, the sorted ARNs of the users, roles and groups that
// are exempt by tag or by pattern now: what a baseline records. The bot's
// own identity, configured ARNs, service-linked and Identity Center roles
// are exempt whatever the baseline, and are not listed. An account that
// cannot be read, or where a principal's tags cannot be read, is left out
// and named in the error: an incomplete baseline would later contain a
// genuine break-glass principal.
func (e *Engine) ExemptBaseline(ctx context.Context, accounts []string) (map[string][]string, error) {
	accounts, err := checkAccounts(accounts)
	if err != nil {
		return nil, err
	}
	accts, errs := e.openAll(ctx, accounts, "")
	arns := make([][]string, len(accts))
	e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
		if accts[i] != nil {
			arns[i], errs[i] = accts[i].exemptNow(ctx)
		}
	})
	out := map[string][]string{}
	var bad []error
	for i, id := range accounts {
		if errs[i] != nil {
			bad = append(bad, fmt.Errorf("exemption baseline of account %s: %w", id, errs[i]))
			continue
		}
		out[id] = arns[i]
	}
	return out, errors.Join(bad...)
}

// exemptNow lists the principals of the account exempt by tag or pattern.
func (a *acct) exemptNow(ctx context.Context) ([]string, error) {
	inv, err := a.inventory(ctx, true, true, true)
	if err != nil {
		return nil, err
	}
	arns := []string{}
	for _, l := range [][]*principal{inv.users, inv.roles, inv.groups} {
		for _, p := range l {
			switch {
			case a.isCaller(p) || a.configured(p) != "":
			case a.claim(p) != "":
				arns = append(arns, baselineEntry(p))
			case p.err != nil && !noSuchEntity(p.err):
				return nil, fmt.Errorf("%s %s: %w", p.kind, p.arn, p.err)
			}
		}
	}
	sort.Strings(arns)
	return arns, nil
}
