package drill

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/killswitch/killswitch/actions/sim"
)

// Report is CONTRACT.md's drill report (drill --json), extended.
type Report struct {
	Scenario  string `json:"scenario"`
	Seed      int64  `json:"seed"`
	Contained bool   `json:"contained"`
	// Times are seconds of simulated time: request_t since the intrusion
	// began, the time_to_* ones since the request (null: never happened).
	RequestT           *float64      `json:"request_t"`
	TimeToApprovalS    *float64      `json:"time_to_approval_s"`
	TimeToGuardrailS   *float64      `json:"time_to_guardrail_s"`
	TimeToContainmentS *float64      `json:"time_to_containment_s"`
	ResourcesTotal     int           `json:"resources_total"`
	ResourcesLost      int           `json:"resources_lost"`
	Lost               []Loss        `json:"lost"`
	BackdoorsCreated   int           `json:"backdoors_created"`
	BackdoorsDisabled  int           `json:"backdoors_disabled"`
	TechniquesTried    int           `json:"techniques_tried"`
	TechniquesWon      int           `json:"techniques_won"`
	Won                []Win         `json:"won"`
	CredentialsWorking int           `json:"credentials_working"`
	Working            []string      `json:"working_credentials"`
	BreakGlassIntact   bool          `json:"break_glass_intact"`
	BreakGlassProblems []string      `json:"break_glass_problems,omitempty"`
	GuardrailByAccount []AccountTime `json:"guardrail_by_account"`
	Improve            []string      `json:"improve"`
	Timeline           []Event       `json:"timeline"`
}

// Loss is a resource the intruder destroyed, blinded or exposed.
type Loss struct {
	Resource   string  `json:"resource"`
	Account    string  `json:"account"`
	Technique  string  `json:"technique"`
	Credential string  `json:"credential"`
	T          float64 `json:"t"`
}

// Win is a technique whose effect stands at the end.
type Win struct {
	Technique string  `json:"technique"`
	Account   string  `json:"account"`
	What      string  `json:"what"`
	T         float64 `json:"t"`
}

// AccountTime is when the guardrail was first seen in effect in an account
// (seconds since the request; null: never).
type AccountTime struct {
	Account string   `json:"account"`
	T       *float64 `json:"t"`
}

// Event is one line of the timeline; T is seconds since the intrusion.
type Event struct {
	T     float64 `json:"t"`
	Actor string  `json:"actor"` // attacker | responder | slack | bot
	Event string  `json:"event"`
}

func secs(from, to time.Time) *float64 {
	if from.IsZero() || to.IsZero() {
		return nil
	}
	v := round3(to.Sub(from).Seconds())
	return &v
}

// report computes the scorecard from the simulation's end state.
func (r *run) report(total int, before map[string]any) *Report {
	in := r.in
	rep := &Report{Scenario: r.s.Name, Seed: r.seed, ResourcesTotal: total, Lost: []Loss{}, Won: []Win{}, Working: []string{},
		Improve: []string{}, Timeline: r.timeline}
	if !r.marks.request.IsZero() {
		rep.RequestT = secs(Start, r.marks.request)
	}
	rep.TimeToApprovalS = secs(r.marks.request, r.marks.approval)
	rep.TimeToContainmentS = secs(r.marks.request, r.marks.contained)
	var last time.Time
	all := true
	for _, a := range r.org.Accounts() {
		t, ok := r.marks.guardrailIn[a]
		if !ok {
			all = false
		} else if t.After(last) {
			last = t
		}
		rep.GuardrailByAccount = append(rep.GuardrailByAccount, AccountTime{Account: a, T: secs(r.marks.request, t)})
	}
	if all {
		rep.TimeToGuardrailS = secs(r.marks.request, last)
	}
	for _, a := range r.org.Accounts() {
		for _, st := range r.org.ResourceStates(a) {
			if st.Lost {
				rep.ResourcesLost++
			}
		}
	}
	rep.Lost = append(rep.Lost, in.lost...)
	alive := map[string]bool{}
	for _, h := range in.held {
		w := in.works(h)
		if w {
			rep.Working = append(rep.Working, h.what)
		}
		if h.created {
			key := h.from + "|" + h.cred.Principal
			alive[key] = alive[key] || w
		}
	}
	rep.CredentialsWorking = len(rep.Working)
	rep.BackdoorsCreated = len(alive)
	for _, w := range alive {
		if !w {
			rep.BackdoorsDisabled++
		}
	}
	for _, a := range in.tried {
		rep.TechniquesTried++
		if what, won := in.won(a); won {
			rep.TechniquesWon++
			rep.Won = append(rep.Won, Win{Technique: a.technique.ID, Account: a.account, What: what, T: round3(a.at.Sub(Start).Seconds())})
		}
	}
	rep.BreakGlassProblems = r.breakGlassProblems(before)
	rep.BreakGlassIntact = len(rep.BreakGlassProblems) == 0
	rep.Contained = rep.ResourcesLost == 0 && rep.CredentialsWorking == 0
	rep.Improve = r.improvements(rep)
	return rep
}

// won says whether a technique's effect stands at the end: data it
// destroyed stays lost; a credential it minted or a door it opened still
// works; a guardrail it removed stays removed.
func (in *intruder) won(a attempt) (string, bool) {
	if a.cred == nil {
		return "", false
	}
	if len(a.effect.Lost) > 0 {
		return strings.Join(a.effect.What, "; "), true
	}
	if len(a.effect.Creds) > 0 || a.technique.Tactic == "persistence" {
		for _, h := range in.held {
			if h.from == a.technique.ID && h.cred.Account == a.account && in.works(h) {
				return h.what + " still works", true
			}
		}
		if len(a.effect.Creds) == 0 && in.works(a.cred) {
			return strings.Join(a.effect.What, "; ") + " (and " + a.cred.what + " still works)", true
		}
		return "", false
	}
	// an evasion stands if what it was for still works: the credential it
	// was made with, or (a guardrail removed) no guardrail at the end
	if a.err != nil || len(a.effect.What) == 0 {
		return "", false
	}
	switch {
	case in.works(a.cred):
		return strings.Join(a.effect.What, "; ") + " (and " + a.cred.what + " still works)", true
	case !in.r.guardrailHolds(a.account):
		return strings.Join(a.effect.What, "; ") + " (and no guardrail holds in " + a.account + " at the end)", true
	}
	return "", false
}

// breakGlassState records the break-glass principals' configuration.
func (r *run) breakGlassState() map[string]any {
	out := map[string]any{}
	for _, a := range r.org.Accounts() {
		st := r.org.Snapshot(a)
		for _, u := range st.Users {
			if r.exempt(u.Arn, u.Tags) {
				out[u.Arn] = u
			}
		}
		for _, ro := range st.Roles {
			if r.exempt(ro.Arn, ro.Tags) {
				out[ro.Arn] = ro
			}
		}
	}
	return out
}

// breakGlassProblems checks every break-glass principal: unchanged, and a
// session issued before the incident can still act.
func (r *run) breakGlassProblems(before map[string]any) []string {
	after := r.breakGlassState()
	var out []string
	arns := make([]string, 0, len(before))
	for arn := range before {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	for _, arn := range arns {
		now, ok := after[arn]
		switch {
		case !ok:
			out = append(out, arn+" is gone")
			continue
		case !sameIgnoringTags(before[arn], now):
			out = append(out, arn+" was changed during the drill")
		}
		acct := strings.SplitN(arn, ":", 6)[4]
		c := sim.Credential{Account: acct, Principal: arn, SessionIssued: Start.Add(-time.Hour)}
		for _, action := range []string{"iam:CreateUser", "ec2:DeleteSnapshot"} {
			if err := r.org.Authorize(c, action, "*"); err != nil {
				out = append(out, fmt.Sprintf("%s (a session from before the incident) is refused %s: %v", arn, action, err))
			}
		}
	}
	return out
}

func sameIgnoringTags(a, b any) bool { return reflect.DeepEqual(a, b) }

// improvements are what the responders could do better, from the outcome.
func (r *run) improvements(rep *Report) []string {
	var out []string
	if rep.RequestT == nil {
		out = append(out, "no containment was requested through killswitch: request lockdown as soon as the intrusion is suspected")
	}
	if rep.ResourcesLost > 0 && rep.TimeToGuardrailS == nil {
		out = append(out, "data was lost and the deny-delete guardrail never took effect everywhere: put it in place before cutting access (lockdown does)")
	}
	if rep.TimeToApprovalS != nil && *rep.TimeToApprovalS > 300 {
		out = append(out, fmt.Sprintf("approval took %.0fs: name more approvers, or have one on call during an incident", *rep.TimeToApprovalS))
	}
	seen := map[string]bool{}
	for _, l := range rep.Lost {
		if !seen[l.Technique] {
			seen[l.Technique] = true
			out = append(out, fmt.Sprintf("%s destroyed data (%s in %s): the guardrail must deny it before access is cut", l.Technique, l.Resource, l.Account))
		}
	}
	for _, w := range rep.Working {
		out = append(out, "still working at the end: "+w+": cut it (disable-users, revoke-sessions) and find how it survived")
	}
	if !rep.BreakGlassIntact {
		out = append(out, "break-glass access was damaged: check the break-glass patterns and tag in the configuration")
	}
	return out
}

// ScorecardLines is the scorecard for people, one figure a line.
func (rep *Report) ScorecardLines() []string {
	out := []string{
		fmt.Sprintf("resources lost: %d of %d", rep.ResourcesLost, rep.ResourcesTotal),
		fmt.Sprintf("techniques won: %d of %d tried", rep.TechniquesWon, rep.TechniquesTried),
		fmt.Sprintf("intruder credentials still working: %d", rep.CredentialsWorking),
		fmt.Sprintf("backdoors disabled: %d of %d", rep.BackdoorsDisabled, rep.BackdoorsCreated),
		fmt.Sprintf("break-glass intact: %v", rep.BreakGlassIntact),
		"approved " + after(rep.TimeToApprovalS) + ", guardrail in effect " + after(rep.TimeToGuardrailS) + ", last credential cut " + after(rep.TimeToContainmentS),
	}
	for _, w := range rep.Won {
		out = append(out, "won: "+w.Technique+" in "+w.Account+": "+w.What)
	}
	for _, w := range rep.Working {
		out = append(out, "still working: "+w)
	}
	for _, s := range rep.Improve {
		out = append(out, "to improve: "+s)
	}
	return out
}

func after(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.1fs after the request", *v)
}
