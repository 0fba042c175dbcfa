package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

const manifestColumns = `m.digest, m.media_type, m.size, m.content, m.artifact_type,
	m.config_media_type, m.subject, m.annotations, m.os, m.architecture, m.created_at`

// The two manifest reads are single indexed lookups: repositories by unique name, then
// tags and manifests by primary key, so their cost does not grow with the tag count.
const (
	manifestByDigestSQL = `SELECT ` + manifestColumns + `
		FROM repositories r JOIN manifests m ON m.repo_id = r.id
		WHERE r.name = ? AND m.digest = ?`
	manifestByTagSQL = `SELECT ` + manifestColumns + `
		FROM repositories r
		JOIN tags t ON t.repo_id = r.id
		JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
		WHERE r.name = ? AND t.name = ?`
)

// Manifest returns a manifest by digest. References are not loaded (nil): serving a
// manifest does not need them.
func (s *Store) Manifest(ctx context.Context, repository string, d digest.Digest) (*meta.Manifest, error) {
	m, err := scanManifest(s.hot.manifest.QueryRowContext(ctx, repository, d), repository)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrManifestNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifest %s@%s: %w", repository, d, err)
	}
	return m, nil
}

// TaggedManifest returns the manifest tag points at. References are not loaded (nil).
func (s *Store) TaggedManifest(ctx context.Context, repository, tag string) (*meta.Manifest, error) {
	m, err := scanManifest(s.hot.taggedManifest.QueryRowContext(ctx, repository, tag), repository)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrTagNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifest %s:%s: %w", repository, tag, err)
	}
	return m, nil
}

func scanManifest(row *sql.Row, repository string) (*meta.Manifest, error) {
	m := &meta.Manifest{Repository: repository}
	var subject, annotations sql.NullString
	var created int64
	if err := row.Scan(&m.Digest, &m.MediaType, &m.Size, &m.Content, &m.ArtifactType,
		&m.ConfigMediaType, &subject, &annotations, &m.OS, &m.Architecture, &created); err != nil {
		return nil, err
	}
	m.Subject = digest.Digest(subject.String)
	m.CreatedAt = fromNanos(created)
	var err error
	m.Annotations, err = decodeAnnotations(annotations)
	return m, err
}

// PutManifest stores m and points tag at it in one write transaction. Every reference is
// checked first, and all missing ones are reported together with nothing stored.
func (s *Store) PutManifest(ctx context.Context, m *meta.Manifest, tag string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		repoID, err := ensureRepository(ctx, tx, m.Repository, now)
		if err != nil {
			return err
		}
		if err := checkReferences(ctx, tx, repoID, m.References); err != nil {
			return err
		}
		if err := insertManifest(ctx, tx, repoID, m, now); err != nil {
			return err
		}
		if tag == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tags (repo_id, name, digest, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
			repoID, tag, m.Digest, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put manifest %s@%s: %w", m.Repository, m.Digest, err)
	}
	return nil
}

// ensureRepository returns the id of repository, creating its row if needed. The conflict
// clause updates rather than does nothing so that RETURNING yields an existing row too.
func ensureRepository(ctx context.Context, tx *sql.Tx, repository string, now int64) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO repositories (name, created_at, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at
		RETURNING id`, repository, now, now).Scan(&id)
	return id, err
}

var referencePresentSQL = map[meta.RefKind]string{
	meta.RefBlob:     `SELECT EXISTS (SELECT 1 FROM repository_blobs WHERE repo_id = ? AND digest = ?)`,
	meta.RefManifest: `SELECT EXISTS (SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?)`,
}

// checkReferences returns *meta.MissingReferencesError naming every reference the
// repository does not hold.
func checkReferences(ctx context.Context, tx *sql.Tx, repoID int64, refs []meta.Reference) error {
	var missing []digest.Digest
	seen := make(map[meta.Reference]bool, len(refs))
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		query, ok := referencePresentSQL[ref.Kind]
		if !ok {
			return fmt.Errorf("reference %s: unknown kind %d", ref.Digest, ref.Kind)
		}
		var present bool
		if err := tx.QueryRowContext(ctx, query, repoID, ref.Digest).Scan(&present); err != nil {
			return err
		}
		if !present {
			missing = append(missing, ref.Digest)
		}
	}
	if len(missing) > 0 {
		return &meta.MissingReferencesError{Digests: missing}
	}
	return nil
}

// insertManifest stores m with its references. A re-push of a stored digest (same bytes,
// same references) only refreshes updated_at; its reference inserts are no-ops.
func insertManifest(ctx context.Context, tx *sql.Tx, repoID int64, m *meta.Manifest, now int64) error {
	annotations, err := encodeAnnotations(m.Annotations)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO manifests (repo_id, digest, media_type, size, content,
			artifact_type, config_media_type, subject, annotations, os, architecture, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO UPDATE SET updated_at = excluded.updated_at`,
		repoID, m.Digest, m.MediaType, m.Size, m.Content, m.ArtifactType, m.ConfigMediaType,
		sql.NullString{String: m.Subject.String(), Valid: m.Subject != ""}, annotations,
		m.OS, m.Architecture, now, now); err != nil {
		return err
	}
	for _, ref := range m.References {
		if _, err := tx.ExecContext(ctx, `INSERT INTO manifest_references (repo_id, manifest_digest, ref_digest, kind)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, repoID, m.Digest, ref.Digest, ref.Kind); err != nil {
			return err
		}
	}
	return nil
}

// DeleteManifest removes a manifest; its references and the tags pointing at it go with
// it in the same statement (ON DELETE CASCADE).
func (s *Store) DeleteManifest(ctx context.Context, repository string, d digest.Digest) error {
	err := deleteOne(ctx, s.w, meta.ErrManifestNotFound,
		`DELETE FROM manifests WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`,
		repository, d)
	if err != nil {
		return fmt.Errorf("sqlite: delete manifest %s@%s: %w", repository, d, err)
	}
	return nil
}

// DeleteTag removes a tag; the manifest stays.
func (s *Store) DeleteTag(ctx context.Context, repository, tag string) error {
	err := deleteOne(ctx, s.w, meta.ErrTagNotFound,
		`DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND name = ?`,
		repository, tag)
	if err != nil {
		return fmt.Errorf("sqlite: delete tag %s:%s: %w", repository, tag, err)
	}
	return nil
}

// deleteOne runs a single-row DELETE and returns notFound when it matched nothing.
func deleteOne(ctx context.Context, db *sql.DB, notFound error, query string, args ...any) error {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = notFound
	}
	return err
}

func encodeAnnotations(a map[string]string) (sql.NullString, error) {
	if len(a) == 0 {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(a)
	return sql.NullString{String: string(b), Valid: true}, err
}

func decodeAnnotations(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var a map[string]string
	if err := json.Unmarshal([]byte(s.String), &a); err != nil {
		return nil, fmt.Errorf("decode annotations: %w", err)
	}
	return a, nil
}

func fromNanos(n int64) time.Time {
	return time.Unix(0, n).UTC()
}
