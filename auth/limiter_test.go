package auth

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

// TestLimiterShared: two limiters (two replicas) on one store spend one budget, so
// spreading guesses over replicas gains nothing; a store that fails leaves each replica
// its own limit.
func TestLimiterShared(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	a := NewLimiter(4, time.Minute, clock).Shared(store, nil)
	b := NewLimiter(4, time.Minute, clock).Shared(store, nil)

	// Two failures through each replica, each from its own address: the username's
	// shared budget of 4 is spent.
	for i, l := range []*Limiter{a, b, a, b} {
		client := []string{"192.0.2.1", "192.0.2.2"}[i%2]
		if err := l.Check(client, "alice"); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		l.Fail(client, "alice")
	}
	var tooMany *TooManyError
	for _, l := range []*Limiter{a, b} {
		if err := l.Check("198.51.100.9", "alice"); !errors.As(err, &tooMany) {
			t.Fatalf("after 4 failures over two replicas, a fresh address: %v, want TooManyError", err)
		}
		if tooMany.RetryAfter != time.Minute {
			t.Errorf("RetryAfter = %s, want 1m (one token back)", tooMany.RetryAfter)
		}
	}
	// Another username from the first address still has budget (2 of 4 spent).
	if err := b.Check("192.0.2.1", "bob"); err != nil {
		t.Errorf("other user: %v", err)
	}
	now = now.Add(time.Minute)
	if err := b.Check("198.51.100.9", "alice"); err != nil {
		t.Errorf("a minute later: %v", err)
	}

	// The store fails: each replica still limits with its own buckets.
	c := NewLimiter(2, time.Minute, clock).Shared(failingLimits{}, nil)
	c.Fail("203.0.113.1", "carol")
	c.Fail("203.0.113.1", "carol")
	if err := c.Check("203.0.113.1", "carol"); !errors.Is(err, ErrTooManyAttempts) {
		t.Errorf("with a failing store, after 2 failures: %v, want ErrTooManyAttempts", err)
	}
}

type failingLimits struct{}

var errStoreDown = errors.New("store down")

func (failingLimits) SpendLimits(context.Context, []string, time.Time, time.Duration, int) ([]time.Time, error) {
	return nil, errStoreDown
}

func (failingLimits) LimitsFullAt(context.Context, []string) ([]time.Time, error) {
	return nil, errStoreDown
}

func (failingLimits) PruneLimits(context.Context, time.Time) (int, error) { return 0, errStoreDown }

var _ meta.Limits = failingLimits{}
