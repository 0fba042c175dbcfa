package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Limiter slows down password guessing: each failed sign-in spends a token from the
// client address's bucket and from the username's; an empty bucket answers 429 with the
// time until it refills, and successful sign-ins cost nothing. Buckets refill steadily, so
// the rightful owner is never locked out for good.
//
// By default the buckets live in this process. Several replicas must share them, or an
// attacker spreading guesses over n replicas gets n times the budget: Shared moves them
// to a store every replica uses (meta.Limits), read by Check and spent by Fail in one
// statement each. The in-process buckets are kept as well, so that a store that is
// briefly unreachable weakens the limit to one replica's share instead of lifting it.
type Limiter struct {
	rate  rate.Limit
	per   time.Duration
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter

	shared    meta.Limits
	log       *slog.Logger
	nextPrune time.Time // guarded by mu
}

// NewLimiter allows burst failures at once and then one every per.
func NewLimiter(burst int, per time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate.Every(per), per: per, burst: burst, now: now, buckets: map[string]*rate.Limiter{},
		log: slog.New(slog.DiscardHandler)}
}

// Shared makes l keep its buckets in store too, shared with every process that uses it,
// and returns l. Failures of the store are logged to log (nil: discarded).
func (l *Limiter) Shared(store meta.Limits, log *slog.Logger) *Limiter {
	l.shared = store
	if log != nil {
		l.log = log
	}
	return l
}

// sharedTimeout bounds one call to the shared store: sign-in must not hang on it.
const sharedTimeout = 5 * time.Second

// pruneEvery is how often a process removes the shared buckets that are full again.
const pruneEvery = 10 * time.Minute

// TooManyError is ErrTooManyAttempts with the time to wait.
type TooManyError struct{ RetryAfter time.Duration }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("%v: retry after %s", ErrTooManyAttempts, e.RetryAfter.Round(time.Second))
}

func (e *TooManyError) Unwrap() error { return ErrTooManyAttempts }

// Check refuses an attempt while the client's or the username's bucket is empty.
func (l *Limiter) Check(client, user string) error {
	if l == nil {
		return nil
	}
	now := l.now()
	wait := l.localWait(client, user, now)
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		full, err := l.shared.LimitsFullAt(ctx, keys(client, user))
		cancel()
		if err != nil {
			l.log.Warn("sign-in limiter: shared budgets not read; limiting in this process only", slog.Any("err", err))
		}
		// A bucket is empty when more than burst-1 tokens are spent: full again later than
		// (burst-1)×per from now.
		for _, f := range full {
			if f.After(now) {
				wait = max(wait, f.Sub(now)-time.Duration(l.burst-1)*l.per)
			}
		}
	}
	if wait > 0 {
		return &TooManyError{RetryAfter: max(wait, time.Second)}
	}
	return nil
}

// localWait is how long until the in-process buckets of client and user allow one more
// attempt; 0 when they do now.
func (l *Limiter) localWait(client, user string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, key := range keys(client, user) {
		if b, ok := l.buckets[key]; ok && b.TokensAt(now) < 1 {
			wait = max(wait, time.Duration((1-b.TokensAt(now))/float64(l.rate)*float64(time.Second)))
		}
	}
	return wait
}

// Fail spends a token of the client's and the username's buckets.
func (l *Limiter) Fail(client, user string) {
	if l == nil {
		return
	}
	now := l.now()
	prune := l.failLocal(client, user, now)
	if l.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if _, err := l.shared.SpendLimits(ctx, keys(client, user), now, l.per, l.burst); err != nil {
		l.log.Warn("sign-in limiter: failure not recorded in the shared budgets", slog.Any("err", err))
	}
	if prune {
		if _, err := l.shared.PruneLimits(ctx, now); err != nil {
			l.log.Warn("sign-in limiter: shared budgets not pruned", slog.Any("err", err))
		}
	}
}

// failLocal spends from the in-process buckets; it reports whether the shared buckets
// are due for pruning (failures drive it, so an idle limiter costs nothing).
func (l *Limiter) failLocal(client, user string, now time.Time) (prune bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range keys(client, user) {
		b, ok := l.buckets[key]
		if !ok {
			b = rate.NewLimiter(l.rate, l.burst)
			l.buckets[key] = b
		}
		b.AllowN(now, 1)
	}
	l.forgetFull(now)
	if now.Before(l.nextPrune) {
		return false
	}
	l.nextPrune = now.Add(pruneEvery)
	return true
}

// forgetFull drops buckets that have refilled, so the map holds only recent failures.
func (l *Limiter) forgetFull(now time.Time) {
	if len(l.buckets) < 4096 {
		return
	}
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

func keys(client, user string) []string {
	return []string{"client:" + client, "user:" + user}
}
