package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Row helpers shared by the tables: scanning rows into records, telling a write that
// touched nothing, and the column forms of times and bytes. How a missing row becomes a
// sentinel is each group's own: the directory's dirErr makes meta.ErrObjectNotFound, the
// management records' oneRow and deletedOne meta.ErrResourceNotFound.

// rowQueryer is a read pool or a transaction.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// record turns the scan of a single-row query into a record; sql.ErrNoRows passes
// through for the caller to map.
func record[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// scanRows scans every row of a query with scan, and closes the rows.
func scanRows[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
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
func queryAll[T any](rows *sql.Rows, err error) ([]T, error) {
	return scanRows(rows, err, func(sc rowScanner) (T, error) {
		var v T
		err := sc.Scan(&v)
		return v, err
	})
}

// touched turns a DELETE or UPDATE that touched no row into sql.ErrNoRows.
func touched(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return err
}

// oneRow is record for the management records: no row is meta.ErrResourceNotFound.
func oneRow[T any](v T, err error) (*T, error) { return record(v, noRowsNotFound(err)) }

// deletedOne is touched for the management records: no row is meta.ErrResourceNotFound.
func deletedOne(res sql.Result, err error) error { return noRowsNotFound(touched(res, err)) }

func noRowsNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return meta.ErrResourceNotFound
	}
	return err
}

// nanosOrZero stores a time as unix nanoseconds, the zero time as 0.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// timeOrZero reads what nanosOrZero stored.
func timeOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// b64 stores bytes (hashes, keys, certificates) as standard base64 text.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// unb64 reads what b64 stored; "" is no bytes.
func unb64(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}
