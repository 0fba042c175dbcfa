package metatest

import (
	"cmp"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

func testUnreachableManifests(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	other := repoIn(reg + "-other")
	img := func(name string) *meta.Manifest { return image(repo("r"), name) }
	ref := func(name string, subject *meta.Manifest) *meta.Manifest {
		return referrer(repo("r"), name, subject.Digest, sigType)
	}
	a, b, c := img("a"), img("b"), img("c")
	for _, tc := range []struct {
		name  string
		setup func(*store)
		want  []*meta.Manifest
	}{
		{"empty store", func(*store) {}, nil},
		{"untagged image", func(s *store) {
			s.put(a, "v1")
			s.put(b, "")
		}, []*meta.Manifest{b}},
		{"children of a tagged index are kept", func(s *store) {
			s.put(a, "")
			s.put(b, "")
			s.put(c, "")
			s.put(index(repo("r"), "idx", a, b), "v1")
		}, []*meta.Manifest{c}},
		{"untagged index and its children", func(s *store) {
			s.put(a, "")
			s.put(b, "")
			s.put(index(repo("r"), "idx", a, b), "")
		}, []*meta.Manifest{a, b, index(repo("r"), "idx", a, b)}},
		{"child shared by a tagged and an untagged index", func(s *store) {
			s.put(a, "")
			s.put(index(repo("r"), "tagged", a), "v1")
			s.put(index(repo("r"), "untagged", a), "")
		}, []*meta.Manifest{index(repo("r"), "untagged", a)}},
		{"referrer of a tagged manifest is kept", func(s *store) {
			s.put(a, "v1")
			s.put(ref("sig", a), "")
		}, nil},
		{"referrer chain below an index", func(s *store) {
			s.put(a, "")
			s.put(index(repo("r"), "idx", a), "v1")
			sig := ref("sig", a)
			sigOfSig := ref("sig-of-sig", sig)
			s.put(sig, "")
			s.put(sigOfSig, "")
			s.put(ref("sig-of-sig-of-sig", sigOfSig), "")
		}, nil},
		{"subject of a tagged referrer is kept, with its other referrers", func(s *store) {
			s.put(a, "")
			s.put(ref("sig", a), "signed")
			s.put(ref("sbom", a), "")
		}, nil},
		{"tagged referrer keeps an index subject, its children and their referrers", func(s *store) {
			idx := index(repo("r"), "idx", a)
			sig := ref("sig", a)
			s.put(a, "")
			s.put(idx, "")
			s.put(ref("idx-sig", idx), "signed")
			s.put(sig, "")
			s.put(ref("sig-of-sig", sig), "")
		}, nil},
		{"untagged subject and its referrer", func(s *store) {
			s.put(a, "")
			s.put(ref("sig", a), "")
		}, []*meta.Manifest{a, ref("sig", a)}},
		{"orphan referrer, subject never pushed", func(s *store) {
			s.put(a, "v1")
			s.put(referrer(repo("r"), "orphan", digest.FromString("never pushed"), sigType), "")
		}, []*meta.Manifest{referrer(repo("r"), "orphan", digest.FromString("never pushed"), sigType)}},
		{"orphan referrer, subject deleted", func(s *store) {
			s.put(a, "v1")
			s.put(ref("sig", a), "")
			s.deleteManifest(a)
		}, []*meta.Manifest{ref("sig", a)}},
		{"deleted tag", func(s *store) {
			s.put(a, "v1")
			s.deleteTag(repo("r"), "v1")
		}, []*meta.Manifest{a}},
		{"reachability is per repository", func(s *store) {
			s.put(a, "v1")
			s.put(image(repo("other"), "a"), "")
		}, []*meta.Manifest{image(repo("other"), "a")}},
		{"reachability is per registry", func(s *store) {
			s.put(a, "v1")
			s.put(image(other("r"), "a"), "")
		}, []*meta.Manifest{image(other("r"), "a")}},
		{"every registry is listed", func(s *store) {
			s.put(a, "v1")
			s.put(b, "")
			s.put(image(other("r"), "a"), "v1")
			s.put(image(other("r"), "c"), "")
			s.put(image(other("x"), "b"), "")
			s.put(referrer(other("x"), "sig", b.Digest, sigType), "")
		}, []*meta.Manifest{b, image(other("r"), "c"), image(other("x"), "b"), referrer(other("x"), "sig", b.Digest, sigType)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.setup(s)
			got, err := s.UnreachableManifests(t.Context())
			wantErr(t, "UnreachableManifests", err, nil)
			sortRefs(got)
			want := manifestRefs(tc.want)
			if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Errorf("UnreachableManifests =\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func manifestRefs(ms []*meta.Manifest) []meta.ManifestRef {
	var refs []meta.ManifestRef
	for _, m := range ms {
		refs = append(refs, meta.ManifestRef{Repo: m.Repo, Digest: m.Digest})
	}
	sortRefs(refs)
	return refs
}

// sortRefs orders refs by registry, repository, then digest: the interface leaves the
// order open.
func sortRefs(refs []meta.ManifestRef) {
	slices.SortFunc(refs, func(x, y meta.ManifestRef) int {
		return cmp.Or(cmp.Compare(x.Repo.Registry, y.Repo.Registry), cmp.Compare(x.Repo.Name, y.Repo.Name),
			cmp.Compare(x.Digest, y.Digest))
	})
}
