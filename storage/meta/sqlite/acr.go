package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The /acr/v1 metadata (meta.ACR). A listing runs in one read transaction, so that the
// repository lookup, the cursor and the page come from one snapshot: repository rows are
// deleted and their ids reused.

var _ meta.ACR = (*Store)(nil)

// attributes lists the four attribute columns of a table alias, in meta.Attributes order.
func attributes(alias string) string {
	return alias + ".delete_enabled, " + alias + ".write_enabled, " + alias + ".read_enabled, " + alias + ".list_enabled"
}

// repositoryInfoSQL takes the registry id and the name.
var repositoryInfoSQL = `SELECT r.created_at, r.updated_at, ` + attributes("r") + `,
	(SELECT COUNT(*) FROM manifests m WHERE m.repo_id = r.id),
	(SELECT COUNT(*) FROM tags t WHERE t.repo_id = r.id)
	FROM repositories r WHERE r.registry_id = ? AND r.name = ?`

var tagInfoColumns = `t.name, t.digest, t.created_at, t.updated_at, ` + attributes("t")

// tagInfoSQL takes the registry id, the name and the tag.
var tagInfoSQL = `SELECT ` + tagInfoColumns + `
	FROM repositories r JOIN tags t ON t.repo_id = r.id
	WHERE r.registry_id = ? AND r.name = ? AND t.name = ?`

// manifestInfoColumns reads a manifest row m with, in correlated subqueries on primary
// keys, its image size, its listed tags and, for an index, its children's platforms
// (sorted by scanManifestInfo: an ORDER BY in the aggregates would sort in a temporary
// b-tree per row).
var manifestInfoColumns = `m.digest, m.media_type, m.config_media_type, m.size, m.os, m.architecture,
	m.created_at, m.updated_at, ` + attributes("m") + `,
	m.size
	+ COALESCE((SELECT SUM(b.size) FROM manifest_references x
		JOIN repository_blobs b ON b.repo_id = x.repo_id AND b.digest = x.ref_digest
		WHERE x.repo_id = m.repo_id AND x.manifest_digest = m.digest AND x.kind = ` + refBlob + `), 0)
	+ COALESCE((SELECT SUM(c.size) FROM manifest_references x
		JOIN manifests c ON c.repo_id = x.repo_id AND c.digest = x.ref_digest
		WHERE x.repo_id = m.repo_id AND x.manifest_digest = m.digest AND x.kind = ` + refManifest + `), 0),
	(SELECT json_group_array(t.name) FROM tags t
		WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND t.list_enabled = 1),
	(SELECT json_group_array(json_array(x.ref_digest, COALESCE(c.os, ''), COALESCE(c.architecture, '')))
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
	WHERE r.registry_id = ? AND r.name = ? AND m.digest = ?`

// RepositoryInfo describes repo; a repository without manifests is not found.
func (s *Store) RepositoryInfo(ctx context.Context, repo meta.Repo) (*meta.RepositoryInfo, error) {
	info := &meta.RepositoryInfo{Repo: repo}
	var created, updated int64
	a := &info.Attributes
	err := s.r.QueryRowContext(ctx, repositoryInfoSQL, repo.Registry, repo.Name).Scan(&created, &updated,
		&a.DeleteEnabled, &a.WriteEnabled, &a.ReadEnabled, &a.ListEnabled, &info.ManifestCount, &info.TagCount)
	if errors.Is(err, sql.ErrNoRows) || err == nil && info.ManifestCount == 0 {
		err = meta.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: repository info %s: %w", repoString(repo), err)
	}
	info.CreatedAt, info.UpdatedAt = fromNanos(created), fromNanos(updated)
	return info, nil
}

// TagInfo describes a tag, listed or not.
func (s *Store) TagInfo(ctx context.Context, repo meta.Repo, tag string) (*meta.TagInfo, error) {
	var info meta.TagInfo
	err := scanTagInfo(s.r.QueryRowContext(ctx, tagInfoSQL, repo.Registry, repo.Name, tag), &info)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrTagNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: tag info %s:%s: %w", repoString(repo), tag, err)
	}
	return &info, nil
}

// ManifestInfo describes a manifest, listed or not.
func (s *Store) ManifestInfo(ctx context.Context, repo meta.Repo, d digest.Digest) (*meta.ManifestInfo, error) {
	var info meta.ManifestInfo
	err := scanManifestInfo(s.r.QueryRowContext(ctx, manifestInfoSQL, repo.Registry, repo.Name, d), &info)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrManifestNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifest info %s@%s: %w", repoString(repo), d, err)
	}
	return &info, nil
}

func scanTagInfo(row rowScanner, info *meta.TagInfo) error {
	var created, updated int64
	a := &info.Attributes
	if err := row.Scan(&info.Name, &info.Digest, &created, &updated,
		&a.DeleteEnabled, &a.WriteEnabled, &a.ReadEnabled, &a.ListEnabled); err != nil {
		return err
	}
	info.CreatedAt, info.UpdatedAt = fromNanos(created), fromNanos(updated)
	return nil
}

func scanManifestInfo(row rowScanner, info *meta.ManifestInfo) error {
	var created, updated int64
	var tags, children string
	a := &info.Attributes
	if err := row.Scan(&info.Digest, &info.MediaType, &info.ConfigMediaType, &info.Size, &info.OS,
		&info.Architecture, &created, &updated, &a.DeleteEnabled, &a.WriteEnabled, &a.ReadEnabled,
		&a.ListEnabled, &info.ImageSize, &tags, &children); err != nil {
		return err
	}
	info.CreatedAt, info.UpdatedAt = fromNanos(created), fromNanos(updated)
	if err := json.Unmarshal([]byte(tags), &info.Tags); err != nil {
		return fmt.Errorf("decode tags: %w", err)
	}
	var platforms [][3]string
	if err := json.Unmarshal([]byte(children), &platforms); err != nil {
		return fmt.Errorf("decode children: %w", err)
	}
	for _, p := range platforms {
		info.Children = append(info.Children, meta.Platform{Digest: digest.Digest(p[0]), OS: p[1], Architecture: p[2]})
	}
	slices.Sort(info.Tags)
	slices.SortFunc(info.Children, func(a, b meta.Platform) int { return cmp.Compare(a.Digest, b.Digest) })
	if len(info.Tags) == 0 {
		info.Tags = nil
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
	q := `SELECT ` + l.columns + ` FROM ` + l.table + ` ` + a + ` WHERE ` + a + `.repo_id = ? AND ` + a + `.list_enabled = 1`
	args := []any{repoID}
	if opts.Digest != "" && l.table == "tags" {
		q += ` AND t.digest = ?`
		args = append(args, opts.Digest)
	}
	key, updated := a+"."+l.key, a+".updated_at"
	switch opts.Order {
	case meta.OrderTimeAsc, meta.OrderTimeDesc:
		op, dir := ">", ""
		if opts.Order == meta.OrderTimeDesc {
			op, dir = "<", " DESC"
		}
		if opts.After != "" {
			q += ` AND (` + updated + `, ` + key + `) ` + op + ` (?, ?)`
			args = append(args, cursorTime, opts.After)
		}
		q += ` ORDER BY ` + updated + dir + `, ` + key + dir
	default:
		q += ` AND ` + key + ` > ? ORDER BY ` + key
		args = append(args, opts.After)
	}
	return q + ` LIMIT ?`, append(args, sqlLimit(opts.Limit))
}

// TagInfos lists repo's listed tags.
func (s *Store) TagInfos(ctx context.Context, repo meta.Repo, opts meta.ListOptions) ([]meta.TagInfo, error) {
	out, err := listPage(ctx, s, tagListing, repo, opts, scanTagInfo)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tag infos %s: %w", repoString(repo), err)
	}
	return out, nil
}

// ManifestInfos lists repo's listed manifests.
func (s *Store) ManifestInfos(ctx context.Context, repo meta.Repo, opts meta.ListOptions) ([]meta.ManifestInfo, error) {
	out, err := listPage(ctx, s, manifestListing, repo, opts, scanManifestInfo)
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifest infos %s: %w", repoString(repo), err)
	}
	return out, nil
}

// listPage runs one page of l in a read transaction and scans each row with scan.
func listPage[T any](ctx context.Context, s *Store, l listing, repo meta.Repo, opts meta.ListOptions, scan func(rowScanner, *T) error) ([]T, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // read only: nothing to commit
	var repoID int64
	var held bool
	err = tx.QueryRowContext(ctx, `SELECT id, EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)
		FROM repositories r WHERE registry_id = ? AND name = ?`, repo.Registry, repo.Name).Scan(&repoID, &held)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !held {
		return nil, meta.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, err
	}
	var cursorTime int64
	if opts.After != "" && opts.Order != meta.OrderName {
		err := tx.QueryRowContext(ctx, `SELECT updated_at FROM `+l.table+` WHERE repo_id = ? AND `+l.key+` = ?`,
			repoID, opts.After).Scan(&cursorTime)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("after %q: %w", opts.After, l.notFound)
		}
		if err != nil {
			return nil, err
		}
	}
	query, args := l.query(repoID, opts, cursorTime)
	rows, err := tx.QueryContext(ctx, query, args...)
	return scanRows(rows, err, func(sc rowScanner) (T, error) {
		var v T
		err := scan(sc, &v)
		return v, err
	})
}

// UpdateRepositoryAttributes changes the attributes of a repository holding manifests.
func (s *Store) UpdateRepositoryAttributes(ctx context.Context, repo meta.Repo, u meta.AttributesUpdate) error {
	err := s.updateAttributes(ctx, "repositories", `registry_id = ? AND name = ?
		AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = repositories.id)`,
		meta.ErrRepositoryNotFound, u, repo.Registry, repo.Name)
	if err != nil {
		return fmt.Errorf("sqlite: update attributes of %s: %w", repoString(repo), err)
	}
	return nil
}

// UpdateTagAttributes changes a tag's attributes.
func (s *Store) UpdateTagAttributes(ctx context.Context, repo meta.Repo, tag string, u meta.AttributesUpdate) error {
	err := s.updateAttributes(ctx, "tags", `repo_id = (`+repoIDSQL+`) AND name = ?`,
		meta.ErrTagNotFound, u, repo.Registry, repo.Name, tag)
	if err != nil {
		return fmt.Errorf("sqlite: update attributes of %s:%s: %w", repoString(repo), tag, err)
	}
	return nil
}

// UpdateManifestAttributes changes a manifest's attributes.
func (s *Store) UpdateManifestAttributes(ctx context.Context, repo meta.Repo, d digest.Digest, u meta.AttributesUpdate) error {
	err := s.updateAttributes(ctx, "manifests", `repo_id = (`+repoIDSQL+`) AND digest = ?`,
		meta.ErrManifestNotFound, u, repo.Registry, repo.Name, d)
	if err != nil {
		return fmt.Errorf("sqlite: update attributes of %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// updateAttributes sets the attributes u gives (COALESCE keeps the others) on the one row
// of table that where selects, and its updated_at unless u is empty; notFound when no row
// matches. SQLite and PostgreSQL count a matched row as changed even if no value changes.
func (s *Store) updateAttributes(ctx context.Context, table, where string, notFound error, u meta.AttributesUpdate, args ...any) error {
	var updated any // NULL keeps updated_at
	if !u.Empty() {
		updated = time.Now().UnixNano()
	}
	query := `UPDATE ` + table + ` SET delete_enabled = COALESCE(?, delete_enabled),
		write_enabled = COALESCE(?, write_enabled), read_enabled = COALESCE(?, read_enabled),
		list_enabled = COALESCE(?, list_enabled), updated_at = COALESCE(?, updated_at)
		WHERE ` + where
	res, err := s.w.ExecContext(ctx, query, append([]any{sqlBool(u.DeleteEnabled), sqlBool(u.WriteEnabled),
		sqlBool(u.ReadEnabled), sqlBool(u.ListEnabled), updated}, args...)...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = notFound
	}
	return err
}

// sqlBool is b as 0 or 1, or NULL when b is nil.
func sqlBool(b *bool) any {
	switch {
	case b == nil:
		return nil
	case *b:
		return int64(1)
	}
	return int64(0)
}
