package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// fileIdentity is the SQLite database file as opened: its device and inode
// (os.SameFile compares them), so a file deleted or replaced under the
// running store is noticed instead of silently written to elsewhere.
type fileIdentity struct {
	path string
	info os.FileInfo // nil: no file to watch (in-memory database)
}

// isMemory reports an in-memory SQLite DSN.
func isMemory(dsn string) bool {
	p := sqlitePath(dsn)
	return p == "" || p == ":memory:" || strings.Contains(strings.ToLower(dsn), "mode=memory")
}

// fileExists reports whether the SQLite database file of dsn exists.
func fileExists(dsn string) bool {
	_, err := os.Stat(sqlitePath(dsn))
	return err == nil
}

// watchFile records the identity of the database file of dsn.
func watchFile(dsn string) (fileIdentity, error) {
	if isMemory(dsn) {
		return fileIdentity{}, nil
	}
	path := sqlitePath(dsn)
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return fileIdentity{path: path, info: fi}, nil
}

// check returns an error wrapping ErrGone when the file at the path is no
// longer the file opened.
func (f fileIdentity) check() error {
	if f.info == nil {
		return nil
	}
	fi, err := os.Stat(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite store %s: the database file was deleted while killswitch ran; nothing more is written: restore it and restart: %w", f.path, ErrGone)
	case err != nil:
		return fmt.Errorf("sqlite store %s: check the database file: %w", f.path, err)
	case !os.SameFile(f.info, fi):
		return fmt.Errorf("sqlite store %s: the database file was replaced by another file while killswitch ran; nothing more is written: restore it and restart: %w", f.path, ErrGone)
	}
	return nil
}

// OpenExisting is Open for tools that read an existing store (audit
// verify, audit show): a missing SQLite file is refused (ErrNotFound)
// instead of created empty.
func OpenExisting(ctx context.Context, driver, dsn string) (Store, error) {
	if driver == DriverSQLite && strings.TrimSpace(dsn) != "" && !isMemory(dsn) && !fileExists(dsn) {
		return nil, fmt.Errorf("open sqlite store: no database at %s: %w", sqlitePath(dsn), ErrNotFound)
	}
	return Open(ctx, driver, dsn)
}
