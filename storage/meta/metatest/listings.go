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
	s := newStore(t)
	m := image("r", "m")
	// Byte order, not case-insensitive or numeric order.
	sorted := []string{"1.0", "B", "_x", "a", "latest", "v1", "v1.0", "v10", "v2"}
	for _, i := range []int{8, 4, 0, 1, 2, 3, 7, 5, 6} {
		s.put(m, sorted[i])
	}
	s.put(image("untagged-only", "u"), "")

	checkPages(t, "Tags(r)", func(after string, limit int) ([]string, error) {
		return s.Tags(t.Context(), "r", after, limit)
	}, sorted)
	tags, err := s.Tags(t.Context(), "untagged-only", "", 0)
	wantErr(t, "Tags of a repository without tags", err, nil)
	sameStrings(t, "Tags of a repository without tags", tags, nil)
}

func testRepositories(t *testing.T, newStore func(*testing.T) *store) {
	s := newStore(t)
	sorted := []string{"a-b", "a/b", "a0", "ab", "library/alpine", "library/ubuntu", "zeta"}
	for _, i := range []int{6, 3, 0, 5, 1, 4, 2} {
		s.put(image(sorted[i], "m"), "")
	}
	s.link("blob-only", blob("x"))
	emptied := image("emptied", "m")
	s.put(emptied, "v1")
	s.deleteManifest(emptied)

	checkPages(t, "Repositories", func(after string, limit int) ([]string, error) {
		return s.Repositories(t.Context(), after, limit)
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
	s := newStore(t)
	subject := image("r", "subject")
	sigs := []*meta.Manifest{referrer("r", "sig1", subject.Digest, sigType), referrer("r", "sig2", subject.Digest, sigType)}
	sbom := referrer("r", "sbom", subject.Digest, sbomType)
	s.put(subject, "v1")
	s.put(sigs[0], "")
	s.put(sbom, "")
	s.put(sigs[1], "")
	s.put(referrer("r", "sig-of-sig", sigs[0].Digest, sigType), "")        // not a referrer of subject
	s.put(referrer("other", "sig-elsewhere", subject.Digest, sigType), "") // another repository
	// A referrer may be pushed before its subject.
	early := referrer("r", "early", digest.FromString("not pushed yet"), sigType)
	s.put(early, "")

	for _, tc := range []struct {
		name         string
		repository   string
		subject      digest.Digest
		artifactType string
		want         []*meta.Manifest
	}{
		{"all", "r", subject.Digest, "", []*meta.Manifest{sigs[0], sigs[1], sbom}},
		{"filtered", "r", subject.Digest, sigType, sigs},
		{"filtered to one", "r", subject.Digest, sbomType, []*meta.Manifest{sbom}},
		{"no artifact of that type", "r", subject.Digest, "application/unknown", nil},
		{"subject without referrers", "r", digest.FromString("nothing"), "", nil},
		{"subject not pushed", "r", early.Subject, "", []*meta.Manifest{early}},
		{"unknown repository", "nope", subject.Digest, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Referrers(t.Context(), tc.repository, tc.subject, tc.artifactType)
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
