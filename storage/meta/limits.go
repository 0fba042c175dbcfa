package meta

import (
	"context"
	"time"
)

// Shared state of several processes: a store that many replicas use (PostgreSQL) keeps
// what must not live in one replica's memory. The capabilities below are optional: the
// server asks the store for them and, when the store is the embedded one of a single
// process (SQLite), keeps the state in memory instead.

// Limits keeps the budgets of rate limits that matter for security (failed sign-ins per
// client address and per username), so that every process sharing the store spends the
// same budget. A budget holds up to burst units and regains one every `every`; it is kept
// as the time at which it is full again (the "theoretical arrival time" of the generic
// cell rate algorithm), so a counter needs no background refill and decays by itself:
// at now, max(0, fullAt-now)/every units are spent.
type Limits interface {
	// SpendLimits spends one unit of each key's budget at now, atomically per key
	// against concurrent spends by any process (one statement each): fullAt becomes
	// max(fullAt, now)+every, unless the budget is empty (fullAt-now > (burst-1)×every),
	// in which case nothing is spent. It returns each key's fullAt after the spend, in
	// the order of keys. burst must be at least 1.
	SpendLimits(ctx context.Context, keys []string, now time.Time, every time.Duration, burst int) ([]time.Time, error)
	// LimitsFullAt returns each key's fullAt, in the order of keys: the zero time for a
	// key never spent (or pruned).
	LimitsFullAt(ctx context.Context, keys []string) ([]time.Time, error)
	// PruneLimits removes the budgets full again before `before` and returns how many.
	PruneLimits(ctx context.Context, before time.Time) (int, error)
}

// Locker is a capability of a store shared by several processes: named locks that
// exclude one another across every process using the store. A lock is held until its
// release function is called or until the holding process's connection to the store
// ends, so a process that crashes never keeps one.
type Locker interface {
	// TryLock takes the lock name if no one holds it; ok is false (and release nil)
	// when another holder has it.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
	// Lock takes the lock name, waiting until it is free or ctx ends.
	Lock(ctx context.Context, name string) (release func(), err error)
}
