// Package postgres owns the metadata backend for scaling out: the meta.Store, meta.ACR,
// meta.Directory, meta.Management and meta.AuditLog of package sqlite, kept in PostgreSQL
// through pgx (its native pool), so that several replicas share them. It passes the same
// behaviour suites (package metatest), and its schema (embedded migrations, numbered as
// SQLite's) keeps SQLite's semantics: times as unix nanoseconds, names and digests in byte
// order (COLLATE "C"), so every listing pages identically.
//
// # Transactions and locks
//
// SQLite runs one writer at a time, so every write transaction there sees the database
// as it leaves it. Here writes run concurrently at READ COMMITTED (each statement sees what
// was committed when it began), and the same guarantees come from row locks taken in a
// fixed order, with each check made by a statement that runs after the locks are held:
//
//   - A repository's row is its write lock. Every write to a repository's content
//     (LinkBlob, PutManifest, UnlinkBlob, the deletes, the attribute updates) first
//     upserts or locks that row (FOR NO KEY UPDATE, which inserts of child rows do not
//     wait for). So a push's attribute checks, its reference check and its inserts are
//     atomic against deletes and lock changes in the repository, as in SQLite.
//   - Blob GC works across repositories. PutManifest locks the blob links it references
//     (FOR KEY SHARE) before checking them; ReleaseBlob locks every link of its digest
//     (FOR UPDATE), then checks whether the blob is in use, then deletes exactly the
//     links it locked. Either the push commits first, and the check (a later statement)
//     sees its references, or the release does, and the push finds the links gone and
//     fails with *meta.MissingReferencesError. A link made meanwhile is left alone.
//   - Changes to what the data plane authenticates with (registries, scope maps, tokens,
//     role assignments, principals) lock the one row of the access epoch first, which
//     the change then increases (a trigger): they run one at a time, as in SQLite, so
//     their read-check-write sequences (unique names, tokens using a scope map, the
//     registries of a resource group) and generation increases cannot interleave, and
//     their locks cannot deadlock.
//   - Everything else is one statement, or relies on a constraint (a unique violation is
//     "exists", a foreign-key violation "not found"), or locks the row it reads
//     (UpdatePrincipal, RedeemDeviceCode).
//
// A transaction that fails with a serialization failure or a deadlock (which the order
// above should rule out) is run again. Multi-statement reads (the /acr/v1 listings) run in
// one REPEATABLE READ READ ONLY transaction, to see one snapshot.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

var (
	_ meta.Store      = (*Store)(nil)
	_ meta.Directory  = (*Store)(nil)
	_ meta.Management = (*Store)(nil)
	_ meta.AuditLog   = (*Store)(nil)
)

// Store is a metadata store in a PostgreSQL database. It is safe for concurrent use, and
// several Stores (replicas) may share one database.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database dsn names (a URL or keyword/value string, as libpq reads
// it; pgxpool's pool_* parameters are honoured) and brings its schema up to date. Several
// replicas may open the same database at once: migrations run under an advisory lock.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// Requests wait on the network, not on the CPU: more connections than cores.
		cfg.MaxConns = int32(max(8, 2*runtime.GOMAXPROCS(0)))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// maxAttempts bounds the runs of a transaction that keeps failing with serialization
// failures or deadlocks.
const maxAttempts = 10

// inTx runs fn in one READ COMMITTED transaction, committing when fn succeeds and rolling
// back otherwise. fn may run again (see retryable), so it must not keep effects of a run
// that failed.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.tx(ctx, pgx.TxOptions{}, fn)
}

// accessTx is inTx for a change to the access records: it locks the access epoch first
// (see the package comment).
func (s *Store) accessTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM access_epoch FOR UPDATE`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// readTx runs fn in a read-only transaction that sees one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.tx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *Store) tx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, s.pool, opts, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		// Jittered exponential backoff from 1 ms, so that colliding transactions spread out.
		wait := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 8)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// retryable reports whether err is a serialization failure or a deadlock: the
// transaction did nothing and may simply run again.
func retryable(err error) bool {
	code := pgCode(err)
	return code == "40001" || code == "40P01"
}

// SQLSTATE codes the store maps to meta errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// pgCode is the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryer is a pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// scanRows scans every row of a query with scan.
func scanRows[T any](rows pgx.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryAll returns the single column of every row.
func queryAll[T any](rows pgx.Rows, err error) ([]T, error) {
	return scanRows(rows, err, func(sc scanner) (T, error) {
		var v T
		err := sc.Scan(&v)
		return v, err
	})
}

// sqlLimit maps the interfaces' "limit <= 0: no limit" to LIMIT NULL.
func sqlLimit(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	n := int64(limit)
	return &n
}

// wrapf adds context to a store error, keeping the meta sentinels visible to errors.Is.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), err)
}

// nanos is t as unix nanoseconds, the zero time as 0 (as the SQLite store keeps them).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// bytesOrNil returns nil for an empty value: bytea columns are NOT NULL, and a record
// comes back with nil where it had none, as from SQLite.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// orEmpty stores nil as an empty bytea.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
