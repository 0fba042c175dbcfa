package fs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/blobtest"
)

func TestSuite(t *testing.T) {
	blobtest.Run(t,
		func(t *testing.T) blob.Store { return newStore(t, t.TempDir()) },
		blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store {
			return newStore(t, s.(*Store).root)
		}),
	)
}

func newStore(t testing.TB, root string) *Store {
	t.Helper()
	s, err := New(root)
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	return s
}

// create starts a session and appends p.
func create(t *testing.T, s *Store, p []byte) blob.Upload {
	t.Helper()
	u, err := s.CreateUpload(t.Context(), "library/fs")
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if _, err := u.Append(t.Context(), bytes.NewReader(p)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return u
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestLayout(t *testing.T) {
	s := newStore(t, t.TempDir())
	u := create(t, s, []byte("layout"))
	d := digest.FromString("layout")
	if _, err := u.Commit(t.Context(), d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := fileSize(t, filepath.Join(s.root, "blobs", "sha256", d.Encoded()[:2], d.Encoded())); got != 6 {
		t.Errorf("blob file holds %d bytes, want 6", got)
	}
	if entries, err := os.ReadDir(filepath.Join(s.root, "uploads")); err != nil || len(entries) != 0 {
		t.Errorf("uploads/ after Commit = %v, %v, want empty", entries, err)
	}
}

// A crash between writing bytes and writing the state leaves a data file longer than the
// state; resuming must cut the extra bytes off.
func TestResumeTruncatesUnrecordedBytes(t *testing.T) {
	root := t.TempDir()
	u := create(t, newStore(t, root), []byte("hello "))
	id := u.Info().ID
	data := filepath.Join(root, "uploads", id, "data")
	f, err := os.OpenFile(data, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("garbage from a crashed Append"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	u2, err := newStore(t, root).Upload(t.Context(), id)
	if err != nil {
		t.Fatalf("Upload after crash: %v", err)
	}
	if got := u2.Info().Size; got != 6 {
		t.Errorf("resumed Size = %d, want 6", got)
	}
	if got := fileSize(t, data); got != 6 {
		t.Errorf("data file after resume holds %d bytes, want 6", got)
	}
	if _, err := u2.Append(t.Context(), bytes.NewReader([]byte("world"))); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if _, err := u2.Commit(t.Context(), digest.FromString("hello world")); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// A failed Append gives its bytes back at once, not only when the session is next used.
func TestFailedAppendTruncatesData(t *testing.T) {
	s := newStore(t, t.TempDir())
	u := create(t, s, []byte("abc"))
	r := io.MultiReader(bytes.NewReader(make([]byte, 3<<20)), iotest.ErrReader(errors.New("client went away")))
	if _, err := u.Append(t.Context(), r); err == nil {
		t.Fatal("Append(failing reader) succeeded")
	}
	if got := fileSize(t, filepath.Join(s.root, "uploads", u.Info().ID, "data")); got != 3 {
		t.Errorf("data file after failed Append holds %d bytes, want 3", got)
	}
}

// A failed write ends the copy at once, though the body's reader is still blocked
// waiting for the client: the handler must be free to answer.
func TestWriteErrorDoesNotWaitForReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read-only: every Write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unblock := make(chan struct{})
	defer close(unblock)
	// Two full buffers, then a read that blocks until the test ends.
	body := io.MultiReader(bytes.NewReader(make([]byte, smallBuf+largeBuf)), blockingReader(unblock))
	done := make(chan error, 1)
	go func() {
		_, err := writeThrough(t.Context(), f, sha256.New(), body, 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("writeThrough to a read-only file succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writeThrough still waits for the blocked reader after its write failed")
	}
}

// blockingReader is a body whose next bytes never come: Read blocks until unblock closes.
type blockingReader chan struct{}

func (b blockingReader) Read([]byte) (int, error) {
	<-b
	return 0, io.EOF
}

// A session that cannot be resumed is listed for expiry, and Upload removes it.
func TestResumeRemovesBrokenSession(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(dir string) error
	}{
		{"data shorter than state", func(dir string) error { return os.Truncate(filepath.Join(dir, "data"), 2) }},
		{"no data", func(dir string) error { return os.Remove(filepath.Join(dir, "data")) }},
		{"no state", func(dir string) error { return os.Remove(filepath.Join(dir, "state")) }},
		{"corrupt state", func(dir string) error { return os.WriteFile(filepath.Join(dir, "state"), []byte("{"), 0o600) }},
		{"bad hash state", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "state"), []byte(`{"size":0,"sha256":"AAAA"}`), 0o600)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, t.TempDir())
			id := create(t, s, []byte("some bytes")).Info().ID
			dir := filepath.Join(s.root, "uploads", id)
			if err := tc.corrupt(dir); err != nil {
				t.Fatal(err)
			}
			if ids := uploadIDs(t, s); !slices.Equal(ids, []string{id}) {
				t.Errorf("WalkUploads = %v, want [%s]", ids, id)
			}
			if _, err := s.Upload(t.Context(), id); !errors.Is(err, blob.ErrUploadNotFound) {
				t.Errorf("Upload = %v, want ErrUploadNotFound", err)
			}
			if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("session directory still there after Upload: %v", err)
			}
		})
	}
}

func uploadIDs(t *testing.T, s *Store) []string {
	t.Helper()
	var ids []string
	if err := s.WalkUploads(t.Context(), func(i blob.UploadInfo) error { ids = append(ids, i.ID); return nil }); err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	return ids
}

// Committing an existing blob keeps its file and refreshes the mtime that GC reads.
func TestRecommitRefreshesModTime(t *testing.T) {
	s := newStore(t, t.TempDir())
	d := digest.FromString("again")
	if _, err := create(t, s, []byte("again")).Commit(t.Context(), d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	path, _ := s.blobPath(d)
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	info, err := create(t, s, []byte("again")).Commit(t.Context(), d)
	if err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("second Commit replaced the blob file")
	}
	if time.Since(info.ModTime) > time.Minute || !info.ModTime.Equal(after.ModTime()) {
		t.Errorf("ModTime = %v (file %v), want about now", info.ModTime, after.ModTime())
	}
}

// Crafted ids and digests must not reach files outside root.
func TestCraftedNamesStayInsideRoot(t *testing.T) {
	base := t.TempDir()
	s := newStore(t, filepath.Join(base, "root"))
	victim := filepath.Join(base, "victim")
	if err := os.MkdirAll(filepath.Join(victim, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "data"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, id := range []string{"../../victim", "../victim", "..", victim, "0123456789abcdef0123456789abcde/"} {
		if _, err := s.Upload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
			t.Errorf("Upload(%q) = %v, want ErrUploadNotFound", id, err)
		}
	}
	for _, d := range []digest.Digest{"sha256:../../../victim/data", "../../../victim/data", digest.Digest("sha256:" + victim)} {
		if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(victim, "data")); err != nil {
		t.Errorf("file outside root was touched: %v", err)
	}
}

// Walk and WalkUploads report only entries in the layout's form.
func TestWalkSkipsMalformedEntries(t *testing.T) {
	s := newStore(t, t.TempDir())
	d := digest.FromString("real")
	if _, err := create(t, s, []byte("real")).Commit(t.Context(), d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	other := digest.FromString("other").Encoded()
	junk := map[string]bool{ // path under root: is a directory
		"blobs/sha256/zz/foo":                           false,
		"blobs/sha256/stray":                            false,
		"blobs/sha256/00/" + other:                      false, // wrong prefix directory
		"blobs/sha256/" + other[:2] + "/short":          false,
		"blobs/sha256/" + other[:2] + "/" + other:       true, // a directory, not a file
		"blobs/md5/d4/d41d8cd98f00b204e9800998ecf8427e": false,
		"uploads/not-an-id":                             true,
		"uploads/0123456789abcdef0123456789abcdef":      false, // a file, not a session
	}
	for p, isDir := range junk {
		p = filepath.Join(s.root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		var err error
		if isDir {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, []byte("junk"), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []digest.Digest
	if err := s.Walk(t.Context(), func(i blob.Info) error { got = append(got, i.Digest); return nil }); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if !slices.Equal(got, []digest.Digest{d}) {
		t.Errorf("Walk = %v, want [%s]", got, d)
	}
	if ids := uploadIDs(t, s); len(ids) != 0 {
		t.Errorf("WalkUploads = %v, want none", ids)
	}
}

const benchSize = 64 << 20

func benchData(b *testing.B) []byte {
	p := make([]byte, benchSize)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(p) // never fails
	b.SetBytes(benchSize)
	return p
}

// BenchmarkAppendCommit pushes a 64 MiB blob through one Append and Commit.
func BenchmarkAppendCommit(b *testing.B) {
	blobtest.BenchmarkAppendCommit(b, newStore(b, b.TempDir()), benchData(b))
}

// BenchmarkRawWriteSHA256Fsync is the floor for BenchmarkAppendCommit: the same bytes
// written in 1 MiB pieces and hashed, then one fsync.
func BenchmarkRawWriteSHA256Fsync(b *testing.B) {
	data := benchData(b)
	path := filepath.Join(b.TempDir(), "raw")
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		for p := data; len(p) > 0; p = p[min(len(p), 1<<20):] {
			chunk := p[:min(len(p), 1<<20)]
			if _, err := f.Write(chunk); err != nil {
				b.Fatal(err)
			}
			h.Write(chunk)
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			b.Fatal(err)
		}
		_ = h.Sum(nil)
		b.StopTimer()
		if err := os.Remove(path); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
