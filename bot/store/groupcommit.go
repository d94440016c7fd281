package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit (SQLite): the writes on a Slack request's acknowledgement
// path, the replay guard's Remember and the audit chain's AppendAudit, are
// collected while a transaction is being committed and written together in
// the next one, so that many concurrent requests share one fsync instead
// of queueing for one each on SQLite's single connection. Each write is
// still durable when its call returns (the batch is committed first), the
// chain is extended in call order, and a failure is attributed exactly:
// when a batch fails, its writes are retried one by one.

// maxBatch caps the writes of one transaction.
const maxBatch = 256

// batchTimeout bounds one batch's transaction.
const batchTimeout = 30 * time.Second

// batchOp is one write waiting for a batch.
type batchOp struct {
	// Remember's arguments (remember) or AppendAudit's builder (build)
	remember bool
	sig      string
	now      time.Time
	ttl      time.Duration
	build    func(prev *AuditRecord) (AuditRecord, error)

	first bool
	rec   AuditRecord
	err   error

	state atomic.Int32 // opQueued → opTaken (a batch writes it) | opAbandoned (its caller gave up first)
	done  chan struct{}
}

const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// groupCommit is the queue of writes; a committer goroutine runs while
// it is not empty.
type groupCommit struct {
	mu      sync.Mutex
	pending []*batchOp
	active  bool
}

func (s *SQLStore) grouped() bool { return s.d.name == DriverSQLite }

// submit queues op and waits for its batch. A caller whose ctx ends while
// op still waits gets ctx's error and op is never written; once a batch
// has taken op, the caller waits for the batch's outcome (so it never
// reports a failure for a write that was made).
func (s *SQLStore) submit(ctx context.Context, op *batchOp) error {
	op.done = make(chan struct{})
	g := &s.group
	g.mu.Lock()
	g.pending = append(g.pending, op)
	if !g.active {
		g.active = true
		go s.commitLoop()
	}
	g.mu.Unlock()
	select {
	case <-op.done:
		return op.err
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		<-op.done
		return op.err
	}
}

// commitLoop writes batches until none is waiting.
func (s *SQLStore) commitLoop() {
	for {
		batch := s.takeBatch()
		if batch == nil {
			return
		}
		s.commitBatch(batch)
	}
}

// takeBatch takes up to maxBatch waiting writes (skipping abandoned ones);
// nil when none waits, and then the committer stops.
func (s *SQLStore) takeBatch() []*batchOp {
	g := &s.group
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*batchOp
	for len(g.pending) > 0 && len(batch) < maxBatch {
		op := g.pending[0]
		g.pending[0] = nil
		g.pending = g.pending[1:]
		if op.state.CompareAndSwap(opQueued, opTaken) {
			batch = append(batch, op)
		}
	}
	if len(batch) == 0 && len(g.pending) == 0 {
		g.active = false
		g.pending = nil
		return nil
	}
	return batch
}

// commitBatch writes batch in one transaction; when that fails, each write
// alone, so each gets its own outcome.
func (s *SQLStore) commitBatch(batch []*batchOp) {
	defer func() {
		for _, op := range batch {
			close(op.done)
		}
	}()
	err := s.writeBatch(batch)
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	for _, op := range batch {
		op.err, op.first, op.rec = nil, false, AuditRecord{}
		if err := s.writeBatch([]*batchOp{op}); err != nil {
			op.err = err
		}
	}
}

// writeBatch runs batch's writes in one transaction, in order. A builder's
// error or a record that does not link fails only its own write; a
// database error fails the transaction.
func (s *SQLStore) writeBatch(batch []*batchOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var prev *AuditRecord
		loaded := false
		for _, op := range batch {
			op.err = nil
			if op.remember {
				first, err := rememberIn(ctx, tx, s.d, op.sig, op.now, op.ttl)
				if err != nil {
					return err
				}
				op.first = first
				continue
			}
			if !loaded {
				last, err := lastAudit(ctx, tx)
				if err != nil {
					return err
				}
				prev, loaded = last, true
			}
			rec, err := buildAudit(prev, op.build)
			if err != nil {
				op.err = err
				continue
			}
			if err := insertAudit(ctx, tx, s.d, rec); err != nil {
				return err
			}
			op.rec, prev = rec, &rec
		}
		return nil
	})
}

// rememberIn is Remember's statement.
func rememberIn(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, d dialect, signature string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := q.ExecContext(ctx, d.rebind(`INSERT INTO replay_guard (signature, expires_at) VALUES (?, ?)
		ON CONFLICT (signature) DO UPDATE SET expires_at = excluded.expires_at
		WHERE replay_guard.expires_at <= ?`), signature, now.Add(ttl).UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("remember request signature: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("remember request signature: %w", err)
	}
	return n == 1, nil
}

// lastAudit reads the chain's last record (nil: the chain is empty).
func lastAudit(ctx context.Context, tx *sql.Tx) (*AuditRecord, error) {
	last, err := scanAudit(tx.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("append audit record: read last: %w", err)
	}
	return &last, nil
}

// buildAudit builds the record after prev and checks that it links.
func buildAudit(prev *AuditRecord, build func(prev *AuditRecord) (AuditRecord, error)) (AuditRecord, error) {
	rec, err := build(prev)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	want := int64(1)
	if prev != nil {
		want = prev.Seq + 1
		if rec.PrevHash != prev.Hash {
			return AuditRecord{}, fmt.Errorf("append audit record %d: prev hash does not link to record %d", rec.Seq, prev.Seq)
		}
	}
	if rec.Seq != want {
		return AuditRecord{}, fmt.Errorf("append audit record: seq %d, want %d", rec.Seq, want)
	}
	if rec.Hash == "" {
		return AuditRecord{}, fmt.Errorf("append audit record %d: empty hash", rec.Seq)
	}
	return rec, nil
}

func insertAudit(ctx context.Context, tx *sql.Tx, d dialect, rec AuditRecord) error {
	_, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		rec.Seq, toNanos(rec.At), rec.Actor, rec.RequestID, rec.Event, blob(rec.Data), rec.PrevHash, rec.Hash)
	if err != nil {
		if isUnique(err) {
			return fmt.Errorf("append audit record %d: %w", rec.Seq, ErrConflict)
		}
		return fmt.Errorf("append audit record %d: %w", rec.Seq, err)
	}
	return nil
}
