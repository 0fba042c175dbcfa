package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

const blobSizeSQL = `SELECT b.size FROM repositories r JOIN repository_blobs b ON b.repo_id = r.id
	WHERE r.registry_id = $1 AND r.name = $2 AND b.digest = $3`

// blobInUseSQL takes the digest and the cutoff in unix nanoseconds. Any reference counts,
// whatever its kind: keeping a blob too long is harmless, deleting one is not.
const blobInUseSQL = `SELECT EXISTS (SELECT 1 FROM manifest_references WHERE ref_digest = $1)
	OR EXISTS (SELECT 1 FROM repository_blobs WHERE digest = $1 AND linked_at >= $2)`

// LinkBlob records that repo holds d, creating the repository on first use; a repeated
// link refreshes linked_at, restarting the GC grace period.
func (s *Store) LinkBlob(ctx context.Context, repo meta.Repo, d digest.Digest, size int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := time.Now().UnixNano()
		if err := lockDigest(ctx, tx, d); err != nil {
			return err
		}
		var deleting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blob_deletions WHERE digest = $1 AND started_at > $2)`,
			string(d), now-int64(meta.DeletionMarkTTL)).Scan(&deleting); err != nil {
			return err
		}
		if deleting {
			return meta.ErrBlobBeingDeleted
		}
		repoID, err := ensureRepository(ctx, tx, repo, now)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO repository_blobs (repo_id, digest, size, linked_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (repo_id, digest) DO UPDATE SET size = excluded.size, linked_at = excluded.linked_at`,
			repoID, string(d), size, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: link blob %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// BlobSize returns the size of a blob linked into repo.
func (s *Store) BlobSize(ctx context.Context, repo meta.Repo, d digest.Digest) (int64, error) {
	var size int64
	err := s.pool.QueryRow(ctx, blobSizeSQL, repo.Registry, repo.Name, string(d)).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		err = meta.ErrBlobNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: blob size %s@%s: %w", repoString(repo), d, err)
	}
	return size, nil
}

// blobLockedSQL finds a blob link and says whether removing it is refused (the
// repository is write-locked); it takes the repository id and the digest.
const blobLockedSQL = `SELECT NOT r.write_enabled
	FROM repositories r JOIN repository_blobs b ON b.repo_id = r.id
	WHERE r.id = $1 AND b.digest = $2`

// UnlinkBlob removes d from repo unless repo is write-locked.
func (s *Store) UnlinkBlob(ctx context.Context, repo meta.Repo, d digest.Digest) error {
	err := s.deleteUnlocked(ctx, meta.ErrBlobNotFound, blobLockedSQL,
		`DELETE FROM repository_blobs WHERE repo_id = $1 AND digest = $2`, repo, string(d))
	if err != nil {
		return fmt.Errorf("postgres: unlink blob %s@%s: %w", repoString(repo), d, err)
	}
	return nil
}

// BlobInUse reports whether any manifest references d or any repository linked it at or
// after cutoff.
func (s *Store) BlobInUse(ctx context.Context, d digest.Digest, cutoff time.Time) (bool, error) {
	var inUse bool
	if err := s.pool.QueryRow(ctx, blobInUseSQL, string(d), toNanos(cutoff)).Scan(&inUse); err != nil {
		return false, fmt.Errorf("postgres: blob in use %s: %w", d, err)
	}
	return inUse, nil
}

// ReleaseBlob unlinks d from every repository unless it is in use. It locks every link of
// d first, then checks, in a later statement, whether d is in use, then deletes the links
// it locked: a push that references d holds a lock on one of them until it commits, so it
// is either seen by the check or finds the link gone (and fails its reference check). A
// link made after the locks were taken is left alone, as if made after the release.
func (s *Store) ReleaseBlob(ctx context.Context, d digest.Digest, cutoff time.Time) (bool, error) {
	var released bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		released = false
		if err := lockDigest(ctx, tx, d); err != nil {
			return err
		}
		repos, err := queryAll[int64](tx.Query(ctx, `SELECT repo_id FROM repository_blobs WHERE digest = $1
			ORDER BY repo_id FOR UPDATE`, string(d)))
		if err != nil {
			return err
		}
		var inUse bool
		if err := tx.QueryRow(ctx, blobInUseSQL, string(d), toNanos(cutoff)).Scan(&inUse); err != nil || inUse {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM repository_blobs WHERE digest = $1 AND repo_id = ANY ($2)`,
			string(d), repos); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO blob_deletions (digest, started_at) VALUES ($1, $2)
			ON CONFLICT (digest) DO UPDATE SET started_at = excluded.started_at`, string(d), time.Now().UnixNano()); err != nil {
			return err
		}
		released = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: release blob %s: %w", d, err)
	}
	return released, nil
}

// EndRelease removes the deletion mark of d.
func (s *Store) EndRelease(ctx context.Context, d digest.Digest) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM blob_deletions WHERE digest = $1`, string(d)); err != nil {
		return fmt.Errorf("postgres: end release %s: %w", d, err)
	}
	return nil
}

// lockDigest serialises, per digest, the transactions that link a blob with the one that
// releases it for deletion: without it a link committed between the release's check and
// its mark would be acknowledged for bytes about to be deleted.
func lockDigest(ctx context.Context, tx pgx.Tx, d digest.Digest) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "blob "+string(d))
	return err
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
