// Package storetest opens throw-away stores for tests, on both backends.
//
// SQLite uses a file in t.TempDir(). PostgreSQL uses a fresh schema
// (ks_<random>) in the database named by KILLSWITCH_TEST_POSTGRES_DSN
// (default postgres://root@127.0.0.1:5432/test?sslmode=disable), dropped
// when the test ends. An unreachable PostgreSQL fails the test: it is never
// skipped.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/store"
)

// EnvPostgresDSN names the environment variable with the PostgreSQL DSN.
const EnvPostgresDSN = "KILLSWITCH_TEST_POSTGRES_DSN"

// DefaultPostgresDSN is used when EnvPostgresDSN is unset.
const DefaultPostgresDSN = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// Drivers lists the backends every store-backed test runs against.
func Drivers() []string { return []string{store.DriverSQLite, store.DriverPostgres} }

// Each runs fn as a subtest once per driver.
func Each(t *testing.T, fn func(t *testing.T, driver string)) {
	t.Helper()
	for _, d := range Drivers() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Open returns a migrated Store on a fresh database (SQLite file or
// PostgreSQL schema), closed and removed when the test ends.
func Open(t testing.TB, driver string) store.Store {
	t.Helper()
	return OpenDSN(t, driver, NewDSN(t, driver))
}

// OpenDSN opens a Store on dsn (from NewDSN) and closes it when the test
// ends. Opening the same dsn twice gives two "replicas" of one database.
func OpenDSN(t testing.TB, driver, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, driver, dsn)
	if err != nil {
		t.Fatalf("open %s store: %v", driver, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// NewDSN returns the DSN of a fresh, empty database for driver, removed
// when the test ends.
func NewDSN(t testing.TB, driver string) string {
	t.Helper()
	switch driver {
	case store.DriverSQLite:
		return filepath.Join(t.TempDir(), "killswitch.db")
	case store.DriverPostgres:
		return newPostgresSchema(t)
	default:
		t.Fatalf("storetest: unknown driver %q", driver)
		return ""
	}
}

// PostgresDSN returns the configured PostgreSQL DSN.
func PostgresDSN() string {
	if v := os.Getenv(EnvPostgresDSN); v != "" {
		return v
	}
	return DefaultPostgresDSN
}

func newPostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		t.Fatalf("PostgreSQL not reachable at %s: %v: start it or set %s", redact(base), err, EnvPostgresDSN)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "ks_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create PostgreSQL schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop PostgreSQL schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return withSearchPath(base, schema)
}

// withSearchPath adds search_path to a URL or keyword/value DSN.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}

// Exec runs raw SQL (with `?` placeholders) on st's database, for tests that
// tamper with rows the API never changes.
func Exec(t testing.TB, st store.Store, query string, args ...any) int64 {
	t.Helper()
	s, ok := st.(*store.SQLStore)
	if !ok {
		t.Fatalf("storetest.Exec: %T is not a *store.SQLStore", st)
	}
	res, err := s.DB().ExecContext(context.Background(), s.Rebind(query), args...)
	if err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		t.Fatalf("exec %q: rows affected: %v", query, err)
	}
	return n
}

// Driver returns st's driver name.
func Driver(t testing.TB, st store.Store) string {
	t.Helper()
	s, ok := st.(*store.SQLStore)
	if !ok {
		t.Fatalf("storetest.Driver: %T is not a *store.SQLStore", st)
	}
	return s.Driver()
}

// AllowAuditTampering drops the triggers that make the audit table
// append-only, as an attacker with database access could, so a test can
// tamper with rows and check that the hash chain catches it.
func AllowAuditTampering(t testing.TB, st store.Store) {
	t.Helper()
	switch Driver(t, st) {
	case store.DriverSQLite:
		Exec(t, st, "DROP TRIGGER audit_no_update")
		Exec(t, st, "DROP TRIGGER audit_no_delete")
	default:
		Exec(t, st, "DROP TRIGGER audit_no_update ON audit")
		Exec(t, st, "DROP TRIGGER audit_no_truncate ON audit")
	}
}
