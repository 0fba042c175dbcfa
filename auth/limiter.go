package auth

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter slows down password guessing: each failed sign-in spends a token from the
// client address's bucket and from the username's; an empty bucket answers 429 with the
// time until it refills, and successful sign-ins cost nothing. Buckets refill steadily, so
// the rightful owner is never locked out for good.
//
// State is per process; several replicas each keep their own (see the scale-out notes).
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewLimiter allows burst failures at once and then one every per.
func NewLimiter(burst int, per time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate.Every(per), burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

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
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, key := range keys(client, user) {
		if b, ok := l.buckets[key]; ok && b.TokensAt(now) < 1 {
			wait = max(wait, time.Duration((1-b.TokensAt(now))/float64(l.rate)*float64(time.Second)))
		}
	}
	if wait > 0 {
		return &TooManyError{RetryAfter: max(wait, time.Second)}
	}
	return nil
}

// Fail spends a token of the client's and the username's buckets.
func (l *Limiter) Fail(client, user string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, key := range keys(client, user) {
		b, ok := l.buckets[key]
		if !ok {
			b = rate.NewLimiter(l.rate, l.burst)
			l.buckets[key] = b
		}
		b.AllowN(now, 1)
	}
	l.forgetFull(now)
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
