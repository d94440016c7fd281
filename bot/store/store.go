// Package store persists killswitch requests, approvals, execution steps and
// the audit chain. It knows nothing about Slack or AWS.
//
// Two backends share one schema and one implementation (database/sql):
// SQLite (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx/v5,
// for several replicas). Every state change is a compare-and-swap, so two
// clicks, two replicas or a retry can never both win.
//
// Times are stored as Unix nanoseconds (0 = zero time) so they round-trip
// exactly on both backends (the audit hash covers them) and are returned in UTC.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"time"
)

// Sentinel errors. Every error a Store returns wraps one of these when it
// applies, so callers test with errors.Is.
var (
	// ErrNotFound: the entity does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap lost (the state or version changed).
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: a uniqueness rule was violated (same approver twice,
	// an active undo of the same request, an existing id).
	ErrDuplicate = errors.New("duplicate")
	// ErrGone: the SQLite database file was deleted or replaced under the
	// running store; nothing is read from or written to another file.
	ErrGone = errors.New("the store's database file was deleted or replaced")
)

// State is a request's lifecycle state.
type State string

// The lifecycle: pending → approved → running → succeeded | partial | failed,
// or pending → rejected | expired | cancelled (approved → cancelled too).
const (
	Pending   State = "pending"
	Approved  State = "approved"
	Running   State = "running"
	Succeeded State = "succeeded"
	Partial   State = "partial"
	Failed    State = "failed"
	Rejected  State = "rejected"
	Expired   State = "expired"
	Cancelled State = "cancelled"
)

// States lists every state in lifecycle order.
var States = []State{Pending, Approved, Running, Succeeded, Partial, Failed, Rejected, Expired, Cancelled}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool {
	switch s {
	case Succeeded, Partial, Failed, Rejected, Expired, Cancelled:
		return true
	}
	return false
}

// Request kinds.
const (
	KindAction = "action"
	KindUndo   = "undo"
)

// Request is one requested containment action (or the undo of one).
//
// The fields an approver approves are pinned at creation and can never be
// changed by Update or Transition: Kind, Action, Accounts, Reason, Incident,
// Requester, Team, Plan, UndoOf, CreatedAt, ExpiresAt. PinnedAt can be set
// once. Channel, MessageTS, Result and Error are freely mutable.
type Request struct {
	ID        string // short, unique, URL/Slack-safe, e.g. "ks-7f3a9c2e"
	Kind      string // "action" | "undo"
	Action    string
	Accounts  []string
	Reason    string
	Incident  string
	Requester string // Slack user id
	Team      string // Slack team id
	Channel   string // Slack channel of the approval card
	MessageTS string // Slack ts of the approval card
	Plan      []byte // JSON of the plan shown to approvers
	Result    []byte // JSON of the result
	UndoOf    string // for Kind undo: the request being undone
	State     State
	Version   int64 // bumped by every update (optimistic concurrency)
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	PinnedAt  time.Time // pinned when the request first runs; zero until then
	Error     string
	// Principals: the IAM Identity Center users and groups the request
	// names ("user:NAME", "group:NAME"), pinned so a resumed run does the same.
	Principals []string
}

// Clone returns a deep copy of r.
func (r *Request) Clone() *Request {
	if r == nil {
		return nil
	}
	c := *r
	c.Accounts = slices.Clone(r.Accounts)
	c.Principals = slices.Clone(r.Principals)
	c.Plan = slices.Clone(r.Plan)
	c.Result = slices.Clone(r.Result)
	return &c
}

// Approval is one approver's approval of a request.
type Approval struct {
	RequestID string
	Approver  string
	At        time.Time
}

// Step is one recorded execution step of a request, so a run that crashed
// can resume. Key is unique per request; Seq (1, 2, ... per request) is
// assigned on first insert; Data is opaque JSON.
type Step struct {
	RequestID string
	Key       string
	Seq       int64
	Data      []byte
	At        time.Time
}

// AuditRecord is one entry of the hash-chained audit log. The store keeps the
// chain linear (Seq contiguous, each PrevHash the previous Hash); computing
// hashes is the audit package's job.
type AuditRecord struct {
	Seq       int64
	At        time.Time
	Actor     string
	RequestID string
	Event     string
	Data      []byte
	PrevHash  string
	Hash      string
}

// Baseline is one account's exempt principals (by tag or pattern) as
// recorded while nothing was pending or running: At is when this set was
// first recorded, Confirmed the last time it was recorded unchanged.
type Baseline struct {
	Account    string
	At         time.Time
	Confirmed  time.Time
	Principals []string // sorted ARNs
}

// MaxBaselines is how many baselines PutBaseline keeps per account. A new
// one is added only when the set changes, so the oldest go only after that
// many changes (then no baseline may be old enough: the safe side).
const MaxBaselines = 100

// Filter selects requests for ListRequests. Zero fields match everything.
type Filter struct {
	States    []State
	Requester string
	UndoOf    string // only undos of this request
	Limit     int    // 0 = no limit
}

// AuditFilter selects audit records. Zero fields match everything.
type AuditFilter struct {
	RequestID string
}

// Store is the persistence of killswitch. All methods are safe for
// concurrent use, also from several processes sharing one database.
type Store interface {
	// CreateRequest inserts r. An empty ID is generated (NewID); Version is
	// set to 1; empty State means pending; zero CreatedAt/UpdatedAt mean now.
	CreateRequest(ctx context.Context, r *Request) error
	GetRequest(ctx context.Context, id string) (*Request, error)
	// ListRequests returns matching requests, newest first.
	ListRequests(ctx context.Context, f Filter) ([]*Request, error)
	// Transition moves request id to state `to` if, and only if, its current
	// state is in `from`, atomically (compare-and-swap); otherwise it returns
	// ErrConflict, together with the current request when the state (not a
	// lost race) was the reason. mutate (may be nil) may set the mutable fields (Channel,
	// MessageTS, Result, Error, PinnedAt once, UpdatedAt); changing a pinned
	// field is an error. mutate may be called more than once (the swap is
	// retried when only an unrelated Update raced it) and must not call the
	// Store. UpdatedAt defaults to now when mutate leaves it unchanged.
	Transition(ctx context.Context, id string, from []State, to State, mutate func(*Request)) (*Request, error)
	// Update writes the mutable non-state fields of r if r.Version is the
	// stored version (ErrConflict otherwise), then bumps r.Version.
	Update(ctx context.Context, r *Request) error
	// AddApproval records an approval; ErrDuplicate for the same approver
	// twice, ErrNotFound for an unknown request.
	AddApproval(ctx context.Context, a Approval) error
	// Approvals returns the approvals of request id, oldest first.
	Approvals(ctx context.Context, id string) ([]Approval, error)
	// PutStep inserts or replaces the step (RequestID, Key).
	PutStep(ctx context.Context, s Step) error
	// Steps returns the steps of request id by Seq.
	Steps(ctx context.Context, id string) ([]Step, error)
	// AppendAudit atomically reads the last audit record (nil if none), calls
	// build with it and inserts the record build returns, under a lock that
	// serialises all appenders, also across replicas. The record's Seq must
	// be prev.Seq+1 (1 for the first) and its PrevHash prev.Hash. build must
	// not call the Store.
	AppendAudit(ctx context.Context, build func(prev *AuditRecord) (AuditRecord, error)) (AuditRecord, error)
	// Audit returns matching audit records, oldest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
	// PutBaseline records the principals exempt by tag or pattern in account
	// at time at (see Baseline). When they equal those of the account's
	// newest baseline, only its Confirmed time moves; otherwise a baseline
	// is added and the account keeps its newest MaxBaselines. It returns
	// the baseline as stored.
	PutBaseline(ctx context.Context, account string, at time.Time, principals []string) (Baseline, error)
	// BaselineAt returns the account's newest baseline first recorded at or
	// before t; ErrNotFound when there is none.
	BaselineAt(ctx context.Context, account string, t time.Time) (Baseline, error)
	// Baselines returns the account's baselines, newest first.
	Baselines(ctx context.Context, account string) ([]Baseline, error)
	// LastAudit returns the newest audit record, nil when there is none.
	LastAudit(ctx context.Context) (*AuditRecord, error)
	// Remember records a Slack request signature until now+ttl and reports
	// whether it is the first use of that signature in that window, across
	// restarts and replicas. Expired signatures are pruned.
	Remember(ctx context.Context, signature string, now time.Time, ttl time.Duration) (first bool, err error)
	// TryRunLock: see SQLStore.TryRunLock.
	TryRunLock(ctx context.Context, id string) (release func(), ok bool, err error)
	// Ping checks the database is reachable and, for SQLite, that its file
	// is still the one opened (ErrGone otherwise).
	Ping(ctx context.Context) error
	Close() error
}

// Drivers accepted by Open.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Open connects to the store and applies pending migrations.
// driver is "sqlite" (dsn: a file path, or a modernc.org/sqlite DSN) or
// "postgres" (dsn: a pgx connection string or URL).
func Open(ctx context.Context, driver, dsn string) (Store, error) {
	s, err := OpenSQL(ctx, driver, dsn)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewID returns a fresh request id such as "ks-7f3a9c2e".
func NewID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	return "ks-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id is safe as a request id in file names, SQL and
// Slack: 1-64 characters of [A-Za-z0-9_-].
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// immutableChange names the first pinned field that differs between the
// stored request cur and next, or "" if none.
func immutableChange(cur, next *Request) string {
	switch {
	case next.ID != cur.ID:
		return "ID"
	case next.Kind != cur.Kind:
		return "Kind"
	case next.Action != cur.Action:
		return "Action"
	case !slices.Equal(next.Accounts, cur.Accounts):
		return "Accounts"
	case next.Reason != cur.Reason:
		return "Reason"
	case next.Incident != cur.Incident:
		return "Incident"
	case next.Requester != cur.Requester:
		return "Requester"
	case next.Team != cur.Team:
		return "Team"
	case !slices.Equal(next.Plan, cur.Plan):
		return "Plan"
	case next.UndoOf != cur.UndoOf:
		return "UndoOf"
	case !next.CreatedAt.Equal(cur.CreatedAt):
		return "CreatedAt"
	case !next.ExpiresAt.Equal(cur.ExpiresAt):
		return "ExpiresAt"
	case !cur.PinnedAt.IsZero() && !next.PinnedAt.Equal(cur.PinnedAt):
		return "PinnedAt"
	}
	return ""
}

func stateList(ss []State) string {
	b := make([]byte, 0, 32)
	for i, s := range ss {
		if i > 0 {
			b = append(b, '|')
		}
		b = append(b, s...)
	}
	return string(b)
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
