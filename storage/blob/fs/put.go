package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Put implements blob.Putter. The bytes go to a data file in a fresh session directory
// that has no state file: a crash midway leaves a broken session, which WalkUploads lists
// and Upload removes, so upload expiry reclaims it. Two flushes make the blob durable: the
// data file's, and the blob directory's after the rename.
func (s *Store) Put(ctx context.Context, want digest.Digest, r io.Reader) (blob.Info, error) {
	info, err := s.put(ctx, want, r)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/fs: put %q: %w", want, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, want digest.Digest, r io.Reader) (blob.Info, error) {
	if err := sessions.CheckDigest(want); err != nil {
		return blob.Info{}, err
	}
	u := s.session(sessions.NewID())
	if err := os.Mkdir(u.dir, dirPerm); err != nil {
		return blob.Info{}, err
	}
	defer os.RemoveAll(u.dir)
	if err := writeVerified(ctx, u.dataPath(), want, r); err != nil {
		return blob.Info{}, err
	}
	dst, err := s.blobPath(want)
	if err != nil {
		return blob.Info{}, err
	}
	if err := u.publish(dst); err != nil {
		return blob.Info{}, err
	}
	return s.Stat(ctx, want)
}

// writeVerified writes r to a new file at path, hashing with want's algorithm, and makes
// it durable only if the bytes match want.
func writeVerified(ctx context.Context, path string, want digest.Digest, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sessions.NewHash(want.Algorithm())
	if _, err := writeThrough(ctx, f, h, r, 0); err != nil {
		return err
	}
	if got := digest.NewDigest(want.Algorithm(), h); got != want {
		return fmt.Errorf("%w: bytes hash to %s", blob.ErrDigestMismatch, got)
	}
	return errors.Join(f.Sync(), f.Close())
}
