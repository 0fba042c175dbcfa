package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

const manifestColumns = `m.digest, m.media_type, m.size, m.content, m.artifact_type,
	m.config_media_type, m.subject, m.annotations, m.os, m.architecture, m.created_at`

// The two manifest reads are single indexed lookups: repositories by unique (registry,
// name), then tags and manifests by primary key, so their cost does not grow with the tag
// count. The readEnabled attributes on the way come back in the same row. pgx prepares
// them once per connection.
const (
	manifestByDigestSQL = `SELECT ` + manifestColumns + `,
		NOT (r.read_enabled AND m.read_enabled)
		FROM repositories r JOIN manifests m ON m.repo_id = r.id
		WHERE r.registry_id = $1 AND r.name = $2 AND m.digest = $3`
	manifestByTagSQL = `SELECT ` + manifestColumns + `,
		NOT (r.read_enabled AND t.read_enabled AND m.read_enabled)
		FROM repositories r
		JOIN tags t ON t.repo_id = r.id
		JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
		WHERE r.registry_id = $1 AND r.name = $2 AND t.name = $3`
)

// repoString formats repo for error messages.
func repoString(repo meta.Repo) string {
	return repo.Registry + "/" + repo.Name
}

// Manifest returns a manifest by digest. References are not loaded (nil): serving a
// manifest does not need them.
func (s *Store) Manifest(ctx context.Context, repo meta.Repo, d digest.Digest) (*meta.Manifest, error) {
	m, err := scanManifest(s.pool.QueryRow(ctx, manifestByDigestSQL, repo.Registry, repo.Name, string(d)), repo)
	if errors.Is(err, pgx.ErrNoRows) {
		err = meta.ErrManifestNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: manifest %s@%s: %w", repoString(repo), d, err)
	}
	return m, nil
}

// TaggedManifest returns the manifest tag points at. References are not loaded (nil).
func (s *Store) TaggedManifest(ctx context.Context, repo meta.Repo, tag string) (*meta.Manifest, error) {
	m, err := scanManifest(s.pool.QueryRow(ctx, manifestByTagSQL, repo.Registry, repo.Name, tag), repo)
	if errors.Is(err, pgx.ErrNoRows) {
		err = meta.ErrTagNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: manifest %s:%s: %w", repoString(repo), tag, err)
	}
	return m, nil
}

func scanManifest(row pgx.Row, repo meta.Repo) (*meta.Manifest, error) {
	m := &meta.Manifest{Repo: repo}
	var d string
	var subject *string
	var annotations []byte
	var created int64
	if err := row.Scan(&d, &m.MediaType, &m.Size, &m.Content, &m.ArtifactType,
		&m.ConfigMediaType, &subject, &annotations, &m.OS, &m.Architecture, &created, &m.ReadDisabled); err != nil {
		return nil, err
	}
	m.Digest = digest.Digest(d)
	if subject != nil {
		m.Subject = digest.Digest(*subject)
	}
	m.CreatedAt = contentTime(created)
	var err error
	m.Annotations, err = decodeAnnotations(annotations)
	return m, err
}

// PutManifest stores m and points tag at it in one transaction, which holds the
// repository's lock throughout and locks the blobs it references before checking them
// (see the package comment). Every reference is checked first, and all missing ones are
// reported together with nothing stored.
func (s *Store) PutManifest(ctx context.Context, m *meta.Manifest, tag string) error {
	annotations, err := encodeAnnotations(m.Annotations)
	if err != nil {
		return fmt.Errorf("postgres: put manifest %s@%s: %w", repoString(m.Repo), m.Digest, err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := time.Now().UnixNano()
		repoID, err := ensureRepository(ctx, tx, m.Repo, now)
		if err != nil {
			return err
		}
		if err := refuseIf(ctx, tx, pushLockedSQL, repoID, tag); err != nil {
			return err
		}
		if err := checkReferences(ctx, tx, repoID, m.References); err != nil {
			return err
		}
		if err := insertManifest(ctx, tx, repoID, m, annotations, now); err != nil {
			return err
		}
		if tag == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO tags (repo_id, name, digest, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
			repoID, tag, string(m.Digest), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: put manifest %s@%s: %w", repoString(m.Repo), m.Digest, err)
	}
	return nil
}

// pushLockedSQL says whether a push is refused: the repository, or the tag it would
// write, is write-locked. It takes the repository id and the tag.
const pushLockedSQL = `SELECT EXISTS (SELECT 1 FROM repositories WHERE id = $1 AND NOT write_enabled)
	OR EXISTS (SELECT 1 FROM tags WHERE repo_id = $1 AND name = $2 AND NOT write_enabled)`

// refuseIf runs a query answering one boolean and returns meta.ErrDisallowed if it is true.
func refuseIf(ctx context.Context, q queryer, query string, args ...any) error {
	var refused bool
	if err := q.QueryRow(ctx, query, args...).Scan(&refused); err != nil {
		return err
	}
	if refused {
		return meta.ErrDisallowed
	}
	return nil
}

// ensureRepository returns the id of repo, creating its row if needed, and holds the
// row's lock (the repository's write lock) until the transaction ends. The conflict
// clause updates rather than does nothing so that RETURNING yields an existing row too,
// locked: a linked blob or pushed manifest is a change of the repository (updated_at).
func ensureRepository(ctx context.Context, tx pgx.Tx, repo meta.Repo, now int64) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO repositories (registry_id, name, created_at, updated_at)
		VALUES ($1, $2, $3, $3)
		ON CONFLICT (registry_id, name) DO UPDATE SET updated_at = excluded.updated_at
		RETURNING id`, repo.Registry, repo.Name, now).Scan(&id)
	return id, err
}

// lockRepositorySQL finds a repository and takes its write lock; it takes the registry id
// and the name.
const lockRepositorySQL = `SELECT id FROM repositories WHERE registry_id = $1 AND name = $2 FOR NO KEY UPDATE`

// Reference checks, each answering the digests of one kind that the repository holds.
// Blob links are locked against ReleaseBlob (FOR KEY SHARE does not stop a concurrent
// re-link, which only refreshes the link); child manifests are safe under the
// repository's lock.
const (
	blobsPresentSQL = `SELECT digest FROM repository_blobs WHERE repo_id = $1 AND digest = ANY ($2)
		ORDER BY digest FOR KEY SHARE`
	manifestsPresentSQL = `SELECT digest FROM manifests WHERE repo_id = $1 AND digest = ANY ($2)`
)

// checkReferences returns *meta.MissingReferencesError naming every reference the
// repository does not hold, in the order of refs.
func checkReferences(ctx context.Context, tx pgx.Tx, repoID int64, refs []meta.Reference) error {
	var blobs, manifests []string
	for _, ref := range refs {
		switch ref.Kind {
		case meta.RefBlob:
			blobs = append(blobs, string(ref.Digest))
		case meta.RefManifest:
			manifests = append(manifests, string(ref.Digest))
		default:
			return fmt.Errorf("reference %s: unknown kind %d", ref.Digest, ref.Kind)
		}
	}
	present := map[meta.Reference]bool{}
	for _, c := range []struct {
		kind    meta.RefKind
		query   string
		digests []string
	}{{meta.RefBlob, blobsPresentSQL, blobs}, {meta.RefManifest, manifestsPresentSQL, manifests}} {
		if len(c.digests) == 0 {
			continue
		}
		found, err := queryAll[string](tx.Query(ctx, c.query, repoID, c.digests))
		if err != nil {
			return err
		}
		for _, d := range found {
			present[meta.Reference{Digest: digest.Digest(d), Kind: c.kind}] = true
		}
	}
	var missing []digest.Digest
	for _, ref := range refs {
		if !present[ref] {
			present[ref] = true // report each once
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
func insertManifest(ctx context.Context, tx pgx.Tx, repoID int64, m *meta.Manifest, annotations []byte, now int64) error {
	var subject *string
	if m.Subject != "" {
		s := string(m.Subject)
		subject = &s
	}
	if _, err := tx.Exec(ctx, `INSERT INTO manifests (repo_id, digest, media_type, size, content,
			artifact_type, config_media_type, subject, annotations, os, architecture, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
		ON CONFLICT (repo_id, digest) DO UPDATE SET updated_at =
			CASE WHEN manifests.write_enabled THEN excluded.updated_at ELSE manifests.updated_at END`,
		repoID, string(m.Digest), m.MediaType, m.Size, m.Content, m.ArtifactType, m.ConfigMediaType,
		subject, annotations, m.OS, m.Architecture, now); err != nil {
		return err
	}
	if len(m.References) == 0 {
		return nil
	}
	digests := make([]string, len(m.References))
	kinds := make([]int16, len(m.References))
	for i, ref := range m.References {
		digests[i], kinds[i] = string(ref.Digest), int16(ref.Kind)
	}
	_, err := tx.Exec(ctx, `INSERT INTO manifest_references (repo_id, manifest_digest, ref_digest, kind)
		SELECT $1, $2, r.digest, r.kind FROM unnest($3::text[], $4::smallint[]) AS r (digest, kind)
		ON CONFLICT DO NOTHING`, repoID, string(m.Digest), digests, kinds)
	return err
}

// manifestLockedSQL finds a manifest and says whether deleting it is refused: the
// repository is write-locked, or the manifest or a tag naming it is locked. It takes the
// repository id and the digest.
const manifestLockedSQL = `SELECT NOT (r.write_enabled AND m.write_enabled AND m.delete_enabled)
		OR EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = r.id AND t.digest = m.digest
			AND NOT (t.write_enabled AND t.delete_enabled))
	FROM repositories r JOIN manifests m ON m.repo_id = r.id
	WHERE r.id = $1 AND m.digest = $2`

// tagLockedSQL finds a tag and says whether deleting it is refused; it takes the
// repository id and the tag.
const tagLockedSQL = `SELECT NOT (r.write_enabled AND t.write_enabled AND t.delete_enabled)
	FROM repositories r JOIN tags t ON t.repo_id = r.id
	WHERE r.id = $1 AND t.name = $2`

// DeleteManifest removes a manifest unless it is locked; its references and the tags
// pointing at it go with it in the same statement (ON DELETE CASCADE).
func (s *Store) DeleteManifest(ctx context.Context, repo meta.Repo, d digest.Digest) error {
	err := s.deleteUnlocked(ctx, meta.ErrManifestNotFound, manifestLockedSQL,
		`DELETE FROM manifests WHERE repo_id = $1 AND digest = $2`, repo, string(d))
	if err != nil {
		return fmt.Errorf("postgres: delete manifest %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// DeleteTag removes a tag unless it is locked; the manifest stays.
func (s *Store) DeleteTag(ctx context.Context, repo meta.Repo, tag string) error {
	err := s.deleteUnlocked(ctx, meta.ErrTagNotFound, tagLockedSQL,
		`DELETE FROM tags WHERE repo_id = $1 AND name = $2`, repo, tag)
	if err != nil {
		return fmt.Errorf("postgres: delete tag %s:%s: %w", repoString(repo), tag, err)
	}
	return nil
}

// repositoryLockedSQL says whether deleting a repository is refused: it is locked, or
// something in it is. It takes the repository id.
const repositoryLockedSQL = `SELECT EXISTS (SELECT 1 FROM repositories WHERE id = $1 AND NOT (write_enabled AND delete_enabled))
	OR EXISTS (SELECT 1 FROM manifests WHERE repo_id = $1 AND NOT (write_enabled AND delete_enabled))
	OR EXISTS (SELECT 1 FROM tags WHERE repo_id = $1 AND NOT (write_enabled AND delete_enabled))`

// DeleteRepository removes repo's row in one transaction, under its lock, after reading
// what it held; ON DELETE CASCADE takes its manifests (with their references and tags) and
// its blob links. A row that holds nothing (every manifest and link already deleted) goes
// too, but is reported as ErrRepositoryNotFound, like an unknown name. A repository that
// holds something is kept, and meta.ErrDisallowed returned, when it or anything in it is
// locked.
func (s *Store) DeleteRepository(ctx context.Context, repo meta.Repo) (meta.RepositoryDeletion, error) {
	var del meta.RepositoryDeletion
	var held bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		del, held = meta.RepositoryDeletion{}, false
		var id int64
		err := tx.QueryRow(ctx, lockRepositorySQL, repo.Registry, repo.Name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return meta.ErrRepositoryNotFound
		}
		if err != nil {
			return err
		}
		manifests, err := queryAll[string](tx.Query(ctx, `SELECT digest FROM manifests WHERE repo_id = $1 ORDER BY digest`, id))
		if err != nil {
			return err
		}
		for _, d := range manifests {
			del.Manifests = append(del.Manifests, digest.Digest(d))
		}
		if del.Tags, err = queryAll[string](tx.Query(ctx, `SELECT name FROM tags WHERE repo_id = $1 ORDER BY name`, id)); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM manifests WHERE repo_id = $1)
			OR EXISTS (SELECT 1 FROM repository_blobs WHERE repo_id = $1)`, id).Scan(&held); err != nil {
			return err
		}
		if held {
			if err := refuseIf(ctx, tx, repositoryLockedSQL, id); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM repositories WHERE id = $1`, id)
		return err
	})
	if err == nil && !held {
		err = meta.ErrRepositoryNotFound
	}
	if err != nil {
		return meta.RepositoryDeletion{}, fmt.Errorf("postgres: delete repository %s: %w", repoString(repo), err)
	}
	return del, nil
}

// DeleteRegistry removes every repository of registry in one statement (and so one
// transaction); the cascades take their content, as for DeleteRepository.
func (s *Store) DeleteRegistry(ctx context.Context, registry string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM repositories WHERE registry_id = $1`, registry); err != nil {
		return fmt.Errorf("postgres: delete registry %s: %w", registry, err)
	}
	return nil
}

// deleteUnlocked deletes one row in one transaction: it takes the repository's lock,
// then find answers whether the row is locked (no row: notFound) and del deletes it. find
// runs after the lock is held, so it sees every change committed before. Both take the
// repository id and key.
func (s *Store) deleteUnlocked(ctx context.Context, notFound error, find, del string, repo meta.Repo, key string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var repoID int64
		err := tx.QueryRow(ctx, lockRepositorySQL, repo.Registry, repo.Name).Scan(&repoID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		var locked bool
		err = tx.QueryRow(ctx, find, repoID, key).Scan(&locked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound
		case err != nil:
			return err
		case locked:
			return meta.ErrDisallowed
		}
		_, err = tx.Exec(ctx, del, repoID, key)
		return err
	})
}

// encodeAnnotations is the jsonb of a, or NULL when a is empty.
func encodeAnnotations(a map[string]string) ([]byte, error) {
	if len(a) == 0 {
		return nil, nil
	}
	return json.Marshal(a)
}

func decodeAnnotations(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	var a map[string]string
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode annotations: %w", err)
	}
	return a, nil
}

// contentTime is a content timestamp (never zero), as the SQLite store reads it.
func contentTime(n int64) time.Time {
	return time.Unix(0, n).UTC()
}
