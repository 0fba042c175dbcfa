package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// tagsSQL tells "unknown repository" (no row) from "no tags" (one NULL row) in one
// statement, so in one snapshot: repository rows are deleted, and their ids reused. It
// lists only listed tags (listEnabled). It takes after, the registry id, the name and
// the limit.
const tagsSQL = `SELECT t.name FROM repositories r
	LEFT JOIN tags t ON t.repo_id = r.id AND t.name > ? AND t.list_enabled = 1
	WHERE r.registry_id = ? AND r.name = ?
	ORDER BY t.name LIMIT ?`

// repositoriesSQL is a range scan of the (registry_id, name) index, of the listed
// repositories (listEnabled); it takes the registry id, after and the limit.
const repositoriesSQL = `SELECT r.name FROM repositories r
	WHERE r.registry_id = ? AND r.name > ? AND r.list_enabled = 1 AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)
	ORDER BY r.name LIMIT ?`

// Tags lists tag names of repo in byte order, after `after`, at most limit.
func (s *Store) Tags(ctx context.Context, repo meta.Repo, after string, limit int) ([]string, error) {
	tags, err := s.tags(ctx, repo, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tags %s: %w", repoString(repo), err)
	}
	return tags, nil
}

func (s *Store) tags(ctx context.Context, repo meta.Repo, after string, limit int) ([]string, error) {
	rows, err := queryAll[sql.NullString](s.r.QueryContext(ctx, tagsSQL, after, repo.Registry, repo.Name, sqlLimit(limit)))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, meta.ErrRepositoryNotFound
	}
	var tags []string
	for _, t := range rows {
		if t.Valid {
			tags = append(tags, t.String)
		}
	}
	return tags, nil
}

// Repositories lists, in byte order after `after`, the registry's repositories holding a
// manifest.
func (s *Store) Repositories(ctx context.Context, registry, after string, limit int) ([]string, error) {
	repos, err := queryAll[string](s.r.QueryContext(ctx, repositoriesSQL, registry, after, sqlLimit(limit)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: repositories of %s: %w", registry, err)
	}
	return repos, nil
}

// sqlLimit maps the interface's "limit <= 0: no limit" to SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// referrersSQL takes the registry id, the name, the subject and the artifact type twice.
const referrersSQL = `SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations
	FROM repositories r JOIN manifests m ON m.repo_id = r.id
	WHERE r.registry_id = ? AND r.name = ? AND m.subject = ? AND (? = '' OR m.artifact_type = ?)
	ORDER BY m.digest`

// Referrers lists the manifests of repo whose subject is d, by digest, optionally only
// those of artifactType.
func (s *Store) Referrers(ctx context.Context, repo meta.Repo, d digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	descs, err := s.referrers(ctx, repo, d, artifactType)
	if err != nil {
		return nil, fmt.Errorf("sqlite: referrers %s@%s: %w", repoString(repo), d, err)
	}
	return descs, nil
}

func (s *Store) referrers(ctx context.Context, repo meta.Repo, d digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	rows, err := s.r.QueryContext(ctx, referrersSQL, repo.Registry, repo.Name, d, artifactType, artifactType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var descs []meta.Descriptor
	for rows.Next() {
		var desc meta.Descriptor
		var annotations sql.NullString
		if err := rows.Scan(&desc.MediaType, &desc.Digest, &desc.Size, &desc.ArtifactType, &annotations); err != nil {
			return nil, err
		}
		if desc.Annotations, err = decodeAnnotations(annotations); err != nil {
			return nil, err
		}
		descs = append(descs, desc)
	}
	return descs, rows.Err()
}
