package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The access epoch tells replicas that the records the data plane authenticates with
// (registries, scope maps, tokens, role assignments and principal generations, principals)
// changed, so that each can drop what it cached of them. The SQLite server moves an
// in-process counter on every such write; with several replicas, a write through one must
// reach the others' caches too.
//
// The database keeps the counter: one row of access_epoch, which a trigger on each of
// those tables increases once per transaction that writes them, in that transaction (so
// the new value is visible exactly when the change is), and announces with
// pg_notify('cerulean_access', <new value>), which PostgreSQL delivers to every listening
// session when, and only if, the transaction commits. A replica reads the counter with
// AccessEpoch, and learns of changes at once with WatchAccess.

// accessChannel is the channel the access epoch is announced on.
const accessChannel = "cerulean_access"

// watchApplication names the listening sessions in pg_stat_activity.
const watchApplication = "cerulean access watch"

// watchPoll is how long WatchAccess waits for a notification before it reads the epoch
// itself: a listening connection that died silently (a load balancer's idle timeout)
// delivers nothing, and this bounds how long that can go unnoticed.
const watchPoll = 30 * time.Second

// AccessEpoch returns the access epoch: a counter that grows with every committed change
// of the records the data plane authenticates with, whichever replica made it.
func (s *Store) AccessEpoch(ctx context.Context) (uint64, error) {
	e, err := readEpoch(ctx, s.pool)
	return e, wrapf(err, "access epoch")
}

func readEpoch(ctx context.Context, q queryer) (uint64, error) {
	var e int64
	err := q.QueryRow(ctx, `SELECT epoch FROM access_epoch`).Scan(&e)
	return uint64(e), err
}

// WatchAccess calls fn whenever the access epoch moves, that is after every committed
// change of the access records by any replica, until ctx is done; then it returns
// ctx.Err(). It listens on a connection of its own (outside the pool) and calls fn (from
// the goroutine running WatchAccess, one call at a time) once the connection listens
// (changes before then were not watched), once per notified change, and after every
// reconnection if the epoch moved meanwhile.
// Connection failures are not returned: it reconnects, with backoff. A caller that caches
// access records runs it in a goroutine for the life of the cache and drops the cache in
// fn.
func (s *Store) WatchAccess(ctx context.Context, fn func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = watchApplication
	// Keepalives find a dead peer sooner than the system's default of two hours.
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
	cfg.DialFunc = dialer.DialContext
	var (
		last    uint64
		watched bool // last is known: fn was called once the watch started
		backoff = 50 * time.Millisecond
	)
	for {
		err := s.listen(ctx, cfg, func(e uint64, read bool) {
			backoff = 50 * time.Millisecond // connected
			// Notifications come in commit order, which is epoch order (the epoch's row
			// lock orders the changes); one may repeat a value read just before it. A read
			// below the last value means the database was replaced: a change too.
			if !watched || e > last || read && e < last {
				watched, last = true, e
				fn()
			}
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // reconnect: the listener's errors are all worth a retry
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen connects, LISTENs, and reports the epoch to seen: read once listening, notified,
// and read whenever watchPoll passes without a notification. It returns when the
// connection fails or ctx is done.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig, seen func(e uint64, read bool)) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+accessChannel); err != nil {
		return err
	}
	// Read after LISTEN: a change committed from here on is both notified and counted.
	e, err := readEpoch(ctx, conn)
	if err != nil {
		return err
	}
	seen(e, true)
	for {
		wait, cancel := context.WithTimeout(ctx, watchPoll)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			v, perr := strconv.ParseUint(n.Payload, 10, 64)
			if perr != nil {
				return fmt.Errorf("postgres: access notification %q: %w", n.Payload, perr)
			}
			seen(v, false)
		case ctx.Err() != nil:
			return ctx.Err()
		case wait.Err() != nil && !conn.IsClosed():
			// Quiet for watchPoll: check that the connection still works, and catch up.
			if e, err = readEpoch(ctx, conn); err != nil {
				return err
			}
			seen(e, true)
		default:
			return err
		}
	}
}
