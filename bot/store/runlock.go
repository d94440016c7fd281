package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
)

// TryRunLock takes the exclusive right to run request id, for as long as the
// returned release is not called and this process lives: two replicas that
// both find a request "running" at start-up (both resume it) can never run it
// at the same time. ok is false when another process or store holds it.
//
// PostgreSQL: a session-level advisory lock on a dedicated connection, which
// the server drops when the holder's connection dies. SQLite: an flock on a
// file beside the database, which the kernel drops when the process dies.
func (s *SQLStore) TryRunLock(ctx context.Context, id string) (release func(), ok bool, err error) {
	if s.d.name == DriverPostgres {
		return s.pgRunLock(ctx, id)
	}
	return s.fileRunLock(id)
}

// RunLockKey is the PostgreSQL advisory-lock key of a request's run lock.
func RunLockKey(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte("killswitch-run:" + id))
	return int64(h.Sum64())
}

func (s *SQLStore) pgRunLock(ctx context.Context, id string) (func(), bool, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("run lock for request %s: %w", id, err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, RunLockKey(id)).Scan(&got); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("run lock for request %s: %w", id, err)
	}
	if !got {
		conn.Close()
		return nil, false, nil
	}
	return func() {
		_, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, RunLockKey(id))
		if err != nil {
			// a connection whose unlock failed must not go back to the pool holding the lock
			_ = conn.Raw(func(any) error { return errors.New("discard") })
		}
		conn.Close()
	}, true, nil
}

// lockDir is the directory of the run-lock files of a SQLite database.
func (s *SQLStore) lockDir() (string, error) {
	if s.path == "" || s.path == ":memory:" {
		return "", errors.New("an in-memory SQLite store has no run locks; use a file")
	}
	return s.path + ".runlocks", nil
}

func (s *SQLStore) fileRunLock(id string) (func(), bool, error) {
	if !ValidID(id) {
		return nil, false, fmt.Errorf("run lock: bad request id %q", id)
	}
	dir, err := s.lockDir()
	if err != nil {
		return nil, false, err
	}
	if err := s.file.check(); err != nil {
		return nil, false, fmt.Errorf("run lock for request %s: %w", id, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("run lock for request %s: %w", id, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, id), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("run lock for request %s: %w", id, err)
	}
	ok, err := flockExclusive(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("run lock for request %s: %w", id, err)
		}
		return nil, false, nil
	}
	return func() { f.Close() }, true, nil
}

// sqlitePath is the file of a SQLite DSN.
func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}
