// Package approval is the request state machine and the two-person rule.
// It knows neither Slack nor AWS: the bot calls it with Slack user ids, and
// runs the action when Approve reports Approved and Start succeeds.
//
// Lifecycle: pending → approved → running → succeeded | partial | failed, or
// pending → rejected | expired | cancelled, and approved → cancelled. Every
// transition is a compare-and-swap in the store, so two clicks, two replicas
// or a retry can never both win.
//
// # Auditing
//
// Every transition writes an audit event (named after the new state:
// "approved", "rejected", "cancelled", "expired", "running", "succeeded",
// "partial", "failed"; plus "requested" for Submit and "approval" for each
// approver's approval) before the method returns. The store transition comes
// first, because the compare-and-swap decides what happened and only the
// winner may record it; the audit write follows. If the audit write fails
// the method returns an error wrapping ErrAudit, and the caller must not
// update Slack or run anything. Transitions that would lead to AWS changes
// fail closed: an unaudited Submit or approval is cancelled and an unaudited
// Start is marked failed before anything ran (best effort: when the store
// itself is down these stay as they are, and Resumable returns them later).
package approval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/killswitch/killswitch/bot/store"
)

// Audit event names besides the new-state names.
const (
	EventRequested = "requested"
	EventApproval  = "approval"
	// EventRefused is a refused decision: an approval, rejection, cancel,
	// request or undo the rules turned down (data: verb and refusal).
	EventRefused = "refused"
)

// SystemActor is the actor of transitions nobody clicked (expiry, fail-closed).
const SystemActor = "killswitch"

// DefaultExpiry applies when Policy.Expiry is not positive.
const DefaultExpiry = 15 * time.Minute

// MaxReason is the longest accepted reason, in characters.
const MaxReason = 500

// maxIncident is the longest accepted incident id, in characters.
const maxIncident = 100

// ErrAudit marks a failed audit write (see the package documentation).
var ErrAudit = errors.New("audit log write failed")

// Policy is the two-person rule as data.
type Policy struct {
	Requesters []string // Slack user ids allowed to request
	Approvers  []string // Slack user ids allowed to approve
	Required   int      // approvals needed besides the requester; below 1 counts as 1
	Expiry     time.Duration
	// Extra, if set, gives the approvals an action needs beyond Required
	// (an action that cannot be undone asks for one more). Undo requests
	// need Required.
	Extra func(action string) int
}

func (p Policy) required() int { return max(p.Required, 1) }

// RequiredFor is the number of approvals request r needs.
func (p Policy) RequiredFor(r *store.Request) int {
	n := p.required()
	if p.Extra != nil && r.Kind == store.KindAction {
		n += max(p.Extra(r.Action), 0)
	}
	return n
}

// approversBesides counts the approvers other than user.
func (p Policy) approversBesides(user string) int {
	n := 0
	for _, a := range unique(p.Approvers) {
		if a != user {
			n++
		}
	}
	return n
}

func unique(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func (p Policy) expiry() time.Duration {
	if p.Expiry <= 0 {
		return DefaultExpiry
	}
	return p.Expiry
}

// Refusal is a user-facing "not allowed" answer, not an internal error: show
// Msg to the user. It may wrap a store sentinel (ErrConflict, ErrNotFound).
type Refusal struct {
	Msg string
	// Unaudited is the error of the audit write of this refusal, if it
	// failed (the refusal still stands; log it).
	Unaudited error
	cause     error
}

func (r *Refusal) Error() string { return r.Msg }

// Unwrap returns the store error behind the refusal, if any.
func (r *Refusal) Unwrap() error { return r.cause }

func refuse(cause error, format string, args ...any) *Refusal {
	return &Refusal{Msg: fmt.Sprintf(format, args...), cause: cause}
}

// Auditor records events; *audit.Log implements it.
type Auditor interface {
	Event(ctx context.Context, actor, requestID, event string, data any) error
}

// NewRequest is what a requester asks for.
type NewRequest struct {
	Kind      string // store.KindAction | store.KindUndo
	Action    string
	Accounts  []string
	Reason    string
	Incident  string
	Requester string
	Team      string
	Plan      []byte
	UndoOf    string // for undo: the request to undo
	// Principals: the IAM Identity Center users and groups the request
	// names (contain-identity-center), pinned with it.
	Principals []string
}

// Outcome is the result of Approve.
type Outcome struct {
	Request   *store.Request
	Approvals []store.Approval
	// Approved: this call moved the request to approved, so the caller must
	// start it. At most one call per request ever sees true.
	Approved bool
}

// Service applies the policy to requests in the store.
type Service struct {
	Store  store.Store
	Policy Policy
	Audit  Auditor
	Now    func() time.Time // defaults to time.Now
	// NewID, if set, names new requests (drills use a deterministic
	// sequence); by default the store picks a random id.
	NewID func() string
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) audit(ctx context.Context, actor, id, event string, data any) error {
	if s.Audit == nil {
		return fmt.Errorf("%w: event %q of request %q: no auditor configured", ErrAudit, event, id)
	}
	if err := s.Audit.Event(ctx, actor, id, event, data); err != nil {
		return fmt.Errorf("%w: event %q of request %q: %w", ErrAudit, event, id, err)
	}
	return nil
}

// failClosed moves a request whose transition could not be audited to a
// state from which nothing runs, recording why (best effort).
func (s *Service) failClosed(ctx context.Context, id string, from store.State, to store.State, auditErr error) {
	now := s.now()
	msg := "audit log write failed; nothing was run"
	_, err := s.Store.Transition(ctx, id, []store.State{from}, to, func(r *store.Request) {
		r.Error, r.UpdatedAt = msg, now
	})
	if err == nil {
		_ = s.audit(ctx, SystemActor, id, string(to), map[string]any{"error": msg, "cause": auditErr.Error()})
	}
}

// audited writes a refusal in err (if any) to the audit log as a decision
// and returns err. requestID is the request decided on ("" for none).
func (s *Service) audited(ctx context.Context, user, requestID, verb string, err error) error {
	var ref *Refusal
	if !errors.As(err, &ref) {
		return err
	}
	if aerr := s.audit(ctx, user, requestID, EventRefused, map[string]any{"verb": verb, "refusal": ref.Msg}); aerr != nil {
		ref.Unaudited = aerr
	}
	return err
}

// Refused audits a refusal the caller made itself before asking the
// Service (e.g. an undo of a read-only action); see audited.
func (s *Service) Refused(ctx context.Context, user, requestID, verb string, ref *Refusal) error {
	return s.audited(ctx, user, requestID, verb, ref)
}

// NewRefusal returns a Refusal with msg.
func NewRefusal(msg string) *Refusal { return &Refusal{Msg: msg} }

func in(list []string, user string) bool { return user != "" && slices.Contains(list, user) }

// get reads a request, turning "not found" into a refusal.
func (s *Service) get(ctx context.Context, id string) (*store.Request, error) {
	r, err := s.Store.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(err, "request %s not found; check the request id", id)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// stateRefusal explains why a request in its current state cannot `verb`.
func stateRefusal(r *store.Request, verb string) *Refusal {
	var hint string
	switch r.State {
	case store.Pending:
		hint = "it is still waiting for approval"
	case store.Approved:
		hint = "it is already approved and about to run"
	case store.Running:
		hint = "it is already running; wait for it to finish, then undo it if needed"
	case store.Succeeded, store.Partial, store.Failed:
		hint = "it has already run; request an undo if needed"
	case store.Rejected, store.Expired, store.Cancelled:
		hint = "submit a new request if it is still needed"
	}
	return refuse(store.ErrConflict, "cannot %s request %s: it is %s; %s", verb, r.ID, r.State, hint)
}

func sha(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ---- Submit

// Submit validates and records a new pending request. A refusal is audited
// (verb "request" or "undo"; an undo's entry is under the request undone).
func (s *Service) Submit(ctx context.Context, n NewRequest) (*store.Request, error) {
	r, err := s.submit(ctx, n)
	if n.Kind == store.KindUndo {
		return r, s.audited(ctx, n.Requester, n.UndoOf, "undo", err)
	}
	return r, s.audited(ctx, n.Requester, "", "request", err)
}

func (s *Service) submit(ctx context.Context, n NewRequest) (*store.Request, error) {
	if n.Requester == "" {
		return nil, errors.New("submit request: requester is required")
	}
	if n.Kind != store.KindAction && n.Kind != store.KindUndo {
		return nil, fmt.Errorf("submit request: kind %q: want %q or %q", n.Kind, store.KindAction, store.KindUndo)
	}
	reason, err := checkReason(n.Reason)
	if err != nil {
		return nil, err
	}
	incident := strings.TrimSpace(n.Incident)
	if utf8.RuneCountInString(incident) > maxIncident || strings.ContainsFunc(incident, unicode.IsControl) {
		return nil, refuse(nil, "the incident id must be one line of at most %d characters", maxIncident)
	}
	r := &store.Request{
		Kind:     n.Kind,
		Action:   n.Action,
		Accounts: slices.Clone(n.Accounts), Principals: slices.Clone(n.Principals),
		Reason:    reason,
		Incident:  incident,
		Requester: n.Requester,
		Team:      n.Team,
		Plan:      slices.Clone(n.Plan),
		State:     store.Pending,
	}
	if n.Kind == store.KindAction {
		if !in(s.Policy.Requesters, n.Requester) {
			return nil, refuse(nil, "you are not allowed to request containment actions; ask a responder listed in approval.requesters to request it")
		}
		if n.UndoOf != "" {
			return nil, errors.New("submit request: undo_of is only for undo requests")
		}
		if r.Action == "" {
			return nil, errors.New("submit request: action is required")
		}
		if need, have := s.Policy.RequiredFor(r), s.Policy.approversBesides(n.Requester); need > have {
			return nil, refuse(nil, "%s needs %d approvals from approvers other than you, and approval.approvers lists only %d; add approvers to the configuration or ask another requester", r.Action, need, have)
		}
	} else {
		if !in(s.Policy.Requesters, n.Requester) && !in(s.Policy.Approvers, n.Requester) {
			return nil, refuse(nil, "you are not allowed to request an undo; ask a requester or an approver to request it")
		}
		if err := s.checkUndo(ctx, r, n.UndoOf); err != nil {
			return nil, err
		}
	}
	now := s.now()
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt = now, now, now.Add(s.Policy.expiry())
	if s.NewID != nil {
		r.ID = s.NewID()
	}
	if err := s.Store.CreateRequest(ctx, r); err != nil {
		if errors.Is(err, store.ErrDuplicate) && r.UndoOf != "" {
			return nil, refuse(err, "request %s is already being undone; approve or cancel that undo first", r.UndoOf)
		}
		return nil, fmt.Errorf("submit request: %w", err)
	}
	if err := s.audit(ctx, r.Requester, r.ID, EventRequested, map[string]any{
		"kind":        r.Kind,
		"action":      r.Action,
		"accounts":    r.Accounts,
		"reason":      r.Reason,
		"incident":    r.Incident,
		"team":        r.Team,
		"undo_of":     r.UndoOf,
		"plan_sha256": sha(r.Plan),
		"expires_at":  r.ExpiresAt.Format(time.RFC3339Nano),
	}); err != nil {
		s.failClosed(ctx, r.ID, store.Pending, store.Cancelled, err)
		return nil, err
	}
	return r, nil
}

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", refuse(nil, "a reason is required: say what you saw and why this action; approvers see it and the audit log keeps it")
	case utf8.RuneCountInString(reason) > MaxReason:
		return "", refuse(nil, "the reason is %d characters; keep it to %d and link the incident document for details", utf8.RuneCountInString(reason), MaxReason)
	case strings.ContainsFunc(reason, unicode.IsControl):
		return "", refuse(nil, "the reason must be one line without tabs or control characters")
	case !utf8.ValidString(reason):
		return "", refuse(nil, "the reason is not valid UTF-8 text")
	}
	return reason, nil
}

// checkUndo applies the undo rules to r, filling Action, Accounts and
// Incident from the request being undone.
func (s *Service) checkUndo(ctx context.Context, r *store.Request, undoOf string) error {
	if undoOf == "" {
		return refuse(nil, "say which request to undo (its id, e.g. ks-7f3a9c2e)")
	}
	target, err := s.get(ctx, undoOf)
	if err != nil {
		return err
	}
	if target.Kind == store.KindUndo {
		return refuse(nil, "request %s is itself an undo; request the original action again instead", target.ID)
	}
	switch target.State {
	case store.Succeeded, store.Partial, store.Failed:
	case store.Pending, store.Approved:
		return refuse(store.ErrConflict, "request %s has not run (it is %s); cancel it instead of undoing it", target.ID, target.State)
	case store.Running:
		return refuse(store.ErrConflict, "request %s is still running; wait for it to finish, then undo it", target.ID)
	default:
		return refuse(store.ErrConflict, "request %s never ran (it was %s); there is nothing to undo", target.ID, target.State)
	}
	active, err := s.Store.ListRequests(ctx, store.Filter{
		States: []store.State{store.Pending, store.Approved, store.Running},
		UndoOf: target.ID,
	})
	if err != nil {
		return fmt.Errorf("submit undo of request %q: %w", target.ID, err)
	}
	if len(active) > 0 {
		return refuse(store.ErrDuplicate, "request %s is already being undone by %s (%s); approve or cancel that one instead", target.ID, active[0].ID, active[0].State)
	}
	if r.Action == "" {
		r.Action = target.Action
	} else if r.Action != target.Action {
		return refuse(nil, "request %s ran %s; its undo cannot be %s", target.ID, target.Action, r.Action)
	}
	if len(r.Accounts) == 0 {
		r.Accounts = slices.Clone(target.Accounts)
	} else if len(target.Accounts) > 0 {
		for _, a := range r.Accounts {
			if !slices.Contains(target.Accounts, a) {
				return refuse(nil, "account %s was not in request %s; undo only what it did", a, target.ID)
			}
		}
	}
	if r.Incident == "" {
		r.Incident = target.Incident
	}
	r.UndoOf = target.ID
	return nil
}

// ---- decisions

func (s *Service) expired(r *store.Request) bool {
	return r.State == store.Pending && !r.ExpiresAt.IsZero() && !s.now().Before(r.ExpiresAt)
}

// expire moves a pending request past its expiry to expired and returns the
// refusal to show.
func (s *Service) expire(ctx context.Context, r *store.Request, verb string) error {
	now := s.now()
	got, err := s.Store.Transition(ctx, r.ID, []store.State{store.Pending}, store.Expired, func(r *store.Request) { r.UpdatedAt = now })
	switch {
	case errors.Is(err, store.ErrConflict) && got != nil:
		if got.State != store.Expired {
			return stateRefusal(got, verb)
		}
	case err != nil:
		return fmt.Errorf("expire request %q: %w", r.ID, err)
	default:
		if err := s.audit(ctx, SystemActor, r.ID, string(store.Expired), map[string]any{"expires_at": r.ExpiresAt.Format(time.RFC3339Nano)}); err != nil {
			return err
		}
	}
	return refuse(store.ErrConflict, "request %s expired at %s UTC without enough approvals; submit it again if it is still needed", r.ID, r.ExpiresAt.UTC().Format("15:04:05"))
}

// countable returns the approvers that count toward the rule: current
// approvers other than the requester, once each.
func (s *Service) countable(r *store.Request, as []store.Approval) []string {
	var out []string
	for _, a := range as {
		if a.Approver != r.Requester && in(s.Policy.Approvers, a.Approver) && !slices.Contains(out, a.Approver) {
			out = append(out, a.Approver)
		}
	}
	return out
}

// Approve records user's approval of request id; when the approvals reach
// Policy.Required the request moves to approved, and exactly one caller (the
// one whose Outcome.Approved is true) must start it.
// A refusal (self-approval, not an approver, a second approval by the same
// person, a request not pending) is audited.
func (s *Service) Approve(ctx context.Context, id, user string) (Outcome, error) {
	out, err := s.approve(ctx, id, user)
	return out, s.audited(ctx, user, id, "approve", err)
}

func (s *Service) approve(ctx context.Context, id, user string) (Outcome, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if r.State != store.Pending {
		return Outcome{Request: r}, stateRefusal(r, "approve")
	}
	if s.expired(r) {
		return Outcome{Request: r}, s.expire(ctx, r, "approve")
	}
	if user == r.Requester {
		return Outcome{Request: r}, refuse(nil, "you cannot approve your own request; ask another approver")
	}
	if !in(s.Policy.Approvers, user) {
		return Outcome{Request: r}, refuse(nil, "you are not an approver; ask someone listed in approval.approvers to approve request %s", r.ID)
	}
	required := s.Policy.RequiredFor(r)
	now := s.now()
	err = s.Store.AddApproval(ctx, store.Approval{RequestID: r.ID, Approver: user, At: now})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		as, _ := s.Store.Approvals(ctx, r.ID)
		left := max(required-len(s.countable(r, as)), 0)
		if left == 0 {
			return Outcome{Request: r, Approvals: as}, refuse(err, "you already approved request %s", r.ID)
		}
		return Outcome{Request: r, Approvals: as}, refuse(err, "you already approved request %s; it needs %d more approval(s) from another approver", r.ID, left)
	case errors.Is(err, store.ErrNotFound):
		return Outcome{}, refuse(err, "request %s not found; check the request id", id)
	case err != nil:
		return Outcome{Request: r}, fmt.Errorf("approve request %q: %w", id, err)
	}
	as, err := s.Store.Approvals(ctx, r.ID)
	if err != nil {
		return Outcome{Request: r}, fmt.Errorf("approve request %q: %w", id, err)
	}
	counted := s.countable(r, as)
	if err := s.audit(ctx, user, r.ID, EventApproval, map[string]any{"approvals": len(counted), "required": required}); err != nil {
		return Outcome{Request: r, Approvals: as}, err
	}
	if len(counted) < required {
		return Outcome{Request: r, Approvals: as}, nil
	}
	next, err := s.Store.Transition(ctx, r.ID, []store.State{store.Pending}, store.Approved, func(r *store.Request) { r.UpdatedAt = now })
	if errors.Is(err, store.ErrConflict) {
		// Another approval (another click, another replica) won; the caller
		// only reports. A request rejected, cancelled or expired meanwhile
		// does not take this approval.
		cur, gerr := s.Store.GetRequest(ctx, r.ID)
		if gerr != nil {
			return Outcome{Request: r, Approvals: as}, fmt.Errorf("approve request %q: %w", id, gerr)
		}
		switch cur.State {
		case store.Rejected, store.Cancelled, store.Expired:
			return Outcome{Request: cur, Approvals: as}, refuse(err, "request %s was %s meanwhile; your approval does not count", cur.ID, cur.State)
		}
		return Outcome{Request: cur, Approvals: as}, nil
	}
	if err != nil {
		return Outcome{Request: r, Approvals: as}, fmt.Errorf("approve request %q: %w", id, err)
	}
	if err := s.audit(ctx, user, r.ID, string(store.Approved), map[string]any{"approvers": counted, "required": required}); err != nil {
		s.failClosed(ctx, r.ID, store.Approved, store.Cancelled, err)
		return Outcome{Request: next, Approvals: as}, err
	}
	return Outcome{Request: next, Approvals: as, Approved: true}, nil
}

// Reject lets an approver turn down a pending request; a refusal is audited.
func (s *Service) Reject(ctx context.Context, id, user string) (*store.Request, error) {
	r, err := s.reject(ctx, id, user)
	return r, s.audited(ctx, user, id, "reject", err)
}

func (s *Service) reject(ctx context.Context, id, user string) (*store.Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !in(s.Policy.Approvers, user) {
		if user == r.Requester {
			return nil, refuse(nil, "only approvers can reject a request; to withdraw your own request, cancel it")
		}
		return nil, refuse(nil, "only approvers can reject a request; ask someone listed in approval.approvers")
	}
	if r.State != store.Pending {
		return nil, stateRefusal(r, "reject")
	}
	if s.expired(r) {
		return nil, s.expire(ctx, r, "reject")
	}
	return s.decide(ctx, r.ID, user, []store.State{store.Pending}, store.Rejected, "reject")
}

// Cancel lets the requester or any approver withdraw a pending or approved
// (not yet running) request; a refusal is audited.
func (s *Service) Cancel(ctx context.Context, id, user string) (*store.Request, error) {
	r, err := s.cancel(ctx, id, user)
	return r, s.audited(ctx, user, id, "cancel", err)
}

func (s *Service) cancel(ctx context.Context, id, user string) (*store.Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if user != r.Requester && !in(s.Policy.Approvers, user) {
		return nil, refuse(nil, "only the requester or an approver can cancel request %s; ask one of them", r.ID)
	}
	if r.State != store.Pending && r.State != store.Approved {
		return nil, stateRefusal(r, "cancel")
	}
	return s.decide(ctx, r.ID, user, []store.State{store.Pending, store.Approved}, store.Cancelled, "cancel")
}

// decide runs a user's transition to a terminal state and audits it.
func (s *Service) decide(ctx context.Context, id, user string, from []store.State, to store.State, verb string) (*store.Request, error) {
	now := s.now()
	next, err := s.Store.Transition(ctx, id, from, to, func(r *store.Request) { r.UpdatedAt = now })
	if errors.Is(err, store.ErrConflict) && next != nil {
		return nil, stateRefusal(next, verb)
	}
	if err != nil {
		return nil, fmt.Errorf("%s request %q: %w", verb, id, err)
	}
	if err := s.audit(ctx, user, id, string(to), map[string]any{"by": user}); err != nil {
		return next, err
	}
	return next, nil
}

// ---- running

// Start moves an approved request to running and pins PinnedAt (the time the
// action is relative to, e.g. "revoke sessions issued before") on first run.
// Only one caller can start a request; the others get a Refusal wrapping
// store.ErrConflict.
func (s *Service) Start(ctx context.Context, id string) (*store.Request, error) {
	now := s.now()
	next, err := s.Store.Transition(ctx, id, []store.State{store.Approved}, store.Running, func(r *store.Request) {
		if r.PinnedAt.IsZero() {
			r.PinnedAt = now
		}
		r.UpdatedAt = now
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, refuse(err, "request %s not found; check the request id", id)
	case errors.Is(err, store.ErrConflict) && next != nil:
		return nil, refuse(err, "cannot start request %s: it is %s (someone else started it, or it is not approved)", id, next.State)
	case err != nil:
		return nil, fmt.Errorf("start request %q: %w", id, err)
	}
	if err := s.audit(ctx, SystemActor, id, string(store.Running), map[string]any{"pinned_at": next.PinnedAt.Format(time.RFC3339Nano)}); err != nil {
		s.failClosed(ctx, id, store.Running, store.Failed, err)
		return nil, err
	}
	return next, nil
}

// Finish records the end of a run: st is succeeded, partial or failed.
func (s *Service) Finish(ctx context.Context, id string, st store.State, result []byte, errMsg string) (*store.Request, error) {
	switch st {
	case store.Succeeded, store.Partial, store.Failed:
	default:
		return nil, fmt.Errorf("finish request %q: state %q: want succeeded, partial or failed", id, st)
	}
	now := s.now()
	next, err := s.Store.Transition(ctx, id, []store.State{store.Running}, st, func(r *store.Request) {
		r.Result, r.Error, r.UpdatedAt = slices.Clone(result), errMsg, now
	})
	if err != nil {
		return nil, fmt.Errorf("finish request %q as %s: %w", id, st, err)
	}
	data := map[string]any{"result_sha256": sha(result)}
	if errMsg != "" {
		data["error"] = errMsg
	}
	if err := s.audit(ctx, SystemActor, id, string(st), data); err != nil {
		return next, err
	}
	return next, nil
}

// ExpireDue moves every pending request past its expiry to expired and
// returns them. Audit failures are returned joined, after trying them all.
func (s *Service) ExpireDue(ctx context.Context) ([]*store.Request, error) {
	pending, err := s.Store.ListRequests(ctx, store.Filter{States: []store.State{store.Pending}})
	if err != nil {
		return nil, fmt.Errorf("expire due requests: %w", err)
	}
	var (
		out  []*store.Request
		errs []error
	)
	for i := len(pending) - 1; i >= 0; i-- { // oldest first
		r := pending[i]
		if !s.expired(r) {
			continue
		}
		now := s.now()
		next, err := s.Store.Transition(ctx, r.ID, []store.State{store.Pending}, store.Expired, func(r *store.Request) { r.UpdatedAt = now })
		if errors.Is(err, store.ErrConflict) {
			continue // approved, rejected or cancelled meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("expire request %q: %w", r.ID, err))
			continue
		}
		out = append(out, next)
		if err := s.audit(ctx, SystemActor, r.ID, string(store.Expired), map[string]any{"expires_at": r.ExpiresAt.Format(time.RFC3339Nano)}); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// Resumable returns the requests a restarted bot must carry on with, oldest
// first: running ones (crashed mid-run: resume from their steps) and
// approved ones nobody started (Start them).
func (s *Service) Resumable(ctx context.Context) ([]*store.Request, error) {
	rs, err := s.Store.ListRequests(ctx, store.Filter{States: []store.State{store.Running, store.Approved}})
	if err != nil {
		return nil, fmt.Errorf("resumable requests: %w", err)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].CreatedAt.Equal(rs[j].CreatedAt) {
			return rs[i].CreatedAt.Before(rs[j].CreatedAt)
		}
		return rs[i].ID < rs[j].ID
	})
	return rs, nil
}
