package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

var (
	_ meta.Limits = (*Store)(nil)
	_ meta.Locker = (*Store)(nil)
)

// spendLimitsSQL spends one unit of each key's budget in one statement: an upsert is
// atomic per row against every other replica's. $1 keys, $2 now, $3 every, $4 the most a
// budget may already have spent for one more spend to fit ((burst-1)×every), all in
// nanoseconds.
const spendLimitsSQL = `INSERT INTO limit_budgets AS b (key, full_at)
	SELECT k, $2::bigint + $3::bigint FROM unnest($1::text[]) AS k
	ON CONFLICT (key) DO UPDATE SET full_at = CASE
		WHEN b.full_at - $2::bigint <= $4::bigint THEN GREATEST(b.full_at, $2::bigint) + $3::bigint
		ELSE b.full_at END
	RETURNING key, full_at`

// SpendLimits implements meta.Limits.
func (s *Store) SpendLimits(ctx context.Context, keys []string, now time.Time, every time.Duration, burst int) ([]time.Time, error) {
	if burst < 1 || every <= 0 {
		return nil, errors.New("postgres: spend limits: burst must be at least 1 and every positive")
	}
	// Sorted and unique: two statements lock shared rows in one order (no deadlock), and
	// one statement may not update a row twice.
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	rows, err := s.pool.Query(ctx, spendLimitsSQL, sorted, now.UnixNano(), int64(every), int64(burst-1)*int64(every))
	return byKey(rows, err, keys, "spend limits")
}

// LimitsFullAt implements meta.Limits.
func (s *Store) LimitsFullAt(ctx context.Context, keys []string) ([]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, full_at FROM limit_budgets WHERE key = ANY($1::text[])`, keys)
	return byKey(rows, err, keys, "limits")
}

// PruneLimits implements meta.Limits.
func (s *Store) PruneLimits(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM limit_budgets WHERE full_at < $1`, before.UnixNano())
	if err != nil {
		return 0, wrapf(err, "prune limits")
	}
	return int(tag.RowsAffected()), nil
}

// byKey returns the full_at of each key from rows of (key, full_at), zero for a key
// without a row.
func byKey(rows pgx.Rows, err error, keys []string, op string) ([]time.Time, error) {
	if err != nil {
		return nil, wrapf(err, "%s", op)
	}
	defer rows.Close()
	found := make(map[string]int64, len(keys))
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, wrapf(err, "%s", op)
		}
		found[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, wrapf(err, "%s", op)
	}
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		if n, ok := found[k]; ok {
			out[i] = time.Unix(0, n).UTC()
		}
	}
	return out, nil
}

// Named locks are session-level advisory locks, each held on a connection taken from the
// pool for as long as the lock is held: PostgreSQL releases it when that session ends,
// so a replica that dies never keeps one. They use the two-key form of advisory locks,
// with a class of their own, so they never collide with the migrations' lock (one key).

// lockClass is the first key of every named lock: "ceru" in ASCII.
const lockClass = 0x63_65_72_75

// lockKey is the second key of the lock name.
func lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// TryLock implements meta.Locker.
func (s *Store) TryLock(ctx context.Context, name string) (func(), bool, error) {
	return s.lock(ctx, name, `SELECT pg_try_advisory_lock($1, $2)`)
}

// Lock implements meta.Locker.
func (s *Store) Lock(ctx context.Context, name string) (func(), error) {
	release, ok, err := s.lock(ctx, name, `SELECT true FROM (SELECT pg_advisory_lock($1, $2)) AS l`)
	if err == nil && !ok {
		err = fmt.Errorf("postgres: lock %q: not taken", name) // pg_advisory_lock returns void: cannot happen
	}
	return release, err
}

func (s *Store) lock(ctx context.Context, name, query string) (func(), bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, wrapf(err, "lock %q", name)
	}
	var ok bool
	if err := conn.QueryRow(ctx, query, int32(lockClass), lockKey(name)).Scan(&ok); err != nil || !ok {
		// A wait cut short by ctx may leave the session in any state: destroy it, so
		// that no lock can outlive this call.
		if err != nil {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
		return nil, false, wrapf(err, "lock %q", name)
	}
	released := false
	return func() {
		if released {
			return
		}
		released = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var was bool
		if err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1, $2)`, int32(lockClass), lockKey(name)).Scan(&was); err != nil || !was {
			conn.Conn().Close(context.Background()) // the session's end releases it
		}
		conn.Release()
	}, true, nil
}
