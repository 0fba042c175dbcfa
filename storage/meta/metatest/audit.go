package metatest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// RunAudit runs the behaviour suite of meta.AuditLog. open must return a new, empty store
// on every call and arrange for it to be closed when the test ends. Beyond the interface
// comments it pins: times come back equal (at microsecond precision, which every backend
// keeps) whatever their location; filters combine; Since is inclusive and Until exclusive;
// pruning is strictly before its time.
func RunAudit(t *testing.T, open func(t *testing.T) meta.AuditLog) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, meta.AuditLog)
	}{
		{"RoundTrip", testAuditRoundTrip},
		{"Order", testAuditOrder},
		{"Filters", testAuditFilters},
		{"Window", testAuditWindow},
		{"LargeBatch", testAuditLargeBatch},
		{"Prune", testAuditPrune},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

var aT0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func auditEvent(at time.Duration, registry, principal, repository, action string, allowed bool) meta.AuditEvent {
	return meta.AuditEvent{
		Time: aT0.Add(at), Registry: registry, Principal: principal, Repository: repository, Action: action,
		Allowed: allowed, Client: "192.0.2.7", RequestID: fmt.Sprintf("req-%s-%s-%s", registry, principal, at),
	}
}

func appendAudit(t *testing.T, s meta.AuditLog, events ...meta.AuditEvent) {
	t.Helper()
	if err := s.AppendAudit(t.Context(), events); err != nil {
		t.Fatalf("AppendAudit(%d events): %v", len(events), err)
	}
}

func auditEvents(t *testing.T, s meta.AuditLog, q meta.AuditQuery) []meta.AuditEvent {
	t.Helper()
	got, err := s.AuditEvents(t.Context(), q)
	if err != nil {
		t.Fatalf("AuditEvents(%+v): %v", q, err)
	}
	return got
}

// sameAudit compares listings field by field, times with Equal.
func sameAudit(t *testing.T, op string, got, want []meta.AuditEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d events, want %d:\n got %+v\nwant %+v", op, len(got), len(want), got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("%s[%d]: time %v, want %v", op, i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s[%d]:\n got %+v\nwant %+v", op, i, g, w)
		}
	}
}

func testAuditRoundTrip(t *testing.T, s meta.AuditLog) {
	sameAudit(t, "empty log", auditEvents(t, s, meta.AuditQuery{}), nil)
	appendAudit(t, s) // an empty batch is a no-op
	e := meta.AuditEvent{
		Time: aT0.In(time.FixedZone("UTC+2", 2*3600)), Registry: "0123456789abcdef0123456789abcdef",
		Principal:  "entra:11111111-1111-4111-8111-111111111111/a11ce000-0000-4000-8000-000000000001",
		Repository: "team/app", Action: "pull,push", Allowed: true, Client: "2001:db8::1", RequestID: "abc",
	}
	catalog := meta.AuditEvent{Time: aT0.Add(time.Second), Registry: e.Registry, Principal: "anonymous",
		Action: "registry:catalog:*", Client: "192.0.2.1"}
	appendAudit(t, s, e, catalog)
	sameAudit(t, "AuditEvents", auditEvents(t, s, meta.AuditQuery{}), []meta.AuditEvent{catalog, e})
}

func testAuditOrder(t *testing.T, s meta.AuditLog) {
	a := auditEvent(0, "r1", "anonymous", "app", "pull", false)
	b := auditEvent(time.Minute, "r1", "admin:r1", "app", "pull", true)
	c := auditEvent(time.Minute, "r1", "token:ci", "app", "pull", true) // same time as b, appended after
	d := auditEvent(-time.Minute, "r1", "token:ci", "app", "pull", true)
	appendAudit(t, s, a, b)
	appendAudit(t, s, c, d) // appended later, d is still older than all
	sameAudit(t, "newest first", auditEvents(t, s, meta.AuditQuery{}), []meta.AuditEvent{c, b, a, d})
	sameAudit(t, "limit 2", auditEvents(t, s, meta.AuditQuery{Limit: 2}), []meta.AuditEvent{c, b})
	sameAudit(t, "limit 0 is none", auditEvents(t, s, meta.AuditQuery{Limit: 0}), []meta.AuditEvent{c, b, a, d})
}

func testAuditFilters(t *testing.T, s meta.AuditLog) {
	var all []meta.AuditEvent
	for i, r := range []string{"r1", "r2"} {
		for j, p := range []string{"anonymous", "token:ci"} {
			for k, repo := range []string{"app", "lib"} {
				at := time.Duration(i*100+j*10+k) * time.Second
				all = append(all, auditEvent(at, r, p, repo, "pull", p != "anonymous"))
			}
		}
	}
	appendAudit(t, s, all...)
	newestFirst := func(keep func(meta.AuditEvent) bool) []meta.AuditEvent {
		var out []meta.AuditEvent
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i])
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    meta.AuditQuery
		keep func(meta.AuditEvent) bool
	}{
		{"registry", meta.AuditQuery{Registry: "r2"}, func(e meta.AuditEvent) bool { return e.Registry == "r2" }},
		{"principal", meta.AuditQuery{Principal: "token:ci"}, func(e meta.AuditEvent) bool { return e.Principal == "token:ci" }},
		{"repository", meta.AuditQuery{Repository: "lib"}, func(e meta.AuditEvent) bool { return e.Repository == "lib" }},
		{"denied", meta.AuditQuery{Outcome: meta.AuditDenied}, func(e meta.AuditEvent) bool { return !e.Allowed }},
		{"allowed", meta.AuditQuery{Outcome: meta.AuditAllowed}, func(e meta.AuditEvent) bool { return e.Allowed }},
		{"combined", meta.AuditQuery{Registry: "r1", Repository: "app", Outcome: meta.AuditDenied},
			func(e meta.AuditEvent) bool { return e.Registry == "r1" && e.Repository == "app" && !e.Allowed }},
		{"no match", meta.AuditQuery{Registry: "r3"}, func(meta.AuditEvent) bool { return false }},
		{"exact, not prefix", meta.AuditQuery{Repository: "ap"}, func(meta.AuditEvent) bool { return false }},
	} {
		sameAudit(t, tc.name, auditEvents(t, s, tc.q), newestFirst(tc.keep))
	}
	q := meta.AuditQuery{Registry: "r1", Limit: 1}
	sameAudit(t, "registry, limit 1", auditEvents(t, s, q), newestFirst(func(e meta.AuditEvent) bool { return e.Registry == "r1" })[:1])
}

func testAuditWindow(t *testing.T, s meta.AuditLog) {
	var all []meta.AuditEvent
	for i := range 5 {
		all = append(all, auditEvent(time.Duration(i)*time.Hour, "r1", "anonymous", "app", "pull", false))
	}
	appendAudit(t, s, all...)
	at := func(h int) time.Time { return aT0.Add(time.Duration(h) * time.Hour) }
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         []meta.AuditEvent
	}{
		{"since inclusive", at(3), time.Time{}, []meta.AuditEvent{all[4], all[3]}},
		{"until exclusive", time.Time{}, at(1), []meta.AuditEvent{all[0]}},
		{"both", at(1), at(3), []meta.AuditEvent{all[2], all[1]}},
		{"between events", at(1).Add(time.Microsecond), at(2), nil},
		{"since, another zone", at(4).In(time.FixedZone("UTC-5", -5*3600)), time.Time{}, []meta.AuditEvent{all[4]}},
	} {
		sameAudit(t, tc.name, auditEvents(t, s, meta.AuditQuery{Since: tc.since, Until: tc.until}), tc.want)
	}
}

// testAuditLargeBatch appends more events than one statement's parameters could hold.
func testAuditLargeBatch(t *testing.T, s meta.AuditLog) {
	const n = 2500
	events := make([]meta.AuditEvent, n)
	for i := range events {
		events[i] = auditEvent(time.Duration(i)*time.Millisecond, "r1", fmt.Sprintf("token:t%d", i), "app", "pull", i%2 == 0)
	}
	appendAudit(t, s, events...)
	got := auditEvents(t, s, meta.AuditQuery{})
	if len(got) != n {
		t.Fatalf("AuditEvents: %d events, want %d", len(got), n)
	}
	sameAudit(t, "newest", got[:1], events[n-1:])
	sameAudit(t, "oldest", got[n-1:], events[:1])
	if denied := auditEvents(t, s, meta.AuditQuery{Outcome: meta.AuditDenied}); len(denied) != n/2 {
		t.Errorf("denied: %d events, want %d", len(denied), n/2)
	}
}

func testAuditPrune(t *testing.T, s meta.AuditLog) {
	var all []meta.AuditEvent
	for i := range 6 {
		all = append(all, auditEvent(time.Duration(i)*time.Hour, fmt.Sprint("r", i%2), "anonymous", "app", "pull", false))
	}
	appendAudit(t, s, all...)
	n, err := s.PruneAudit(t.Context(), aT0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v; want 2 (strictly before)", n, err)
	}
	sameAudit(t, "after prune", auditEvents(t, s, meta.AuditQuery{}), []meta.AuditEvent{all[5], all[4], all[3], all[2]})
	if n, err := s.PruneAudit(t.Context(), aT0); err != nil || n != 0 {
		t.Errorf("PruneAudit of nothing = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneAudit(t.Context(), aT0.Add(24*time.Hour)); err != nil || n != 4 {
		t.Errorf("PruneAudit of everything = %d, %v; want 4", n, err)
	}
	sameAudit(t, "after pruning everything", auditEvents(t, s, meta.AuditQuery{}), nil)
}
