package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

var _ meta.Limits = (*Store)(nil)

// spendLimitSQL spends one unit of a key's budget in one statement (see the PostgreSQL
// store): ?1 key, ?2 now, ?3 every, ?4 (burst-1)×every, in nanoseconds.
const spendLimitSQL = `INSERT INTO limit_budgets (key, full_at) VALUES (?1, ?2 + ?3)
	ON CONFLICT (key) DO UPDATE SET full_at = CASE
		WHEN full_at - ?2 <= ?4 THEN MAX(full_at, ?2) + ?3
		ELSE full_at END
	RETURNING full_at`

// SpendLimits implements meta.Limits, all keys in one transaction.
func (s *Store) SpendLimits(ctx context.Context, keys []string, now time.Time, every time.Duration, burst int) ([]time.Time, error) {
	if burst < 1 || every <= 0 {
		return nil, errors.New("sqlite: spend limits: burst must be at least 1 and every positive")
	}
	out := make([]time.Time, len(keys))
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		spent := map[string]int64{}
		for i, k := range keys {
			n, ok := spent[k]
			if !ok {
				if err := tx.QueryRowContext(ctx, spendLimitSQL, k, now.UnixNano(), int64(every),
					int64(burst-1)*int64(every)).Scan(&n); err != nil {
					return err
				}
				spent[k] = n
			}
			out[i] = time.Unix(0, n).UTC()
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "spend limits")
	}
	return out, nil
}

// LimitsFullAt implements meta.Limits.
func (s *Store) LimitsFullAt(ctx context.Context, keys []string) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		var n int64
		err := s.r.QueryRowContext(ctx, `SELECT full_at FROM limit_budgets WHERE key = ?`, k).Scan(&n)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, wrapf(err, "limits")
		default:
			out[i] = time.Unix(0, n).UTC()
		}
	}
	return out, nil
}

// PruneLimits implements meta.Limits.
func (s *Store) PruneLimits(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM limit_budgets WHERE full_at < ?`, before.UnixNano())
	if err != nil {
		return 0, wrapf(err, "prune limits")
	}
	n, err := res.RowsAffected()
	return int(n), wrapf(err, "prune limits")
}
