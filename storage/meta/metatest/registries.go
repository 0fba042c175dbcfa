package metatest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// testRegistries pushes to the same repository name in two registries (the second's id
// extends the first's, to catch prefix matching) and checks that neither sees the other's
// tags, manifests, blob links, catalog entries or referrers.
func testRegistries(t *testing.T, newStore func(*testing.T) *store) {
	regA := registryID(t)
	regB := regA + "-b"
	a, b := repoIn(regA)("r"), repoIn(regB)("r")
	s := newStore(t)
	ctx := t.Context()

	blobA, blobB, shared := blob("a"), blob("b"), blob("shared")
	s.link(a, blobA, shared)
	s.link(b, blobB, shared)
	imgA, imgB := image(a, "img-a", blobA), image(b, "img-b", blobB)
	// The same manifest (one digest) in both registries, with a referrer in each.
	shA, shB := image(a, "shared", shared), image(b, "shared", shared)
	sigA, sigB := referrer(a, "sig-a", shA.Digest, sigType), referrer(b, "sig-b", shB.Digest, sigType)
	s.put(imgA, "v1")
	s.put(imgB, "v1")
	s.put(imgB, "only-b")
	s.put(shA, "shared")
	s.put(shB, "shared")
	s.put(sigA, "")
	s.put(sigB, "")
	s.put(image(repoIn(regA)("a-only"), "m"), "")

	for _, tc := range []struct {
		repo             meta.Repo
		img, sig         *meta.Manifest
		tags             []string
		own, foreignBlob digest.Digest // a blob linked here, one linked only in the other registry
		foreign          *meta.Manifest
	}{
		{a, imgA, sigA, []string{"shared", "v1"}, blobA, blobB, imgB},
		{b, imgB, sigB, []string{"only-b", "shared", "v1"}, blobB, blobA, imgA},
	} {
		op := tc.repo.Registry + "/" + tc.repo.Name
		got, err := s.TaggedManifest(ctx, tc.repo, "v1")
		wantErr(t, "TaggedManifest "+op, err, nil)
		sameManifest(t, "TaggedManifest "+op, got, tc.img)
		_, err = s.Manifest(ctx, tc.repo, tc.foreign.Digest)
		wantErr(t, "Manifest of the other registry's manifest in "+op, err, meta.ErrManifestNotFound)
		got, err = s.Manifest(ctx, tc.repo, shA.Digest)
		wantErr(t, "Manifest of the shared manifest in "+op, err, nil)
		if got != nil && got.Repo != tc.repo {
			t.Errorf("Manifest in %s: Repo = %+v", op, got.Repo)
		}
		tags, err := s.Tags(ctx, tc.repo, "", 0)
		wantErr(t, "Tags "+op, err, nil)
		sameStrings(t, "Tags "+op, tags, tc.tags)
		if _, err := s.BlobSize(ctx, tc.repo, tc.own); err != nil {
			t.Errorf("BlobSize of its own blob in %s: %v", op, err)
		}
		_, err = s.BlobSize(ctx, tc.repo, tc.foreignBlob)
		wantErr(t, "BlobSize of the other registry's blob in "+op, err, meta.ErrBlobNotFound)
		refs, err := s.Referrers(ctx, tc.repo, shA.Digest, "")
		wantErr(t, "Referrers "+op, err, nil)
		if want := descriptors([]*meta.Manifest{tc.sig}); !reflect.DeepEqual(refs, want) {
			t.Errorf("Referrers in %s =\n%+v\nwant\n%+v", op, refs, want)
		}
	}

	for _, c := range []struct {
		registry string
		want     []string
	}{{regA, []string{"a-only", "r"}}, {regB, []string{"r"}}, {regA + "-unknown", nil}, {"", nil}} {
		repos, err := s.Repositories(ctx, c.registry, "", 0)
		wantErr(t, "Repositories", err, nil)
		sameStrings(t, "Repositories of "+c.registry, repos, c.want)
	}
	_, err := s.Tags(ctx, repoIn(regB)("a-only"), "", 0)
	wantErr(t, "Tags of a repository of another registry", err, meta.ErrRepositoryNotFound)

	// Deletes in one registry leave the other's content alone.
	s.deleteTag(a, "v1")
	s.deleteManifest(shA)
	wantErr(t, "UnlinkBlob(a, shared)", s.UnlinkBlob(ctx, a, shared), nil)
	wantErr(t, "DeleteTag of a tag only the other registry has", s.DeleteTag(ctx, a, "only-b"), meta.ErrTagNotFound)
	wantErr(t, "DeleteManifest of a manifest only the other registry has", s.DeleteManifest(ctx, a, imgB.Digest), meta.ErrManifestNotFound)
	wantErr(t, "UnlinkBlob of a blob only the other registry links", s.UnlinkBlob(ctx, a, blobB), meta.ErrBlobNotFound)
	got, err := s.TaggedManifest(ctx, b, "v1")
	wantErr(t, "TaggedManifest(b, v1) after deletes in a", err, nil)
	sameManifest(t, "TaggedManifest(b, v1) after deletes in a", got, imgB)
	got, err = s.TaggedManifest(ctx, b, "shared")
	wantErr(t, "TaggedManifest(b, shared) after deletes in a", err, nil)
	sameManifest(t, "TaggedManifest(b, shared) after deletes in a", got, shB)
	if _, err := s.BlobSize(ctx, b, shared); err != nil {
		t.Errorf("BlobSize(b, shared) after unlinking it in a: %v", err)
	}
	refs, err := s.Referrers(ctx, b, shB.Digest, "")
	wantErr(t, "Referrers(b) after deletes in a", err, nil)
	if len(refs) != 1 || refs[0].Digest != sigB.Digest {
		t.Errorf("Referrers(b) after deletes in a = %+v, want sig-b", refs)
	}
}

func testDeleteRepository(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo, other := repoIn(reg), repoIn(reg+"-other")
	s := newStore(t)
	ctx := t.Context()

	l1, l2 := blob("l1"), blob("l2")
	r := repo("r")
	img1, img2 := image(r, "img1", l1), image(r, "img2", l2)
	idx := index(r, "idx", img1)
	sig := referrer(r, "sig", img1.Digest, sigType)
	s.link(r, l1, l2)
	s.put(img1, "v1")
	s.put(img1, "v2")
	s.put(img2, "")
	s.put(idx, "latest")
	s.put(sig, "")
	// The same content in another repository of the registry and in another registry.
	keep := []meta.Repo{repo("r2"), other("r")}
	for _, k := range keep {
		s.link(k, l1)
		s.put(image(k, "img1", l1), "v1")
	}

	del, err := s.DeleteRepository(ctx, r)
	wantErr(t, "DeleteRepository", err, nil)
	sameDigestSet(t, "DeleteRepository: Manifests", del.Manifests, []digest.Digest{img1.Digest, img2.Digest, idx.Digest, sig.Digest})
	if len(del.Manifests) != 4 {
		t.Errorf("DeleteRepository: Manifests = %v, want 4 digests", del.Manifests)
	}
	tags := slices.Clone(del.Tags)
	slices.Sort(tags)
	sameStrings(t, "DeleteRepository: Tags", tags, []string{"latest", "v1", "v2"})

	_, err = s.Tags(ctx, r, "", 0)
	wantErr(t, "Tags after DeleteRepository", err, meta.ErrRepositoryNotFound)
	_, err = s.Manifest(ctx, r, img1.Digest)
	wantErr(t, "Manifest after DeleteRepository", err, meta.ErrManifestNotFound)
	_, err = s.TaggedManifest(ctx, r, "latest")
	wantErr(t, "TaggedManifest after DeleteRepository", err, meta.ErrTagNotFound)
	_, err = s.BlobSize(ctx, r, l1)
	wantErr(t, "BlobSize after DeleteRepository", err, meta.ErrBlobNotFound)
	refs, err := s.Referrers(ctx, r, img1.Digest, "")
	if err != nil || len(refs) != 0 {
		t.Errorf("Referrers after DeleteRepository = %v, %v; want none", refs, err)
	}
	repos, err := s.Repositories(ctx, reg, "", 0)
	wantErr(t, "Repositories", err, nil)
	sameStrings(t, "Repositories after DeleteRepository", repos, []string{"r2"})
	for _, k := range keep {
		got, err := s.TaggedManifest(ctx, k, "v1")
		wantErr(t, "TaggedManifest of a kept repository", err, nil)
		sameManifest(t, "TaggedManifest of a kept repository", got, image(k, "img1", l1))
		if _, err := s.BlobSize(ctx, k, l1); err != nil {
			t.Errorf("BlobSize(%v, l1) after DeleteRepository: %v", k, err)
		}
	}
	if unreachable, err := s.UnreachableManifests(ctx); err != nil || len(unreachable) != 0 {
		t.Errorf("UnreachableManifests after DeleteRepository = %v, %v; want none", unreachable, err)
	}
	future := time.Now().Add(time.Hour)
	if inUse, err := s.BlobInUse(ctx, l2, future); err != nil || inUse {
		t.Errorf("BlobInUse of a blob only the deleted repository held = %v, %v; want false", inUse, err)
	}
	if inUse, err := s.BlobInUse(ctx, l1, future); err != nil || !inUse {
		t.Errorf("BlobInUse of a blob other repositories reference = %v, %v; want true", inUse, err)
	}

	for _, gone := range []meta.Repo{r, repo("nope"), other("r2")} {
		_, err := s.DeleteRepository(ctx, gone)
		wantErr(t, "DeleteRepository of a repository that is not there", err, meta.ErrRepositoryNotFound)
	}

	// A repository holding only blobs is deleted with its links.
	blobsOnly := repo("blobs-only")
	s.link(blobsOnly, l1)
	del, err = s.DeleteRepository(ctx, blobsOnly)
	wantErr(t, "DeleteRepository of a repository holding only blobs", err, nil)
	if len(del.Manifests) != 0 || len(del.Tags) != 0 {
		t.Errorf("DeleteRepository of a repository holding only blobs = %+v, want nothing listed", del)
	}
	_, err = s.BlobSize(ctx, blobsOnly, l1)
	wantErr(t, "BlobSize after deleting a repository holding only blobs", err, meta.ErrBlobNotFound)
	_, err = s.Tags(ctx, blobsOnly, "", 0)
	wantErr(t, "Tags after deleting a repository holding only blobs", err, meta.ErrRepositoryNotFound)

	// A repository whose content was all deleted holds nothing.
	emptied := image(repo("emptied"), "m")
	s.put(emptied, "v1")
	s.deleteManifest(emptied)
	_, err = s.DeleteRepository(ctx, emptied.Repo)
	wantErr(t, "DeleteRepository of an emptied repository", err, meta.ErrRepositoryNotFound)

	// The name can be pushed to again, starting empty.
	s.link(r, l1)
	s.put(img1, "again")
	tags, err = s.Tags(ctx, r, "", 0)
	wantErr(t, "Tags after pushing to a deleted repository again", err, nil)
	sameStrings(t, "Tags after pushing to a deleted repository again", tags, []string{"again"})
	_, err = s.BlobSize(ctx, r, l2)
	wantErr(t, "BlobSize of a blob linked before the delete", err, meta.ErrBlobNotFound)
}

func testDeleteRegistry(t *testing.T, newStore func(*testing.T) *store) {
	regA := registryID(t)
	regB := regA + "-b" // extends regA's id: the delete must match exactly
	a, b := repoIn(regA), repoIn(regB)
	s := newStore(t)
	ctx := t.Context()

	x, y := blob("x"), blob("y")
	for _, r := range []meta.Repo{a("r1"), a("r2")} {
		s.link(r, x, y)
		s.put(image(r, "m", x, y), "v1")
	}
	s.link(b("r1"), x)
	s.put(image(b("r1"), "m", x), "v1")

	wantErr(t, "DeleteRegistry", s.DeleteRegistry(ctx, regA), nil)
	repos, err := s.Repositories(ctx, regA, "", 0)
	wantErr(t, "Repositories of the deleted registry", err, nil)
	sameStrings(t, "Repositories of the deleted registry", repos, nil)
	for _, r := range []meta.Repo{a("r1"), a("r2")} {
		_, err := s.Tags(ctx, r, "", 0)
		wantErr(t, "Tags in the deleted registry", err, meta.ErrRepositoryNotFound)
		_, err = s.TaggedManifest(ctx, r, "v1")
		wantErr(t, "TaggedManifest in the deleted registry", err, meta.ErrTagNotFound)
		_, err = s.BlobSize(ctx, r, x)
		wantErr(t, "BlobSize in the deleted registry", err, meta.ErrBlobNotFound)
	}

	repos, err = s.Repositories(ctx, regB, "", 0)
	wantErr(t, "Repositories of the other registry", err, nil)
	sameStrings(t, "Repositories of the other registry", repos, []string{"r1"})
	got, err := s.TaggedManifest(ctx, b("r1"), "v1")
	wantErr(t, "TaggedManifest in the other registry", err, nil)
	sameManifest(t, "TaggedManifest in the other registry", got, image(b("r1"), "m", x))
	if _, err := s.BlobSize(ctx, b("r1"), x); err != nil {
		t.Errorf("BlobSize in the other registry: %v", err)
	}

	future := time.Now().Add(time.Hour)
	if inUse, err := s.BlobInUse(ctx, x, future); err != nil || !inUse {
		t.Errorf("BlobInUse of a blob the other registry references = %v, %v; want true", inUse, err)
	}
	if released, err := s.ReleaseBlob(ctx, y, future); err != nil || !released {
		t.Errorf("ReleaseBlob of a blob only the deleted registry held = %v, %v; want true", released, err)
	}

	wantErr(t, "DeleteRegistry again", s.DeleteRegistry(ctx, regA), nil)
	wantErr(t, "DeleteRegistry of an unknown registry", s.DeleteRegistry(ctx, regA+"-unknown"), nil)
	if _, err := s.BlobSize(ctx, b("r1"), x); err != nil {
		t.Errorf("BlobSize in the other registry after more deletes: %v", err)
	}
}
