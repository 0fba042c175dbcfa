package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	typeA     = "application/vnd.nhl.peanut.butter.bagel"
	typeB     = "application/vnd.nba.strawberry.jam.croissant"
	typeIndex = "application/vnd.food.stand"
	typeOnIdx = "application/vnd.example.on.index"
	annKey    = "org.opencontainers.conformance.test"
)

// subjectPut is a manifest PUT whose reply must name the subject in OCI-Subject.
type subjectPut struct {
	what    string
	reply   *reply
	subject digest.Digest
}

// referrersFixture mirrors the official suites' referrers scenario: a subject image
// with five referrers (config-typed and artifactType-typed manifests and an artifact
// index), some pushed before the subject exists, plus an index without artifactType, a
// plain image whose artifactType is its config type, a referrer whose subject is never
// pushed, and a referrer of the artifact index.
type referrersFixture struct {
	repo        string
	subject     manifest
	missing     digest.Digest
	artifactIdx manifest
	want        []v1.Descriptor // referrers of subject
	wantA       []v1.Descriptor // those of artifactType typeA
	wantMissing []v1.Descriptor // referrers of the missing subject
	wantOnIdx   []v1.Descriptor // referrers of artifactIdx
	puts        []subjectPut
	tags        []string
}

func referrer(m manifest, artifactType string, annotations map[string]string) v1.Descriptor {
	d := m.desc()
	d.ArtifactType = artifactType
	d.Annotations = annotations
	return d
}

func (e *env) setupReferrers(t *testing.T) *referrersFixture {
	t.Helper()
	fx := &referrersFixture{repo: e.repo(t)}
	repo := fx.repo
	put := func(what, ref string, m manifest, subject digest.Digest) {
		r := e.putManifest(t, repo, ref, m)
		r.want(t, http.StatusCreated)
		fx.puts = append(fx.puts, subjectPut{what, r, subject})
	}
	ann := func(v string) map[string]string { return map[string]string{annKey: v} }
	uniq := randomHex(t)

	// The subject's blobs exist, its manifest is pushed only after the first referrers.
	fx.subject = e.buildImage(t, repo, image{})
	sd := fx.subject.desc()
	blobA := []byte("NHL Peanut Butter on my NHL bagel " + uniq)
	aCfg := e.newArtifact(t, repo, typeA, typeA, blobA, &sd, ann("test config a"))
	put("config-typed referrer A (before its subject)", aCfg.Digest.String(), aCfg, sd.Digest)
	aLay := e.newArtifact(t, repo, typeA, "", blobA, &sd, ann("test layer a"))
	put("artifactType referrer A (before its subject)", aLay.Digest.String(), aLay, sd.Digest)
	fx.artifactIdx = index(t, mtIndex, []manifest{aCfg, aLay}, &sd, typeIndex, ann("test index"))
	put("artifact index referrer", fx.artifactIdx.Digest.String(), fx.artifactIdx, sd.Digest)

	e.pushManifest(t, repo, "tagtest0", fx.subject)

	blobB := []byte("NBA Strawberry Jam on my NBA croissant " + uniq)
	bCfg := e.newArtifact(t, repo, typeB, typeB, blobB, &sd, ann("test config b"))
	put("config-typed referrer B", bCfg.Digest.String(), bCfg, sd.Digest)
	bLay := e.newArtifact(t, repo, typeB, "", blobB, &sd, ann("test layer b"))
	put("artifactType referrer B, pushed by tag", "tagged-artifact", bLay, sd.Digest)
	plain := index(t, mtIndex, []manifest{aCfg}, &sd, "", ann("index without artifactType"))
	put("index referrer without artifactType", plain.Digest.String(), plain, sd.Digest)
	img := e.buildImage(t, repo, image{subject: &sd, annotations: ann("image with subject")})
	put("plain image referrer", img.Digest.String(), img, sd.Digest)

	fx.missing = digest.FromString("never pushed " + uniq)
	md := v1.Descriptor{MediaType: mtImage, Digest: fx.missing, Size: 1234}
	c := e.newArtifact(t, repo, typeB, "", []byte("C "+uniq), &md, nil)
	put("referrer of a missing subject", c.Digest.String(), c, fx.missing)

	id := fx.artifactIdx.desc()
	onIdx := e.newArtifact(t, repo, typeOnIdx, "", []byte("on index "+uniq), &id, ann("on index"))
	put("referrer of an index", onIdx.Digest.String(), onIdx, id.Digest)

	fx.wantA = []v1.Descriptor{
		referrer(aCfg, typeA, ann("test config a")),
		referrer(aLay, typeA, ann("test layer a")),
	}
	fx.want = append(slices.Clone(fx.wantA),
		referrer(fx.artifactIdx, typeIndex, ann("test index")),
		referrer(bCfg, typeB, ann("test config b")),
		referrer(bLay, typeB, ann("test layer b")),
		referrer(plain, "", ann("index without artifactType")),
		referrer(img, mtConfig, ann("image with subject")),
	)
	fx.wantMissing = []v1.Descriptor{referrer(c, typeB, nil)}
	fx.wantOnIdx = []v1.Descriptor{referrer(onIdx, typeOnIdx, ann("on index"))}
	fx.tags = []string{"tagged-artifact", "tagtest0"}
	return fx
}

// listReferrers GETs the referrers of d (with an optional query) and checks the
// envelope: 200, Content-Type of an OCI index, schemaVersion 2 and mediaType.
func (e *env) listReferrers(t testing.TB, repo string, d string, query string) (*reply, []v1.Descriptor) {
	t.Helper()
	target := "/v2/" + repo + "/referrers/" + d
	if query != "" {
		target += "?" + query
	}
	r := e.do(t, http.MethodGet, target, nil)
	r.want(t, http.StatusOK)
	wantHeader(t, r, "Content-Type", mtIndex)
	var ix v1.Index
	if err := json.Unmarshal(r.Body, &ix); err != nil {
		t.Fatalf("referrers body is not an image index: %v: %s", err, r)
	}
	if ix.SchemaVersion != 2 || ix.MediaType != mtIndex {
		t.Errorf("referrers index has schemaVersion %d and mediaType %q, want 2 and %q", ix.SchemaVersion, ix.MediaType, mtIndex)
	}
	if raw := rawField(t, r, "manifests"); !strings.HasPrefix(raw, "[") {
		t.Errorf("manifests = %s, want a JSON list", raw)
	}
	return r, ix.Manifests
}

// wantDescriptors compares referrer descriptors on the fields the spec prescribes
// (mediaType, size, digest, artifactType, annotations), in any order.
func wantDescriptors(t testing.TB, want, got []v1.Descriptor) {
	t.Helper()
	trim := func(ds []v1.Descriptor) []v1.Descriptor {
		out := make([]v1.Descriptor, 0, len(ds))
		for _, d := range ds {
			out = append(out, v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, ArtifactType: d.ArtifactType, Annotations: d.Annotations})
		}
		return out
	}
	opts := cmp.Options{
		cmpopts.EquateEmpty(),
		cmpopts.SortSlices(func(a, b v1.Descriptor) bool { return a.Digest < b.Digest }),
	}
	if diff := cmp.Diff(trim(want), trim(got), opts); diff != "" {
		t.Errorf("referrers (-want +got):\n%s", diff)
	}
}

// testReferrers covers the referrers API of the "Content Discovery" category (end-12a,
// end-12b) and the OCI-Subject response header of manifest pushes.
func testReferrers(t *testing.T, e *env) {
	fx := e.setupReferrers(t)
	subject := fx.subject.Digest.String()
	filtered := func(t *testing.T, d, artifactType string, want []v1.Descriptor) {
		r, got := e.listReferrers(t, fx.repo, d, url.Values{"artifactType": {artifactType}}.Encode())
		wantHeader(t, r, "OCI-Filters-Applied", "artifactType")
		wantDescriptors(t, want, got)
	}
	rows := []requirement{
		{
			name: "pushes with a subject answer OCI-Subject",
			spec: "Push/Pushing Manifests with Subject: the registry MUST answer OCI-Subject: <subject digest>, including for subjects not (yet) pushed",
			run: func(t *testing.T) {
				for _, p := range fx.puts {
					if got := p.reply.Header.Get("OCI-Subject"); got != p.subject.String() {
						t.Errorf("%s: OCI-Subject %q, want %q", p.what, got, p.subject)
					}
				}
			},
		},
		{
			name: "referrers of a subject",
			spec: "Content Discovery/Listing Referrers: 200, Content-Type application/vnd.oci.image.index.v1+json, an image index whose descriptors carry mediaType, size, digest, artifactType (the manifest's, else its config mediaType; omitted for an index without one) and the manifest's annotations",
			run: func(t *testing.T) {
				_, got := e.listReferrers(t, fx.repo, subject, "")
				wantDescriptors(t, fx.want, got)
			},
		},
		{
			name: "artifactType filter",
			spec: "Content Discovery/Listing Referrers: ?artifactType= filters the list (SHOULD); when applied the response MUST carry OCI-Filters-Applied: artifactType",
			run: func(t *testing.T) {
				filtered(t, subject, typeA, fx.wantA)
			},
		},
		{
			name: "artifactType filter on an index type",
			spec: "Content Discovery/Listing Referrers: the filter matches an index's artifactType too",
			run: func(t *testing.T) {
				filtered(t, subject, typeIndex, fx.want[2:3])
			},
		},
		{
			name: "artifactType filter matching nothing",
			spec: "Content Discovery/Listing Referrers: if a query results in no matching referrers an empty manifest list MUST be returned (with OCI-Filters-Applied)",
			run: func(t *testing.T) {
				filtered(t, subject, "application/vnd.example.none", nil)
			},
		},
		{
			name: "referrers of a subject that was never pushed",
			spec: "Content Discovery/Listing Referrers (Ginkgo suite \"GET request to missing manifest should yield 200\"): the referrer of a missing subject is listed",
			run: func(t *testing.T) {
				_, got := e.listReferrers(t, fx.repo, fx.missing.String(), "")
				wantDescriptors(t, fx.wantMissing, got)
			},
		},
		{
			name: "referrers of an index",
			spec: "Content Discovery/Listing Referrers: <digest> is any manifest named as subject, an index included",
			run: func(t *testing.T) {
				_, got := e.listReferrers(t, fx.repo, fx.artifactIdx.Digest.String(), "")
				wantDescriptors(t, fx.wantOnIdx, got)
			},
		},
		{
			name: "unknown digest gives an empty index",
			spec: "Content Discovery/Listing Referrers: MUST NOT return 404; with no referrers an empty manifests list MUST be returned",
			run: func(t *testing.T) {
				_, got := e.listReferrers(t, fx.repo, digest.FromString("hello world").String(), "")
				wantDescriptors(t, nil, got)
			},
		},
		{
			name: "unknown repository gives an empty index",
			spec: "Content Discovery/Listing Referrers: a registry supporting the API MUST NOT return 404 to referrers requests (the official runner queries a repository before pushing to it)",
			run: func(t *testing.T) {
				_, got := e.listReferrers(t, e.repo(t), digest.FromBytes(randomBytes(t, 32)).String(), "")
				wantDescriptors(t, nil, got)
			},
		},
		{
			name: "referrers are scoped to the repository",
			spec: "Content Discovery/Listing Referrers: each descriptor is of a manifest in the same <name> namespace",
			run: func(t *testing.T) {
				other := e.repo(t)
				e.pushImage(t, other, "v1")
				_, got := e.listReferrers(t, other, subject, "")
				wantDescriptors(t, nil, got)
			},
		},
		{
			name: "invalid digest is 400",
			spec: "Content Discovery/Listing Referrers: if the request is invalid, such as a <digest> with invalid syntax, 400 Bad Request MUST be returned",
			run: func(t *testing.T) {
				for _, d := range []string{"sha256:not-hex", "notadigest"} {
					wantError(t, e.do(t, http.MethodGet, "/v2/"+fx.repo+"/referrers/"+d, nil), http.StatusBadRequest)
				}
			},
		},
		{
			name: "the registry adds no tags of its own",
			spec: "Backwards Compatibility/Referrers Tag Schema: the fallback tag is the client's job; a registry with the referrers API creates no sha256-<digest> tags",
			run: func(t *testing.T) {
				r, tl := e.listTags(t, fx.repo, "")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff(fx.tags, tl.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
			},
		},
	}
	runRequirements(t, rows)
}
