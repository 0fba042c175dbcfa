package postgres

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// accessFixture is a registry with a scope map, in a store, for the access epoch tests.
func accessFixture(t *testing.T, s *Store) *meta.Registry {
	t.Helper()
	ctx := t.Context()
	const sub = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	must(t, s.CreateSubscription(ctx, &meta.Subscription{ID: sub, TenantID: "t"}))
	_, err := s.PutResourceGroup(ctx, &meta.ResourceGroup{Subscription: sub, Name: "rg", Location: "local"})
	must(t, err)
	r := &meta.Registry{ID: "0123456789abcdef0123456789abcdef", Subscription: sub, ResourceGroup: "rg", Name: "reg",
		LoginServer: "reg.example", SKU: "Premium", Settings: meta.RegistrySettings{IPRules: []string{}}}
	must(t, s.CreateRegistry(ctx, r, []meta.ScopeMap{{Name: "pull", Actions: []string{"repositories/*/content/read"}}}))
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func epoch(t *testing.T, s *Store) uint64 {
	t.Helper()
	e, err := s.AccessEpoch(t.Context())
	must(t, err)
	return e
}

// TestAccessEpoch checks that every committed transaction changing an access record moves
// the epoch by one, as both replicas see it, and that nothing else moves it.
func TestAccessEpoch(t *testing.T) {
	dsn := newDSN(t)
	a, b := open(t, dsn), open(t, dsn) // two replicas
	defer a.Close()
	defer b.Close()
	ctx := t.Context()
	e0 := epoch(t, b)
	r := accessFixture(t, a) // one change: the registry with its scope map, in one transaction
	if e := epoch(t, b); e != e0+1 {
		t.Fatalf("epoch after CreateRegistry (one transaction) = %d, want %d", e, e0+1)
	}

	e := e0 + 1
	for _, step := range []struct {
		name   string
		do     func() error
		access bool
	}{
		{"PutManifest", func() error {
			repo := meta.Repo{Registry: r.ID, Name: "app"}
			if err := a.LinkBlob(ctx, repo, digest.FromString("layer"), 5); err != nil {
				return err
			}
			return a.PutManifest(ctx, manifest(repo, "m", digest.FromString("layer")), "v1")
		}, false},
		{"RecordEvent", func() error { return a.RecordEvent(ctx, &meta.Event{ID: "e1", Subscription: r.Subscription}) }, false},
		{"AppendAudit", func() error { return a.AppendAudit(ctx, []meta.AuditEvent{{Time: time.Now(), Registry: r.ID}}) }, false},
		{"CreateTenant", func() error { return a.CreateTenant(ctx, &meta.Tenant{ID: "tenant"}) }, false},
		{"UpdateRegistry", func() error {
			_, err := a.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error { r.Settings.AdminUserEnabled = true; return nil })
			return err
		}, true},
		{"UpdateRegistry refused by fn", func() error {
			_, err := a.UpdateRegistry(ctx, r.ID, func(*meta.Registry) error { return errRefused })
			if errors.Is(err, errRefused) {
				return nil
			}
			return err
		}, false},
		{"CreateToken", func() error {
			return a.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "ci", ScopeMap: "pull", Enabled: true})
		}, true},
		{"UpdateScopeMap", func() error {
			_, err := a.UpdateScopeMap(ctx, r.ID, "pull", func(m *meta.ScopeMap) error { m.Description = "d"; return nil })
			return err
		}, true},
		{"DeleteToken", func() error { return a.DeleteToken(ctx, r.ID, "ci") }, true},
		{"CreateRoleAssignment", func() error {
			return a.CreateRoleAssignment(ctx, &meta.RoleAssignment{Name: "ra", Scope: r.ResourceID(), RoleDefinitionID: "role", PrincipalID: "p"})
		}, true},
		{"DeleteRoleAssignment", func() error { _, err := a.DeleteRoleAssignment(ctx, "ra"); return err }, true},
		{"CreatePrincipal", func() error {
			return a.CreatePrincipal(ctx, &meta.Principal{ObjectID: "user", TenantID: "tenant", Kind: meta.KindUser, Enabled: true})
		}, true},
		{"UpdatePrincipal", func() error {
			_, err := a.UpdatePrincipal(ctx, "user", func(p *meta.Principal) error { p.Enabled = false; return nil })
			return err
		}, true},
		{"DeletePrincipal", func() error { return a.DeletePrincipal(ctx, "user") }, true},
		{"RemoveRegistry", func() error { return a.RemoveRegistry(ctx, r.ID) }, true},
	} {
		must(t, step.do())
		if step.access {
			e++
		}
		if got := epoch(t, b); got != e {
			t.Errorf("epoch after %s = %d, want %d", step.name, got, e)
			e = got
		}
	}

	// A change rolled back moves nothing.
	tx, err := a.pool.Begin(ctx)
	must(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO principal_generations (principal_id, generation) VALUES ('x', 1)`)
	must(t, err)
	must(t, tx.Rollback(ctx))
	if got := epoch(t, b); got != e {
		t.Errorf("epoch after a rolled-back change = %d, want %d", got, e)
	}
}

var errRefused = errors.New("refused")

// TestWatchAccess watches the epoch from one replica while another changes access
// records, and while the watching connection is cut.
func TestWatchAccess(t *testing.T) {
	dsn := newDSN(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	calls := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- b.WatchAccess(ctx, func() { calls <- struct{}{} }) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-calls:
		case err := <-done:
			t.Fatalf("%s: WatchAccess returned %v", what, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: fn not called", what)
		}
	}
	wait("the watch starting")

	r := accessFixture(t, a)
	wait("CreateRegistry")
	_, err := a.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error { r.SKU = "Basic"; return nil })
	must(t, err)
	wait("UpdateRegistry")

	// Cut the watching session; a change made meanwhile is caught up on reconnection (or
	// notified, if the watch is back first).
	var pids []int32
	pids, err = queryAll[int32](a.pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, watchApplication))
	must(t, err)
	if len(pids) != 1 {
		t.Fatalf("watching sessions: %v, want one", pids)
	}
	_, err = a.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pids[0])
	must(t, err)
	must(t, a.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "ci", ScopeMap: "pull"}))
	wait("CreateToken while the watch was cut")

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WatchAccess after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WatchAccess did not return after cancel")
	}
}

// TestListenSurvivesPoll checks what WatchAccess's poll relies on: a wait for a
// notification cut short by its context leaves the connection usable, still listening.
func TestListenSurvivesPoll(t *testing.T) {
	s := openNew(t)
	ctx := t.Context()
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	must(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `LISTEN `+accessChannel)
	must(t, err)
	for range 3 {
		wait, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := conn.WaitForNotification(wait)
		cancel()
		if wait.Err() == nil || conn.IsClosed() {
			t.Fatalf("WaitForNotification = %v; want a timeout leaving the connection open", err)
		}
		if _, err := readEpoch(ctx, conn); err != nil {
			t.Fatalf("read after a timed-out wait: %v", err)
		}
	}
	must(t, s.CreateTenant(ctx, &meta.Tenant{ID: "t"}))
	must(t, s.CreatePrincipal(ctx, &meta.Principal{ObjectID: "p", TenantID: "t", Kind: meta.KindUser}))
	n, err := conn.WaitForNotification(ctx)
	must(t, err)
	if e := epoch(t, s); n.Payload != strconv.FormatUint(e, 10) {
		t.Errorf("notification %q, want the epoch %d", n.Payload, e)
	}
}
