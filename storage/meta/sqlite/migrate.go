package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Migrations are named NNNN_description.sql and applied in version order, each in its
// own transaction together with its schema_migrations row, so a crash never leaves a
// half-applied migration recorded as done.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if err := checkNotNewer(ctx, db, ms[len(ms)-1].version); err != nil {
		return err
	}
	for _, m := range ms {
		if err := inTx(ctx, db, func(tx *sql.Tx) error { return apply(ctx, tx, m) }); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
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
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		prefix, _, _ := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if err != nil || (len(ms) > 0 && version <= ms[len(ms)-1].version) {
			return nil, fmt.Errorf("sqlite: migration %s: want a unique NNNN_ version prefix", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: version, name: base, sql: string(body)})
	}
	return ms, nil
}

// checkNotNewer refuses a database migrated by a newer binary: this one would not know
// the schema it is writing to.
func checkNotNewer(ctx context.Context, db *sql.DB, latest int) error {
	var applied int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if applied > latest {
		return fmt.Errorf("sqlite: database schema version %d is newer than this binary's %d", applied, latest)
	}
	return nil
}

// apply runs m unless it is already recorded. It checks inside the write transaction so
// that two processes opening the same new database cannot both apply it.
func apply(ctx context.Context, tx *sql.Tx, m migration) error {
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.version).Scan(&done); err != nil || done {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixNano())
	return err
}
