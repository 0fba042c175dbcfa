package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// copyKeys gives dst the master key of src, as an operator copies DIR/keys to a replica.
func copyKeys(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, signing.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, signing.MasterKeyFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReplicasBootstrapOnce: replicas starting together on a new shared store, with the
// same master key, bootstrap it once (one tenant, one owner); exactly one of them writes
// a bootstrap file. A replica with another master key refuses to start.
func TestReplicasBootstrapOnce(t *testing.T) {
	dsn := pgtest.New(t)
	const n = 3
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	if _, err := signing.LoadMasterKey(filepath.Join(dirs[0], signing.MasterKeyFile)); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs[1:] {
		copyKeys(t, dirs[0], d)
	}
	servers := make([]*Server, n)
	for i := range servers {
		s, err := New(Config{DataDir: dirs[i], Metadata: dsn, Addr: "127.0.0.1:0", RegistryDomain: "localhost"},
			slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers[i] = s
	}
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i, s := range servers {
		wg.Go(func() { paths[i], errs[i] = s.startIdentity(t.Context(), "registry.test:8443") })
	}
	wg.Wait()
	files := 0
	for i := range servers {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if paths[i] != "" {
			files++
		}
	}
	if files != 1 {
		t.Errorf("%d replicas wrote a bootstrap file, want 1", files)
	}
	tenants, err := servers[0].meta.(meta.Directory).Tenants(t.Context())
	if err != nil || len(tenants) != 1 {
		t.Fatalf("tenants after a concurrent start: %d, %v; want 1", len(tenants), err)
	}

	// A replica given a data directory of its own (a new master key) refuses to start.
	s, err := New(Config{DataDir: t.TempDir(), Metadata: dsn, Addr: "127.0.0.1:0", RegistryDomain: "localhost"},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.startIdentity(t.Context(), "registry.test:8443"); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Errorf("a replica with another master key started: %v", err)
	}
}

// fakeEpochs is a shared store's epoch whose reads can be held back.
type fakeEpochs struct {
	v     atomic.Uint64
	reads atomic.Int64
	gate  chan struct{} // each read waits for a value; nil: no wait
	fail  atomic.Bool
}

func (f *fakeEpochs) AccessEpoch(ctx context.Context) (uint64, error) {
	f.reads.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if f.fail.Load() {
		return 0, errors.New("store down")
	}
	return f.v.Load(), nil
}

// TestEpochSync: a sync returns only after a read that started after it was called, so a
// change committed before the call is seen; calls made during a read share the next one.
func TestEpochSync(t *testing.T) {
	ctx := t.Context()
	f := &fakeEpochs{}
	var e accessEpoch
	e.follow(f, slog.New(slog.DiscardHandler))

	e.sync(ctx)
	start := e.Epoch()
	e.sync(ctx)
	if e.Epoch() != start {
		t.Errorf("epoch moved without a change: %d -> %d", start, e.Epoch())
	}
	f.v.Add(1) // another replica's change, committed
	e.sync(ctx)
	if e.Epoch() == start {
		t.Fatal("a change committed before sync was not seen")
	}

	// Hold the reads back: one in flight, many callers waiting; they share one more read.
	f.gate = make(chan struct{})
	reads := f.reads.Load()
	first := make(chan struct{})
	go func() { e.sync(ctx); close(first) }()
	waitUntil(t, func() bool { return f.reads.Load() == reads+1 })
	f.v.Add(1) // committed while the first read is in flight: it may miss it
	var wg sync.WaitGroup
	seen := make([]uint64, 8)
	before := e.Epoch()
	for i := range seen {
		wg.Go(func() { e.sync(ctx); seen[i] = e.Epoch() })
	}
	time.Sleep(50 * time.Millisecond)
	f.gate <- struct{}{} // the first read (may or may not have seen the change)
	<-first
	f.gate <- struct{}{} // the shared second read
	wg.Wait()
	if got := f.reads.Load() - reads; got != 2 {
		t.Errorf("%d reads for 9 callers, want 2", got)
	}
	for i, v := range seen {
		if v == before {
			t.Errorf("caller %d did not see the change committed before it synced", i)
		}
	}
	f.gate = nil

	// A failed read drops the cache: the epoch moves.
	f.fail.Store(true)
	before = e.Epoch()
	e.sync(ctx)
	if e.Epoch() == before {
		t.Error("a failed read left the epoch as it was")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}
