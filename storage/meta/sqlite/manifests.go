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

// The two manifest reads are single indexed lookups: repositories by unique (registry,
// name), then tags and manifests by primary key, so their cost does not grow with the tag
// count. The readEnabled attributes on the way come back in the same row.
const (
	manifestByDigestSQL = `SELECT ` + manifestColumns + `,
		(r.read_enabled = 0 OR m.read_enabled = 0)
		FROM repositories r JOIN manifests m ON m.repo_id = r.id
		WHERE r.registry_id = ? AND r.name = ? AND m.digest = ?`
	manifestByTagSQL = `SELECT ` + manifestColumns + `,
		(r.read_enabled = 0 OR t.read_enabled = 0 OR m.read_enabled = 0)
		FROM repositories r
		JOIN tags t ON t.repo_id = r.id
		JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
		WHERE r.registry_id = ? AND r.name = ? AND t.name = ?`
)

// repoIDSQL selects the id of a repository; it takes the registry id and the name.
const repoIDSQL = `SELECT id FROM repositories WHERE registry_id = ? AND name = ?`

// repoString formats repo for error messages.
func repoString(repo meta.Repo) string {
	return repo.Registry + "/" + repo.Name
}

// Manifest returns a manifest by digest. References are not loaded (nil): serving a
// manifest does not need them.
func (s *Store) Manifest(ctx context.Context, repo meta.Repo, d digest.Digest) (*meta.Manifest, error) {
	m, err := scanManifest(s.hot.manifest.QueryRowContext(ctx, repo.Registry, repo.Name, d), repo)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrManifestNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifest %s@%s: %w", repoString(repo), d, err)
	}
	return m, nil
}

// TaggedManifest returns the manifest tag points at. References are not loaded (nil).
func (s *Store) TaggedManifest(ctx context.Context, repo meta.Repo, tag string) (*meta.Manifest, error) {
	m, err := scanManifest(s.hot.taggedManifest.QueryRowContext(ctx, repo.Registry, repo.Name, tag), repo)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrTagNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifest %s:%s: %w", repoString(repo), tag, err)
	}
	return m, nil
}

func scanManifest(row *sql.Row, repo meta.Repo) (*meta.Manifest, error) {
	m := &meta.Manifest{Repo: repo}
	var subject, annotations sql.NullString
	var created int64
	if err := row.Scan(&m.Digest, &m.MediaType, &m.Size, &m.Content, &m.ArtifactType,
		&m.ConfigMediaType, &subject, &annotations, &m.OS, &m.Architecture, &created, &m.ReadDisabled); err != nil {
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
		repoID, err := ensureRepository(ctx, tx, m.Repo, now)
		if err != nil {
			return err
		}
		if err := refuseIf(ctx, tx, pushLockedSQL, repoID, repoID, tag); err != nil {
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
		return fmt.Errorf("sqlite: put manifest %s@%s: %w", repoString(m.Repo), m.Digest, err)
	}
	return nil
}

// pushLockedSQL says whether a push is refused: the repository, or the tag it would
// write, is write-locked. It takes the repository id twice and the tag.
const pushLockedSQL = `SELECT EXISTS (SELECT 1 FROM repositories WHERE id = ? AND write_enabled = 0)
	OR EXISTS (SELECT 1 FROM tags WHERE repo_id = ? AND name = ? AND write_enabled = 0)`

// refuseIf runs a query answering one boolean and returns meta.ErrDisallowed if it is true.
func refuseIf(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	var refused bool
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&refused); err != nil {
		return err
	}
	if refused {
		return meta.ErrDisallowed
	}
	return nil
}

// ensureRepository returns the id of repo, creating its row if needed. The conflict
// clause updates rather than does nothing so that RETURNING yields an existing row too.
func ensureRepository(ctx context.Context, tx *sql.Tx, repo meta.Repo, now int64) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO repositories (registry_id, name, created_at, updated_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (registry_id, name) DO UPDATE SET updated_at = excluded.updated_at
		RETURNING id`, repo.Registry, repo.Name, now, now).Scan(&id)
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
// same references) only refreshes updated_at, unless the manifest is write-locked; its
// reference inserts are no-ops.
func insertManifest(ctx context.Context, tx *sql.Tx, repoID int64, m *meta.Manifest, now int64) error {
	annotations, err := encodeAnnotations(m.Annotations)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO manifests (repo_id, digest, media_type, size, content,
			artifact_type, config_media_type, subject, annotations, os, architecture, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO UPDATE SET updated_at =
			CASE WHEN manifests.write_enabled = 1 THEN excluded.updated_at ELSE manifests.updated_at END`,
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

// manifestLockedSQL finds a manifest and says whether deleting it is refused: the
// repository is write-locked, or the manifest or a tag naming it is locked. It takes the
// registry id, the name and the digest.
const manifestLockedSQL = `SELECT r.id, (r.write_enabled = 0 OR m.write_enabled = 0 OR m.delete_enabled = 0
		OR EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = r.id AND t.digest = m.digest
			AND (t.write_enabled = 0 OR t.delete_enabled = 0)))
	FROM repositories r JOIN manifests m ON m.repo_id = r.id
	WHERE r.registry_id = ? AND r.name = ? AND m.digest = ?`

// tagLockedSQL finds a tag and says whether deleting it is refused; it takes the registry
// id, the name and the tag.
const tagLockedSQL = `SELECT r.id, (r.write_enabled = 0 OR t.write_enabled = 0 OR t.delete_enabled = 0)
	FROM repositories r JOIN tags t ON t.repo_id = r.id
	WHERE r.registry_id = ? AND r.name = ? AND t.name = ?`

// DeleteManifest removes a manifest unless it is locked; its references and the tags
// pointing at it go with it in the same statement (ON DELETE CASCADE).
func (s *Store) DeleteManifest(ctx context.Context, repo meta.Repo, d digest.Digest) error {
	err := deleteUnlocked(ctx, s.w, meta.ErrManifestNotFound, manifestLockedSQL,
		`DELETE FROM manifests WHERE repo_id = ? AND digest = ?`, repo, d)
	if err != nil {
		return fmt.Errorf("sqlite: delete manifest %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// DeleteTag removes a tag unless it is locked; the manifest stays.
func (s *Store) DeleteTag(ctx context.Context, repo meta.Repo, tag string) error {
	err := deleteUnlocked(ctx, s.w, meta.ErrTagNotFound, tagLockedSQL,
		`DELETE FROM tags WHERE repo_id = ? AND name = ?`, repo, tag)
	if err != nil {
		return fmt.Errorf("sqlite: delete tag %s:%s: %w", repoString(repo), tag, err)
	}
	return nil
}

// repositoryLockedSQL says whether deleting a repository is refused: it is locked, or
// something in it is. It takes the repository id three times.
const repositoryLockedSQL = `SELECT EXISTS (SELECT 1 FROM repositories WHERE id = ? AND (write_enabled = 0 OR delete_enabled = 0))
	OR EXISTS (SELECT 1 FROM manifests WHERE repo_id = ? AND (write_enabled = 0 OR delete_enabled = 0))
	OR EXISTS (SELECT 1 FROM tags WHERE repo_id = ? AND (write_enabled = 0 OR delete_enabled = 0))`

// DeleteRepository removes repo's row in one write transaction, after reading what it
// held; ON DELETE CASCADE takes its manifests (with their references and tags) and its
// blob links. A row that holds nothing (every manifest and link already deleted) goes too,
// but is reported as ErrRepositoryNotFound, like an unknown name. A repository that holds
// something is kept, and meta.ErrDisallowed returned, when it or anything in it is locked.
func (s *Store) DeleteRepository(ctx context.Context, repo meta.Repo) (meta.RepositoryDeletion, error) {
	var del meta.RepositoryDeletion
	var held bool
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, repoIDSQL, repo.Registry, repo.Name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return meta.ErrRepositoryNotFound
		}
		if err != nil {
			return err
		}
		if del.Manifests, err = queryAll[digest.Digest](tx.QueryContext(ctx,
			`SELECT digest FROM manifests WHERE repo_id = ? ORDER BY digest`, id)); err != nil {
			return err
		}
		if del.Tags, err = queryAll[string](tx.QueryContext(ctx,
			`SELECT name FROM tags WHERE repo_id = ? ORDER BY name`, id)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM manifests WHERE repo_id = ?)
			OR EXISTS (SELECT 1 FROM repository_blobs WHERE repo_id = ?)`, id, id).Scan(&held); err != nil {
			return err
		}
		if held {
			if err := refuseIf(ctx, tx, repositoryLockedSQL, id, id, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM repositories WHERE id = ?`, id)
		return err
	})
	if err == nil && !held {
		err = meta.ErrRepositoryNotFound
	}
	if err != nil {
		return meta.RepositoryDeletion{}, fmt.Errorf("sqlite: delete repository %s: %w", repoString(repo), err)
	}
	return del, nil
}

// DeleteRegistry removes every repository of registry in one statement (and so one
// transaction); the cascades take their content, as for DeleteRepository.
func (s *Store) DeleteRegistry(ctx context.Context, registry string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM repositories WHERE registry_id = ?`, registry); err != nil {
		return fmt.Errorf("sqlite: delete registry %s: %w", registry, err)
	}
	return nil
}

// deleteUnlocked deletes one row in one write transaction: find answers the repository
// id and whether the row is locked (no row: notFound), del deletes it. Both take the
// repository's registry id and name, then key; del takes the repository id and key.
func deleteUnlocked(ctx context.Context, db *sql.DB, notFound error, find, del string, repo meta.Repo, key any) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		var repoID int64
		var locked bool
		err := tx.QueryRowContext(ctx, find, repo.Registry, repo.Name, key).Scan(&repoID, &locked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return notFound
		case err != nil:
			return err
		case locked:
			return meta.ErrDisallowed
		}
		_, err = tx.ExecContext(ctx, del, repoID, key)
		return err
	})
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
