// Package blobtest owns the behaviour suite that every blob.Store driver must pass, so the
// filesystem, Azure Blob and S3 drivers behave alike. A driver's test calls Run.
//
// Beyond blob.go, the suite pins down these behaviours (callers may rely on them):
//   - Stat, Open and Delete treat a malformed or unsupported digest as ErrNotFound.
//   - Append that fails returns written == 0 and an error wrapping the reader's (or the
//     context's) error; the session keeps its previous size and goes on.
//   - Commit with a digest that does not validate ends the session and returns an error
//     wrapping digest.Digest.Validate's error (ErrUnsupportedDigest for unknown algorithms).
//   - After Commit or Cancel, the session's Append, Commit and Cancel, and Store.Upload
//     of its id, return ErrUploadNotFound.
//   - With WithReplicas: an Append or Commit through an Upload value whose session another
//     value moved on since returns ErrUploadConflict and keeps nothing.
package blobtest

import (
	"bytes"
	"context"
	_ "crypto/sha512" // registers SHA-384 and SHA-512 with go-digest
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
)

// Option configures Run.
type Option func(*suite)

// WithReopen lets the suite simulate a process restart: reopen returns a new Store value
// over the same backing storage as s, sharing no memory with it. Without it the resume
// tests resume by id on the same Store value.
func WithReopen(reopen func(t *testing.T, s blob.Store) blob.Store) Option {
	return func(s *suite) { s.reopen = reopen }
}

// WithReplicas says that the Store values WithReopen makes may work on one session at
// the same time, as the replicas of a registry do, so the suite also runs its replica
// tests: racing Appends, stale Upload values, a session moving between replicas. It
// needs WithReopen.
func WithReplicas() Option {
	return func(s *suite) { s.replicas = true }
}

// WithRaceCheck adds a driver's own check to the replica test ConcurrentAppendOneWins,
// e.g. that the losing Append left nothing behind in the backing storage. After each
// race, check gets the store that started the session and the session as resumed after
// the race; an error fails the test.
func WithRaceCheck(check func(t *testing.T, s blob.Store, u blob.Upload) error) Option {
	return func(s *suite) { s.raceCheck = check }
}

// WithLostResponse lets the suite run RetriedAppendIsNotAConflict. flaky returns another
// Store value over s's backing storage that, once, drops the response of the conditional
// write with which an Append records the session's new state, after the write landed;
// dropped reports whether it has.
func WithLostResponse(flaky func(t *testing.T, s blob.Store) (st blob.Store, dropped func() bool)) Option {
	return func(s *suite) { s.lostResponse = flaky }
}

// Run runs the suite against the driver that newStore makes. newStore must return an
// empty store used by no other test: it is called once per subtest, and subtests run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store, opts ...Option) {
	s := &suite{newStore: newStore}
	for _, o := range opts {
		o(s)
	}
	if s.replicas && s.reopen == nil {
		t.Fatal("blobtest: WithReplicas needs WithReopen")
	}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"NotFound", s.testNotFound},
		{"RoundTrip", s.testRoundTrip},
		{"Seek", s.testSeek},
		{"Resume", s.testResume},
		{"DigestMismatch", s.testDigestMismatch},
		{"BadDigest", s.testBadDigest},
		{"SHA512", s.testSHA512},
		{"Cancel", s.testCancel},
		{"ConcurrentSameDigest", s.testConcurrentSameDigest},
		{"Recommit", s.testRecommit},
		{"Delete", s.testDelete},
		{"Walk", s.testWalk},
		{"WalkUploads", s.testWalkUploads},
		{"FailedAppend", s.testFailedAppend},
		{"Putter", s.testPutter},
		{"ConcurrentAppendOneWins", s.testConcurrentAppendOneWins},
		{"StaleValueConflicts", s.testStaleValueConflicts},
		{"SessionAcrossReplicas", s.testSessionAcrossReplicas},
		{"RetriedAppendIsNotAConflict", s.testRetriedAppendIsNotAConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	newStore     func(t *testing.T) blob.Store
	reopen       func(t *testing.T, s blob.Store) blob.Store
	replicas     bool
	raceCheck    func(t *testing.T, s blob.Store, u blob.Upload) error
	lostResponse func(t *testing.T, s blob.Store) (blob.Store, func() bool)
}

// restart returns st as a restarted process would see it.
func (s *suite) restart(t *testing.T, st blob.Store) blob.Store {
	t.Helper()
	if s.reopen == nil {
		return st
	}
	return s.reopen(t, st)
}

// approxTime tolerates drivers that keep times at a coarser precision than time.Time.
var approxTime = cmpopts.EquateApproxTime(time.Second)

var errBoom = errors.New("blobtest: reader failed")

func (s *suite) testNotFound(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	hex64 := strings.Repeat("ab", 32)
	digests := []digest.Digest{
		digest.FromString("absent"),
		digest.SHA512.FromString("absent"),
		"",
		"sha256",
		"sha256:",
		"sha256:abc",
		digest.Digest("sha256:" + strings.ToUpper(hex64)),
		digest.Digest("sha256:" + hex64 + "/../../x"),
		"sha256:../../../../etc/passwd",
		"../../../../etc/passwd",
		digest.Digest("sha384:" + strings.Repeat("ab", 48)),
		"md5:d41d8cd98f00b204e9800998ecf8427e",
	}
	for _, d := range digests {
		if _, err := st.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", d, err)
		}
		if r, err := st.Open(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", d, err)
			if r != nil {
				r.Close()
			}
		}
		if err := st.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", d, err)
		}
	}
	ids := []string{"", "x", "..", "../blobs", "/etc", strings.Repeat("0", 32), strings.Repeat("0", 31) + "/"}
	for _, id := range ids {
		if _, err := st.Upload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
			t.Errorf("Upload(%q) = %v, want ErrUploadNotFound", id, err)
		}
	}
}

func (s *suite) testRoundTrip(t *testing.T) {
	big := RandomBytes(3<<20+17, 1)
	tests := []struct {
		name   string
		chunks [][]byte
	}{
		{"no append", nil},
		{"one empty append", [][]byte{{}}},
		{"one append", [][]byte{RandomBytes(1000, 2)}},
		{"several appends", split(RandomBytes(100_000, 3), 1, 4095, 4096, 30_000, 0, 50_000)},
		{"larger than copy buffers", split(big, 2<<20+5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.newStore(t)
			ctx := t.Context()
			u := createWith(t, st, "library/round-trip", tc.chunks...)
			data := bytes.Join(tc.chunks, nil)
			want := digest.FromBytes(data)
			info, err := u.Commit(ctx, want)
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if info.Digest != want || info.Size != int64(len(data)) || info.ModTime.IsZero() {
				t.Errorf("Commit = %+v, want digest %s, size %d, a mod time", info, want, len(data))
			}
			stat, err := st.Stat(ctx, want)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if diff := cmp.Diff(info, stat, approxTime); diff != "" {
				t.Errorf("Stat differs from Commit (-commit +stat):\n%s", diff)
			}
			if got := ReadBlob(t, st, want); !bytes.Equal(got, data) {
				t.Errorf("Open read %d bytes, want the %d committed", len(got), len(data))
			}
			if _, err := st.Upload(ctx, u.Info().ID); !errors.Is(err, blob.ErrUploadNotFound) {
				t.Errorf("Upload after Commit = %v, want ErrUploadNotFound", err)
			}
		})
	}
}

func (s *suite) testSeek(t *testing.T) {
	st := s.newStore(t)
	data := RandomBytes(10_000, 4)
	d := put(t, st, data).Digest
	tests := []struct {
		name    string
		skip    int // bytes read before seeking
		offset  int64
		whence  int
		wantPos int64
		n       int64
	}{
		{"start", 0, 0, io.SeekStart, 0, 100},
		{"middle", 0, 4321, io.SeekStart, 4321, 1000},
		{"tail past end", 0, 9990, io.SeekStart, 9990, 100},
		{"current after read", 10, 5, io.SeekCurrent, 15, 20},
		{"from end", 0, -10, io.SeekEnd, 9990, 10},
		{"at end", 0, 0, io.SeekEnd, 10_000, 10},
		{"past end", 0, 20_000, io.SeekStart, 20_000, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := st.Open(t.Context(), d)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if _, err := io.CopyN(io.Discard, r, int64(tc.skip)); err != nil {
				t.Fatalf("read before seek: %v", err)
			}
			pos, err := r.Seek(tc.offset, tc.whence)
			if err != nil || pos != tc.wantPos {
				t.Fatalf("Seek(%d, %d) = %d, %v, want %d", tc.offset, tc.whence, pos, err, tc.wantPos)
			}
			got, err := io.ReadAll(io.LimitReader(r, tc.n))
			if err != nil {
				t.Fatalf("read after seek: %v", err)
			}
			lo, hi := min(pos, int64(len(data))), min(pos+tc.n, int64(len(data)))
			if !bytes.Equal(got, data[lo:hi]) {
				t.Errorf("read %d bytes after seek, want bytes [%d,%d)", len(got), lo, hi)
			}
		})
	}
}

func (s *suite) testResume(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	data := RandomBytes(2<<20+3, 5)
	u := createWith(t, st, "library/resume", data[:1<<20+1])
	before := u.Info()

	st2 := s.restart(t, st)
	u2, err := st2.Upload(ctx, before.ID)
	if err != nil {
		t.Fatalf("Upload(%s) after restart: %v", before.ID, err)
	}
	if diff := cmp.Diff(before, u2.Info(), approxTime); diff != "" {
		t.Errorf("resumed Info differs (-before +resumed):\n%s", diff)
	}
	appendOK(t, u2, data[1<<20+1:])
	want := digest.FromBytes(data)
	if _, err := u2.Commit(ctx, want); err != nil {
		t.Fatalf("Commit after resume: %v", err)
	}
	if got := ReadBlob(t, st2, want); !bytes.Equal(got, data) {
		t.Errorf("resumed upload committed %d bytes, want %d", len(got), len(data))
	}
}

func (s *suite) testDigestMismatch(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	data := RandomBytes(5000, 6)
	u := createWith(t, st, "library/mismatch", data)
	wrong := digest.FromString("something else")
	if _, err := u.Commit(ctx, wrong); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Commit(wrong digest) = %v, want ErrDigestMismatch", err)
	}
	assertEnded(t, st, u)
	assertNoBlobs(t, st)
}

func (s *suite) testBadDigest(t *testing.T) {
	data := RandomBytes(3000, 7)
	hex64 := digest.FromBytes(data).Encoded()
	tests := []struct {
		name string
		want digest.Digest
	}{
		{"sha384", digest.SHA384.FromBytes(data)},
		{"unknown algorithm", "md5:d41d8cd98f00b204e9800998ecf8427e"},
		{"empty", ""},
		{"no encoded part", "sha256:"},
		{"short hex", "sha256:abcdef"},
		{"upper-case hex", digest.Digest("sha256:" + strings.ToUpper(hex64))},
		{"path in hex", digest.Digest("sha256:../../" + hex64[6:])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.newStore(t)
			u := createWith(t, st, "library/bad-digest", data)
			wantErr := tc.want.Validate()
			if wantErr == nil || errors.Is(wantErr, digest.ErrDigestUnsupported) {
				wantErr = blob.ErrUnsupportedDigest
			}
			if _, err := u.Commit(t.Context(), tc.want); !errors.Is(err, wantErr) {
				t.Fatalf("Commit(%q) = %v, want %v", tc.want, err, wantErr)
			}
			assertEnded(t, st, u)
			assertNoBlobs(t, st)
		})
	}
}

func (s *suite) testSHA512(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	data := RandomBytes(1<<20+9, 8)
	u := createWith(t, st, "library/sha512", split(data, 12345)...)
	want := digest.SHA512.FromBytes(data)
	info, err := u.Commit(ctx, want)
	if err != nil {
		t.Fatalf("Commit(sha512): %v", err)
	}
	if info.Digest != want || info.Size != int64(len(data)) {
		t.Errorf("Commit = %+v, want digest %s, size %d", info, want, len(data))
	}
	if got := ReadBlob(t, st, want); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, want %d", len(got), len(data))
	}
	if _, err := st.Stat(ctx, digest.FromBytes(data)); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(sha256 of the same bytes) = %v, want ErrNotFound", err)
	}
	if diff := cmp.Diff([]digest.Digest{want}, walkDigests(t, st)); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
}

func (s *suite) testCancel(t *testing.T) {
	st := s.newStore(t)
	data := RandomBytes(4000, 9)
	u := createWith(t, st, "library/cancel", data)
	if err := u.Cancel(t.Context()); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	assertEnded(t, st, u)
	assertNoBlobs(t, st)
}

func (s *suite) testConcurrentSameDigest(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	data := RandomBytes(256<<10+3, 10)
	want := digest.FromBytes(data)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			u, err := st.CreateUpload(ctx, "library/race")
			if err != nil {
				t.Errorf("CreateUpload: %v", err)
				return
			}
			for _, c := range split(data, 100_000) {
				if _, err := u.Append(ctx, bytes.NewReader(c)); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
			if _, err := u.Commit(ctx, want); err != nil {
				t.Errorf("Commit: %v", err)
			}
		})
	}
	wg.Wait()
	if got := ReadBlob(t, st, want); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, want %d", len(got), len(data))
	}
	if diff := cmp.Diff([]digest.Digest{want}, walkDigests(t, st)); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
	if ids := walkUploadIDs(t, st); len(ids) != 0 {
		t.Errorf("WalkUploads lists %v after every session committed", ids)
	}
}

func (s *suite) testRecommit(t *testing.T) {
	st := s.newStore(t)
	data := RandomBytes(2000, 11)
	first := put(t, st, data)
	second := put(t, st, data)
	if second.Digest != first.Digest || second.Size != first.Size {
		t.Errorf("second Commit = %+v, want digest and size of %+v", second, first)
	}
	if second.ModTime.Before(first.ModTime) {
		t.Errorf("second Commit ModTime %v is before the first's %v", second.ModTime, first.ModTime)
	}
	if got := ReadBlob(t, st, first.Digest); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, want %d", len(got), len(data))
	}
}

func (s *suite) testDelete(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	data := RandomBytes(2000, 12)
	d := put(t, st, data).Digest
	if err := st.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := st.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if r, err := st.Open(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open after Delete = %v, want ErrNotFound", err)
		if r != nil {
			r.Close()
		}
	}
	if err := st.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	put(t, st, data)
	if got := ReadBlob(t, st, d); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes after committing again, want %d", len(got), len(data))
	}
}

func (s *suite) testWalk(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	var want []blob.Info
	for i := range 4 {
		want = append(want, put(t, st, RandomBytes(100*i, uint64(20+i))))
	}
	data := RandomBytes(777, 30)
	u := createWith(t, st, "library/walk", data)
	info, err := u.Commit(ctx, digest.SHA512.FromBytes(data))
	if err != nil {
		t.Fatalf("Commit(sha512): %v", err)
	}
	want = append(want, info)
	createWith(t, st, "library/walk", RandomBytes(10, 31)) // uncommitted: not a blob

	var got []blob.Info
	if err := st.Walk(ctx, func(i blob.Info) error { got = append(got, i); return nil }); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	byDigest := cmpopts.SortSlices(func(a, b blob.Info) bool { return a.Digest < b.Digest })
	if diff := cmp.Diff(want, got, byDigest, approxTime); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}

	calls := 0
	err = st.Walk(ctx, func(blob.Info) error { calls++; return errBoom })
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Errorf("Walk with failing fn = %v after %d calls, want errBoom after 1", err, calls)
	}
}

func (s *suite) testWalkUploads(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	a := createWith(t, st, "library/a", RandomBytes(1234, 40))
	b := createWith(t, st, "team/b/c")
	want := []blob.UploadInfo{a.Info(), b.Info()}

	var got []blob.UploadInfo
	if err := st.WalkUploads(ctx, func(i blob.UploadInfo) error { got = append(got, i); return nil }); err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	byID := cmpopts.SortSlices(func(x, y blob.UploadInfo) bool { return x.ID < y.ID })
	if diff := cmp.Diff(want, got, byID, approxTime); diff != "" {
		t.Errorf("WalkUploads (-want +got):\n%s", diff)
	}

	calls := 0
	err := st.WalkUploads(ctx, func(blob.UploadInfo) error { calls++; return errBoom })
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Errorf("WalkUploads with failing fn = %v after %d calls, want errBoom after 1", err, calls)
	}

	if _, err := a.Commit(ctx, digest.FromBytes(RandomBytes(1234, 40))); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := b.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if ids := walkUploadIDs(t, st); len(ids) != 0 {
		t.Errorf("WalkUploads lists %v after Commit and Cancel", ids)
	}
}

func (s *suite) testFailedAppend(t *testing.T) {
	data := RandomBytes(4<<20+123, 50)
	tests := []struct {
		name      string
		before    int  // bytes appended successfully first
		failAfter int  // bytes the failing reader yields before its error
		cancel    bool // fail by cancelling the context instead of a reader error
		resume    bool // go on with a resumed session (after a restart) rather than the same value
	}{
		{name: "first append fails at once", failAfter: 0},
		{name: "fails within a buffer", before: 1000, failAfter: 5000},
		{name: "fails after several buffers", before: 1000, failAfter: 3<<20 + 5},
		{name: "fails then resumes after restart", before: 70_000, failAfter: 2<<20 + 1, resume: true},
		{name: "context cancelled", before: 1000, failAfter: 2 << 20, cancel: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.newStore(t)
			u := createWith(t, st, "library/failed-append", data[:tc.before])

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			chunk := bytes.NewReader(data[tc.before : tc.before+tc.failAfter])
			var r io.Reader = io.MultiReader(chunk, iotest.ErrReader(errBoom))
			wantErr := errBoom
			if tc.cancel {
				r, wantErr = &cancellingReader{r: chunk, cancel: cancel}, context.Canceled
			}
			n, err := u.Append(ctx, r)
			if !errors.Is(err, wantErr) || n != 0 {
				t.Fatalf("Append(failing reader) = %d, %v, want 0, %v", n, err, wantErr)
			}
			if got := u.Info().Size; got != int64(tc.before) {
				t.Errorf("Info().Size after failed Append = %d, want %d", got, tc.before)
			}
			if tc.resume {
				st = s.restart(t, st)
				u = resume(t, st, u.Info().ID)
				if got := u.Info().Size; got != int64(tc.before) {
					t.Errorf("resumed Info().Size = %d, want %d", got, tc.before)
				}
			}
			appendOK(t, u, data[tc.before:])
			want := digest.FromBytes(data)
			if _, err := u.Commit(t.Context(), want); err != nil {
				t.Fatalf("Commit after failed Append: %v", err)
			}
			if got := ReadBlob(t, st, want); !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// testPutter checks the optional one-call Put of drivers that have it: the same rules as a
// session's Commit, and no session left behind.
func (s *suite) testPutter(t *testing.T) {
	if _, ok := s.newStore(t).(blob.Putter); !ok {
		t.Skip("driver has no Put")
	}
	small, large := RandomBytes(100, 60), RandomBytes(3<<20+7, 61)
	sha512Of := func(b []byte) digest.Digest { return digest.SHA512.FromBytes(b) }
	tests := []struct {
		name    string
		data    []byte
		want    digest.Digest
		r       io.Reader // nil: the data
		wantErr error     // nil: stored
	}{
		{name: "small", data: small, want: digest.FromBytes(small)},
		{name: "several buffers", data: large, want: digest.FromBytes(large)},
		{name: "empty", data: nil, want: digest.FromBytes(nil)},
		{name: "sha512", data: small, want: sha512Of(small)},
		{name: "mismatch", data: small, want: digest.FromBytes(large), wantErr: blob.ErrDigestMismatch},
		{name: "unsupported algorithm", data: small, want: "md5:d41d8cd98f00b204e9800998ecf8427e", wantErr: blob.ErrUnsupportedDigest},
		{name: "reader fails", data: large, want: digest.FromBytes(large),
			r: io.MultiReader(bytes.NewReader(large[:1<<20]), iotest.ErrReader(errBoom)), wantErr: errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.newStore(t)
			r := tc.r
			if r == nil {
				r = bytes.NewReader(tc.data)
			}
			info, err := st.(blob.Putter).Put(t.Context(), tc.want, r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Put = %v, want %v", err, tc.wantErr)
				}
				assertNoBlobs(t, st)
			} else {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if info.Digest != tc.want || info.Size != int64(len(tc.data)) {
					t.Errorf("Put = %+v, want %s of %d bytes", info, tc.want, len(tc.data))
				}
				if got := ReadBlob(t, st, tc.want); !bytes.Equal(got, tc.data) {
					t.Errorf("read back %d bytes, want %d", len(got), len(tc.data))
				}
			}
			if ids := walkUploadIDs(t, st); len(ids) != 0 {
				t.Errorf("Put left sessions %v", ids)
			}
		})
	}
}

// cancellingReader cancels its context after the first read, like a request whose client
// goes away mid-body.
type cancellingReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	defer c.cancel()
	return c.r.Read(p)
}

// createWith starts a session for repository and appends each chunk.
func createWith(t *testing.T, st blob.Store, repository string, chunks ...[]byte) blob.Upload {
	t.Helper()
	u, err := st.CreateUpload(t.Context(), repository)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	info := u.Info()
	if info.ID == "" || info.Repository != repository || info.Size != 0 || info.StartedAt.IsZero() {
		t.Fatalf("new session Info = %+v, want an id, repository %q, size 0, a start time", info, repository)
	}
	for _, c := range chunks {
		appendOK(t, u, c)
	}
	return u
}

// appendOK appends p and checks the reported and recorded sizes.
func appendOK(t *testing.T, u blob.Upload, p []byte) {
	t.Helper()
	before := u.Info().Size
	n, err := u.Append(t.Context(), bytes.NewReader(p))
	if err != nil || n != int64(len(p)) {
		t.Fatalf("Append(%d bytes) = %d, %v", len(p), n, err)
	}
	if got := u.Info().Size; got != before+n {
		t.Fatalf("Info().Size after Append = %d, want %d", got, before+n)
	}
}

func resume(t *testing.T, st blob.Store, id string) blob.Upload {
	t.Helper()
	u, err := st.Upload(t.Context(), id)
	if err != nil {
		t.Fatalf("Upload(%s): %v", id, err)
	}
	return u
}

// put uploads data in one Append and commits it under its SHA-256 digest.
func put(t *testing.T, st blob.Store, data []byte) blob.Info {
	t.Helper()
	u := createWith(t, st, "library/put", data)
	info, err := u.Commit(t.Context(), digest.FromBytes(data))
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return info
}

// ReadBlob returns the bytes of the committed blob d, failing the test if it cannot.
func ReadBlob(t *testing.T, st blob.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := st.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return b
}

// assertEnded checks that the session u is over, seen from u and from the store.
func assertEnded(t *testing.T, st blob.Store, u blob.Upload) {
	t.Helper()
	ctx := t.Context()
	id := u.Info().ID
	if _, err := st.Upload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("Upload(%s) of an ended session = %v, want ErrUploadNotFound", id, err)
	}
	if _, err := u.Append(ctx, strings.NewReader("more")); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("Append to an ended session = %v, want ErrUploadNotFound", err)
	}
	if _, err := u.Commit(ctx, digest.FromString("more")); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("Commit of an ended session = %v, want ErrUploadNotFound", err)
	}
	if err := u.Cancel(ctx); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("Cancel of an ended session = %v, want ErrUploadNotFound", err)
	}
	if ids := walkUploadIDs(t, st); slices.Contains(ids, id) {
		t.Errorf("WalkUploads still lists ended session %s", id)
	}
}

func assertNoBlobs(t *testing.T, st blob.Store) {
	t.Helper()
	if ds := walkDigests(t, st); len(ds) != 0 {
		t.Errorf("Walk found %v, want no blobs", ds)
	}
}

func walkDigests(t *testing.T, st blob.Store) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	if err := st.Walk(t.Context(), func(i blob.Info) error { ds = append(ds, i.Digest); return nil }); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return ds
}

func walkUploadIDs(t *testing.T, st blob.Store) []string {
	t.Helper()
	var ids []string
	if err := st.WalkUploads(t.Context(), func(i blob.UploadInfo) error { ids = append(ids, i.ID); return nil }); err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	return ids
}

// RandomBytes returns n reproducible pseudo-random bytes: the same for the same n and seed.
func RandomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	_, _ = rand.NewChaCha8(s).Read(b) // never fails
	return b
}

// split cuts p into chunks of the given sizes, and a last chunk with the rest.
func split(p []byte, sizes ...int) [][]byte {
	var out [][]byte
	for _, n := range sizes {
		out = append(out, p[:n])
		p = p[n:]
	}
	return append(out, p)
}
