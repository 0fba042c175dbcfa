package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations are named NNNN_description.sql, numbered as SQLite's (the same changes, in
// PostgreSQL's types), and applied in version order, each in its own transaction together
// with its schema_migrations row, so a crash never leaves a half-applied migration
// recorded as done. The whole run holds a session-level advisory lock, so replicas
// starting together apply each migration once: the others wait, then find it recorded.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key of the migration run (advisory locks are
// per database): "cerulean" in ASCII.
const migrationLock = 0x63_65_72_75_6c_65_61_6e

type migration struct {
	version int
	name    string
	sql     string
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	// A session-level lock belongs to a connection: the run keeps one for itself.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; should that fail, the lock goes with the
		// connection, which is then destroyed rather than returned to the pool.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text    NOT NULL,
		applied_at bigint  NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	applied, err := appliedVersion(ctx, conn.Conn())
	if err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; applied > latest {
		return fmt.Errorf("postgres: database schema version %d is newer than this binary's %d", applied, latest)
	}
	for _, m := range ms {
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return apply(ctx, tx, m) }); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// loadMigrations returns the embedded migrations sorted by version: fs.Glob sorts names,
// and the zero-padded version prefix makes name order version order. go:embed guarantees
// at least one file.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		prefix, _, _ := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if err != nil || (len(ms) > 0 && version <= ms[len(ms)-1].version) {
			return nil, fmt.Errorf("postgres: migration %s: want a unique NNNN_ version prefix", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("postgres: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: version, name: base, sql: string(body)})
	}
	return ms, nil
}

func appliedVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var applied int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	return applied, nil
}

// apply runs m unless it is already recorded.
func apply(ctx context.Context, tx pgx.Tx, m migration) error {
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil || done {
		return err
	}
	// A migration is several statements: the simple protocol runs them as one batch.
	if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixNano())
	return err
}
