package sim

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Technique is one move of the simulated intruder: a sequence of AWS calls,
// each made through Org.Act with the attempt's credential, so every call
// takes its service's latency on the drill clock and is authorized exactly
// like the bot's calls.
type Technique struct {
	ID      string // stable, kebab-case, e.g. "backdoor-user", "delete-snapshots"
	Name    string // one line for humans
	Tactic  string // "persistence" | "defense-evasion" | "privilege-escalation" | "impact" | "exfiltration"
	MITRE   string // MITRE ATT&CK for Cloud technique id, e.g. "T1136.003"
	Stratus string // Stratus Red Team technique id where one exists, e.g. "aws.persistence.iam-create-admin-user", else ""
	// Needs is "" (any foothold), "management" (a foothold in the
	// management account) or "member" (a foothold in a member account).
	Needs string
	// Run makes the calls. It picks its targets from the Org state in
	// at.Cred.Account, deterministically (sorted). A refusal is a *Denied
	// (errors.As), possibly after partial effects, which it still returns;
	// nothing to act on wraps ErrNotFound.
	Run func(ctx context.Context, at Attempt) (Effect, error)
}

// Attempt is one run of a technique.
type Attempt struct {
	Org  *Org
	Cred Credential // the credential used (its Account is where it acts)
	// Pace is called before each AWS call after the first (the intruder's
	// rate); nil = none.
	Pace func(ctx context.Context) error
	// Name is the deterministic name of anything created (a user, a role,
	// a session); "" = DefaultAttemptName.
	Name string
	// Outside is an outside account id for trusts and sharing; "" =
	// DefaultOutsideAccount.
	Outside string
	// BreakGlassTag is the tag key break-glass principals carry; "" =
	// BreakGlassTag ("killswitch:break-glass").
	BreakGlassTag string
	// BreakGlassRole is the name of a role that matches a break-glass name
	// pattern; "" = DefaultBreakGlassRole.
	BreakGlassRole string

	// shared counts the calls of an enclosing technique that runs this one
	// (root-credentials), so pacing spans both.
	shared *int
}

// Defaults of Attempt's fields.
const (
	DefaultAttemptName    = "backup-admin"
	DefaultOutsideAccount = "999988887777"
	DefaultBreakGlassRole = "BreakGlassAdmin-2"
)

// GuardrailPrefix starts the names of the policies killswitch puts in place
// (the deny-delete guardrail, session revocation, SCPs): the techniques
// that remove, detach or rewrite them look for it.
const GuardrailPrefix = "KillSwitch"

// Effect is what a technique achieved.
type Effect struct {
	// What says it in human lines, e.g. "created user backup-admin with
	// key AKIA... and a console password".
	What []string
	// Creds are credentials the intruder now holds that it did not before
	// (new keys, console passwords, minted sessions).
	Creds []Credential
	// Lost are the data resources it destroyed, made unrecoverable,
	// blinded or exposed (see Org.ResourceStates for how).
	Lost []Resource
}

func (e *Effect) says(format string, args ...any) {
	e.What = append(e.What, fmt.Sprintf(format, args...))
}

func (e *Effect) lost(kind, id string) { e.Lost = append(e.Lost, Resource{Kind: kind, ID: id}) }

var (
	catalogue   []Technique
	catalogueBy map[string]Technique
)

func init() {
	var all []Technique
	all = append(all, iamTechniques()...)
	all = append(all, dataTechniques()...)
	all = append(all, orgTechniques()...)
	all = append(all, backupTechniques()...)
	all = append(all, outsideTechniques()...)
	all = append(all, rootTechniques()...)
	all = append(all, ssoTechniques()...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	catalogueBy = make(map[string]Technique, len(all))
	for _, t := range all {
		if _, dup := catalogueBy[t.ID]; dup {
			panic("sim: technique " + t.ID + " defined twice")
		}
		catalogueBy[t.ID] = t
	}
	catalogue = all
}

// Techniques returns the intruder technique catalogue sorted by ID.
func Techniques() []Technique { return append([]Technique(nil), catalogue...) }

// LookupTechnique returns the technique with an ID.
func LookupTechnique(id string) (Technique, bool) {
	t, ok := catalogueBy[id]
	return t, ok
}

// run is one attempt in progress: it paces calls and fills in defaults.
type run struct {
	Attempt
	calls int
}

func newRun(at Attempt) *run {
	if at.Name == "" {
		at.Name = DefaultAttemptName
	}
	if at.Outside == "" {
		at.Outside = DefaultOutsideAccount
	}
	if at.BreakGlassTag == "" {
		at.BreakGlassTag = BreakGlassTag
	}
	if at.BreakGlassRole == "" {
		at.BreakGlassRole = DefaultBreakGlassRole
	}
	return &run{Attempt: at}
}

// act is one AWS call: Pace (after the first), then Org.Act.
func (r *run) act(ctx context.Context, action, resource string, fn func(a *account) error) error {
	n := &r.calls
	if r.shared != nil {
		n = r.shared
	}
	if *n > 0 && r.Pace != nil {
		if err := r.Pace(ctx); err != nil {
			return err
		}
	}
	*n++
	return r.Org.Act(ctx, r.Cred, action, resource, fn)
}

// peek reads the Org state under the lock (the intruder's reconnaissance,
// not an AWS call): fn gets the credential's account.
func (r *run) peek(fn func(a *account)) error {
	o := r.Org
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(r.Cred.Account)
	if err != nil {
		return err
	}
	fn(a)
	return nil
}

// now is the Org's clock.
func (r *run) now() time.Time {
	r.Org.mu.Lock()
	defer r.Org.mu.Unlock()
	return r.Org.now()
}

// self is the caller's own IAM identity in a: the user or role its
// credential belongs to (nil, nil for the root).
func (r *run) self(a *account) (*user, *role) {
	ref, err := parsePrincipal(r.Cred.Principal, a.id)
	if err != nil {
		return nil, nil
	}
	switch ref.kind {
	case "user":
		return a.users[strings.ToLower(ref.name)], nil
	case "role":
		return nil, a.roles[strings.ToLower(ref.name)]
	}
	return nil, nil
}

// nothing is the error of a technique that found nothing to act on.
func nothing(id, acct, what string) error {
	return fmt.Errorf("%s in %s: no %s: %w", id, acct, what, ErrNotFound)
}

// keepGoing runs step for every target, collecting errors: one refusal does
// not stop the intruder trying the rest.
func keepGoing[T any](targets []T, step func(t T) error) error {
	var errs []error
	for _, t := range targets {
		if err := step(t); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func hasGuardrailPrefix(name string) bool { return strings.HasPrefix(name, GuardrailPrefix) }

// policyName is the name in a managed policy ARN.
func policyName(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }
