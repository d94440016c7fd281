package store

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is everything that differs between the two backends. Queries are
// written once with `?` placeholders and rebound for PostgreSQL.
type dialect struct {
	name      string // DriverSQLite | DriverPostgres
	sqlDriver string // database/sql driver name
	blob      string // column type for []byte
	autoID    string // column definition of an auto-increment primary key
	// forUpdate is appended to a SELECT that must lock the row until the
	// transaction ends (SQLite transactions are BEGIN IMMEDIATE and hold the
	// only write lock already).
	forUpdate string
	// lockAudit and lockMigrate, run first inside a transaction, serialise
	// audit appenders and migrators across processes ("" for SQLite, where
	// BEGIN IMMEDIATE takes the database's single write lock).
	lockAudit   string
	lockMigrate string
}

// advisoryClass is the first key of every PostgreSQL advisory lock taken by
// killswitch ("ks"); the second is derived from the schema, so stores in
// different schemas of one database do not block each other.
const advisoryClass = "27507"

var (
	sqliteDialect = dialect{
		name:      DriverSQLite,
		sqlDriver: "sqlite",
		blob:      "BLOB",
		autoID:    "INTEGER PRIMARY KEY AUTOINCREMENT",
	}
	postgresDialect = dialect{
		name:        DriverPostgres,
		sqlDriver:   "pgx",
		blob:        "BYTEA",
		autoID:      "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		forUpdate:   " FOR UPDATE",
		lockAudit:   "SELECT pg_advisory_xact_lock(" + advisoryClass + ", hashtext(COALESCE(current_schema(), '') || '.audit'))",
		lockMigrate: "SELECT pg_advisory_xact_lock(" + advisoryClass + ", hashtext(COALESCE(current_schema(), '') || '.migrate'))",
	}
)

// rebind turns `?` placeholders into `$1, $2, ...` for PostgreSQL. Queries
// in this package never contain a literal question mark.
func (d dialect) rebind(q string) string {
	if d.name != DriverPostgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// isUnique reports a unique or primary-key violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKey reports a foreign-key violation.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// isBusy reports SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
