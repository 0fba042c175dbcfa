package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/observe"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// fakeAuditStore keeps what it is given. While gate is non-nil, AppendAudit waits for it
// to be closed (or for its context), as a slow disk would.
type fakeAuditStore struct {
	mu      sync.Mutex
	batches [][]meta.AuditEvent
	prunes  []time.Time
	gate    chan struct{}
	fail    error
	entered chan struct{} // receives once per AppendAudit call, when non-nil
}

func (f *fakeAuditStore) AppendAudit(ctx context.Context, events []meta.AuditEvent) error {
	f.mu.Lock()
	gate, fail, entered := f.gate, f.fail, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, append([]meta.AuditEvent(nil), events...))
	return nil
}

func (f *fakeAuditStore) PruneAudit(_ context.Context, before time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prunes = append(f.prunes, before)
	return 0, nil
}

func (f *fakeAuditStore) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.batches {
		n = append(n, len(b))
	}
	return n
}

func (f *fakeAuditStore) events() []meta.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []meta.AuditEvent
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

// eventually polls cond for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closeLog(t *testing.T, a *AuditLog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func numbered(i int) Event {
	return Event{Time: time.Unix(int64(i), 0), Registry: "r", Principal: fmt.Sprintf("token:t%d", i),
		Repository: "app", Action: "pull", Allowed: true, Client: "192.0.2.1", RequestID: fmt.Sprint("req-", i)}
}

// TestAuditLogBatches: a full batch is written at once, without waiting for the timer; the
// rest waits for the timer.
func TestAuditLogBatches(t *testing.T) {
	t.Parallel()
	store := &fakeAuditStore{}
	a := NewAuditLog(AuditLogOptions{Store: store, BatchSize: 3, FlushEvery: time.Hour})
	defer closeLog(t, a)
	for i := range 7 {
		a.Record(numbered(i))
	}
	eventually(t, "two full batches", func() bool { return len(store.sizes()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if got := store.sizes(); len(got) != 2 || got[0] != 3 || got[1] != 3 {
		t.Errorf("batches %v, want [3 3] until the timer or Close", got)
	}

	timed := &fakeAuditStore{}
	b := NewAuditLog(AuditLogOptions{Store: timed, BatchSize: 500, FlushEvery: 20 * time.Millisecond})
	defer closeLog(t, b)
	b.Record(numbered(1))
	b.Record(numbered(2))
	eventually(t, "the timer's flush", func() bool { return len(timed.events()) == 2 })
	if got := timed.sizes(); len(got) != 1 {
		t.Errorf("batches %v, want one of 2", got)
	}
	if b.Written() != 2 || b.Dropped() != 0 || b.Failed() != 0 {
		t.Errorf("written %d, dropped %d, failed %d; want 2, 0, 0", b.Written(), b.Dropped(), b.Failed())
	}
}

// TestAuditLogCloseFlushes: what is buffered at Close is written, in order and intact.
func TestAuditLogCloseFlushes(t *testing.T) {
	t.Parallel()
	store := &fakeAuditStore{}
	a := NewAuditLog(AuditLogOptions{Store: store, BatchSize: 4, FlushEvery: time.Hour})
	for i := range 10 {
		a.Record(numbered(i))
	}
	closeLog(t, a)
	got := store.events()
	if len(got) != 10 {
		t.Fatalf("after Close: %d events written, want 10", len(got))
	}
	for i, e := range got {
		w := numbered(i)
		if e.Principal != w.Principal || !e.Time.Equal(w.Time) || e.Registry != "r" || e.Repository != "app" ||
			e.Action != "pull" || !e.Allowed || e.Client != "192.0.2.1" || e.RequestID != w.RequestID {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	// After Close, Record drops (and counts) instead of panicking or blocking.
	a.Record(numbered(99))
	if a.Dropped() != 1 {
		t.Errorf("Dropped after a Record past Close = %d, want 1", a.Dropped())
	}
	closeLog(t, a) // idempotent
}

// TestAuditLogKeepsOrder: events reach the store in the order recorded, across full
// batches, partial ones put back behind a batch in progress, and timer flushes.
func TestAuditLogKeepsOrder(t *testing.T) {
	t.Parallel()
	store := &fakeAuditStore{}
	a := NewAuditLog(AuditLogOptions{Store: store, BatchSize: 7, FlushEvery: time.Millisecond})
	const n = 2000
	for i := range n {
		a.Record(numbered(i))
		if i%300 == 0 {
			time.Sleep(2 * time.Millisecond) // let a timer flush write a partial batch
		}
	}
	closeLog(t, a)
	got := store.events()
	if len(got) != n || a.Written() != n || a.Dropped() != 0 {
		t.Fatalf("store holds %d, written %d, dropped %d; want %d, %d, 0", len(got), a.Written(), a.Dropped(), n, n)
	}
	for i, e := range got {
		if want := fmt.Sprint("req-", i); e.RequestID != want {
			t.Fatalf("event %d is %s, want %s", i, e.RequestID, want)
		}
	}
	for _, size := range store.sizes() {
		if size > 7 {
			t.Fatalf("a batch of %d, over BatchSize 7", size)
		}
	}
}

// TestAuditLogNeverBlocks: with the store stuck, Record returns at once, drops what does
// not fit and counts it; once the store recovers every event is either written or counted.
func TestAuditLogNeverBlocks(t *testing.T) {
	t.Parallel()
	store := &fakeAuditStore{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	var logs logCapture
	a := NewAuditLog(AuditLogOptions{Store: store, Buffer: 8, BatchSize: 1, FlushEvery: 5 * time.Millisecond,
		WarnEvery: time.Hour, Logger: slog.New(&logs)})
	a.Record(numbered(0))
	a.Record(numbered(1))
	<-store.entered // the writer is now stuck on event 0; event 1 waits in the buffer

	const n = 1000
	start := time.Now()
	for i := range n {
		a.Record(numbered(2 + i))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d Records with the store stuck took %s", n, d)
	}
	if got := a.Dropped(); got != n-7 {
		t.Errorf("Dropped = %d, want %d (all but the 7 places left in the buffer)", got, n-7)
	}
	// The warning comes on the writer's next tick, which follows the stuck write; one per
	// interval however many drops follow.
	close(store.gate)
	eventually(t, "the drop warning", func() bool { return logs.count("audit events lost") == 1 })
	eventually(t, "the buffer written", func() bool { return a.Written() == 9 })
	a.Record(numbered(n + 2)) // and events flow again
	eventually(t, "a new event written", func() bool { return a.Written() == 10 })
	closeLog(t, a)
	total := uint64(n + 3)
	if w, d := a.Written(), a.Dropped(); w+d != total || uint64(len(store.events())) != w {
		t.Errorf("written %d + dropped %d = %d, want %d; store holds %d", w, d, w+d, total, len(store.events()))
	}
	if c := logs.count("audit events lost"); c != 1 {
		t.Errorf("%d drop warnings within one interval, want 1", c)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("dropped=%d", n-7)) {
		t.Errorf("warning does not carry the count: %s", logs.String())
	}
}

// TestAuditLogCloseGivesUp: a store that never answers does not hold Close beyond its
// context; the events it could not write are counted and reported.
func TestAuditLogCloseGivesUp(t *testing.T) {
	t.Parallel()
	store := &fakeAuditStore{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	a := NewAuditLog(AuditLogOptions{Store: store, BatchSize: 1, FlushEvery: time.Hour})
	a.Record(numbered(0))
	<-store.entered
	a.Record(numbered(1))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := a.Close(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s with a 50ms context", d)
	}
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want the unwritten events reported", err)
	}
	if a.Failed() != 2 || a.Written() != 0 {
		t.Errorf("failed %d, written %d; want 2, 0", a.Failed(), a.Written())
	}
}

// TestAuditLogFailedWrites: a refused batch is counted and warned about, not retried.
func TestAuditLogFailedWrites(t *testing.T) {
	t.Parallel()
	store := &fakeAuditStore{fail: errors.New("disk full")}
	var logs logCapture
	a := NewAuditLog(AuditLogOptions{Store: store, BatchSize: 2, FlushEvery: 5 * time.Millisecond, Logger: slog.New(&logs)})
	for i := range 4 {
		a.Record(numbered(i))
	}
	eventually(t, "the failure warning", func() bool { return logs.count("audit events lost") > 0 })
	if a.Failed() != 4 {
		t.Errorf("Failed = %d, want 4", a.Failed())
	}
	if !strings.Contains(logs.String(), "disk full") {
		t.Errorf("warning lacks the store's error: %s", logs.String())
	}
	closeLog(t, a)
}

// TestAuditLogPrunes: events past retention are pruned at start and then periodically.
func TestAuditLogPrunes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	store := &fakeAuditStore{}
	a := NewAuditLog(AuditLogOptions{Store: store, Retention: 24 * time.Hour, PruneEvery: 10 * time.Millisecond,
		Now: func() time.Time { return now }})
	eventually(t, "two prunes", func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return len(store.prunes) >= 2
	})
	closeLog(t, a)
	store.mu.Lock()
	defer store.mu.Unlock()
	if want := now.Add(-24 * time.Hour); !store.prunes[0].Equal(want) {
		t.Errorf("pruned before %v, want %v", store.prunes[0], want)
	}

	kept := &fakeAuditStore{}
	b := NewAuditLog(AuditLogOptions{Store: kept, PruneEvery: time.Millisecond})
	time.Sleep(20 * time.Millisecond)
	closeLog(t, b)
	if len(kept.prunes) != 0 {
		t.Errorf("without retention: %d prunes, want none", len(kept.prunes))
	}
}

// TestGateRecords: the gate records every decision on a scope, and every refused
// credential, with the request's id and the client address, and never a secret.
func TestGateRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := &recorder{}
	f.svc.opts.Audit = rec
	reg, _ := f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
	pull := access.RepositoryScope("team/app", access.Pull)
	push := access.RepositoryScope("team/app", access.Pull, access.Push)
	catalog := access.CatalogScope()
	admit := func(authz string, want *access.Scope) error {
		r := httptest.NewRequest("GET", "https://"+reg.LoginServer+"/v2/", nil)
		r.RemoteAddr = "192.0.2.9:4321"
		r = r.WithContext(observe.WithRequest(r.Context(), "req-1"))
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return f.svc.Admit(r, reg, want)
	}
	_ = admit(basic("contoso", adminPassword), &push)
	_ = admit(basic("puller", tokenPassword), &push)
	_ = admit(basic("contoso", "wrong-password-1"), &pull)
	_ = admit("", &pull)
	_ = admit("", nil) // the API base's anonymous challenge: not a decision
	_ = admit(basic("puller", tokenPassword), &catalog)
	_ = admit("Bearer secret.jwt.value", &pull)

	want := []Event{
		{Principal: "admin:contoso", Scope: "repository:team/app:pull,push", Repository: "team/app", Action: "pull,push", Allowed: true},
		{Principal: "token:puller", Scope: "repository:team/app:pull,push", Repository: "team/app", Action: "pull,push"},
		{Principal: "unverified:contoso", Scope: "repository:team/app:pull", Repository: "team/app", Action: "pull"},
		{Principal: "anonymous", Scope: "repository:team/app:pull", Repository: "team/app", Action: "pull"},
		{Principal: "token:puller", Scope: "registry:catalog:*", Action: "registry:catalog:*"},
		{Principal: "unverified:bearer", Scope: "repository:team/app:pull", Repository: "team/app", Action: "pull"},
	}
	got := rec.all()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		w.Time, w.Registry, w.Client, w.RequestID = f.now, reg.ID, "192.0.2.9", "req-1"
		if got[i] != w {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], w)
		}
		for _, secret := range []string{adminPassword, tokenPassword, "wrong-password-1", "secret.jwt.value"} {
			if strings.Contains(fmt.Sprintf("%+v", got[i]), secret) {
				t.Errorf("event %d holds a secret: %+v", i, got[i])
			}
		}
	}

	// The network rules refuse before credentials are looked at: recorded all the same.
	f.store.update(func(s *fakeStore) { s.reg.Settings.NetworkDefaultAction = "Deny" })
	reg, _ = f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
	if err := admit(basic("contoso", adminPassword), &pull); !errors.Is(err, ErrDenied) {
		t.Fatalf("Admit under Deny = %v", err)
	}
	if got := rec.all(); len(got) != len(want)+1 || got[len(want)].Principal != "unverified:contoso" || got[len(want)].Allowed {
		t.Errorf("network refusal recorded as %+v", got[len(got)-1])
	}
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// logCapture is a slog.Handler keeping text lines.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

func (l *logCapture) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
