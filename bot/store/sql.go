package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// SQLStore is the Store over database/sql, for SQLite and PostgreSQL.
type SQLStore struct {
	db      *sql.DB
	d       dialect
	path    string       // SQLite: the database file
	file    fileIdentity // SQLite: the file as opened (checked before writes)
	created bool         // SQLite: Open created the file

	pruneMu   sync.Mutex
	nextPrune time.Time // next pruning of the replay guard

	group groupCommit // SQLite: Remember and AppendAudit share transactions (groupcommit.go)
}

var _ Store = (*SQLStore)(nil)

// maxCASRetries bounds how often Transition re-reads a request whose version
// moved under it while its state still allowed the transition.
const maxCASRetries = 20

// OpenSQL is Open returning the concrete type (for DB access in tools/tests).
func OpenSQL(ctx context.Context, driver, dsn string) (*SQLStore, error) {
	var (
		d    dialect
		conn string
	)
	switch driver {
	case DriverSQLite:
		if strings.TrimSpace(dsn) == "" {
			return nil, errors.New("open sqlite store: dsn (a file path) is empty")
		}
		d, conn = sqliteDialect, sqliteDSN(dsn)
	case DriverPostgres:
		if strings.TrimSpace(dsn) == "" {
			return nil, errors.New("open postgres store: dsn is empty")
		}
		d, conn = postgresDialect, dsn
	default:
		return nil, fmt.Errorf("open store: unknown driver %q: want %q or %q", driver, DriverSQLite, DriverPostgres)
	}
	db, err := sql.Open(d.sqlDriver, conn)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", driver, err)
	}
	if d.name == DriverSQLite {
		// One connection: every statement of this process is serialised,
		// so writers never meet SQLITE_BUSY; other processes on the same
		// file wait (busy_timeout), and transactions are BEGIN IMMEDIATE.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(4)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &SQLStore{db: db, d: d}
	if d.name == DriverSQLite {
		s.path = sqlitePath(dsn)
		s.created = !isMemory(dsn) && !fileExists(dsn)
	}
	if err := s.pingOpen(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s store: %w", driver, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s store: migrate: %w", driver, err)
	}
	if d.name == DriverSQLite {
		if s.file, err = watchFile(dsn); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s store: %w", driver, err)
		}
	}
	return s, nil
}

// sqliteDSN adds the pragmas killswitch relies on unless the DSN sets them:
// WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE transactions.
func sqliteDSN(dsn string) string {
	query := ""
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		query = strings.ToLower(dsn[i:])
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if strings.Contains(query, k) {
				return true
			}
		}
		return false
	}
	var add []string
	if !has("busy_timeout", "_timeout") {
		add = append(add, "_pragma=busy_timeout(10000)")
	}
	if !has("journal_mode", "_journal") {
		add = append(add, "_pragma=journal_mode(WAL)")
	}
	if !has("foreign_keys", "_fk") {
		add = append(add, "_pragma=foreign_keys(1)")
	}
	if !has("_txlock") {
		add = append(add, "_txlock=immediate")
	}
	if len(add) == 0 {
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + strings.Join(add, "&")
}

// pingOpen pings a new store. On SQLite the first connection switches the
// file to WAL, which fails with SQLITE_BUSY (without waiting on busy_timeout)
// while another process does the same, so that is retried for a while.
func (s *SQLStore) pingOpen(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		err := s.Ping(ctx)
		if err == nil || s.d.name != DriverSQLite || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// DB returns the underlying database (tools, readiness, tests that tamper).
func (s *SQLStore) DB() *sql.DB { return s.db }

// Driver returns "sqlite" or "postgres".
func (s *SQLStore) Driver() string { return s.d.name }

// Rebind rewrites `?` placeholders for the store's driver.
func (s *SQLStore) Rebind(q string) string { return s.d.rebind(q) }

// Created reports whether Open created a new SQLite database file.
func (s *SQLStore) Created() bool { return s.created }

// Ping checks the database is reachable and its file is the one opened.
func (s *SQLStore) Ping(ctx context.Context) error {
	if err := s.file.check(); err != nil {
		return fmt.Errorf("ping %s store: %w", s.d.name, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s store: %w", s.d.name, err)
	}
	return nil
}

// Close closes the database.
func (s *SQLStore) Close() error { return s.db.Close() }

func (s *SQLStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *SQLStore) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.d.rebind(q), args...)
}

// ---- requests

const requestCols = `id, kind, action, accounts, reason, incident, requester, team, channel, message_ts,
	plan, result, undo_of, state, version, created_at, updated_at, expires_at, pinned_at, error, principals`

type scanner interface{ Scan(dest ...any) error }

func scanRequest(sc scanner) (*Request, error) {
	var (
		r                         Request
		accounts                  string
		state                     string
		created, updated, expires int64
		pinned                    int64
		principals                string
	)
	if err := sc.Scan(&r.ID, &r.Kind, &r.Action, &accounts, &r.Reason, &r.Incident, &r.Requester, &r.Team,
		&r.Channel, &r.MessageTS, &r.Plan, &r.Result, &r.UndoOf, &state, &r.Version,
		&created, &updated, &expires, &pinned, &r.Error, &principals); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(principals), &r.Principals); err != nil {
		return nil, fmt.Errorf("decode principals of request %q: %w", r.ID, err)
	}
	if len(r.Principals) == 0 {
		r.Principals = nil
	}
	if err := json.Unmarshal([]byte(accounts), &r.Accounts); err != nil {
		return nil, fmt.Errorf("decode accounts of request %q: %w", r.ID, err)
	}
	if len(r.Accounts) == 0 {
		r.Accounts = nil
	}
	if len(r.Plan) == 0 {
		r.Plan = nil
	}
	if len(r.Result) == 0 {
		r.Result = nil
	}
	r.State = State(state)
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt, r.PinnedAt = fromNanos(created), fromNanos(updated), fromNanos(expires), fromNanos(pinned)
	return &r, nil
}

func encodeAccounts(a []string) (string, error) {
	if a == nil {
		a = []string{}
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// blob keeps NULL for empty byte slices so both backends read back nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateRequest inserts r; see Store.
func (s *SQLStore) CreateRequest(ctx context.Context, r *Request) error {
	if r == nil {
		return errors.New("create request: nil request")
	}
	if r.Kind != KindAction && r.Kind != KindUndo {
		return fmt.Errorf("create request: kind %q: want %q or %q", r.Kind, KindAction, KindUndo)
	}
	if r.State == "" {
		r.State = Pending
	}
	if !r.State.Valid() {
		return fmt.Errorf("create request: unknown state %q", r.State)
	}
	if r.Action == "" || r.Requester == "" {
		return errors.New("create request: action and requester are required")
	}
	now := time.Now().UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	accounts, err := encodeAccounts(r.Accounts)
	if err != nil {
		return fmt.Errorf("create request: encode accounts: %w", err)
	}
	principals, err := encodeAccounts(r.Principals)
	if err != nil {
		return fmt.Errorf("create request: encode principals: %w", err)
	}
	if err := s.file.check(); err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	generated := r.ID == ""
	for attempt := 0; ; attempt++ {
		if generated {
			r.ID = NewID()
		}
		_, err = s.exec(ctx, `INSERT INTO requests (`+requestCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Kind, r.Action, accounts, r.Reason, r.Incident, r.Requester, r.Team, r.Channel, r.MessageTS,
			blob(r.Plan), blob(r.Result), r.UndoOf, string(r.State), int64(1),
			toNanos(r.CreatedAt), toNanos(r.UpdatedAt), toNanos(r.ExpiresAt), toNanos(r.PinnedAt), r.Error, principals)
		if err == nil {
			r.Version = 1
			return nil
		}
		if !isUnique(err) {
			return fmt.Errorf("create request %q: %w", r.ID, err)
		}
		// A generated id that collided: draw another. Anything else that is
		// unique is a real duplicate (a caller-chosen id, an active undo).
		if generated && attempt < 5 {
			if _, gerr := s.GetRequest(ctx, r.ID); gerr == nil {
				continue
			}
		}
		if r.UndoOf != "" {
			return fmt.Errorf("create request %q: an undo of request %q is already pending, approved or running: %w", r.ID, r.UndoOf, ErrDuplicate)
		}
		return fmt.Errorf("create request %q: %w", r.ID, ErrDuplicate)
	}
}

// GetRequest returns request id or ErrNotFound.
func (s *SQLStore) GetRequest(ctx context.Context, id string) (*Request, error) {
	row := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+requestCols+` FROM requests WHERE id = ?`), id)
	r, err := scanRequest(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get request %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get request %q: %w", id, err)
	}
	return r, nil
}

// ListRequests returns matching requests, newest first.
func (s *SQLStore) ListRequests(ctx context.Context, f Filter) ([]*Request, error) {
	var (
		where []string
		args  []any
	)
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Requester != "" {
		where = append(where, "requester = ?")
		args = append(args, f.Requester)
	}
	if f.UndoOf != "" {
		where = append(where, "undo_of = ?")
		args = append(args, f.UndoOf)
	}
	q := `SELECT ` + requestCols + ` FROM requests`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []*Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return out, nil
}

// Transition is the compare-and-swap of a request's state; see Store.
//
// The swap is one UPDATE guarded by the version read just before: whoever
// commits first bumps the version, every other writer matches no row. When
// the version moved but the state still allows the transition (an Update of
// MessageTS raced us), the read and swap are retried.
func (s *SQLStore) Transition(ctx context.Context, id string, from []State, to State, mutate func(*Request)) (*Request, error) {
	if !to.Valid() {
		return nil, fmt.Errorf("transition request %q: unknown state %q", id, to)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.GetRequest(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("transition request %q to %s: %w", id, to, err)
		}
		if !slices.Contains(from, cur.State) {
			return cur, fmt.Errorf("transition request %q from %s to %s: it is %s: %w", id, stateList(from), to, cur.State, ErrConflict)
		}
		next := cur.Clone()
		if mutate != nil {
			mutate(next)
		}
		if f := immutableChange(cur, next); f != "" {
			return nil, fmt.Errorf("transition request %q to %s: field %s is pinned and cannot change", id, to, f)
		}
		if err := s.file.check(); err != nil {
			return nil, fmt.Errorf("transition request %q to %s: %w", id, to, err)
		}
		next.State = to
		next.Version = cur.Version + 1
		if next.UpdatedAt.Equal(cur.UpdatedAt) {
			next.UpdatedAt = time.Now().UTC()
		}
		res, err := s.exec(ctx, `UPDATE requests SET state = ?, version = ?, channel = ?, message_ts = ?, result = ?,
			error = ?, pinned_at = ?, updated_at = ? WHERE id = ? AND version = ? AND state = ?`,
			string(next.State), next.Version, next.Channel, next.MessageTS, blob(next.Result),
			next.Error, toNanos(next.PinnedAt), toNanos(next.UpdatedAt), id, cur.Version, string(cur.State))
		if err != nil {
			if isUnique(err) {
				return nil, fmt.Errorf("transition request %q to %s: %w", id, to, ErrDuplicate)
			}
			return nil, fmt.Errorf("transition request %q to %s: %w", id, to, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("transition request %q to %s: %w", id, to, err)
		}
		if n == 1 {
			return next, nil
		}
		if attempt >= maxCASRetries {
			return nil, fmt.Errorf("transition request %q to %s: lost %d races: %w", id, to, attempt+1, ErrConflict)
		}
	}
}

// Update writes the mutable fields of r (Channel, MessageTS, Result, Error,
// PinnedAt once) if r.Version is current; see Store.
func (s *SQLStore) Update(ctx context.Context, r *Request) error {
	if r == nil {
		return errors.New("update request: nil request")
	}
	cur, err := s.GetRequest(ctx, r.ID)
	if err != nil {
		return fmt.Errorf("update request: %w", err)
	}
	if cur.Version != r.Version {
		return fmt.Errorf("update request %q: version %d is stale (now %d): %w", r.ID, r.Version, cur.Version, ErrConflict)
	}
	if r.State != cur.State {
		return fmt.Errorf("update request %q: state %s differs from stored %s: use Transition: %w", r.ID, r.State, cur.State, ErrConflict)
	}
	if f := immutableChange(cur, r); f != "" {
		return fmt.Errorf("update request %q: field %s is pinned and cannot change", r.ID, f)
	}
	if err := s.file.check(); err != nil {
		return fmt.Errorf("update request %q: %w", r.ID, err)
	}
	updated := time.Now().UTC()
	if !r.UpdatedAt.Equal(cur.UpdatedAt) && !r.UpdatedAt.IsZero() {
		updated = r.UpdatedAt
	}
	res, err := s.exec(ctx, `UPDATE requests SET version = ?, channel = ?, message_ts = ?, result = ?, error = ?,
		pinned_at = ?, updated_at = ? WHERE id = ? AND version = ?`,
		r.Version+1, r.Channel, r.MessageTS, blob(r.Result), r.Error, toNanos(r.PinnedAt), toNanos(updated), r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("update request %q: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update request %q: %w", r.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("update request %q: version %d is stale: %w", r.ID, r.Version, ErrConflict)
	}
	r.Version++
	r.UpdatedAt = updated
	return nil
}

// ---- approvals

// AddApproval records a; see Store.
func (s *SQLStore) AddApproval(ctx context.Context, a Approval) error {
	if a.RequestID == "" || a.Approver == "" {
		return errors.New("add approval: request id and approver are required")
	}
	if a.At.IsZero() {
		a.At = time.Now()
	}
	if err := s.file.check(); err != nil {
		return fmt.Errorf("add approval of request %q by %q: %w", a.RequestID, a.Approver, err)
	}
	_, err := s.exec(ctx, `INSERT INTO approvals (request_id, approver, at) VALUES (?, ?, ?)`,
		a.RequestID, a.Approver, toNanos(a.At))
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return fmt.Errorf("add approval of request %q by %q: %w", a.RequestID, a.Approver, ErrDuplicate)
	case isForeignKey(err):
		return fmt.Errorf("add approval of request %q: %w", a.RequestID, ErrNotFound)
	default:
		return fmt.Errorf("add approval of request %q by %q: %w", a.RequestID, a.Approver, err)
	}
}

// Approvals returns the approvals of request id, oldest first.
func (s *SQLStore) Approvals(ctx context.Context, id string) ([]Approval, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT request_id, approver, at FROM approvals WHERE request_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("approvals of request %q: %w", id, err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var (
			a  Approval
			at int64
		)
		if err := rows.Scan(&a.RequestID, &a.Approver, &at); err != nil {
			return nil, fmt.Errorf("approvals of request %q: %w", id, err)
		}
		a.At = fromNanos(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("approvals of request %q: %w", id, err)
	}
	return out, nil
}

// ---- steps

// PutStep inserts or replaces the step (RequestID, Key). A new key gets the
// next Seq of its request; a replaced one keeps its Seq.
func (s *SQLStore) PutStep(ctx context.Context, st Step) error {
	if st.RequestID == "" || st.Key == "" {
		return errors.New("put step: request id and key are required")
	}
	if st.At.IsZero() {
		st.At = time.Now()
	}
	if err := s.file.check(); err != nil {
		return fmt.Errorf("put step %q of request %q: %w", st.Key, st.RequestID, err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// Lock the request row so concurrent new keys get distinct Seqs.
		var got string
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT id FROM requests WHERE id = ?`+s.d.forUpdate), st.RequestID).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("put step %q of request %q: %w", st.Key, st.RequestID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("put step %q of request %q: %w", st.Key, st.RequestID, err)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO steps (request_id, step_key, seq, data, at)
			VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE request_id = ?), ?, ?)
			ON CONFLICT (request_id, step_key) DO UPDATE SET data = excluded.data, at = excluded.at`),
			st.RequestID, st.Key, st.RequestID, blob(st.Data), toNanos(st.At))
		if err != nil {
			return fmt.Errorf("put step %q of request %q: %w", st.Key, st.RequestID, err)
		}
		return nil
	})
}

// Steps returns the steps of request id by Seq.
func (s *SQLStore) Steps(ctx context.Context, id string) ([]Step, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT request_id, step_key, seq, data, at FROM steps WHERE request_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("steps of request %q: %w", id, err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var (
			st Step
			at int64
		)
		if err := rows.Scan(&st.RequestID, &st.Key, &st.Seq, &st.Data, &at); err != nil {
			return nil, fmt.Errorf("steps of request %q: %w", id, err)
		}
		if len(st.Data) == 0 {
			st.Data = nil
		}
		st.At = fromNanos(at)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("steps of request %q: %w", id, err)
	}
	return out, nil
}

// ---- audit

const auditCols = `seq, at, actor, request_id, event, data, prev_hash, hash`

func scanAudit(sc scanner) (AuditRecord, error) {
	var (
		r  AuditRecord
		at int64
	)
	if err := sc.Scan(&r.Seq, &at, &r.Actor, &r.RequestID, &r.Event, &r.Data, &r.PrevHash, &r.Hash); err != nil {
		return AuditRecord{}, err
	}
	if len(r.Data) == 0 {
		r.Data = nil
	}
	r.At = fromNanos(at)
	return r, nil
}

// AppendAudit appends one record to the chain; see Store.
func (s *SQLStore) AppendAudit(ctx context.Context, build func(prev *AuditRecord) (AuditRecord, error)) (AuditRecord, error) {
	if err := s.file.check(); err != nil {
		return AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	if s.grouped() {
		op := &batchOp{build: build}
		err := s.submit(ctx, op)
		return op.rec, err
	}
	var rec AuditRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.lockAudit != "" {
			if _, err := tx.ExecContext(ctx, s.d.lockAudit); err != nil {
				return fmt.Errorf("append audit record: lock: %w", err)
			}
		}
		var prev *AuditRecord
		last, err := scanAudit(tx.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("append audit record: read last: %w", err)
		default:
			prev = &last
		}
		rec, err = build(prev)
		if err != nil {
			return fmt.Errorf("append audit record: %w", err)
		}
		want := int64(1)
		if prev != nil {
			want = prev.Seq + 1
			if rec.PrevHash != prev.Hash {
				return fmt.Errorf("append audit record %d: prev hash does not link to record %d", rec.Seq, prev.Seq)
			}
		}
		if rec.Seq != want {
			return fmt.Errorf("append audit record: seq %d, want %d", rec.Seq, want)
		}
		if rec.Hash == "" {
			return fmt.Errorf("append audit record %d: empty hash", rec.Seq)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			rec.Seq, toNanos(rec.At), rec.Actor, rec.RequestID, rec.Event, blob(rec.Data), rec.PrevHash, rec.Hash)
		if err != nil {
			if isUnique(err) {
				return fmt.Errorf("append audit record %d: %w", rec.Seq, ErrConflict)
			}
			return fmt.Errorf("append audit record %d: %w", rec.Seq, err)
		}
		return nil
	})
	if err != nil {
		return AuditRecord{}, err
	}
	return rec, nil
}

// Audit returns matching audit records, oldest first.
func (s *SQLStore) Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	q, args := `SELECT `+auditCols+` FROM audit`, []any(nil)
	if f.RequestID != "" {
		q += ` WHERE request_id = ?`
		args = append(args, f.RequestID)
	}
	q += ` ORDER BY seq`
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// LastAudit returns the newest audit record, nil when the log is empty.
func (s *SQLStore) LastAudit(ctx context.Context) (*AuditRecord, error) {
	r, err := scanAudit(s.db.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the last audit record: %w", err)
	}
	return &r, nil
}
