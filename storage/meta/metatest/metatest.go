// Package metatest owns the behaviour suite of meta.Store: every backend (SQLite, and
// PostgreSQL later) runs Run from its own tests and must pass it unchanged. The suite
// pins the contract the registry relies on, including points the interface comments
// leave open: Manifest and TaggedManifest need not load References; a repository that
// only ever had blobs linked lists no tags rather than ErrRepositoryNotFound; ReleaseBlob
// of a blob nothing links or references reports true; any manifest reference, tagged or
// not, in any repository, keeps a blob in use. Registries never share content, except that
// blob GC (BlobInUse, ReleaseBlob, UnreachableManifests) spans all of them. The ACR
// metadata and the changeable attributes, which every write honours, have their own cases
// (acr.go). It makes no timing assertions: time orders are checked against the times the
// store reports.
package metatest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Run runs the suite. open must return a new, empty store on every call (it is called
// once per subtest, sequentially); Run closes the store when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) meta.Store) {
	newStore := func(t *testing.T) *store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return &store{Store: s, t: t}
	}
	for _, tc := range []struct {
		name string
		test func(*testing.T, func(*testing.T) *store)
	}{
		{"Blobs", testBlobs},
		{"LinkRefreshesGrace", testLinkRefreshesGrace},
		{"BlobInUseAndRelease", testBlobInUseAndRelease},
		{"ReleaseMarksDeletion", testReleaseMarksDeletion},
		{"NotFound", testNotFound},
		{"PutAndGet", testPutAndGet},
		{"IdempotentRepush", testIdempotentRepush},
		{"MissingReferences", testMissingReferences},
		{"TagMove", testTagMove},
		{"DeleteManifest", testDeleteManifest},
		{"DeleteTag", testDeleteTag},
		{"ConcurrentPush", testConcurrentPush},
		{"Tags", testTags},
		{"Repositories", testRepositories},
		{"Referrers", testReferrers},
		{"UnreachableManifests", testUnreachableManifests},
		{"Registries", testRegistries},
		{"DeleteRepository", testDeleteRepository},
		{"DeleteRegistry", testDeleteRegistry},
		{"Attributes", testAttributes},
		{"RepositoryInfo", testRepositoryInfo},
		{"TagInfos", testTagInfos},
		{"ManifestInfos", testManifestInfos},
		{"Locks", testLocks},
		{"ReadDisabled", testReadDisabled},
		{"ListDisabled", testListDisabled},
		{"UnreachableLocked", testUnreachableLocked},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newStore) })
	}
}

// store is the store under test with helpers that fail the test on setup errors.
type store struct {
	meta.Store
	t *testing.T
}

// registryID returns a registry id unique to the test: no test relies on a particular id
// (such as an empty one), and tests that need several registries derive them from it.
func registryID(t *testing.T) string {
	return "reg-" + t.Name()
}

// repoIn returns a function naming repositories of registry.
func repoIn(registry string) func(name string) meta.Repo {
	return func(name string) meta.Repo { return meta.Repo{Registry: registry, Name: name} }
}

func (s *store) link(repo meta.Repo, blobs ...digest.Digest) {
	s.t.Helper()
	for _, d := range blobs {
		if err := s.LinkBlob(s.t.Context(), repo, d, blobSize(d)); err != nil {
			s.t.Fatalf("LinkBlob(%v, %s): %v", repo, d, err)
		}
	}
}

func (s *store) put(m *meta.Manifest, tag string) {
	s.t.Helper()
	if err := s.PutManifest(s.t.Context(), m, tag); err != nil {
		s.t.Fatalf("PutManifest(%v@%s, %q): %v", m.Repo, m.Digest, tag, err)
	}
}

func (s *store) deleteManifest(m *meta.Manifest) {
	s.t.Helper()
	if err := s.DeleteManifest(s.t.Context(), m.Repo, m.Digest); err != nil {
		s.t.Fatalf("DeleteManifest(%v@%s): %v", m.Repo, m.Digest, err)
	}
}

func (s *store) deleteTag(repo meta.Repo, tag string) {
	s.t.Helper()
	if err := s.DeleteTag(s.t.Context(), repo, tag); err != nil {
		s.t.Fatalf("DeleteTag(%v:%s): %v", repo, tag, err)
	}
}

// Media types used by the builders.
const (
	ociManifest  = "application/vnd.oci.image.manifest.v1+json"
	ociIndex     = "application/vnd.oci.image.index.v1+json"
	ociConfig    = "application/vnd.oci.image.config.v1+json"
	sigType      = "application/vnd.example.signature"
	sbomType     = "application/vnd.example.sbom"
	emptyConfig  = "application/vnd.oci.empty.v1+json"
	createdLabel = "org.opencontainers.image.created"
)

// blob names a distinct blob digest.
func blob(name string) digest.Digest {
	return digest.FromString("blob " + name)
}

// blobSize is a size derived from the digest, so each blob has its own.
func blobSize(d digest.Digest) int64 {
	return int64(len(d.Encoded()) + int(d.Encoded()[0]))
}

// newManifest builds a manifest whose content, and so digest, depends only on mediaType
// and name: the same name in two repositories (of one registry or two) is the same
// manifest.
func newManifest(repo meta.Repo, mediaType, name string) *meta.Manifest {
	content := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"name":%q}`, mediaType, name)
	return &meta.Manifest{
		Repo:      repo,
		Digest:    digest.FromBytes(content),
		MediaType: mediaType,
		Size:      int64(len(content)),
		Content:   content,
	}
}

// image builds a linux/amd64 image manifest referencing blobs.
func image(repo meta.Repo, name string, blobs ...digest.Digest) *meta.Manifest {
	m := newManifest(repo, ociManifest, name)
	m.ArtifactType, m.ConfigMediaType = ociConfig, ociConfig
	m.OS, m.Architecture = "linux", "amd64"
	m.Annotations = map[string]string{createdLabel: "2024-01-02T03:04:05Z", "name": name}
	for _, d := range blobs {
		m.References = append(m.References, meta.Reference{Digest: d, Kind: meta.RefBlob})
	}
	return m
}

// index builds an image index over children.
func index(repo meta.Repo, name string, children ...*meta.Manifest) *meta.Manifest {
	m := newManifest(repo, ociIndex, name)
	for _, c := range children {
		m.References = append(m.References, meta.Reference{Digest: c.Digest, Kind: meta.RefManifest})
	}
	return m
}

// referrer builds an artifact manifest of artifactType whose subject is subject.
func referrer(repo meta.Repo, name string, subject digest.Digest, artifactType string) *meta.Manifest {
	m := newManifest(repo, ociManifest, name)
	m.ArtifactType, m.ConfigMediaType = artifactType, emptyConfig
	m.Subject = subject
	m.Annotations = map[string]string{"name": name}
	return m
}

// wantErr fails unless err matches want (nil for success).
func wantErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", op, err, want)
	}
}

// sameManifest compares what a store returns with what was pushed. References are not
// compared (reads need not load them) and neither is CreatedAt (set by the store).
func sameManifest(t *testing.T, op string, got, want *meta.Manifest) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: nil manifest", op)
		return
	}
	if !bytes.Equal(got.Content, want.Content) {
		t.Errorf("%s: content %q, want %q", op, got.Content, want.Content)
	}
	g, w := *got, *want
	g.Content, w.Content = nil, nil
	g.References, w.References = nil, nil
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	g.Annotations, w.Annotations = nilIfEmpty(g.Annotations), nilIfEmpty(w.Annotations)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", op, g, w)
	}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// sameStrings compares listings, treating nil and empty alike.
func sameStrings(t *testing.T, op string, got, want []string) {
	t.Helper()
	if len(got) != 0 || len(want) != 0 {
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", op, got, want)
		}
	}
}

// sameDigestSet compares digests ignoring order and duplicates.
func sameDigestSet(t *testing.T, op string, got, want []digest.Digest) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if g, w = slices.Compact(g), slices.Compact(w); !slices.Equal(g, w) {
		t.Errorf("%s = %v, want %v", op, g, w)
	}
}
