package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// TestAuditQueriesUseIndexes keeps the audit listings to index searches in index order
// (no sort, whatever the filters), and pruning to a range of the time index.
func TestAuditQueriesUseIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	t0 := time.Unix(1, 0)
	queries := map[string]string{"prune": pruneAuditSQL}
	for _, q := range []meta.AuditQuery{
		{},
		{Limit: 10},
		{Registry: "r"},
		{Registry: "r", Since: t0, Until: t0},
		{Since: t0},
		{Principal: "p", Repository: "x", Outcome: meta.AuditDenied, Limit: 5},
		{Registry: "r", Principal: "p", Outcome: meta.AuditAllowed},
	} {
		query, _ := auditQuery(q)
		queries[query] = query
	}
	for name, query := range queries {
		for _, step := range queryPlan(t, s.r, query) {
			if strings.Contains(step, "TEMP B-TREE") ||
				strings.HasPrefix(step, "SCAN audit_events") && !strings.Contains(step, "USING INDEX") {
				t.Errorf("%s: plan step %q", name, step)
			}
		}
	}
}

// TestPruneAuditInChunks prunes a backlog larger than one chunk.
func TestPruneAuditInChunks(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]meta.AuditEvent, 2*pruneChunk+10)
	for i := range events {
		events[i] = meta.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Registry: "r", Principal: "anonymous"}
	}
	if err := s.AppendAudit(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	keep := 3
	n, err := s.PruneAudit(t.Context(), events[len(events)-keep].Time)
	if err != nil || n != len(events)-keep {
		t.Fatalf("PruneAudit = %d, %v; want %d", n, err, len(events)-keep)
	}
	if got, err := s.AuditEvents(t.Context(), meta.AuditQuery{}); err != nil || len(got) != keep {
		t.Errorf("AuditEvents after prune: %d events, %v; want %d", len(got), err, keep)
	}
}
