package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/metatest"
)

func TestLimits(t *testing.T) {
	open := suiteStores(t, true)
	metatest.RunLimits(t, func(t *testing.T) meta.Limits { return open(t) })
}

// TestLimitsShared: two stores on one database (two replicas) spend one budget.
func TestLimitsShared(t *testing.T) {
	dsn := newDSN(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	now := time.Unix(1_800_000_000, 0)
	for i, s := range []*Store{a, b, a} {
		got, err := s.SpendLimits(t.Context(), []string{"user:x"}, now, time.Second, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(time.Duration(i+1) * time.Second); !got[0].Equal(want) {
			t.Errorf("spend %d: full at %s, want %s", i, got[0], want)
		}
	}
}

// TestLocks: a named lock excludes every other holder on the database, another name
// does not, release frees it, and a holder's connection ending frees it too.
func TestLocks(t *testing.T) {
	dsn := newDSN(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	ctx := t.Context()

	release, ok, err := a.TryLock(ctx, "gc")
	if err != nil || !ok {
		t.Fatalf("TryLock(gc) on a free lock = %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "gc"); err != nil || ok {
		t.Fatalf("TryLock(gc) while a holds it = %v, %v; want false", ok, err)
	}
	// Advisory locks are re-entrant within a session, but each lock has a session of its
	// own: the same store is refused too.
	if _, ok, err := a.TryLock(ctx, "gc"); err != nil || ok {
		t.Fatalf("second TryLock(gc) on the same store = %v, %v; want false", ok, err)
	}
	other, ok, err := b.TryLock(ctx, "bootstrap")
	if err != nil || !ok {
		t.Fatalf("TryLock(bootstrap) = %v, %v", ok, err)
	}
	other()

	// Lock waits until the holder releases.
	var got atomic.Bool
	done := make(chan error, 1)
	go func() {
		rel, err := b.Lock(ctx, "gc")
		if err == nil {
			got.Store(true)
			rel()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if got.Load() {
		t.Fatal("Lock returned while another held the lock")
	}
	release()
	release() // a second call does nothing
	if err := <-done; err != nil {
		t.Fatalf("Lock after release: %v", err)
	}

	// A Lock cut short by its context fails and holds nothing.
	held, ok, err := a.TryLock(ctx, "gc")
	if err != nil || !ok {
		t.Fatalf("TryLock(gc) = %v, %v", ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "gc"); err == nil || !errors.Is(short.Err(), context.DeadlineExceeded) {
		t.Fatalf("Lock while held, ctx ending = %v", err)
	}
	// The holder's session ends (its process died): the lock is free.
	if _, err := b.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted`, int64(lockClass)); err != nil {
		t.Fatal(err)
	}
	held()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rel, ok, err := b.TryLock(ctx, "gc")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			rel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a closed store was never freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
