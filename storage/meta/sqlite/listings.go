package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Tags lists tag names of repository in byte order, after `after`, at most limit.
func (s *Store) Tags(ctx context.Context, repository, after string, limit int) ([]string, error) {
	tags, err := s.tags(ctx, repository, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tags %s: %w", repository, err)
	}
	return tags, nil
}

// tags looks the repository up separately to tell "unknown" from "no tags"; repository
// rows are never deleted, so the two reads need no common snapshot.
func (s *Store) tags(ctx context.Context, repository, after string, limit int) ([]string, error) {
	var repoID int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM repositories WHERE name = ?`, repository).Scan(&repoID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, meta.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, err
	}
	return queryStrings(s.r.QueryContext(ctx, `SELECT name FROM tags
		WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?`, repoID, after, sqlLimit(limit)))
}

// Repositories lists, in byte order after `after`, the repositories holding a manifest.
func (s *Store) Repositories(ctx context.Context, after string, limit int) ([]string, error) {
	repos, err := queryStrings(s.r.QueryContext(ctx, `SELECT r.name FROM repositories r
		WHERE r.name > ? AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)
		ORDER BY r.name LIMIT ?`, after, sqlLimit(limit)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: repositories: %w", err)
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

func queryStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Referrers lists the manifests of repository whose subject is d, by digest, optionally
// only those of artifactType.
func (s *Store) Referrers(ctx context.Context, repository string, d digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	descs, err := s.referrers(ctx, repository, d, artifactType)
	if err != nil {
		return nil, fmt.Errorf("sqlite: referrers %s@%s: %w", repository, d, err)
	}
	return descs, nil
}

func (s *Store) referrers(ctx context.Context, repository string, d digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations
		FROM repositories r JOIN manifests m ON m.repo_id = r.id
		WHERE r.name = ? AND m.subject = ? AND (? = '' OR m.artifact_type = ?)
		ORDER BY m.digest`, repository, d, artifactType, artifactType)
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
