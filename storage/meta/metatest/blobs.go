package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

func testBlobs(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	a, b := blob("a"), blob("b")

	s.link(repo("r"), a)
	s.link(repo("r"), a) // linking again is not an error
	s.link(repo("other"), b)
	if size, err := s.BlobSize(ctx, repo("r"), a); err != nil || size != blobSize(a) {
		t.Errorf("BlobSize(r, a) = %d, %v; want %d", size, err, blobSize(a))
	}
	_, err := s.BlobSize(ctx, repo("other"), a)
	wantErr(t, "BlobSize of a blob linked only elsewhere", err, meta.ErrBlobNotFound)

	// Linking a blob creates the repository, but a repository without manifests is not
	// listed.
	tags, err := s.Tags(ctx, repo("r"), "", 0)
	wantErr(t, "Tags of a repository holding only blobs", err, nil)
	sameStrings(t, "Tags of a repository holding only blobs", tags, nil)
	repos, err := s.Repositories(ctx, reg, "", 0)
	wantErr(t, "Repositories", err, nil)
	sameStrings(t, "Repositories with only blobs", repos, nil)

	wantErr(t, "UnlinkBlob(r, a)", s.UnlinkBlob(ctx, repo("r"), a), nil)
	_, err = s.BlobSize(ctx, repo("r"), a)
	wantErr(t, "BlobSize after UnlinkBlob", err, meta.ErrBlobNotFound)
	wantErr(t, "UnlinkBlob again", s.UnlinkBlob(ctx, repo("r"), a), meta.ErrBlobNotFound)
	if size, err := s.BlobSize(ctx, repo("other"), b); err != nil || size != blobSize(b) {
		t.Errorf("BlobSize(other, b) after unlinking another blob = %d, %v", size, err)
	}
}

// testLinkRefreshesGrace relies on the store's clock advancing across short sleeps; it
// asserts an order of events, not a duration.
func testLinkRefreshesGrace(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	d := blob("x")
	s.link(repo("a"), d)
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(20 * time.Millisecond)

	if inUse, err := s.BlobInUse(ctx, d, cutoff); err != nil || inUse {
		t.Fatalf("BlobInUse with a link older than the cutoff = %v, %v; want false", inUse, err)
	}
	s.link(repo("b"), d) // a link in any repository counts
	if inUse, err := s.BlobInUse(ctx, d, cutoff); err != nil || !inUse {
		t.Fatalf("BlobInUse after a new link in another repository = %v, %v; want true", inUse, err)
	}
	s.link(repo("a"), d)
	wantErr(t, "UnlinkBlob(b)", s.UnlinkBlob(ctx, repo("b"), d), nil)
	if inUse, err := s.BlobInUse(ctx, d, cutoff); err != nil || !inUse {
		t.Fatalf("BlobInUse after re-linking = %v, %v; want true", inUse, err)
	}
}

func testBlobInUseAndRelease(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo, other := repoIn(reg), repoIn(reg+"-other")
	x := blob("x")
	// Every link in these cases happens between the two cutoffs.
	allOld, allRecent := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		setup  func(*store)
		cutoff time.Time
		linked []meta.Repo // repositories x is linked into
		inUse  bool
	}{
		{
			name:   "never linked nor referenced",
			setup:  func(*store) {},
			cutoff: allOld,
		},
		{
			name:   "linked before the cutoff",
			setup:  func(s *store) { s.link(repo("a"), x); s.link(repo("b"), x) },
			cutoff: allOld,
			linked: []meta.Repo{repo("a"), repo("b")},
		},
		{
			name:   "linked at or after the cutoff",
			setup:  func(s *store) { s.link(repo("a"), x); s.link(repo("b"), x) },
			cutoff: allRecent,
			linked: []meta.Repo{repo("a"), repo("b")},
			inUse:  true,
		},
		{
			name:   "zero cutoff: every link counts",
			setup:  func(s *store) { s.link(repo("a"), x) },
			cutoff: time.Time{},
			linked: []meta.Repo{repo("a")},
			inUse:  true,
		},
		{
			name: "referenced by a manifest of another repository",
			setup: func(s *store) {
				s.link(repo("a"), x)
				s.link(repo("m"), x)
				s.put(image(repo("m"), "uses-x", x), "")
			},
			cutoff: allOld,
			linked: []meta.Repo{repo("a"), repo("m")},
			inUse:  true,
		},
		{
			name:   "linked before the cutoff in two registries",
			setup:  func(s *store) { s.link(repo("a"), x); s.link(other("a"), x) },
			cutoff: allOld,
			linked: []meta.Repo{repo("a"), other("a")},
		},
		{
			name:   "linked at or after the cutoff in another registry",
			setup:  func(s *store) { s.link(repo("a"), x); s.link(other("b"), x) },
			cutoff: allRecent,
			linked: []meta.Repo{repo("a"), other("b")},
			inUse:  true,
		},
		{
			name: "referenced by a manifest of another registry, unlinked here",
			setup: func(s *store) {
				s.link(repo("a"), x)
				s.link(other("a"), x)
				s.put(image(other("a"), "uses-x", x), "v1")
				if err := s.UnlinkBlob(s.t.Context(), repo("a"), x); err != nil {
					s.t.Fatalf("UnlinkBlob: %v", err)
				}
			},
			cutoff: allOld,
			linked: []meta.Repo{other("a")},
			inUse:  true,
		},
		{
			name: "referenced by an untagged manifest",
			setup: func(s *store) {
				s.link(repo("a"), x)
				s.put(image(repo("a"), "uses-x", x), "")
			},
			cutoff: allOld,
			linked: []meta.Repo{repo("a")},
			inUse:  true,
		},
		{
			name: "reference deleted with its manifest",
			setup: func(s *store) {
				s.link(repo("a"), x)
				m := image(repo("a"), "uses-x", x)
				s.put(m, "v1")
				s.deleteManifest(m)
			},
			cutoff: allOld,
			linked: []meta.Repo{repo("a")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.setup(s)
			checkBlobInUseAndRelease(t, s, x, tc.cutoff, tc.linked, tc.inUse)
		})
	}
}

func checkBlobInUseAndRelease(t *testing.T, s *store, d digest.Digest, cutoff time.Time, linked []meta.Repo, inUse bool) {
	t.Helper()
	ctx := t.Context()
	if got, err := s.BlobInUse(ctx, d, cutoff); err != nil || got != inUse {
		t.Fatalf("BlobInUse = %v, %v; want %v", got, err, inUse)
	}
	if released, err := s.ReleaseBlob(ctx, d, cutoff); err != nil || released == inUse {
		t.Fatalf("ReleaseBlob = %v, %v; want %v", released, err, !inUse)
	}
	for _, r := range linked {
		_, err := s.BlobSize(ctx, r, d)
		if inUse {
			wantErr(t, "BlobSize after refused ReleaseBlob in "+r.Name, err, nil)
		} else {
			wantErr(t, "BlobSize after ReleaseBlob in "+r.Name, err, meta.ErrBlobNotFound)
		}
	}
}

// testReleaseMarksDeletion: between ReleaseBlob and EndRelease a blob cannot be linked
// again, so no push is acknowledged for bytes garbage collection is deleting.
func testReleaseMarksDeletion(t *testing.T, newStore func(*testing.T) *store) {
	s := newStore(t)
	ctx := t.Context()
	repo := repoIn(registryID(t))
	x, y := blob("x"), blob("y")
	s.link(repo("a"), x, y)
	if released, err := s.ReleaseBlob(ctx, x, time.Now().Add(time.Hour)); err != nil || !released {
		t.Fatalf("ReleaseBlob = %v, %v; want released", released, err)
	}
	if err := s.LinkBlob(ctx, repo("b"), x, blobSize(x)); !errors.Is(err, meta.ErrBlobBeingDeleted) {
		t.Errorf("LinkBlob of a blob being deleted = %v, want ErrBlobBeingDeleted", err)
	}
	if err := s.LinkBlob(ctx, repo("b"), y, blobSize(y)); err != nil {
		t.Errorf("LinkBlob of another blob: %v", err)
	}
	if err := s.EndRelease(ctx, x); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkBlob(ctx, repo("b"), x, blobSize(x)); err != nil {
		t.Errorf("LinkBlob after EndRelease: %v", err)
	}
	if err := s.EndRelease(ctx, x); err != nil {
		t.Errorf("EndRelease without a mark: %v", err)
	}
}
