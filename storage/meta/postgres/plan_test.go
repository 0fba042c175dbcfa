package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// TestQueriesUseIndexes keeps the per-request queries to index searches, so that their
// cost does not grow with the number of tags, manifests, repositories or registries, and
// the listings to index order (no Sort). It reads the generic plan of each query (the one
// a prepared statement gets, whatever its parameters) with sequential scans discouraged:
// one that still appears means no index can serve the query.
func TestQueriesUseIndexes(t *testing.T) {
	s := openNew(t)
	queries := map[string]string{
		"manifest by tag":    manifestByTagSQL,
		"manifest by digest": manifestByDigestSQL,
		"blob size":          blobSizeSQL,
		"blob in use":        blobInUseSQL,
		"lock repository":    lockRepositorySQL,
		"tags":               tagsSQL,
		"repositories":       repositoriesSQL,
		"referrers":          referrersSQL,
		"push locked":        pushLockedSQL,
		"blobs present":      blobsPresentSQL,
		"repository info":    repositoryInfoSQL,
		"tag info":           tagInfoSQL,
		"manifest info":      manifestInfoSQL,
		"manifest locked":    manifestLockedSQL,
		"tag locked":         tagLockedSQL,
		"repository locked":  repositoryLockedSQL,
		"prune audit":        pruneAuditSQL,
	}
	for _, l := range []listing{tagListing, manifestListing} {
		for _, order := range []meta.Order{meta.OrderName, meta.OrderTimeAsc, meta.OrderTimeDesc} {
			for _, after := range []string{"", "x"} {
				for _, d := range []digest.Digest{"", "sha256:x"} {
					q, _ := l.query(1, meta.ListOptions{Order: order, After: after, Digest: d, Limit: 10}, 0)
					queries[strings.Join([]string{l.table, "order", string(rune('0' + order)), "after=" + after, "digest=" + string(d)}, " ")] = q
				}
			}
		}
	}
	t0 := time.Unix(1, 0)
	for _, q := range []meta.AuditQuery{{}, {Limit: 10}, {Registry: "r"}, {Registry: "r", Since: t0, Until: t0},
		{Since: t0}, {Principal: "p", Repository: "x", Outcome: meta.AuditDenied, Limit: 5}} {
		query, _ := auditQuery(q)
		queries["audit "+query] = query
	}

	ctx := t.Context()
	// Plans depend on the statistics: give the planner tables of some size.
	if _, err := s.pool.Exec(ctx, planDataSQL); err != nil {
		t.Fatal(err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for name, query := range queries {
		plan, err := genericPlan(ctx, conn.Conn(), query)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// A few rows may be sorted: the blobs a manifest references (locked in digest
		// order), the tags of one manifest.
		sortOK := name == "blobs present" || strings.Contains(name, "digest=sha256:x")
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") && !sortOK {
			t.Errorf("%s: plan\n%s", name, plan)
		}
	}
}

// genericPlan prepares query and explains its generic plan, with a value of each
// parameter's type.
func genericPlan(ctx context.Context, conn *pgx.Conn, query string) (string, error) {
	if _, err := conn.Exec(ctx, `PREPARE plan_test AS `+query); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE plan_test`)
	var types []string
	if err := conn.QueryRow(ctx, `SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'plan_test'`).Scan(&types); err != nil {
		return "", err
	}
	values := map[string]string{"bigint": "1", "integer": "1", "smallint": "1", "text": "'x'", "boolean": "true",
		"bytea": `'\x00'`, "jsonb": "'1'", "text[]": "'{x}'", "smallint[]": "'{1}'"}
	args := make([]string, len(types))
	for i, typ := range types {
		args[i] = values[typ] + "::" + typ
	}
	explain := `EXPLAIN EXECUTE plan_test`
	if len(args) > 0 {
		explain += `(` + strings.Join(args, ", ") + `)`
	}
	lines, err := queryAll[string](conn.Query(ctx, explain, pgx.QueryExecModeSimpleProtocol))
	return strings.Join(lines, "\n"), err
}

// planDataSQL fills a store with 200 repositories of 100 manifests each, every manifest
// tagged and referencing a blob, every tenth one a referrer of the one before, and 20,000
// audit events, and analyzes the tables.
const planDataSQL = `
INSERT INTO repositories (registry_id, name, created_at, updated_at)
	SELECT 'reg' || (i % 4), 'repo' || i, 0, 0 FROM generate_series(1, 200) i;
INSERT INTO repository_blobs (repo_id, digest, size, linked_at)
	SELECT r.id, 'sha256:' || md5('blob' || i), 1, 0 FROM repositories r, generate_series(1, 100) i;
INSERT INTO manifests (repo_id, digest, media_type, size, content, subject, created_at, updated_at)
	SELECT r.id, 'sha256:' || md5('m' || i), 'm', 1, '\x00',
		CASE WHEN i % 10 = 0 THEN 'sha256:' || md5('m' || (i - 1)) END, i, i
	FROM repositories r, generate_series(1, 100) i;
INSERT INTO manifest_references (repo_id, manifest_digest, ref_digest, kind)
	SELECT r.id, 'sha256:' || md5('m' || i), 'sha256:' || md5('blob' || i), 0 FROM repositories r, generate_series(1, 100) i;
INSERT INTO tags (repo_id, name, digest, created_at, updated_at)
	SELECT r.id, 'v' || i, 'sha256:' || md5('m' || i), i, i FROM repositories r, generate_series(1, 100) i;
INSERT INTO audit_events (at, registry_id, principal, repository, action, allowed, client, request_id)
	SELECT i, 'reg' || (i % 4), 'p' || (i % 50), 'repo' || (i % 200), 'pull', i % 3 = 0, '', '' FROM generate_series(1, 20000) i;
ANALYZE`
