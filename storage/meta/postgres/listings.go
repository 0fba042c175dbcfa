package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// tagsSQL tells "unknown repository" (no row) from "no tags" (an empty array) in one
// statement, so in one snapshot. The array's subquery walks the tags' primary key from
// the cursor, in order, and stops at the limit. It lists only listed tags (listEnabled).
// It takes after, the registry id, the name and the limit.
const tagsSQL = `SELECT ARRAY(SELECT t.name FROM tags t WHERE t.repo_id = r.id AND t.name > $1 AND t.list_enabled
		ORDER BY t.name LIMIT $4)
	FROM repositories r WHERE r.registry_id = $2 AND r.name = $3`

// repositoriesSQL is a range scan of the (registry_id, name) index, of the listed
// repositories (listEnabled); it takes the registry id, after and the limit.
const repositoriesSQL = `SELECT r.name FROM repositories r
	WHERE r.registry_id = $1 AND r.name > $2 AND r.list_enabled AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)
	ORDER BY r.name LIMIT $3`

// Tags lists tag names of repo in byte order, after `after`, at most limit.
func (s *Store) Tags(ctx context.Context, repo meta.Repo, after string, limit int) ([]string, error) {
	var tags []string
	err := s.pool.QueryRow(ctx, tagsSQL, after, repo.Registry, repo.Name, sqlLimit(limit)).Scan(&tags)
	if errors.Is(err, pgx.ErrNoRows) {
		err = meta.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: tags %s: %w", repoString(repo), err)
	}
	if len(tags) == 0 {
		tags = nil
	}
	return tags, nil
}

// Repositories lists, in byte order after `after`, the registry's repositories holding a
// manifest.
func (s *Store) Repositories(ctx context.Context, registry, after string, limit int) ([]string, error) {
	repos, err := queryAll[string](s.pool.Query(ctx, repositoriesSQL, registry, after, sqlLimit(limit)))
	if err != nil {
		return nil, fmt.Errorf("postgres: repositories of %s: %w", registry, err)
	}
	return repos, nil
}

// referrersSQL takes the registry id, the name, the subject and the artifact type. The
// repository is looked up first (a scalar subquery), so that the referrers come out of the
// index (repo_id, subject, digest) in order.
const referrersSQL = `SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations
	FROM manifests m
	WHERE m.repo_id = (SELECT r.id FROM repositories r WHERE r.registry_id = $1 AND r.name = $2)
		AND m.subject = $3 AND ($4 = '' OR m.artifact_type = $4)
	ORDER BY m.digest`

// Referrers lists the manifests of repo whose subject is d, by digest, optionally only
// those of artifactType.
func (s *Store) Referrers(ctx context.Context, repo meta.Repo, d digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	rows, err := s.pool.Query(ctx, referrersSQL, repo.Registry, repo.Name, string(d), artifactType)
	descs, err := scanRows(rows, err, func(sc scanner) (meta.Descriptor, error) {
		var desc meta.Descriptor
		var dg string
		var annotations []byte
		if err := sc.Scan(&desc.MediaType, &dg, &desc.Size, &desc.ArtifactType, &annotations); err != nil {
			return desc, err
		}
		desc.Digest = digest.Digest(dg)
		var err error
		desc.Annotations, err = decodeAnnotations(annotations)
		return desc, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: referrers %s@%s: %w", repoString(repo), d, err)
	}
	return descs, nil
}
