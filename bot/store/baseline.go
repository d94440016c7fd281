package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ---- exemption baselines

const baselineCols = `account, at, confirmed_at, principals`

func scanBaseline(sc scanner) (Baseline, error) {
	var (
		b             Baseline
		at, confirmed int64
		principals    string
	)
	if err := sc.Scan(&b.Account, &at, &confirmed, &principals); err != nil {
		return Baseline{}, err
	}
	if err := json.Unmarshal([]byte(principals), &b.Principals); err != nil {
		return Baseline{}, fmt.Errorf("decode baseline of account %s: %w", b.Account, err)
	}
	b.At, b.Confirmed = fromNanos(at), fromNanos(confirmed)
	return b, nil
}

// PutBaseline records a baseline; see Store.
func (s *SQLStore) PutBaseline(ctx context.Context, account string, at time.Time, principals []string) (Baseline, error) {
	if account == "" || at.IsZero() {
		return Baseline{}, errors.New("put baseline: account and time are required")
	}
	b := Baseline{Account: account, At: at.UTC(), Confirmed: at.UTC(), Principals: slices.Compact(slices.Sorted(slices.Values(principals)))}
	if b.Principals == nil {
		b.Principals = []string{}
	}
	enc, err := json.Marshal(b.Principals)
	if err != nil {
		return Baseline{}, fmt.Errorf("put baseline of account %s: %w", account, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			id, first, confirmed int64
			prev                 string
		)
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT id, at, confirmed_at, principals FROM baselines
			WHERE account = ? ORDER BY at DESC, id DESC LIMIT 1`+s.d.forUpdate), account).Scan(&id, &first, &confirmed, &prev)
		switch {
		case err == nil && prev == string(enc): // unchanged: confirm it
			b.At, b.Confirmed = fromNanos(first), latest(fromNanos(confirmed), b.Confirmed)
			_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE baselines SET confirmed_at = ? WHERE id = ?`), toNanos(b.Confirmed), id)
			return err
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO baselines (`+baselineCols+`) VALUES (?, ?, ?, ?)`),
			account, toNanos(b.At), toNanos(b.Confirmed), string(enc)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`DELETE FROM baselines WHERE account = ? AND id NOT IN
			(SELECT id FROM baselines WHERE account = ? ORDER BY at DESC, id DESC LIMIT ?)`), account, account, MaxBaselines)
		return err
	})
	if err != nil {
		return Baseline{}, fmt.Errorf("put baseline of account %s: %w", account, err)
	}
	return b, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// BaselineAt returns the newest baseline first recorded at or before t; see Store.
func (s *SQLStore) BaselineAt(ctx context.Context, account string, t time.Time) (Baseline, error) {
	row := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+baselineCols+` FROM baselines WHERE account = ? AND at <= ? ORDER BY at DESC, id DESC LIMIT 1`), account, toNanos(t))
	b, err := scanBaseline(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Baseline{}, fmt.Errorf("baseline of account %s at %s: %w", account, t.UTC().Format(time.RFC3339), ErrNotFound)
	}
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline of account %s: %w", account, err)
	}
	return b, nil
}

// Baselines returns the account's baselines, newest first; see Store.
func (s *SQLStore) Baselines(ctx context.Context, account string) ([]Baseline, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+baselineCols+` FROM baselines WHERE account = ? ORDER BY at DESC, id DESC`), account)
	if err != nil {
		return nil, fmt.Errorf("baselines of account %s: %w", account, err)
	}
	defer rows.Close()
	var out []Baseline
	for rows.Next() {
		b, err := scanBaseline(rows)
		if err != nil {
			return nil, fmt.Errorf("baselines of account %s: %w", account, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("baselines of account %s: %w", account, err)
	}
	return out, nil
}
