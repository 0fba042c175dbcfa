// Package sqlite owns the embedded metadata backend: a meta.Store kept in one SQLite
// database file through modernc.org/sqlite (pure Go, no cgo), with its schema migrations.
//
// The database runs in WAL mode with synchronous=FULL, so an acknowledged write survives
// power loss. Writes go through a single connection opened with BEGIN IMMEDIATE
// transactions: they serialize in the Go pool instead of failing with SQLITE_BUSY, and a
// transaction never has to upgrade its lock halfway. Reads go through a separate pool of
// read-only connections, so under WAL readers never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// busyTimeout (ms) bounds the lock waits that one writer connection cannot rule out:
// another process opening the same file, and the brief WAL-index locks a reader can meet
// while the WAL is checkpointed or recovered.
const busyTimeout = "busy_timeout(5000)"

var _ meta.Store = (*Store)(nil)

// Store is a meta.Store backed by SQLite. It is safe for concurrent use.
type Store struct {
	w, r *sql.DB // w: the single writer connection; r: the read-only pool
	hot  hotStatements
}

// hotStatements are prepared once on the read pool: manifest and blob reads are the
// registry's hottest paths and should not parse SQL per request.
type hotStatements struct {
	manifest, taggedManifest, blobSize *sql.Stmt
}

// Open opens (creating if needed) the database at path and brings its schema up to date.
func Open(path string) (*Store, error) {
	w, err := openDB(path, url.Values{
		"_txlock": {"immediate"},
		"_pragma": {busyTimeout, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", "cache_size(-512)"},
	})
	if err != nil {
		return nil, err
	}
	// One connection, never closed while the store is open: it serializes writes and keeps
	// the -wal and -shm files in place for the read-only connections.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if err := migrate(context.Background(), w); err != nil {
		w.Close()
		return nil, err
	}

	// Readers keep a 128 KiB page cache each and the writer 512 KiB (SQLite's default is
	// 2 MB each): the hot reads touch a few index pages and a miss is a read from the OS
	// page cache, which holds the file anyway. Larger caches read no faster (the
	// TaggedManifest benchmark) and cost the server ~4 MB of resident memory (bench).
	r, err := openDB(path, url.Values{"mode": {"ro"}, "_pragma": {busyTimeout, "cache_size(-128)"}})
	if err != nil {
		w.Close()
		return nil, err
	}
	// Idle connections are kept, so a burst of reads does not reopen the file each time.
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)

	s := &Store{w: w, r: r}
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens path as a file: URI, the form in which SQLite honours mode=ro.
func openDB(path string, params url.Values) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(abs), RawQuery: params.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// sql.Open connects lazily; fail here rather than on the first request.
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

func (s *Store) prepare() error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.hot.manifest, manifestByDigestSQL},
		{&s.hot.taggedManifest, manifestByTagSQL},
		{&s.hot.blobSize, blobSizeSQL},
	} {
		stmt, err := s.r.Prepare(p.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.stmt = stmt
	}
	return nil
}

// Close closes the prepared statements and both connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{s.hot.manifest, s.hot.taggedManifest, s.hot.blobSize} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	// Readers first: the writer, closing last, checkpoints and removes the WAL.
	errs = append(errs, s.r.Close(), s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// inTx runs fn in one transaction of db (BEGIN IMMEDIATE on the writer), committing when
// fn succeeds and rolling back otherwise.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
