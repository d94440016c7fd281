package awsint

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

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
	denyDoc       string // normalized
	revokeDoc     string // normalized
}

// NewExpect returns the expectations for org: e renders the deny-delete
// document (its break-glass patterns and tag), rb is the revoke-sessions
// cut-off the run pins.
func NewExpect(t testing.TB, org *Org, e *actions.Engine, rb time.Time) *Expect {
	t.Helper()
	dd, err := e.DenyDeleteDocument()
	if err != nil {
		t.Fatal(err)
	}
	rv, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: rb})
	if err != nil {
		t.Fatal(err)
	}
	return &Expect{org: org, rb: rb, denyDoc: normDoc(dd), revokeDoc: normDoc(rv), IAMDenyDelete: map[string]bool{org.Management: true}}
}

// exempt reports whether the seed made arn as a principal killswitch must
// never touch.
func (x *Expect) exempt(account, arn string) bool {
	p, ok := x.org.Accounts[account].Find(arn)
	return ok && p.Exempt != ""
}

// DenyDeletePolicyARN is the IAM managed policy deny-delete creates in account.
func DenyDeletePolicyARN(account string) string {
	return "arn:aws:iam::" + account + ":policy/killswitch/" + actions.DenyDeletePolicyName
}

// Phases returns the single actions of an action.
func Phases(action string) []string {
	if action == actions.Lockdown {
		return []string{actions.DenyDelete, actions.RevokeSessions, actions.DisableUsers}
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
		s.SCPs[actions.DenyDeletePolicyName] = x.denyDoc
		for _, m := range x.org.Members {
			if !x.IAMDenyDelete[m] {
				s.Accounts[m].AttachedSCPs[actions.DenyDeletePolicyName] = true
			}
		}
	}
	// SCPs do not restrict the management account (and a standalone account
	// has none): the IAM managed policy goes on every non-exempt user, group
	// and role there.
	for id := range x.IAMDenyDelete {
		arn := DenyDeletePolicyARN(id)
		s.Accounts[id].Policies[arn] = x.denyDoc
		for parn, p := range s.Accounts[id].Principals {
			if !x.exempt(id, parn) {
				p.Attached[arn] = true
			}
		}
	}
}

func (x *Expect) revoke(s *OrgState) {
	for id, a := range s.Accounts {
		for arn, p := range a.Principals {
			if p.Kind != "group" && !x.exempt(id, arn) {
				p.Inline[actions.RevokePolicyName] = x.revokeDoc
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
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(doc), &pol); err != nil {
		return "", err
	}
	if len(pol.Statement) != 1 || pol.Statement[0].Effect != "Deny" {
		return "", fmt.Errorf("want one Deny statement: %s", doc)
	}
	v, ok := pol.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"]
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
