package fs

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// state is what the state file records about a session.
type state struct {
	Repository string    `json:"repository"`
	StartedAt  time.Time `json:"startedAt"`
	Size       int64     `json:"size"`   // bytes of data made durable
	SHA256     []byte    `json:"sha256"` // SHA-256 state after Size bytes (encoding.BinaryMarshaler)

	updated time.Time // state file mtime: the last successful Append (or creation)
}

// upload is one session. Its fields mirror the state file after every successful call.
type upload struct {
	s   *Store
	id  string
	dir string
	st  state
}

var _ blob.Upload = (*upload)(nil)

func (s *Store) session(id string) *upload {
	return &upload{s: s, id: id, dir: s.path("uploads", id)}
}

func (u *upload) dataPath() string  { return filepath.Join(u.dir, "data") }
func (u *upload) statePath() string { return filepath.Join(u.dir, "state") }

// newUpload creates the session directory, an empty data file and the first state. The
// state comes last, so a session with a state always has its data file.
func (s *Store) newUpload(repository string) (*upload, error) {
	u := s.session(sessions.NewID())
	u.st = state{Repository: repository, StartedAt: time.Now()}
	var err error
	if u.st.SHA256, err = sessions.MarshalHash(sha256.New()); err != nil {
		return nil, err
	}
	if err := os.Mkdir(u.dir, dirPerm); err != nil {
		return nil, err
	}
	if err := u.create(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(u.dir))
	}
	return u, nil
}

func (u *upload) create() error {
	f, err := os.OpenFile(u.dataPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if u.st.updated, err = u.writeState(u.st); err != nil {
		return err
	}
	return syncDir(filepath.Dir(u.dir))
}

// resume loads the session from disk and brings its data file back to the durable size.
// A directory that cannot be resumed is removed: nobody can use it any more.
func (u *upload) resume() error {
	if _, err := os.Lstat(u.dir); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return blob.ErrUploadNotFound
		}
		return err
	}
	err := u.readState()
	if err == nil {
		var f *os.File
		if f, err = u.openData(os.O_WRONLY); err == nil {
			err = f.Close()
		}
	}
	if errors.Is(err, blob.ErrUploadNotFound) {
		err = errors.Join(err, os.RemoveAll(u.dir))
	}
	return err
}

// readState loads the state file. A missing or unreadable one means the session is not
// usable, reported as blob.ErrUploadNotFound.
func (u *upload) readState() error {
	b, err := os.ReadFile(u.statePath())
	if errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("%w: no state file", blob.ErrUploadNotFound)
	}
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: corrupt state: %w", blob.ErrUploadNotFound, err)
	}
	if _, err := sessions.RestoreSHA256(st.SHA256); err != nil || st.Size < 0 {
		return fmt.Errorf("%w: corrupt state", blob.ErrUploadNotFound)
	}
	fi, err := os.Stat(u.statePath())
	if err != nil {
		return err
	}
	st.updated = fi.ModTime()
	u.st = st
	return nil
}

// writeState makes st the session's durable state: temp file, fsync, rename, fsync of
// the directory. It returns the new state file's mtime.
func (u *upload) writeState(st state) (time.Time, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return time.Time{}, err
	}
	tmp := u.statePath() + ".tmp"
	mtime, err := writeSynced(tmp, b)
	if err != nil {
		return time.Time{}, err
	}
	if err := os.Rename(tmp, u.statePath()); err != nil {
		return time.Time{}, err
	}
	return mtime, syncDir(u.dir)
}

// writeSynced writes b to path, fsyncs it and returns its mtime.
func writeSynced(path string, b []byte) (time.Time, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return time.Time{}, err
	}
	if err := f.Sync(); err != nil {
		return time.Time{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// openData opens the data file and cuts off bytes past the durable size, left by an
// Append that failed or crashed before writing its state. A data file shorter than the
// state says lost acknowledged bytes: the session is reported as not found.
func (u *upload) openData(flag int) (*os.File, error) {
	f, err := os.OpenFile(u.dataPath(), flag, 0)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no data file", blob.ErrUploadNotFound)
	}
	if err != nil {
		return nil, err
	}
	if err := u.trim(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

func (u *upload) trim(f *os.File) error {
	fi, err := f.Stat()
	switch {
	case err != nil:
		return err
	case fi.Size() < u.st.Size:
		return fmt.Errorf("%w: data file holds %d of %d bytes", blob.ErrUploadNotFound, fi.Size(), u.st.Size)
	case fi.Size() > u.st.Size:
		return f.Truncate(u.st.Size)
	}
	return nil
}

// Info implements blob.Upload.
func (u *upload) Info() blob.UploadInfo {
	return blob.UploadInfo{
		ID:         u.id,
		Repository: u.st.Repository,
		Size:       u.st.Size,
		StartedAt:  u.st.StartedAt,
		UpdatedAt:  u.st.updated,
	}
}

// Append implements blob.Upload.
func (u *upload) Append(ctx context.Context, r io.Reader) (int64, error) {
	n, err := u.append(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("blob/fs: append to upload %s: %w", u.id, err)
	}
	return n, nil
}

func (u *upload) append(ctx context.Context, r io.Reader) (int64, error) {
	f, err := u.openData(os.O_WRONLY)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	next, err := u.appendTo(ctx, f, r)
	if err != nil {
		// Drop this call's bytes; the hash state in u.st is still the previous one, so the
		// session goes on from where it was.
		return 0, errors.Join(err, f.Truncate(u.st.Size))
	}
	n := next.Size - u.st.Size
	u.st = next
	return n, nil
}

// appendTo copies r to the end of f, hashing as it writes, then makes the bytes and the
// new state durable. It returns the new state.
func (u *upload) appendTo(ctx context.Context, f *os.File, r io.Reader) (state, error) {
	h, err := sessions.RestoreSHA256(u.st.SHA256)
	if err != nil {
		return state{}, err
	}
	if _, err := f.Seek(u.st.Size, io.SeekStart); err != nil {
		return state{}, err
	}
	n, err := writeThrough(ctx, f, h, r, u.st.Size)
	if err != nil {
		return state{}, err
	}
	if err := f.Sync(); err != nil {
		return state{}, err
	}
	next := u.st
	next.Size += n
	if next.SHA256, err = sessions.MarshalHash(h); err != nil {
		return state{}, err
	}
	next.updated, err = u.writeState(next)
	return next, err
}

// Commit implements blob.Upload. Invalid and unsupported digests end the session like a
// mismatch does: the client has to start over either way.
func (u *upload) Commit(ctx context.Context, want digest.Digest) (blob.Info, error) {
	info, err := u.commit(ctx, want)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/fs: commit upload %s as %q: %w", u.id, want, err)
	}
	return info, nil
}

func (u *upload) commit(ctx context.Context, want digest.Digest) (blob.Info, error) {
	if err := sessions.CheckDigest(want); err != nil {
		return blob.Info{}, errors.Join(err, u.end())
	}
	if err := u.verify(ctx, want); err != nil {
		if errors.Is(err, blob.ErrDigestMismatch) {
			err = errors.Join(err, u.end())
		}
		return blob.Info{}, err
	}
	dst, err := u.s.blobPath(want)
	if err != nil {
		return blob.Info{}, err
	}
	if err := u.publish(dst); err != nil {
		return blob.Info{}, err
	}
	if err := u.end(); err != nil {
		return blob.Info{}, err
	}
	return u.s.Stat(ctx, want)
}

// verify checks that the session's bytes hash to want and makes them durable.
func (u *upload) verify(ctx context.Context, want digest.Digest) error {
	f, err := u.openData(os.O_RDWR)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := u.sum(ctx, f, want.Algorithm())
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: bytes hash to %s", blob.ErrDigestMismatch, got)
	}
	return f.Sync()
}

// sum returns the digest of the session's bytes. SHA-256 comes from the running hash; any
// other algorithm (checkDigest allows only SHA-512) costs a read of the data file.
func (u *upload) sum(ctx context.Context, f *os.File, alg digest.Algorithm) (digest.Digest, error) {
	if alg == digest.SHA256 {
		h, err := sessions.RestoreSHA256(u.st.SHA256)
		if err != nil {
			return "", err
		}
		return digest.NewDigest(alg, h), nil
	}
	h := sha512.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	src := sessions.CtxReader{Ctx: ctx, R: io.NewSectionReader(f, 0, u.st.Size)}
	if _, err := io.CopyBuffer(h, src, *buf); err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}

// publish makes the data file the blob at dst. If dst already exists (an earlier commit,
// or a concurrent session with the same bytes) that file stays and only its mtime is
// refreshed, as GC reads mtime as the grace marker. Two sessions racing past this check
// both rename identical bytes onto dst, which leaves one correct blob.
func (u *upload) publish(dst string) error {
	now := time.Now()
	err := os.Chtimes(dst, now, now)
	if !errors.Is(err, iofs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(dst)
	if err := mkdirDurable(dir); err != nil {
		return err
	}
	if err := os.Rename(u.dataPath(), dst); err != nil {
		return err
	}
	return syncDir(dir)
}

// end removes the session. A crash midway leaves a directory that resume removes.
func (u *upload) end() error {
	if _, err := os.Lstat(u.dir); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return blob.ErrUploadNotFound
		}
		return err
	}
	return os.RemoveAll(u.dir)
}

// Cancel implements blob.Upload.
func (u *upload) Cancel(context.Context) error {
	if err := u.end(); err != nil {
		return fmt.Errorf("blob/fs: cancel upload %s: %w", u.id, err)
	}
	return nil
}
