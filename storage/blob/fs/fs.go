// Package fs owns the filesystem blob driver: committed blobs and upload sessions as plain
// files under one root directory, made durable with fsync and published with rename.
//
// Layout under root:
//
//	blobs/
//	  sha256/ab/abcdef…        committed blob, named by its digest; mtime = last commit
//	  sha512/01/0123…
//	uploads/
//	  <id>/                    one upload session; id is 32 lowercase hex characters
//	    data                   bytes received; becomes the blob file at Commit (rename)
//	    state                  JSON: repository, start time, durable size, SHA-256 state
//	    state.tmp              next state, renamed over state
//
// Every temporary file lives under root, so publishing is a rename within one filesystem.
//
// The state file is the truth about a session. The data file may be longer than the state
// says (an Append that failed, or crashed between writing bytes and writing state); the
// extra bytes are cut off before the session is used again. A session that cannot be
// resumed (state or data lost) is removed by Upload, so expiry never sees it twice.
package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// Copy buffers: large writes keep write and hash calls few, and the pools spare an upload
// one allocation per request. A body starts in a small buffer and moves to large ones only
// if it outgrows it, so many concurrent small pushes do not hold the large size each. An
// upload has up to three large buffers in flight (being filled, queued, being written);
// 256 KiB pieces push as fast as 1 MiB ones (bench) with a quarter of the memory.
const (
	smallBuf = 64 << 10
	largeBuf = 256 << 10
)

var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	copyBufs  = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}
)

// putBuf returns a buffer to the pool it came from.
func putBuf(b *[]byte) {
	if cap(*b) == smallBuf {
		smallBufs.Put(b)
	} else {
		copyBufs.Put(b)
	}
}

// Store is the filesystem blob driver. It is safe for concurrent use, also by several
// processes sharing root.
type Store struct {
	root string
}

var (
	_ blob.Store  = (*Store)(nil)
	_ blob.Putter = (*Store)(nil)
)

// New opens the store at root, creating the layout if needed.
func New(root string) (*Store, error) {
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("blob/fs: create root: %w", err)
	}
	s := &Store{root: root}
	for _, dir := range []string{
		s.path("blobs"),
		s.path("blobs", string(digest.SHA256)),
		s.path("blobs", string(digest.SHA512)),
		s.path("uploads"),
	} {
		if err := mkdirDurable(dir); err != nil {
			return nil, fmt.Errorf("blob/fs: create layout: %w", err)
		}
	}
	return s, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

// blobPath maps a digest to its file. Only digests the store can verify have a path, so
// a crafted digest never names a file outside blobs/.
func (s *Store) blobPath(d digest.Digest) (string, error) {
	if sessions.CheckDigest(d) != nil {
		return "", blob.ErrNotFound
	}
	enc := d.Encoded()
	return s.path("blobs", string(d.Algorithm()), enc[:2], enc), nil
}

// blobErr wraps err for operation op on d, reporting a missing file as blob.ErrNotFound.
func blobErr(op string, d digest.Digest, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		err = blob.ErrNotFound
	}
	return fmt.Errorf("blob/fs: %s %q: %w", op, d, err)
}

// Stat implements blob.Store.
func (s *Store) Stat(_ context.Context, d digest.Digest) (blob.Info, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return blob.Info{}, blobErr("stat", d, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, blobErr("stat", d, err)
	}
	return blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open implements blob.Store. The reader is an *os.File, so net/http can sendfile it and
// http.ServeContent can seek it.
func (s *Store) Open(_ context.Context, d digest.Digest) (blob.Reader, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, blobErr("open", d, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, blobErr("open", d, err)
	}
	return f, nil
}

// Delete implements blob.Store. The directory is not synced: a delete lost in a crash
// only brings back an unreferenced blob, which the next GC removes again.
func (s *Store) Delete(_ context.Context, d digest.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return blobErr("delete", d, err)
	}
	if err := os.Remove(p); err != nil {
		return blobErr("delete", d, err)
	}
	return nil
}

// Walk implements blob.Store. Files that do not sit where their digest would put them
// are not blobs of this store and are skipped.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		if err := s.walkAlgorithm(ctx, alg, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) walkAlgorithm(ctx context.Context, alg digest.Algorithm, fn func(blob.Info) error) error {
	algDir := s.path("blobs", string(alg))
	prefixes, err := os.ReadDir(algDir)
	if err != nil {
		return fmt.Errorf("blob/fs: walk: %w", err)
	}
	for _, prefix := range prefixes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !prefix.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(algDir, prefix.Name()))
		if err != nil {
			return fmt.Errorf("blob/fs: walk: %w", err)
		}
		for _, e := range entries {
			info, ok := blobInfo(alg, prefix.Name(), e)
			if !ok {
				continue
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// blobInfo describes the directory entry e in blobs/<alg>/<prefix>/, or reports false
// when e is not a blob (malformed, misplaced, or deleted since it was listed).
func blobInfo(alg digest.Algorithm, prefix string, e iofs.DirEntry) (blob.Info, bool) {
	d := digest.NewDigestFromEncoded(alg, e.Name())
	if d.Validate() != nil || e.Name()[:2] != prefix || !e.Type().IsRegular() {
		return blob.Info{}, false
	}
	fi, err := e.Info()
	if err != nil {
		return blob.Info{}, false
	}
	return blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, true
}

// CreateUpload implements blob.Store.
func (s *Store) CreateUpload(_ context.Context, repository string) (blob.Upload, error) {
	u, err := s.newUpload(repository)
	if err != nil {
		return nil, fmt.Errorf("blob/fs: create upload: %w", err)
	}
	return u, nil
}

// Upload implements blob.Store. Ids are checked against the format newID makes, so a
// crafted id never names a directory outside uploads/.
func (s *Store) Upload(_ context.Context, id string) (blob.Upload, error) {
	if !sessions.ValidID(id) {
		return nil, fmt.Errorf("blob/fs: resume upload %q: %w", id, blob.ErrUploadNotFound)
	}
	u := s.session(id)
	if err := u.resume(); err != nil {
		return nil, fmt.Errorf("blob/fs: resume upload %s: %w", id, err)
	}
	return u, nil
}

// WalkUploads implements blob.Store. A session directory without a readable state (a
// CreateUpload or Commit cut short by a crash) is still listed, dated by the directory,
// so expiry finds it; Upload then removes it.
func (s *Store) WalkUploads(ctx context.Context, fn func(blob.UploadInfo) error) error {
	entries, err := os.ReadDir(s.path("uploads"))
	if err != nil {
		return fmt.Errorf("blob/fs: walk uploads: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.IsDir() || !sessions.ValidID(e.Name()) {
			continue
		}
		info, ok := s.uploadInfo(e)
		if !ok {
			continue
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// uploadInfo describes the session directory e, or reports false when it is gone.
func (s *Store) uploadInfo(e iofs.DirEntry) (blob.UploadInfo, bool) {
	u := s.session(e.Name())
	if u.readState() == nil {
		return u.Info(), true
	}
	fi, err := e.Info()
	if err != nil {
		return blob.UploadInfo{}, false
	}
	return blob.UploadInfo{ID: u.id, StartedAt: fi.ModTime(), UpdatedAt: fi.ModTime()}, true
}

// syncDir makes the entries of dir (creations, renames) durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// mkdirDurable creates dir, whose parent must exist, and makes its entry durable.
func mkdirDurable(dir string) error {
	err := os.Mkdir(dir, dirPerm)
	if errors.Is(err, iofs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}
