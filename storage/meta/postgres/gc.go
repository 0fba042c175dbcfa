package postgres

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// unreachableSQL walks reachability from the tags inside the database, in one statement
// and therefore one snapshot, as SQLite's does. edges holds, per repository, "reaching
// src reaches dst": index to child, subject to referrer, referrer to subject. UNION (not
// UNION ALL) in reachable drops rows already reached, which ends the walk on
// subject/referrer cycles. roots are the tags, and the manifests that may not be deleted
// (locked, or in a write-locked repository): what a locked index or referrer reaches stays
// too. Its one parameter is meta.RefManifest.
const unreachableSQL = `
WITH RECURSIVE
edges (repo_id, src, dst) AS (
	SELECT repo_id, manifest_digest, ref_digest FROM manifest_references WHERE kind = $1
	UNION ALL
	SELECT repo_id, subject, digest FROM manifests WHERE subject IS NOT NULL
	UNION ALL
	SELECT repo_id, digest, subject FROM manifests WHERE subject IS NOT NULL
),
roots (repo_id, digest) AS (
	SELECT repo_id, digest FROM tags
	UNION ALL
	SELECT m.repo_id, m.digest FROM manifests m JOIN repositories r ON r.id = m.repo_id
	WHERE NOT (m.write_enabled AND m.delete_enabled AND r.write_enabled)
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
	rows, err := s.pool.Query(ctx, unreachableSQL, int16(meta.RefManifest))
	refs, err := scanRows(rows, err, func(sc scanner) (meta.ManifestRef, error) {
		var ref meta.ManifestRef
		var d string
		err := sc.Scan(&ref.Repo.Registry, &ref.Repo.Name, &d)
		ref.Digest = digest.Digest(d)
		return ref, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: unreachable manifests: %w", err)
	}
	return refs, nil
}
