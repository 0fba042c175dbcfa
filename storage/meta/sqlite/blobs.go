package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

const blobSizeSQL = `SELECT b.size FROM repositories r JOIN repository_blobs b ON b.repo_id = r.id
	WHERE r.registry_id = ? AND r.name = ? AND b.digest = ?`

// blobInUseSQL takes the digest twice and the cutoff in unix nanoseconds. Any reference
// counts, whatever its kind: keeping a blob too long is harmless, deleting one is not.
const blobInUseSQL = `SELECT EXISTS (SELECT 1 FROM manifest_references WHERE ref_digest = ?)
	OR EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ? AND linked_at >= ?)`

// LinkBlob records that repo holds d, creating the repository on first use; a repeated
// link refreshes linked_at, restarting the GC grace period.
func (s *Store) LinkBlob(ctx context.Context, repo meta.Repo, d digest.Digest, size int64) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		var deleting bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blob_deletions WHERE digest = ? AND started_at > ?)`,
			d, now-int64(meta.DeletionMarkTTL)).Scan(&deleting); err != nil {
			return err
		}
		if deleting {
			return meta.ErrBlobBeingDeleted
		}
		repoID, err := ensureRepository(ctx, tx, repo, now)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO repository_blobs (repo_id, digest, size, linked_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (repo_id, digest) DO UPDATE SET size = excluded.size, linked_at = excluded.linked_at`,
			repoID, d, size, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: link blob %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// BlobSize returns the size of a blob linked into repo.
func (s *Store) BlobSize(ctx context.Context, repo meta.Repo, d digest.Digest) (int64, error) {
	var size int64
	err := s.hot.blobSize.QueryRowContext(ctx, repo.Registry, repo.Name, d).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		err = meta.ErrBlobNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: blob size %s@%s: %w", repoString(repo), d, err)
	}
	return size, nil
}

// blobLockedSQL finds a blob link and says whether removing it is refused (the
// repository is write-locked); it takes the registry id, the name and the digest.
const blobLockedSQL = `SELECT r.id, r.write_enabled = 0
	FROM repositories r JOIN repository_blobs b ON b.repo_id = r.id
	WHERE r.registry_id = ? AND r.name = ? AND b.digest = ?`

// UnlinkBlob removes d from repo unless repo is write-locked.
func (s *Store) UnlinkBlob(ctx context.Context, repo meta.Repo, d digest.Digest) error {
	err := deleteUnlocked(ctx, s.w, meta.ErrBlobNotFound, blobLockedSQL,
		`DELETE FROM repository_blobs WHERE repo_id = ? AND digest = ?`, repo, d)
	if err != nil {
		return fmt.Errorf("sqlite: unlink blob %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// BlobInUse reports whether any manifest references d or any repository linked it at or
// after cutoff.
func (s *Store) BlobInUse(ctx context.Context, d digest.Digest, cutoff time.Time) (bool, error) {
	var inUse bool
	if err := s.r.QueryRowContext(ctx, blobInUseSQL, d, d, toNanos(cutoff)).Scan(&inUse); err != nil {
		return false, fmt.Errorf("sqlite: blob in use %s: %w", d, err)
	}
	return inUse, nil
}

// ReleaseBlob unlinks d from every repository unless it is in use. The check and the
// delete share one write transaction, so a manifest or link committed concurrently is
// either seen by the check or committed after the delete (and then fails its reference
// check or re-links the blob).
func (s *Store) ReleaseBlob(ctx context.Context, d digest.Digest, cutoff time.Time) (bool, error) {
	var released bool
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var inUse bool
		if err := tx.QueryRowContext(ctx, blobInUseSQL, d, d, toNanos(cutoff)).Scan(&inUse); err != nil || inUse {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM repository_blobs WHERE digest = ?`, d); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_deletions (digest, started_at) VALUES (?, ?)
			ON CONFLICT (digest) DO UPDATE SET started_at = excluded.started_at`, d, time.Now().UnixNano()); err != nil {
			return err
		}
		released = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: release blob %s: %w", d, err)
	}
	return released, nil
}

// EndRelease removes the deletion mark of d.
func (s *Store) EndRelease(ctx context.Context, d digest.Digest) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM blob_deletions WHERE digest = ?`, d); err != nil {
		return fmt.Errorf("sqlite: end release %s: %w", d, err)
	}
	return nil
}

// toNanos is t as unix nanoseconds, clamped because time.UnixNano is undefined outside
// the years 1678-2262: a zero cutoff must mean "since the beginning", not garbage.
func toNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
