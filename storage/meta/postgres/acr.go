package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The /acr/v1 metadata (meta.ACR). A listing runs in one read-only REPEATABLE READ
// transaction, so that the repository lookup, the cursor and the page come from one
// snapshot.

var _ meta.ACR = (*Store)(nil)

// attributes lists the four attribute columns of a table alias, in meta.Attributes order.
func attributes(alias string) string {
	return alias + ".delete_enabled, " + alias + ".write_enabled, " + alias + ".read_enabled, " + alias + ".list_enabled"
}

// repositoryInfoSQL takes the registry id and the name.
var repositoryInfoSQL = `SELECT r.created_at, r.updated_at, ` + attributes("r") + `,
	(SELECT COUNT(*) FROM manifests m WHERE m.repo_id = r.id),
	(SELECT COUNT(*) FROM tags t WHERE t.repo_id = r.id)
	FROM repositories r WHERE r.registry_id = $1 AND r.name = $2`

var tagInfoColumns = `t.name, t.digest, t.created_at, t.updated_at, ` + attributes("t")

// tagInfoSQL takes the registry id, the name and the tag.
var tagInfoSQL = `SELECT ` + tagInfoColumns + `
	FROM repositories r JOIN tags t ON t.repo_id = r.id
	WHERE r.registry_id = $1 AND r.name = $2 AND t.name = $3`

// manifestInfoColumns reads a manifest row m with, in correlated subqueries on primary
// keys, its image size, its listed tags (in byte order, from the index on digest) and,
// for an index, its children's platforms (by digest).
var manifestInfoColumns = `m.digest, m.media_type, m.config_media_type, m.size, m.os, m.architecture,
	m.created_at, m.updated_at, ` + attributes("m") + `,
	m.size
	+ COALESCE((SELECT SUM(b.size) FROM manifest_references x
		JOIN repository_blobs b ON b.repo_id = x.repo_id AND b.digest = x.ref_digest
		WHERE x.repo_id = m.repo_id AND x.manifest_digest = m.digest AND x.kind = ` + refBlob + `), 0)::bigint
	+ COALESCE((SELECT SUM(c.size) FROM manifest_references x
		JOIN manifests c ON c.repo_id = x.repo_id AND c.digest = x.ref_digest
		WHERE x.repo_id = m.repo_id AND x.manifest_digest = m.digest AND x.kind = ` + refManifest + `), 0)::bigint,
	ARRAY(SELECT t.name FROM tags t
		WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND t.list_enabled ORDER BY t.name),
	(SELECT json_agg(json_build_array(x.ref_digest, COALESCE(c.os, ''), COALESCE(c.architecture, '')) ORDER BY x.ref_digest)
		FROM manifest_references x
		LEFT JOIN manifests c ON c.repo_id = x.repo_id AND c.digest = x.ref_digest
		WHERE x.repo_id = m.repo_id AND x.manifest_digest = m.digest AND x.kind = ` + refManifest + `)`

var (
	refBlob     = strconv.Itoa(int(meta.RefBlob))
	refManifest = strconv.Itoa(int(meta.RefManifest))
)

// manifestInfoSQL takes the registry id, the name and the digest.
var manifestInfoSQL = `SELECT ` + manifestInfoColumns + `
	FROM repositories r JOIN manifests m ON m.repo_id = r.id
	WHERE r.registry_id = $1 AND r.name = $2 AND m.digest = $3`

// RepositoryInfo describes repo; a repository without manifests is not found.
func (s *Store) RepositoryInfo(ctx context.Context, repo meta.Repo) (*meta.RepositoryInfo, error) {
	info := &meta.RepositoryInfo{Repo: repo}
	var created, updated int64
	a := &info.Attributes
	err := s.pool.QueryRow(ctx, repositoryInfoSQL, repo.Registry, repo.Name).Scan(&created, &updated,
		&a.DeleteEnabled, &a.WriteEnabled, &a.ReadEnabled, &a.ListEnabled, &info.ManifestCount, &info.TagCount)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && info.ManifestCount == 0 {
		err = meta.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: repository info %s: %w", repoString(repo), err)
	}
	info.CreatedAt, info.UpdatedAt = contentTime(created), contentTime(updated)
	return info, nil
}

// TagInfo describes a tag, listed or not.
func (s *Store) TagInfo(ctx context.Context, repo meta.Repo, tag string) (*meta.TagInfo, error) {
	var info meta.TagInfo
	err := scanTagInfo(s.pool.QueryRow(ctx, tagInfoSQL, repo.Registry, repo.Name, tag), &info)
	if errors.Is(err, pgx.ErrNoRows) {
		err = meta.ErrTagNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: tag info %s:%s: %w", repoString(repo), tag, err)
	}
	return &info, nil
}

// ManifestInfo describes a manifest, listed or not.
func (s *Store) ManifestInfo(ctx context.Context, repo meta.Repo, d digest.Digest) (*meta.ManifestInfo, error) {
	var info meta.ManifestInfo
	err := scanManifestInfo(s.pool.QueryRow(ctx, manifestInfoSQL, repo.Registry, repo.Name, string(d)), &info)
	if errors.Is(err, pgx.ErrNoRows) {
		err = meta.ErrManifestNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: manifest info %s@%s: %w", repoString(repo), d, err)
	}
	return &info, nil
}

func scanTagInfo(row scanner, info *meta.TagInfo) error {
	var created, updated int64
	var d string
	a := &info.Attributes
	if err := row.Scan(&info.Name, &d, &created, &updated,
		&a.DeleteEnabled, &a.WriteEnabled, &a.ReadEnabled, &a.ListEnabled); err != nil {
		return err
	}
	info.Digest = digest.Digest(d)
	info.CreatedAt, info.UpdatedAt = contentTime(created), contentTime(updated)
	return nil
}

func scanManifestInfo(row scanner, info *meta.ManifestInfo) error {
	var created, updated int64
	var d string
	var children []byte
	a := &info.Attributes
	if err := row.Scan(&d, &info.MediaType, &info.ConfigMediaType, &info.Size, &info.OS,
		&info.Architecture, &created, &updated, &a.DeleteEnabled, &a.WriteEnabled, &a.ReadEnabled,
		&a.ListEnabled, &info.ImageSize, &info.Tags, &children); err != nil {
		return err
	}
	info.Digest = digest.Digest(d)
	info.CreatedAt, info.UpdatedAt = contentTime(created), contentTime(updated)
	if len(info.Tags) == 0 {
		info.Tags = nil
	}
	if children == nil {
		return nil
	}
	var platforms [][3]string
	if err := json.Unmarshal(children, &platforms); err != nil {
		return fmt.Errorf("decode children: %w", err)
	}
	for _, p := range platforms {
		info.Children = append(info.Children, meta.Platform{Digest: digest.Digest(p[0]), OS: p[1], Architecture: p[2]})
	}
	return nil
}

// listing is how one table pages: its rows of a repository, listed ones only, by key or
// by (updated_at, key).
type listing struct {
	table, alias, key string // "tags", "t", "name"
	columns           string
	notFound          error // when ListOptions.After names nothing in a time order
}

var (
	tagListing = listing{table: "tags", alias: "t", key: "name", columns: tagInfoColumns,
		notFound: meta.ErrTagNotFound}
	manifestListing = listing{table: "manifests", alias: "m", key: "digest", columns: manifestInfoColumns,
		notFound: meta.ErrManifestNotFound}
)

// query returns the page query and its arguments. The repository's rows come out of the
// primary key (repo_id, key) or the index (repo_id, updated_at, key) in order, forwards
// or backwards, starting at the cursor: no sort, however many rows precede it.
func (l listing) query(repoID int64, opts meta.ListOptions, cursorTime int64) (string, []any) {
	a := l.alias
	args := []any{repoID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q := `SELECT ` + l.columns + ` FROM ` + l.table + ` ` + a + ` WHERE ` + a + `.repo_id = $1 AND ` + a + `.list_enabled`
	if opts.Digest != "" && l.table == "tags" {
		q += ` AND t.digest = ` + arg(string(opts.Digest))
	}
	key, updated := a+"."+l.key, a+".updated_at"
	switch opts.Order {
	case meta.OrderTimeAsc, meta.OrderTimeDesc:
		op, dir := ">", ""
		if opts.Order == meta.OrderTimeDesc {
			op, dir = "<", " DESC"
		}
		if opts.After != "" {
			q += ` AND (` + updated + `, ` + key + `) ` + op + ` (` + arg(cursorTime) + `, ` + arg(opts.After) + `)`
		}
		q += ` ORDER BY ` + updated + dir + `, ` + key + dir
	default:
		q += ` AND ` + key + ` > ` + arg(opts.After) + ` ORDER BY ` + key
	}
	q += ` LIMIT ` + arg(sqlLimit(opts.Limit))
	return q, args
}

// TagInfos lists repo's listed tags.
func (s *Store) TagInfos(ctx context.Context, repo meta.Repo, opts meta.ListOptions) ([]meta.TagInfo, error) {
	var out []meta.TagInfo
	err := s.list(ctx, tagListing, repo, opts, func(rows pgx.Rows) error {
		var info meta.TagInfo
		if err := scanTagInfo(rows, &info); err != nil {
			return err
		}
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: tag infos %s: %w", repoString(repo), err)
	}
	return out, nil
}

// ManifestInfos lists repo's listed manifests.
func (s *Store) ManifestInfos(ctx context.Context, repo meta.Repo, opts meta.ListOptions) ([]meta.ManifestInfo, error) {
	var out []meta.ManifestInfo
	err := s.list(ctx, manifestListing, repo, opts, func(rows pgx.Rows) error {
		var info meta.ManifestInfo
		if err := scanManifestInfo(rows, &info); err != nil {
			return err
		}
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: manifest infos %s: %w", repoString(repo), err)
	}
	return out, nil
}

// list runs one page of l in a read-only transaction, calling scan for each row.
func (s *Store) list(ctx context.Context, l listing, repo meta.Repo, opts meta.ListOptions, scan func(pgx.Rows) error) error {
	return s.readTx(ctx, func(tx pgx.Tx) error {
		var repoID int64
		var held bool
		err := tx.QueryRow(ctx, `SELECT id, EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)
			FROM repositories r WHERE registry_id = $1 AND name = $2`, repo.Registry, repo.Name).Scan(&repoID, &held)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !held {
			return meta.ErrRepositoryNotFound
		}
		if err != nil {
			return err
		}
		var cursorTime int64
		if opts.After != "" && opts.Order != meta.OrderName {
			err := tx.QueryRow(ctx, `SELECT updated_at FROM `+l.table+` WHERE repo_id = $1 AND `+l.key+` = $2`,
				repoID, opts.After).Scan(&cursorTime)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("after %q: %w", opts.After, l.notFound)
			}
			if err != nil {
				return err
			}
		}
		query, args := l.query(repoID, opts, cursorTime)
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// UpdateRepositoryAttributes changes the attributes of a repository holding manifests.
// The update locks the repository's row, as every write to its content does.
func (s *Store) UpdateRepositoryAttributes(ctx context.Context, repo meta.Repo, u meta.AttributesUpdate) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return updateAttributes(ctx, tx, "repositories", `registry_id = $6 AND name = $7
			AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = repositories.id)`,
			meta.ErrRepositoryNotFound, u, repo.Registry, repo.Name)
	})
	if err != nil {
		return fmt.Errorf("postgres: update attributes of %s: %w", repoString(repo), err)
	}
	return nil
}

// UpdateTagAttributes changes a tag's attributes, under its repository's lock.
func (s *Store) UpdateTagAttributes(ctx context.Context, repo meta.Repo, tag string, u meta.AttributesUpdate) error {
	err := s.underRepositoryLock(ctx, repo, meta.ErrTagNotFound, func(tx pgx.Tx, repoID int64) error {
		return updateAttributes(ctx, tx, "tags", `repo_id = $6 AND name = $7`, meta.ErrTagNotFound, u, repoID, tag)
	})
	if err != nil {
		return fmt.Errorf("postgres: update attributes of %s:%s: %w", repoString(repo), tag, err)
	}
	return nil
}

// UpdateManifestAttributes changes a manifest's attributes, under its repository's lock.
func (s *Store) UpdateManifestAttributes(ctx context.Context, repo meta.Repo, d digest.Digest, u meta.AttributesUpdate) error {
	err := s.underRepositoryLock(ctx, repo, meta.ErrManifestNotFound, func(tx pgx.Tx, repoID int64) error {
		return updateAttributes(ctx, tx, "manifests", `repo_id = $6 AND digest = $7`, meta.ErrManifestNotFound, u, repoID, string(d))
	})
	if err != nil {
		return fmt.Errorf("postgres: update attributes of %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// underRepositoryLock runs fn in a transaction holding repo's lock; notFound when there
// is no such repository.
func (s *Store) underRepositoryLock(ctx context.Context, repo meta.Repo, notFound error, fn func(tx pgx.Tx, repoID int64) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var repoID int64
		err := tx.QueryRow(ctx, lockRepositorySQL, repo.Registry, repo.Name).Scan(&repoID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		return fn(tx, repoID)
	})
}

// updateAttributes sets the attributes u gives (COALESCE keeps the others) on the one row
// of table that where selects (with parameters from $6), and its updated_at unless u is
// empty; notFound when no row matches. A matched row counts as changed even if no value
// changes.
func updateAttributes(ctx context.Context, tx pgx.Tx, table, where string, notFound error, u meta.AttributesUpdate, args ...any) error {
	var updated *int64 // NULL keeps updated_at
	if !u.Empty() {
		now := time.Now().UnixNano()
		updated = &now
	}
	query := `UPDATE ` + table + ` SET delete_enabled = COALESCE($1, delete_enabled),
		write_enabled = COALESCE($2, write_enabled), read_enabled = COALESCE($3, read_enabled),
		list_enabled = COALESCE($4, list_enabled), updated_at = COALESCE($5, updated_at)
		WHERE ` + where
	tag, err := tx.Exec(ctx, query, append([]any{u.DeleteEnabled, u.WriteEnabled, u.ReadEnabled, u.ListEnabled, updated}, args...)...)
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound
	}
	return err
}
