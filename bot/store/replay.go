package store

import (
	"context"
	"fmt"
	"time"
)

// replayPruneEvery is how often Remember deletes expired signatures.
const replayPruneEvery = time.Minute

// Remember records signature until now+ttl; first is false when it is
// already recorded and not expired. One statement decides, so two replicas
// that see the same request at once cannot both get first.
func (s *SQLStore) Remember(ctx context.Context, signature string, now time.Time, ttl time.Duration) (bool, error) {
	if signature == "" {
		return false, fmt.Errorf("remember request signature: empty signature")
	}
	if err := s.file.check(); err != nil {
		return false, fmt.Errorf("remember request signature: %w", err)
	}
	if err := s.pruneReplays(ctx, now); err != nil {
		return false, err
	}
	if s.grouped() {
		op := &batchOp{remember: true, sig: signature, now: now, ttl: ttl}
		err := s.submit(ctx, op)
		return op.first, err
	}
	return rememberIn(ctx, s.db, s.d, signature, now, ttl)
}

// pruneReplays deletes expired signatures, at most once a minute per store.
func (s *SQLStore) pruneReplays(ctx context.Context, now time.Time) error {
	s.pruneMu.Lock()
	due := !now.Before(s.nextPrune)
	if due {
		s.nextPrune = now.Add(replayPruneEvery)
	}
	s.pruneMu.Unlock()
	if !due {
		return nil
	}
	if _, err := s.exec(ctx, `DELETE FROM replay_guard WHERE expires_at <= ?`, now.UnixNano()); err != nil {
		return fmt.Errorf("prune request signatures: %w", err)
	}
	return nil
}
