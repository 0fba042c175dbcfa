package metatest

import (
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

func testBlobs(t *testing.T, newStore func(*testing.T) *store) {
	s := newStore(t)
	ctx := t.Context()
	a, b := blob("a"), blob("b")

	s.link("r", a)
	s.link("r", a) // linking again is not an error
	s.link("other", b)
	if size, err := s.BlobSize(ctx, "r", a); err != nil || size != blobSize(a) {
		t.Errorf("BlobSize(r, a) = %d, %v; want %d", size, err, blobSize(a))
	}
	_, err := s.BlobSize(ctx, "other", a)
	wantErr(t, "BlobSize of a blob linked only elsewhere", err, meta.ErrBlobNotFound)

	// Linking a blob creates the repository, but a repository without manifests is not
	// listed.
	tags, err := s.Tags(ctx, "r", "", 0)
	wantErr(t, "Tags of a repository holding only blobs", err, nil)
	sameStrings(t, "Tags of a repository holding only blobs", tags, nil)
	repos, err := s.Repositories(ctx, "", 0)
	wantErr(t, "Repositories", err, nil)
	sameStrings(t, "Repositories with only blobs", repos, nil)

	wantErr(t, "UnlinkBlob(r, a)", s.UnlinkBlob(ctx, "r", a), nil)
	_, err = s.BlobSize(ctx, "r", a)
	wantErr(t, "BlobSize after UnlinkBlob", err, meta.ErrBlobNotFound)
	wantErr(t, "UnlinkBlob again", s.UnlinkBlob(ctx, "r", a), meta.ErrBlobNotFound)
	if size, err := s.BlobSize(ctx, "other", b); err != nil || size != blobSize(b) {
		t.Errorf("BlobSize(other, b) after unlinking another blob = %d, %v", size, err)
	}
}

// testLinkRefreshesGrace relies on the store's clock advancing across short sleeps; it
// asserts an order of events, not a duration.
func testLinkRefreshesGrace(t *testing.T, newStore func(*testing.T) *store) {
	s := newStore(t)
	ctx := t.Context()
	d := blob("x")
	s.link("a", d)
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(20 * time.Millisecond)

	if inUse, err := s.BlobInUse(ctx, d, cutoff); err != nil || inUse {
		t.Fatalf("BlobInUse with a link older than the cutoff = %v, %v; want false", inUse, err)
	}
	s.link("b", d) // a link in any repository counts
	if inUse, err := s.BlobInUse(ctx, d, cutoff); err != nil || !inUse {
		t.Fatalf("BlobInUse after a new link in another repository = %v, %v; want true", inUse, err)
	}
	s.link("a", d)
	wantErr(t, "UnlinkBlob(b)", s.UnlinkBlob(ctx, "b", d), nil)
	if inUse, err := s.BlobInUse(ctx, d, cutoff); err != nil || !inUse {
		t.Fatalf("BlobInUse after re-linking = %v, %v; want true", inUse, err)
	}
}

func testBlobInUseAndRelease(t *testing.T, newStore func(*testing.T) *store) {
	x := blob("x")
	// Every link in these cases happens between the two cutoffs.
	allOld, allRecent := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		setup  func(*store)
		cutoff time.Time
		linked []string // repositories x is linked into
		inUse  bool
	}{
		{
			name:   "never linked nor referenced",
			setup:  func(*store) {},
			cutoff: allOld,
		},
		{
			name:   "linked before the cutoff",
			setup:  func(s *store) { s.link("a", x); s.link("b", x) },
			cutoff: allOld,
			linked: []string{"a", "b"},
		},
		{
			name:   "linked at or after the cutoff",
			setup:  func(s *store) { s.link("a", x); s.link("b", x) },
			cutoff: allRecent,
			linked: []string{"a", "b"},
			inUse:  true,
		},
		{
			name:   "zero cutoff: every link counts",
			setup:  func(s *store) { s.link("a", x) },
			cutoff: time.Time{},
			linked: []string{"a"},
			inUse:  true,
		},
		{
			name: "referenced by a manifest of another repository",
			setup: func(s *store) {
				s.link("a", x)
				s.link("m", x)
				s.put(image("m", "uses-x", x), "")
			},
			cutoff: allOld,
			linked: []string{"a", "m"},
			inUse:  true,
		},
		{
			name: "referenced by an untagged manifest",
			setup: func(s *store) {
				s.link("a", x)
				s.put(image("a", "uses-x", x), "")
			},
			cutoff: allOld,
			linked: []string{"a"},
			inUse:  true,
		},
		{
			name: "reference deleted with its manifest",
			setup: func(s *store) {
				s.link("a", x)
				m := image("a", "uses-x", x)
				s.put(m, "v1")
				s.deleteManifest(m)
			},
			cutoff: allOld,
			linked: []string{"a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.setup(s)
			checkBlobInUseAndRelease(t, s, x, tc.cutoff, tc.linked, tc.inUse)
		})
	}
}

func checkBlobInUseAndRelease(t *testing.T, s *store, d digest.Digest, cutoff time.Time, linked []string, inUse bool) {
	t.Helper()
	ctx := t.Context()
	if got, err := s.BlobInUse(ctx, d, cutoff); err != nil || got != inUse {
		t.Fatalf("BlobInUse = %v, %v; want %v", got, err, inUse)
	}
	if released, err := s.ReleaseBlob(ctx, d, cutoff); err != nil || released == inUse {
		t.Fatalf("ReleaseBlob = %v, %v; want %v", released, err, !inUse)
	}
	for _, repository := range linked {
		_, err := s.BlobSize(ctx, repository, d)
		if inUse {
			wantErr(t, "BlobSize after refused ReleaseBlob in "+repository, err, nil)
		} else {
			wantErr(t, "BlobSize after ReleaseBlob in "+repository, err, meta.ErrBlobNotFound)
		}
	}
}
