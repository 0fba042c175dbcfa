package metatest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

func testNotFound(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	m := image(repo("r"), "m")
	s.put(m, "v1")
	s.put(image(repo("other"), "o"), "v2")
	s.link(repo("r"), blob("a"))
	unknown := digest.FromString("unknown")
	for _, tc := range []struct {
		name string
		call func(context.Context) error
		want error
	}{
		{"Manifest in an unknown repository", func(ctx context.Context) error {
			_, err := s.Manifest(ctx, repo("nope"), m.Digest)
			return err
		}, meta.ErrManifestNotFound},
		{"Manifest of an unknown digest", func(ctx context.Context) error {
			_, err := s.Manifest(ctx, repo("r"), unknown)
			return err
		}, meta.ErrManifestNotFound},
		{"Manifest stored in another repository", func(ctx context.Context) error {
			_, err := s.Manifest(ctx, repo("other"), m.Digest)
			return err
		}, meta.ErrManifestNotFound},
		{"TaggedManifest in an unknown repository", func(ctx context.Context) error {
			_, err := s.TaggedManifest(ctx, repo("nope"), "v1")
			return err
		}, meta.ErrTagNotFound},
		{"TaggedManifest of an unknown tag", func(ctx context.Context) error {
			_, err := s.TaggedManifest(ctx, repo("r"), "nope")
			return err
		}, meta.ErrTagNotFound},
		{"TaggedManifest of another repository's tag", func(ctx context.Context) error {
			_, err := s.TaggedManifest(ctx, repo("r"), "v2")
			return err
		}, meta.ErrTagNotFound},
		{"DeleteManifest in an unknown repository", func(ctx context.Context) error {
			return s.DeleteManifest(ctx, repo("nope"), m.Digest)
		}, meta.ErrManifestNotFound},
		{"DeleteManifest of an unknown digest", func(ctx context.Context) error {
			return s.DeleteManifest(ctx, repo("r"), unknown)
		}, meta.ErrManifestNotFound},
		{"DeleteTag in an unknown repository", func(ctx context.Context) error {
			return s.DeleteTag(ctx, repo("nope"), "v1")
		}, meta.ErrTagNotFound},
		{"DeleteTag of an unknown tag", func(ctx context.Context) error {
			return s.DeleteTag(ctx, repo("r"), "nope")
		}, meta.ErrTagNotFound},
		{"Tags of an unknown repository", func(ctx context.Context) error {
			_, err := s.Tags(ctx, repo("nope"), "", 0)
			return err
		}, meta.ErrRepositoryNotFound},
		{"BlobSize in an unknown repository", func(ctx context.Context) error {
			_, err := s.BlobSize(ctx, repo("nope"), blob("a"))
			return err
		}, meta.ErrBlobNotFound},
		{"BlobSize of an unlinked blob", func(ctx context.Context) error {
			_, err := s.BlobSize(ctx, repo("r"), unknown)
			return err
		}, meta.ErrBlobNotFound},
		{"UnlinkBlob in an unknown repository", func(ctx context.Context) error {
			return s.UnlinkBlob(ctx, repo("nope"), blob("a"))
		}, meta.ErrBlobNotFound},
		{"UnlinkBlob of an unlinked blob", func(ctx context.Context) error {
			return s.UnlinkBlob(ctx, repo("r"), unknown)
		}, meta.ErrBlobNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(t.Context()), tc.want) })
	}
}

func testPutAndGet(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	cfg, layer := blob("config"), blob("layer")
	s.link(repo("r"), cfg, layer)
	img := image(repo("r"), "img", cfg, layer)
	before := time.Now()
	s.put(img, "v1")
	after := time.Now()

	got, err := s.Manifest(ctx, repo("r"), img.Digest)
	wantErr(t, "Manifest", err, nil)
	sameManifest(t, "Manifest", got, img)
	// Allow for stores that keep coarser timestamps than Go.
	if got != nil && (got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(after.Add(time.Second))) {
		t.Errorf("CreatedAt = %v, want between %v and %v", got.CreatedAt, before, after)
	}
	got, err = s.TaggedManifest(ctx, repo("r"), "v1")
	wantErr(t, "TaggedManifest", err, nil)
	sameManifest(t, "TaggedManifest", got, img)

	// An index whose child is stored, pushed without a tag.
	idx := index(repo("r"), "idx", img)
	s.put(idx, "")
	got, err = s.Manifest(ctx, repo("r"), idx.Digest)
	wantErr(t, "Manifest of an index", err, nil)
	sameManifest(t, "Manifest of an index", got, idx)
	tags, err := s.Tags(ctx, repo("r"), "", 0)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags after an untagged push", tags, []string{"v1"})
}

func testIdempotentRepush(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	s.link(repo("r"), blob("layer"))
	img := image(repo("r"), "img", blob("layer"))
	sig := referrer(repo("r"), "sig", img.Digest, sigType)
	s.put(img, "a")
	s.put(sig, "")
	first, err := s.Manifest(ctx, repo("r"), img.Digest)
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}

	s.put(img, "b")
	s.put(img, "")
	s.put(sig, "")
	again, err := s.Manifest(ctx, repo("r"), img.Digest)
	wantErr(t, "Manifest after re-push", err, nil)
	sameManifest(t, "Manifest after re-push", again, img)
	if again != nil && !again.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("re-push changed CreatedAt from %v to %v", first.CreatedAt, again.CreatedAt)
	}
	tags, err := s.Tags(ctx, repo("r"), "", 0)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags after re-push with another tag", tags, []string{"a", "b"})
	refs, err := s.Referrers(ctx, repo("r"), img.Digest, "")
	wantErr(t, "Referrers", err, nil)
	if len(refs) != 1 {
		t.Errorf("Referrers after re-pushing the referrer = %v, want one", refs)
	}

	s.deleteTag(repo("r"), "a")
	s.deleteTag(repo("r"), "b")
	unreachable, err := s.UnreachableManifests(ctx)
	wantErr(t, "UnreachableManifests", err, nil)
	if len(unreachable) != 2 {
		t.Errorf("UnreachableManifests = %v, want the image and its referrer once each", unreachable)
	}
}

func testMissingReferences(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	linked, elsewhere, absent := blob("linked"), blob("elsewhere"), blob("absent")
	base := image(repo("r"), "base")
	otherImg := image(repo("other"), "other-image")
	s.link(repo("r"), linked)
	s.put(base, "latest")
	s.link(repo("other"), elsewhere)
	s.put(otherImg, "")
	// The same repository name in another registry holds its own content.
	otherRegistry := repoIn(reg + "-other")("r")
	otherRegistryBlob, otherRegistryImg := blob("other registry"), image(otherRegistry, "other-registry-image")
	s.link(otherRegistry, otherRegistryBlob)
	s.put(otherRegistryImg, "")
	blobRef := func(d digest.Digest) meta.Reference { return meta.Reference{Digest: d, Kind: meta.RefBlob} }
	manifestRef := func(d digest.Digest) meta.Reference { return meta.Reference{Digest: d, Kind: meta.RefManifest} }

	for _, tc := range []struct {
		name    string
		repo    meta.Repo
		refs    []meta.Reference
		missing []digest.Digest
	}{
		{"one blob missing", repo("r"),
			[]meta.Reference{blobRef(linked), blobRef(absent)}, []digest.Digest{absent}},
		{"blob and child manifest missing, all reported", repo("r"),
			[]meta.Reference{blobRef(absent), manifestRef(base.Digest), manifestRef(digest.FromString("child")), blobRef(blob("absent2"))},
			[]digest.Digest{absent, digest.FromString("child"), blob("absent2")}},
		{"blob linked only in another repository", repo("r"),
			[]meta.Reference{blobRef(linked), blobRef(elsewhere)}, []digest.Digest{elsewhere}},
		{"manifest stored only in another repository", repo("r"),
			[]meta.Reference{manifestRef(otherImg.Digest)}, []digest.Digest{otherImg.Digest}},
		{"blob linked only in another registry's repository of the same name", repo("r"),
			[]meta.Reference{blobRef(linked), blobRef(otherRegistryBlob)}, []digest.Digest{otherRegistryBlob}},
		{"manifest stored only in another registry's repository of the same name", repo("r"),
			[]meta.Reference{manifestRef(otherRegistryImg.Digest)}, []digest.Digest{otherRegistryImg.Digest}},
		{"a manifest is not a blob", repo("r"),
			[]meta.Reference{blobRef(base.Digest)}, []digest.Digest{base.Digest}},
		{"a blob is not a manifest", repo("r"),
			[]meta.Reference{manifestRef(linked)}, []digest.Digest{linked}},
		{"new repository", repo("new"),
			[]meta.Reference{blobRef(linked), manifestRef(base.Digest)}, []digest.Digest{linked, base.Digest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManifest(tc.repo, ociIndex, tc.name)
			m.References = tc.refs
			err := s.PutManifest(t.Context(), m, "latest")
			var mre *meta.MissingReferencesError
			if !errors.As(err, &mre) {
				t.Fatalf("PutManifest = %v, want *meta.MissingReferencesError", err)
			}
			sameDigestSet(t, "MissingReferencesError.Digests", mre.Digests, tc.missing)
			checkNothingStored(t, s, m)
		})
	}
	got, err := s.TaggedManifest(ctx, repo("r"), "latest")
	wantErr(t, "TaggedManifest(latest)", err, nil)
	sameManifest(t, "latest after failed pushes", got, base)
}

// checkNothingStored checks that the failed push of m left no manifest, tag, reference
// or repository behind.
func checkNothingStored(t *testing.T, s *store, m *meta.Manifest) {
	t.Helper()
	ctx := t.Context()
	_, err := s.Manifest(ctx, m.Repo, m.Digest)
	wantErr(t, "Manifest after a failed push", err, meta.ErrManifestNotFound)
	if inUse, err := s.BlobInUse(ctx, blob("linked"), time.Now().Add(time.Hour)); err != nil || inUse {
		t.Errorf("BlobInUse(linked) after a failed push = %v, %v; want false (no reference stored)", inUse, err)
	}
	if m.Repo.Name != "r" {
		_, err := s.Tags(ctx, m.Repo, "", 0)
		wantErr(t, "Tags of a repository whose first push failed", err, meta.ErrRepositoryNotFound)
	}
	repos, err := s.Repositories(ctx, m.Repo.Registry, "", 0)
	wantErr(t, "Repositories", err, nil)
	sameStrings(t, "Repositories after a failed push", repos, []string{"other", "r"})
}

func testTagMove(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	a, b := image(repo("r"), "a"), image(repo("r"), "b")
	for _, step := range []*meta.Manifest{a, b, a} {
		s.put(step, "latest")
		got, err := s.TaggedManifest(ctx, repo("r"), "latest")
		wantErr(t, "TaggedManifest", err, nil)
		sameManifest(t, "TaggedManifest after a tag move", got, step)
	}
	if _, err := s.Manifest(ctx, repo("r"), b.Digest); err != nil {
		t.Errorf("Manifest of the manifest the tag moved away from: %v", err)
	}
	tags, err := s.Tags(ctx, repo("r"), "", 0)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags after tag moves", tags, []string{"latest"})
}

func testDeleteManifest(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	own, shared := blob("own"), blob("shared")
	s.link(repo("r"), own, shared)
	m, keep := image(repo("r"), "m", own, shared), image(repo("r"), "keep", shared)
	sig := referrer(repo("r"), "sig", keep.Digest, sigType)
	s.put(m, "a")
	s.put(m, "b")
	s.put(keep, "c")
	s.put(sig, "")

	s.deleteManifest(m)
	_, err := s.Manifest(ctx, repo("r"), m.Digest)
	wantErr(t, "Manifest after DeleteManifest", err, meta.ErrManifestNotFound)
	for _, tag := range []string{"a", "b"} {
		_, err := s.TaggedManifest(ctx, repo("r"), tag)
		wantErr(t, "TaggedManifest of a tag of the deleted manifest", err, meta.ErrTagNotFound)
	}
	tags, err := s.Tags(ctx, repo("r"), "", 0)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags after DeleteManifest", tags, []string{"c"})
	wantErr(t, "DeleteManifest again", s.DeleteManifest(ctx, repo("r"), m.Digest), meta.ErrManifestNotFound)

	future := time.Now().Add(time.Hour)
	if inUse, err := s.BlobInUse(ctx, own, future); err != nil || inUse {
		t.Errorf("BlobInUse of a blob only the deleted manifest referenced = %v, %v; want false", inUse, err)
	}
	if inUse, err := s.BlobInUse(ctx, shared, future); err != nil || !inUse {
		t.Errorf("BlobInUse of a blob another manifest references = %v, %v; want true", inUse, err)
	}

	s.deleteManifest(sig)
	refs, err := s.Referrers(ctx, repo("r"), keep.Digest, "")
	wantErr(t, "Referrers", err, nil)
	if len(refs) != 0 {
		t.Errorf("Referrers after deleting the referrer = %v, want none", refs)
	}
}

func testDeleteTag(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	m := image(repo("r"), "m")
	s.put(m, "a")
	s.put(m, "b")

	s.deleteTag(repo("r"), "a")
	_, err := s.TaggedManifest(ctx, repo("r"), "a")
	wantErr(t, "TaggedManifest of the deleted tag", err, meta.ErrTagNotFound)
	got, err := s.Manifest(ctx, repo("r"), m.Digest)
	wantErr(t, "Manifest after DeleteTag", err, nil)
	sameManifest(t, "Manifest after DeleteTag", got, m)
	tags, err := s.Tags(ctx, repo("r"), "", 0)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags after DeleteTag", tags, []string{"b"})
	wantErr(t, "DeleteTag again", s.DeleteTag(ctx, repo("r"), "a"), meta.ErrTagNotFound)
}

// testConcurrentPush pushes to one tag of a new repository from several goroutines, pairs
// of them pushing the same manifest, while another goroutine reads the tag. Every push
// succeeds and the tag ends on one of the pushed manifests.
func testConcurrentPush(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	const pushers = 8
	s := newStore(t)
	ctx := t.Context()
	pushed := make(map[digest.Digest]*meta.Manifest)
	var ms []*meta.Manifest
	for i := range pushers / 2 {
		m := image(repo("race/new"), string(rune('a'+i)))
		pushed[m.Digest] = m
		ms = append(ms, m, m)
	}

	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := s.TaggedManifest(ctx, repo("race/new"), "latest")
			if err == nil && pushed[got.Digest] == nil || err != nil && !errors.Is(err, meta.ErrTagNotFound) {
				t.Errorf("TaggedManifest during pushes = %v, %v", got, err)
				return
			}
		}
	})
	var pushes sync.WaitGroup
	for _, m := range ms {
		pushes.Go(func() {
			if err := s.PutManifest(ctx, m, "latest"); err != nil {
				t.Errorf("concurrent PutManifest(%s): %v", m.Digest, err)
			}
		})
	}
	pushes.Wait()
	close(done)
	reader.Wait()

	got, err := s.TaggedManifest(ctx, repo("race/new"), "latest")
	if err != nil || pushed[got.Digest] == nil {
		t.Fatalf("TaggedManifest after concurrent pushes = %v, %v; want one of the pushed", got, err)
	}
	for d := range pushed {
		if _, err := s.Manifest(ctx, repo("race/new"), d); err != nil {
			t.Errorf("Manifest(%s) after concurrent pushes: %v", d, err)
		}
	}
	s.put(ms[0], "latest") // the last write wins
	got, err = s.TaggedManifest(ctx, repo("race/new"), "latest")
	wantErr(t, "TaggedManifest", err, nil)
	sameManifest(t, "TaggedManifest after a final push", got, ms[0])
	repos, err := s.Repositories(ctx, reg, "", 0)
	wantErr(t, "Repositories", err, nil)
	sameStrings(t, "Repositories after concurrent pushes", repos, []string{"race/new"})
}
