package awsint

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/policies"
)

// Expect derives the state an action must leave from the state before it,
// from the seed's own knowledge of which principals are exempt — never from
// killswitch's.
type Expect struct {
	org *Org
	// IAMDenyDelete are the accounts where deny-delete is the IAM managed
	// policy (the management or standalone account, members at the SCP limit;
	// NewExpect sets the management account, a test adds members at the limit).
	IAMDenyDelete map[string]bool
	rb            time.Time
	denyDocs      []string // the guardrail's parts, in order, normalized
	revokeDoc     string   // normalized, at the pinned cut-off
	// revokeDocs: per account, the revocation at the cut-off lockdown took
	// there (SetRevokeCutoffs); accounts missing here use revokeDoc.
	revokeDocs map[string]string
	// cutoffs: the per-account cut-offs of SetRevokeCutoffs, for the SSO
	// session SCP (KillSwitchRevokeSSO-<account>) of each member.
	cutoffs map[string]time.Time
	// unconfirmed: no exemption baseline confirms the principals exempt by
	// tag or pattern (Unconfirm); they are contained, and quarantined.
	unconfirmed   bool
	quarantineDoc string // normalized
}

// NewExpect returns the expectations for org: e renders the deny-delete
// document (its break-glass patterns and tag), rb is the revoke-sessions
// cut-off the run pins.
func NewExpect(t testing.TB, org *Org, e *actions.Engine, rb time.Time) *Expect {
	t.Helper()
	rv, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: rb})
	if err != nil {
		t.Fatal(err)
	}
	q, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: actions.QuarantineUntil})
	if err != nil {
		t.Fatal(err)
	}
	x := &Expect{org: org, rb: rb, revokeDoc: normDoc(rv), quarantineDoc: normDoc(q), IAMDenyDelete: map[string]bool{org.Management: true}, revokeDocs: map[string]string{}}
	x.setParts(GuardrailParts(t, org, e))
	return x
}

func (x *Expect) setParts(parts []string) {
	x.denyDocs = nil
	for _, d := range parts {
		x.denyDocs = append(x.denyDocs, normDoc(d))
	}
}

// Unconfirm makes the expectations those of a run whose exemption baseline
// confirms nobody (Options.Baseline with no baseline old enough): the
// principals the seed exempted by the break-glass tag or a wildcard pattern
// are contained like any other, the guardrail names none of them by ARN,
// and their sessions are quarantined (revoked whenever issued,
// actions.QuarantineUntil) where sessions are revoked.
func (x *Expect) Unconfirm(t testing.TB, e *actions.Engine) {
	t.Helper()
	parts, err := e.DenyDeleteParts()
	if err != nil {
		t.Fatal(err)
	}
	GuardrailParts(t, x.org, e) // checks the engine's exemptions are the seed's
	x.unconfirmed = true
	x.setParts(parts)
}

// claims reports whether the seed made arn look exempt by the break-glass
// tag or a wildcard pattern: what only an exemption baseline confirms.
func (x *Expect) claims(account, arn string) bool {
	p, ok := x.org.Accounts[account].Find(arn)
	return ok && (p.Exempt == ExemptTag || p.Exempt == ExemptPattern)
}

// SetRevokeCutoffs makes the expected revocation of each account in
// cutoffs deny the sessions issued before its cut-off (lockdown takes the
// cut-off per account: CheckLockdownRevokeTime).
func (x *Expect) SetRevokeCutoffs(t testing.TB, cutoffs map[string]time.Time) {
	t.Helper()
	for id, c := range cutoffs {
		rv, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: c})
		if err != nil {
			t.Fatal(err)
		}
		x.revokeDocs[id] = normDoc(rv)
		if x.cutoffs == nil {
			x.cutoffs = map[string]time.Time{}
		}
		x.cutoffs[id] = c
	}
}

// revokeSSO: revoke-sessions puts the SSO session SCP of each member with a
// free SCP slot, at the member's cut-off. (On AWS the SCP policy type must
// be enabled; moto lists and attaches SCPs whether or not it is, so the
// bot's check, PolicyTypeNotEnabledException, never fires here.)
func (x *Expect) revokeSSO(s *OrgState) {
	if x.org.Standalone {
		return
	}
	for _, m := range x.org.Members {
		if len(s.Accounts[m].AttachedSCPs) >= 5 {
			continue
		}
		c, ok := x.cutoffs[m]
		if !ok {
			c = x.rb
		}
		doc, err := policies.Render("revoke-sso-sessions", policies.Params{RevokeBefore: c})
		if err != nil {
			panic(err) // a fixed, valid document
		}
		name := actions.RevokeSSOPolicyName(m)
		s.SCPs[name] = normDoc(doc)
		s.Accounts[m].AttachedSCPs[name] = true
	}
}

// TagExemptARNs are the principals the seed exempted by the break-glass tag
// in every account of org, sorted: the guardrail names them by ARN (a tag
// condition would exempt whoever can tag itself).
func TagExemptARNs(org *Org) []string {
	var out []string
	for _, id := range org.IDs() {
		a := org.Accounts[id]
		for _, p := range append(append([]Principal(nil), a.Users...), a.Roles...) {
			if p.Exempt == ExemptTag {
				out = append(out, p.ARN)
			}
		}
	}
	sort.Strings(out)
	return out
}

// GuardrailParts are the documents deny-delete must attach in org (as SCPs
// KillSwitchDenyDelete, KillSwitchDenyDelete-2, ... and as the IAM managed
// policies of the same names): the guardrail rendered with the seed's
// break-glass pattern, the bot's role and tag, and naming the principals the
// seed exempted by tag (TagExemptARNs). Rendered without those ARNs, the
// same parameters must give exactly the engine's own DenyDeleteParts: the
// test renders what the engine's configuration says, nothing else.
func GuardrailParts(t testing.TB, org *Org, e *actions.Engine) []string {
	t.Helper()
	params := func(arns []string) policies.Params {
		return policies.Params{ExemptPatterns: []string{BreakGlassPattern, "arn:aws:iam::*:role/" + ResponderRole}, ExemptARNs: arns, ExemptTag: BreakGlassTag}
	}
	own, err := e.DenyDeleteParts()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := policies.RenderParts("deny-delete", params(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(own, mine) {
		t.Fatalf("the engine's guardrail (%d parts) is not the one rendered from the seed's exemptions (%d parts): the engine is configured with other exemptions than the seed's", len(own), len(mine))
	}
	parts, err := policies.RenderParts("deny-delete", params(TagExemptARNs(org)))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 {
		t.Fatal("the guardrail renders to no part")
	}
	return parts
}

// RCPParts is the guardrail's resource control policy as deny-delete
// renders it for the seeded organization (its id, the seed's exemptions);
// admin is the management account's administrator configuration.
func RCPParts(t testing.TB, org *Org, admin aws.Config) []string {
	t.Helper()
	d, err := organizations.NewFromConfig(admin).DescribeOrganization(context.Background(), &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := policies.RenderParts("deny-delete-rcp", policies.Params{
		ExemptPatterns: []string{BreakGlassPattern, "arn:aws:iam::*:role/" + ResponderRole}, ExemptARNs: TagExemptARNs(org),
		ExemptTag: BreakGlassTag, OrgID: aws.ToString(d.Organization.Id)})
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

// exempt reports whether the seed made arn as a principal killswitch must
// never touch.
func (x *Expect) exempt(account, arn string) bool {
	p, ok := x.org.Accounts[account].Find(arn)
	if x.unconfirmed && x.claims(account, arn) {
		return false
	}
	return ok && p.Exempt != ""
}

// DenyDeletePolicyARN is the IAM managed policy deny-delete creates in
// account (its first part).
func DenyDeletePolicyARN(account string) string { return DenyDeletePartARN(account, 0) }

// DenyDeletePartARN is part i (0-based) of the IAM managed policy
// guardrail in account.
func DenyDeletePartARN(account string, i int) string {
	return "arn:aws:iam::" + account + ":policy/killswitch/" + actions.DenyDeletePartName(i)
}

// Phases returns the single actions of an action, in the order it runs
// them: lockdown is the guardrail (confirmed), then disable-users, then
// revoke-sessions.
func Phases(action string) []string {
	if action == actions.Lockdown {
		return []string{actions.DenyDelete, actions.DisableUsers, actions.ContainIdentityCenter, actions.RevokeSessions}
	}
	return []string{action}
}

// Applied returns the state action must leave, given before (and, for
// rotate-keys, after: the ids of the new keys are AWS's choice).
func (x *Expect) Applied(t testing.TB, action, reqID string, before, after *OrgState) *OrgState {
	t.Helper()
	s := before.Clone()
	for _, ph := range Phases(action) {
		switch ph {
		case actions.DenyDelete:
			x.denyDelete(s)
		case actions.RevokeSessions:
			x.revoke(s)
			x.revokeSSO(s)
		case actions.DisableUsers:
			x.disable(s)
		case actions.RotateKeys:
			x.rotate(t, s, before, after, reqID, true)
		}
	}
	return s
}

// Undone returns the state the undo of action must leave: the state before,
// but for what AWS cannot give back (console passwords), what killswitch
// deliberately keeps (SCPs stay enabled; replacement keys stay, inactive,
// with their secrets) — the undo reports each of these.
func (x *Expect) Undone(t testing.TB, action, reqID string, before, applied *OrgState) *OrgState {
	t.Helper()
	s := before.Clone()
	for _, ph := range Phases(action) {
		switch ph {
		case actions.DenyDelete:
			s.SCPEnabled = !x.org.Standalone
		case actions.DisableUsers:
			x.eachUser(s, func(_ string, p *PrincipalState) { p.LoginProfile = false })
		case actions.RotateKeys:
			x.rotate(t, s, before, applied, reqID, false)
		}
	}
	return s
}

func (x *Expect) denyDelete(s *OrgState) {
	if !x.org.Standalone {
		s.SCPEnabled = true
		for i, doc := range x.denyDocs {
			s.SCPs[actions.DenyDeletePartName(i)] = doc
		}
		for _, m := range x.org.Members {
			if !x.IAMDenyDelete[m] {
				for i := range x.denyDocs {
					s.Accounts[m].AttachedSCPs[actions.DenyDeletePartName(i)] = true
				}
			}
		}
	}
	// SCPs do not restrict the management account (and a standalone account
	// has none): the IAM managed policies go on every non-exempt user, group
	// and role there.
	for id := range x.IAMDenyDelete {
		for i, doc := range x.denyDocs {
			arn := DenyDeletePartARN(id, i)
			s.Accounts[id].Policies[arn] = doc
			for parn, p := range s.Accounts[id].Principals {
				if !x.exempt(id, parn) {
					p.Attached[arn] = true
				}
			}
		}
	}
}

func (x *Expect) revoke(s *OrgState) {
	for id, a := range s.Accounts {
		doc, ok := x.revokeDocs[id]
		if !ok {
			doc = x.revokeDoc
		}
		for arn, p := range a.Principals {
			switch {
			case p.Kind == "group" || x.exempt(id, arn):
			case x.unconfirmed && x.claims(id, arn):
				p.Inline[actions.RevokePolicyName] = x.quarantineDoc
			default:
				p.Inline[actions.RevokePolicyName] = doc
			}
		}
	}
}

func (x *Expect) eachUser(s *OrgState, f func(account string, p *PrincipalState)) {
	for id, a := range s.Accounts {
		for arn, p := range a.Principals {
			if p.Kind == "user" && !x.exempt(id, arn) {
				f(id, p)
			}
		}
	}
}

func (x *Expect) disable(s *OrgState) {
	x.eachUser(s, func(_ string, p *PrincipalState) {
		p.LoginProfile = false
		for k := range p.Keys {
			p.Keys[k] = "Inactive"
		}
		for k := range p.SSH {
			p.SSH[k] = "Inactive"
		}
	})
}

// rotate: every non-exempt user with an active key and fewer than two keys
// gets exactly one new key (active after apply, inactive after undo) stored
// in its secret; the old active keys are inactive after apply and active
// again after undo. A user at IAM's two-key limit only has its keys
// deactivated.
func (x *Expect) rotate(t testing.TB, s, before, with *OrgState, reqID string, apply bool) {
	t.Helper()
	x.eachUser(s, func(id string, p *PrincipalState) {
		var arn string
		for a, q := range before.Accounts[id].Principals {
			if q.Kind == "user" && q.Name == p.Name {
				arn = a
			}
		}
		active := 0
		for k, st := range p.Keys {
			if st == "Active" {
				active++
				if apply {
					p.Keys[k] = "Inactive"
				}
			}
		}
		if active == 0 || len(p.Keys) >= 2 {
			return
		}
		got := with.Accounts[id].Principals[arn]
		var fresh []string
		if got != nil {
			for k := range got.Keys {
				if _, old := p.Keys[k]; !old {
					fresh = append(fresh, k)
				}
			}
		}
		if len(fresh) != 1 {
			t.Errorf("rotate-keys: %s has %d new access keys, want exactly 1: %v", arn, len(fresh), fresh)
			return
		}
		st := "Active"
		if !apply {
			st = "Inactive"
		}
		p.Keys[fresh[0]] = st
		s.Accounts[id].Secrets[actions.SecretName(p.Name)] = SecretFact{AccessKeyID: fresh[0], SecretLen: 40, UserName: p.Name, Account: id, Request: reqID}
	})
}

// tokenIssueTime returns the aws:TokenIssueTime cut-off of a revoke
// document, checking its shape: one Deny of everything before the time.
func tokenIssueTime(doc string) (string, error) {
	var pol struct {
		Statement []struct {
			Effect    string
			Action    any
			Resource  any
			Condition map[string]map[string]any // values: a string, or a list (the SSO SCP's principal pattern)
		}
	}
	if err := json.Unmarshal([]byte(doc), &pol); err != nil {
		return "", err
	}
	if len(pol.Statement) != 1 || pol.Statement[0].Effect != "Deny" {
		return "", fmt.Errorf("want one Deny statement: %s", doc)
	}
	v, ok := pol.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"].(string)
	if !ok {
		return "", fmt.Errorf("no DateLessThan aws:TokenIssueTime condition: %s", doc)
	}
	return v, nil
}

// CheckPinnedRevokeTime checks that every revoke inline policy denies
// sessions issued before exactly rb.
func CheckPinnedRevokeTime(t testing.TB, s *OrgState, rb time.Time) {
	t.Helper()
	want := rb.UTC().Format(time.RFC3339)
	n := 0
	for _, a := range s.Accounts {
		for arn, p := range a.Principals {
			doc, ok := p.Inline[actions.RevokePolicyName]
			if !ok {
				continue
			}
			n++
			got, err := tokenIssueTime(doc)
			if err != nil {
				t.Errorf("%s: %v", arn, err)
			} else if got != want {
				t.Errorf("%s: aws:TokenIssueTime %s, want the pinned %s", arn, got, want)
			}
		}
	}
	if n == 0 {
		t.Error("no principal carries " + actions.RevokePolicyName)
	}
}

// GuardrailPartNames are the names of n guardrail parts:
// KillSwitchDenyDelete, KillSwitchDenyDelete-2, ...
func GuardrailPartNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = actions.DenyDeletePartName(i)
	}
	return out
}

// IAMFallbackWarning is the warning of an account where deny-delete is the
// IAM managed policies (one per part), and why.
func IAMFallbackWarning(parts []string, why string) string {
	return fmt.Sprintf("deny-delete uses the IAM managed policy fallback (%s, %d managed-policy slot(s) of each principal): %s",
		strings.Join(GuardrailPartNames(len(parts)), ", "), len(parts), why)
}

// CeilSecond rounds t up to a whole second, as the revocation policy
// renders its cut-off (aws:TokenIssueTime has one-second precision).
func CeilSecond(t time.Time) time.Time {
	t = t.UTC()
	if f := t.Truncate(time.Second); f.Before(t) {
		return f.Add(time.Second)
	}
	return t
}

// LastDisableUsers is, per account, the time of the last disable-users step
// the results did there (zero if none).
func LastDisableUsers(results ...*actions.Result) map[string]time.Time {
	out := map[string]time.Time{}
	for _, r := range results {
		if r == nil {
			continue
		}
		for _, s := range r.Steps() {
			if s.Action == actions.DisableUsers && s.Status == actions.StepDone && s.At.After(out[s.Account]) {
				out[s.Account] = s.At
			}
		}
	}
	return out
}

// CheckLockdownRevokeTime checks the revocations lockdown left in s, and
// returns the cut-off of each account. Lockdown takes the cut-off per
// account, after the last long-term credential it cut there: in each
// account every KillSwitchRevokeOlderSessions denies sessions issued before
// one and the same instant (but for quarantines, at actions.QuarantineUntil,
// which the state comparison checks), no earlier than the pinned rb, no earlier than
// the last disable-users step of the results in that account (rounded up to
// the second: no session minted from a key before it was cut survives), and
// no later than until (when the last run ended, rounded up): a cut-off in
// the future would also end the sessions minted after the response.
func CheckLockdownRevokeTime(t testing.TB, s *OrgState, rb, until time.Time, results ...*actions.Result) map[string]time.Time {
	t.Helper()
	last := LastDisableUsers(results...)
	cutoffs := map[string]time.Time{}
	for _, id := range sortedKeys(s.Accounts) {
		a := s.Accounts[id]
		var first string
		for _, arn := range sortedKeys(a.Principals) {
			doc, ok := a.Principals[arn].Inline[actions.RevokePolicyName]
			if !ok {
				continue
			}
			got, err := tokenIssueTime(doc)
			if err != nil {
				t.Errorf("%s: %v", arn, err)
				continue
			}
			c, err := time.Parse(time.RFC3339, got)
			if err != nil {
				t.Errorf("%s: aws:TokenIssueTime %q: %v", arn, got, err)
				continue
			}
			if c.Equal(actions.QuarantineUntil) {
				continue
			}
			if _, seen := cutoffs[id]; !seen {
				cutoffs[id], first = c, arn
				continue
			}
			if !c.Equal(cutoffs[id]) {
				t.Errorf("%s: aws:TokenIssueTime %s, but %s in the same account has %s: lockdown takes one cut-off per account", arn, got, first, cutoffs[id].Format(time.RFC3339))
			}
		}
		c, ok := cutoffs[id]
		if !ok {
			continue
		}
		cs := c.Format(time.RFC3339)
		if c.Before(CeilSecond(rb)) {
			t.Errorf("account %s: cut-off %s is before the pinned %s", id, cs, CeilSecond(rb).Format(time.RFC3339))
		}
		if d := last[id]; !d.IsZero() && c.Before(CeilSecond(d)) {
			t.Errorf("account %s: cut-off %s is before the last disable-users step there (%s): a session minted from a key before it was cut survives", id, cs, d.UTC().Format(time.RFC3339Nano))
		}
		if c.After(CeilSecond(until)) {
			t.Errorf("account %s: cut-off %s is after the run ended (%s)", id, cs, until.UTC().Format(time.RFC3339Nano))
		}
	}
	if len(cutoffs) == 0 {
		t.Error("no principal carries " + actions.RevokePolicyName)
	}
	return cutoffs
}

// CheckGuardrailUnconfirmed: moto evaluates no policy, so the canary's dry
// run never fails: every account of a run of deny-delete (alone or in
// lockdown) says the guardrail was not confirmed, with the warning that
// the run went on anyway.
func CheckGuardrailUnconfirmed(t testing.TB, res *actions.Result) {
	t.Helper()
	want := fmt.Sprintf("the guardrail was not shown to be in effect within %s; access was cut anyway", ConfirmTimeout)
	for _, a := range res.Accounts {
		if a.Guardrail == nil || a.Guardrail.Confirmed {
			t.Errorf("%s: guardrail %+v, want the canary's verdict: not confirmed (moto evaluates no policy)", a.Account, a.Guardrail)
			continue
		}
		if a.Guardrail.AfterS < ConfirmTimeout.Seconds() {
			t.Errorf("%s: the guardrail was given up after %.1fs, before the %s timeout", a.Account, a.Guardrail.AfterS, ConfirmTimeout)
		}
		if !slices.Contains(a.Warnings, want) {
			t.Errorf("%s: no warning %q; warnings:\n%s", a.Account, want, strings.Join(a.Warnings, "\n"))
		}
	}
}

// CheckLockdownOrder: lockdown finishes each step in every account before
// the next: the guardrail everywhere, then its confirmation (at least
// ConfirmTimeout on moto, where it never confirms), then the quarantines
// (a revocation at actions.QuarantineUntil, first among the cuts), then
// disable-users, then revoke-sessions (these two in each account).
func CheckLockdownOrder(t testing.TB, res *actions.Result) {
	t.Helper()
	var lastGuard, firstCut, lastQuarantine, firstDisable, firstRevoke time.Time
	first := func(v *time.Time, at time.Time) {
		if v.IsZero() || at.Before(*v) {
			*v = at
		}
	}
	last := func(v *time.Time, at time.Time) {
		if at.After(*v) {
			*v = at
		}
	}
	for _, s := range res.Steps() {
		if s.Status != actions.StepDone {
			continue
		}
		quarantine := s.Action == actions.RevokeSessions && strings.HasPrefix(s.Change, "quarantine:")
		switch {
		case s.Action == actions.DenyDelete:
			last(&lastGuard, s.At)
		case quarantine:
			first(&firstCut, s.At)
			last(&lastQuarantine, s.At)
		case s.Action == actions.DisableUsers:
			first(&firstCut, s.At)
			first(&firstDisable, s.At)
		case s.Action == actions.RevokeSessions:
			first(&firstRevoke, s.At)
		}
	}
	if lastGuard.IsZero() || firstCut.IsZero() || firstRevoke.IsZero() {
		t.Fatalf("lockdown did not run every step: last guardrail step %v, first cut %v, first revocation %v", lastGuard, firstCut, firstRevoke)
	}
	if gap := firstCut.Sub(lastGuard); gap < ConfirmTimeout {
		t.Errorf("the first cut came %s after the last guardrail step: want the guardrail's confirmation (up to %s) in between", gap, ConfirmTimeout)
	}
	if !lastQuarantine.IsZero() && !firstDisable.IsZero() {
		for _, a := range res.Accounts {
			var q, d time.Time
			for _, s := range a.Steps {
				switch {
				case s.Status != actions.StepDone:
				case s.Action == actions.RevokeSessions && strings.HasPrefix(s.Change, "quarantine:"):
					last(&q, s.At)
				case s.Action == actions.DisableUsers:
					first(&d, s.At)
				}
			}
			if !q.IsZero() && !d.IsZero() && d.Before(q) {
				t.Errorf("%s: a credential was cut (%s) before the last quarantine (%s): quarantines come first among the cuts", a.Account, d.Format(time.RFC3339Nano), q.Format(time.RFC3339Nano))
			}
		}
	}
	// Past the guardrail's barrier each account runs on its own: the order
	// of disable-users and revoke-sessions holds inside each account.
	for _, a := range res.Accounts {
		var d, r time.Time
		for _, s := range a.Steps {
			switch {
			case s.Status != actions.StepDone || strings.HasPrefix(s.Change, "quarantine:"):
			case s.Action == actions.DisableUsers:
				last(&d, s.At)
			case s.Action == actions.RevokeSessions:
				first(&r, s.At)
			}
		}
		if !d.IsZero() && !r.IsZero() && r.Before(d) {
			t.Errorf("%s: a session was revoked (%s) before the last long-term credential there was cut (%s)", a.Account, r.Format(time.RFC3339Nano), d.Format(time.RFC3339Nano))
		}
	}
}

// CheckBotRoleUntouched: the responder role in every account keeps exactly
// its seeded policies.
func CheckBotRoleUntouched(t testing.TB, org *Org, before, after *OrgState) {
	t.Helper()
	for _, id := range org.IDs() {
		arn := "arn:aws:iam::" + id + ":role/" + ResponderRole
		b, a := before.Accounts[id].Principals[arn], after.Accounts[id].Principals[arn]
		if b == nil || a == nil {
			t.Fatalf("%s missing (before %v, after %v)", arn, b != nil, a != nil)
		}
		if !reflect.DeepEqual(b, a) {
			t.Errorf("the bot's role %s changed:\nbefore %+v\nafter  %+v", arn, b, a)
		}
		if _, ok := a.Inline[ResponderPolicy]; !ok || len(a.Inline) != 1 || len(a.Attached) != 0 {
			t.Errorf("the bot's role %s carries %v inline, %v attached; want only %s", arn, sortedKeys(a.Inline), sortedKeys(a.Attached), ResponderPolicy)
		}
	}
}

// CheckUndoWarnings: what undo cannot give back is reported, once per item.
func CheckUndoWarnings(t testing.TB, action string, res, undo *actions.Result) {
	t.Helper()
	var warnings []string
	for _, a := range undo.Accounts {
		warnings = append(warnings, a.Warnings...)
	}
	all := strings.Join(warnings, "\n")
	for _, s := range res.Steps() {
		if s.Status != actions.StepDone || s.Reversible {
			continue
		}
		switch s.Op {
		case "delete-login-profile":
			if !strings.Contains(all, "console password of "+s.Principal+" cannot be restored") {
				t.Errorf("undo does not report the lost console password of %s; warnings:\n%s", s.Principal, all)
			}
		case "enable-scp-policy-type":
			if !strings.Contains(all, "service control policies stay enabled") {
				t.Errorf("undo does not report that SCPs stay enabled; warnings:\n%s", all)
			}
		}
	}
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
