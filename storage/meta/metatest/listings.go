package metatest

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

func testTags(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	m := image(repo("r"), "m")
	// Byte order, not case-insensitive or numeric order.
	sorted := []string{"1.0", "B", "_x", "a", "latest", "v1", "v1.0", "v10", "v2"}
	for _, i := range []int{8, 4, 0, 1, 2, 3, 7, 5, 6} {
		s.put(m, sorted[i])
	}
	s.put(image(repo("untagged-only"), "u"), "")

	checkPages(t, "Tags(r)", func(after string, limit int) ([]string, error) {
		return s.Tags(t.Context(), repo("r"), after, limit)
	}, sorted)
	tags, err := s.Tags(t.Context(), repo("untagged-only"), "", 0)
	wantErr(t, "Tags of a repository without tags", err, nil)
	sameStrings(t, "Tags of a repository without tags", tags, nil)
}

func testRepositories(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	sorted := []string{"a-b", "a/b", "a0", "ab", "library/alpine", "library/ubuntu", "zeta"}
	for _, i := range []int{6, 3, 0, 5, 1, 4, 2} {
		s.put(image(repo(sorted[i]), "m"), "")
	}
	s.link(repo("blob-only"), blob("x"))
	emptied := image(repo("emptied"), "m")
	s.put(emptied, "v1")
	s.deleteManifest(emptied)

	checkPages(t, "Repositories", func(after string, limit int) ([]string, error) {
		return s.Repositories(t.Context(), reg, after, limit)
	}, sorted)
}

// checkPages checks the pagination of list, whose full listing is sorted: at least 7
// names in byte order, all above "0" and below "~", with sorted[3]+"-" between sorted[3]
// and sorted[4]. (Names with NUL would be simpler bounds, but PostgreSQL text refuses NUL.)
func checkPages(t *testing.T, op string, list func(after string, limit int) ([]string, error), sorted []string) {
	t.Helper()
	for _, p := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, sorted},
		{"", -1, sorted},
		{"", 1, sorted[:1]},
		{"", 3, sorted[:3]},
		{"", len(sorted), sorted},
		{"", len(sorted) + 100, sorted},
		{sorted[0], 0, sorted[1:]},
		{sorted[2], 2, sorted[3:5]},
		{sorted[len(sorted)-2], 5, sorted[len(sorted)-1:]},
		{sorted[len(sorted)-1], 0, nil},
		{sorted[3] + "-", 1, sorted[4:5]}, // after a name that does not exist
		{"0", 2, sorted[:2]},
		{"~~~~", 0, nil},
	} {
		got, err := list(p.after, p.limit)
		wantErr(t, op, err, nil)
		if !slices.Equal(got, p.want) && (len(got) != 0 || len(p.want) != 0) {
			t.Errorf("%s after %q limit %d = %q, want %q", op, p.after, p.limit, got, p.want)
		}
	}
}

func testReferrers(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	subject := image(repo("r"), "subject")
	sigs := []*meta.Manifest{referrer(repo("r"), "sig1", subject.Digest, sigType), referrer(repo("r"), "sig2", subject.Digest, sigType)}
	sbom := referrer(repo("r"), "sbom", subject.Digest, sbomType)
	s.put(subject, "v1")
	s.put(sigs[0], "")
	s.put(sbom, "")
	s.put(sigs[1], "")
	s.put(referrer(repo("r"), "sig-of-sig", sigs[0].Digest, sigType), "")        // not a referrer of subject
	s.put(referrer(repo("other"), "sig-elsewhere", subject.Digest, sigType), "") // another repository
	// A referrer may be pushed before its subject.
	early := referrer(repo("r"), "early", digest.FromString("not pushed yet"), sigType)
	s.put(early, "")

	for _, tc := range []struct {
		name         string
		repo         meta.Repo
		subject      digest.Digest
		artifactType string
		want         []*meta.Manifest
	}{
		{"all", repo("r"), subject.Digest, "", []*meta.Manifest{sigs[0], sigs[1], sbom}},
		{"filtered", repo("r"), subject.Digest, sigType, sigs},
		{"filtered to one", repo("r"), subject.Digest, sbomType, []*meta.Manifest{sbom}},
		{"no artifact of that type", repo("r"), subject.Digest, "application/unknown", nil},
		{"subject without referrers", repo("r"), digest.FromString("nothing"), "", nil},
		{"subject not pushed", repo("r"), early.Subject, "", []*meta.Manifest{early}},
		{"unknown repository", repo("nope"), subject.Digest, "", nil},
		{"same name in an unknown registry", repoIn(reg + "-nope")("r"), subject.Digest, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Referrers(t.Context(), tc.repo, tc.subject, tc.artifactType)
			wantErr(t, "Referrers", err, nil)
			want := descriptors(tc.want)
			if !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Errorf("Referrers =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// descriptors returns the descriptors of ms ordered by digest, as Referrers lists them.
func descriptors(ms []*meta.Manifest) []meta.Descriptor {
	var ds []meta.Descriptor
	for _, m := range ms {
		ds = append(ds, meta.Descriptor{
			MediaType:    m.MediaType,
			Digest:       m.Digest,
			Size:         m.Size,
			ArtifactType: m.ArtifactType,
			Annotations:  m.Annotations,
		})
	}
	slices.SortFunc(ds, func(a, b meta.Descriptor) int { return cmp.Compare(a.Digest, b.Digest) })
	return ds
}
