package actions

import (
	"context"
	"time"
)

// Plan is the read-only dry run of an action: per account, every principal or
// target affected, every exemption and why, every warning. Its JSON form is
// part of the outside contract (CONTRACT.md, `plan --json`).
type Plan struct {
	Action   string        `json:"action"`
	Accounts []AccountPlan `json:"accounts"`
}

// AccountPlan is the plan for one account.
type AccountPlan struct {
	Account  string      `json:"account"`
	Kind     string      `json:"kind,omitempty"` // member | management | standalone
	Targets  []Target    `json:"targets"`
	Exempt   []Exemption `json:"exempt"`
	Warnings []string    `json:"warnings"`
	Error    string      `json:"error,omitempty"` // the account could not be read
	// Failures lists the principals that could not be read: the plan has
	// no changes for them; every other principal is planned.
	Failures []PrincipalFailure `json:"failures,omitempty"`
}

// PrincipalFailure is one principal an action could not read (or, in a
// result, read and so did not change): it is named with the error, and the
// rest of its account is still contained. A rerun contains it once AWS
// answers. (A change that fails on one principal is a failed Step instead.)
type PrincipalFailure struct {
	Principal string `json:"principal"`        // the principal's ARN
	Action    string `json:"action,omitempty"` // the action (lockdown: its part) that met the error
	Error     string `json:"error"`
	// Deleted: AWS answered NoSuchEntity, so the principal was deleted while
	// killswitch worked (an intruder removing a throwaway user, say). It is
	// not a failure to reach AWS, but it is reported: a rerun shows whether
	// the principal is really gone.
	Deleted bool `json:"deleted,omitempty"`
}

// Target is one principal (or organization target) and the changes planned for it.
type Target struct {
	Principal string   `json:"principal"`
	Changes   []string `json:"changes"`
}

// Exemption is a principal the action will not touch, and why.
type Exemption struct {
	Principal string `json:"principal"`
	Reason    string `json:"reason"`
}

// Counts returns the number of targets, changes and exemptions in the plan.
func (p *Plan) Counts() (targets, changes, exempt int) {
	for _, a := range p.Accounts {
		targets += len(a.Targets)
		exempt += len(a.Exempt)
		for _, t := range a.Targets {
			changes += len(t.Changes)
		}
	}
	return
}

// Step statuses.
const (
	// StepStarted is recorded before the AWS call: if the process dies
	// before the outcome is recorded, the change may or may not have been
	// made, and Undo reverses it to be safe (every undo is idempotent).
	StepStarted = "started"
	StepDone    = "done"
	StepFailed  = "failed"
	// StepInterrupted: the call was cancelled (shutdown) and may or may not
	// have reached AWS; Undo treats it like StepStarted.
	StepInterrupted = "interrupted"
	StepUndone      = "undone"
	StepUndoFailed  = "undo-failed"
)

// mayHaveChanged reports whether a step's change may be in effect.
func mayHaveChanged(status string) bool {
	return status == StepDone || status == StepStarted || status == StepInterrupted
}

// Step is one change Apply made (or tried to make), with the prior state
// needed to undo it. Steps are self-contained so that a crashed run can be
// undone or resumed from the recorded steps alone.
type Step struct {
	Key        string    `json:"key"`                 // unique within a request
	Request    string    `json:"request,omitempty"`   // the request that made it
	Action     string    `json:"action"`              // the vetted action that made it (lockdown records its parts)
	Account    string    `json:"account"`             // the account whose state changed
	Op         string    `json:"op"`                  // see the op* constants
	Principal  string    `json:"principal,omitempty"` // user, role or group ARN, or the SCP target
	Resource   string    `json:"resource,omitempty"`  // access key id, policy ARN or id, inline policy name
	Prior      string    `json:"prior,omitempty"`     // prior state (status, document) when the op replaced something
	Change     string    `json:"change"`              // what a human reads
	Reversible bool      `json:"reversible"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
}

// Result is what Apply or Undo did.
type Result struct {
	Action    string          `json:"action"`
	RequestID string          `json:"request_id,omitempty"`
	Undo      bool            `json:"undo,omitempty"`
	Status    string          `json:"status"` // succeeded | partial | failed
	Accounts  []AccountResult `json:"accounts"`
}

// AccountResult is the outcome in one account.
type AccountResult struct {
	Account  string   `json:"account"`
	Status   string   `json:"status"` // succeeded | partial | failed
	Steps    []Step   `json:"steps"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
	// Failures lists the principals that could not be read, and so were
	// not changed; the account's status is then partial at best.
	Failures []PrincipalFailure `json:"failures,omitempty"`
	// Findings lists what a read-only action found (find-backdoors).
	Findings []Target `json:"findings,omitempty"`
	// Guardrail says whether the guardrail was shown to be in effect here
	// before any access was cut, and how long that took.
	Guardrail *GuardrailCheck `json:"guardrail,omitempty"`
}

// GuardrailCheck is the canary's verdict in one account.
type GuardrailCheck struct {
	Confirmed bool    `json:"confirmed"`
	AfterS    float64 `json:"after_s"`        // seconds from the first check to the verdict
	Note      string  `json:"note,omitempty"` // why it was not confirmed
}

// Result statuses.
const (
	StatusSucceeded = "succeeded"
	StatusPartial   = "partial"
	StatusFailed    = "failed"
)

// Changed reports how many steps changed something.
func (r *Result) Changed() int {
	n := 0
	for _, a := range r.Accounts {
		for _, s := range a.Steps {
			if s.Status == StepDone || s.Status == StepUndone {
				n++
			}
		}
	}
	return n
}

// Problems lists the account errors, the principals that could not be read
// and the steps that did not (or may not) take effect, each naming its
// account, principal or step key.
func (r *Result) Problems() []string {
	var out []string
	for _, a := range r.Accounts {
		if a.Error != "" {
			out = append(out, a.Account+": "+a.Error)
		}
		for _, f := range a.Failures {
			out = append(out, a.Account+": "+f.Principal+": "+f.Error)
		}
		for _, s := range a.Steps {
			switch s.Status {
			case StepFailed, StepUndoFailed, StepInterrupted, StepStarted:
				out = append(out, s.Key+": "+s.Status+": "+s.Error)
			}
		}
	}
	return out
}

// Steps returns every step in account order.
func (r *Result) Steps() []Step {
	var out []Step
	for _, a := range r.Accounts {
		out = append(out, a.Steps...)
	}
	return out
}

// Options pin what a request decided once, so that a resumed or repeated run
// does exactly the same thing.
type Options struct {
	RequestID string
	// RevokeBefore: sessions issued before this time are revoked. Zero means
	// the engine's current time; a request pins it when it first runs.
	RevokeBefore time.Time
	// Since: find-backdoors reports what was created or changed after it.
	// Zero means 24 hours before the engine's current time.
	Since time.Time
	// IdentityCenter names the IAM Identity Center users and groups whose
	// account assignments contain-identity-center removes ("user:NAME",
	// "group:NAME"); empty means every one but break-glass.
	IdentityCenter []string
	// Baseline, when set, is what exemptions by tag or pattern are checked
	// against (baseline.go); nil keeps them unchecked.
	Baseline *Baseline

	// quarantineOnly: revoke-sessions acts only on the principals that look
	// exempt but are not (lockdown quarantines them first among its cuts).
	quarantineOnly bool
}

// Recorder persists each step of Apply twice: with status "started" before
// its AWS call and with its outcome after it, before the next call, so a
// crash loses nothing. Records of one key replace each other. Undo records
// each undo step once, with its outcome (a crashed undo is simply run again:
// every undo is idempotent). A Recorder error stops the run in that account.
type Recorder interface {
	Record(ctx context.Context, s Step) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, s Step) error

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, s Step) error { return f(ctx, s) }

// Call describes one AWS API call, for the audit log and metrics.
type Call struct {
	RequestID string        `json:"request_id,omitempty"`
	Service   string        `json:"service"`
	Operation string        `json:"operation"`
	Account   string        `json:"account"`
	Target    string        `json:"target,omitempty"`
	Outcome   string        `json:"outcome"` // ok | error
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}
