package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// migration is one schema version. Statements in common are written once for
// both backends with {{BLOB}} and {{AUTOID}} standing for the dialect's types;
// sqlite and postgres hold what cannot be shared (triggers). Migrations are
// append-only: never edit one that has shipped, add the next version.
type migration struct {
	version  int
	name     string
	common   []string
	sqlite   []string
	postgres []string
}

var migrations = []migration{
	{
		version: 1,
		name:    "requests, approvals, steps, audit",
		common: []string{
			`CREATE TABLE requests (
				id         TEXT PRIMARY KEY,
				kind       TEXT NOT NULL CHECK (kind IN ('action', 'undo')),
				action     TEXT NOT NULL,
				accounts   TEXT NOT NULL DEFAULT '[]',
				reason     TEXT NOT NULL,
				incident   TEXT NOT NULL DEFAULT '',
				requester  TEXT NOT NULL,
				team       TEXT NOT NULL DEFAULT '',
				channel    TEXT NOT NULL DEFAULT '',
				message_ts TEXT NOT NULL DEFAULT '',
				plan       {{BLOB}},
				result     {{BLOB}},
				undo_of    TEXT NOT NULL DEFAULT '',
				state      TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'running', 'succeeded', 'partial', 'failed', 'rejected', 'expired', 'cancelled')),
				version    BIGINT NOT NULL,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL,
				expires_at BIGINT NOT NULL DEFAULT 0,
				pinned_at  BIGINT NOT NULL DEFAULT 0,
				error      TEXT NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX requests_created ON requests (created_at)`,
			`CREATE INDEX requests_state_created ON requests (state, created_at)`,
			// At most one undo in flight per request, whatever races.
			`CREATE UNIQUE INDEX requests_one_active_undo ON requests (undo_of)
				WHERE undo_of <> '' AND state IN ('pending', 'approved', 'running')`,
			`CREATE TABLE approvals (
				id         {{AUTOID}},
				request_id TEXT NOT NULL REFERENCES requests (id),
				approver   TEXT NOT NULL,
				at         BIGINT NOT NULL,
				UNIQUE (request_id, approver)
			)`,
			`CREATE TABLE steps (
				request_id TEXT NOT NULL REFERENCES requests (id),
				step_key   TEXT NOT NULL,
				seq        BIGINT NOT NULL,
				data       {{BLOB}},
				at         BIGINT NOT NULL,
				PRIMARY KEY (request_id, step_key),
				UNIQUE (request_id, seq)
			)`,
			`CREATE TABLE audit (
				seq        BIGINT PRIMARY KEY CHECK (seq > 0),
				at         BIGINT NOT NULL,
				actor      TEXT NOT NULL,
				request_id TEXT NOT NULL DEFAULT '',
				event      TEXT NOT NULL,
				data       {{BLOB}},
				prev_hash  TEXT NOT NULL,
				hash       TEXT NOT NULL
			)`,
			`CREATE INDEX audit_request ON audit (request_id, seq)`,
		},
		// The audit table is append-only for the application; the hash chain
		// (audit.Verify) catches whoever drops these triggers to tamper.
		sqlite: []string{
			`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
				BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
			`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
				BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
		},
		postgres: []string{
			`CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$`,
			`CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
				FOR EACH ROW EXECUTE FUNCTION audit_append_only()`,
			`CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
				FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`,
		},
	},
	{
		version: 2,
		name:    "exempt baselines",
		common: []string{
			// One row per change of an account's exempt principals: at is
			// when they were first recorded so, confirmed_at the last time.
			`CREATE TABLE baselines (
				id           {{AUTOID}},
				account      TEXT NOT NULL,
				at           BIGINT NOT NULL,
				confirmed_at BIGINT NOT NULL,
				principals   TEXT NOT NULL DEFAULT '[]'
			)`,
			`CREATE INDEX baselines_account_at ON baselines (account, at)`,
		},
	},
	{
		version: 3,
		name:    "replay guard",
		common: []string{
			// The signatures of the Slack requests of the last minutes, so a
			// replay is refused after a restart and at every replica.
			`CREATE TABLE replay_guard (
				signature  TEXT PRIMARY KEY,
				expires_at BIGINT NOT NULL
			)`,
			`CREATE INDEX replay_guard_expires ON replay_guard (expires_at)`,
		},
	},
	{
		version: 4,
		name:    "identity center principals of a request",
		common: []string{
			// The IAM Identity Center users and groups a request names
			// (contain-identity-center), a JSON list like accounts.
			`ALTER TABLE requests ADD COLUMN principals TEXT NOT NULL DEFAULT '[]'`,
		},
	},
}

// SchemaVersion is the schema version this build migrates to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// Versions lists the schema versions of this build, oldest first.
func Versions() []int {
	out := make([]int, 0, len(migrations))
	for _, m := range migrations {
		out = append(out, m.version)
	}
	return out
}

func (d dialect) statements(m migration) []string {
	var out []string
	r := strings.NewReplacer("{{BLOB}}", d.blob, "{{AUTOID}}", d.autoID)
	for _, s := range m.common {
		out = append(out, r.Replace(s))
	}
	if d.name == DriverSQLite {
		out = append(out, m.sqlite...)
	} else {
		out = append(out, m.postgres...)
	}
	return out
}

// migrate applies the pending migrations in one transaction, under a lock
// (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock) so replicas
// starting together neither race nor apply a migration twice. It refuses a
// database migrated by a newer build.
func (s *SQLStore) migrate(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.lockMigrate != "" {
			if _, err := tx.ExecContext(ctx, s.d.lockMigrate); err != nil {
				return fmt.Errorf("lock schema_migrations: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if have > SchemaVersion() {
			return fmt.Errorf("store schema version %d is newer than this build supports (%d): upgrade killswitch", have, SchemaVersion())
		}
		for _, m := range migrations {
			if m.version <= have {
				continue
			}
			for _, stmt := range s.d.statements(m) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("apply migration %d (%s): %w", m.version, m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}
