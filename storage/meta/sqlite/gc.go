package sqlite

import (
	"context"
	"fmt"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// unreachableSQL walks reachability from the tags inside the database, in one statement
// and therefore one snapshot. edges holds, per repository, "reaching src reaches dst":
// index to child, subject to referrer, referrer to subject. UNION (not UNION ALL) in
// reachable drops rows already reached, which ends the walk on subject/referrer cycles.
// roots are the tags, and the manifests that may not be deleted (locked, or in a
// write-locked repository): what a locked index or referrer reaches stays too.
// A single recursive term (not one per edge kind) keeps the query valid PostgreSQL too.
// Its one parameter is meta.RefManifest.
const unreachableSQL = `
WITH RECURSIVE
edges (repo_id, src, dst) AS (
	SELECT repo_id, manifest_digest, ref_digest FROM manifest_references WHERE kind = ?
	UNION ALL
	SELECT repo_id, subject, digest FROM manifests WHERE subject IS NOT NULL
	UNION ALL
	SELECT repo_id, digest, subject FROM manifests WHERE subject IS NOT NULL
),
roots (repo_id, digest) AS (
	SELECT repo_id, digest FROM tags
	UNION ALL
	SELECT m.repo_id, m.digest FROM manifests m JOIN repositories r ON r.id = m.repo_id
	WHERE m.write_enabled = 0 OR m.delete_enabled = 0 OR r.write_enabled = 0
),
reachable (repo_id, digest) AS (
	SELECT repo_id, digest FROM roots
	UNION
	SELECT e.repo_id, e.dst FROM reachable x JOIN edges e ON e.repo_id = x.repo_id AND e.src = x.digest
)
SELECT r.registry_id, r.name, m.digest
FROM manifests m JOIN repositories r ON r.id = m.repo_id
WHERE NOT EXISTS (SELECT 1 FROM reachable x WHERE x.repo_id = m.repo_id AND x.digest = m.digest)
ORDER BY r.registry_id, r.name, m.digest`

// UnreachableManifests lists, by registry, repository then digest, the manifests no tag
// reaches, across every registry (reachability itself never crosses a repository).
func (s *Store) UnreachableManifests(ctx context.Context) ([]meta.ManifestRef, error) {
	refs, err := s.unreachable(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unreachable manifests: %w", err)
	}
	return refs, nil
}

func (s *Store) unreachable(ctx context.Context) ([]meta.ManifestRef, error) {
	rows, err := s.r.QueryContext(ctx, unreachableSQL, meta.RefManifest)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []meta.ManifestRef
	for rows.Next() {
		var ref meta.ManifestRef
		if err := rows.Scan(&ref.Repo.Registry, &ref.Repo.Name, &ref.Digest); err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, rows.Err()
}
