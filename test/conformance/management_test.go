package conformance

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// testManagement covers the "Content Management" workflow category: deleting tags,
// manifests and blobs (end-9, end-10).
func testManagement(t *testing.T, e *env) {
	rows := []requirement{
		{
			name: "delete a tag",
			spec: "Content Management/Deleting tags: DELETE /v2/<name>/manifests/<tag> MUST answer 202; a GET of the tag then answers 404, while the manifest and its other tags remain",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, "keep", m)
				e.pushManifest(t, repo, "tagtest0", m)
				e.do(t, http.MethodDelete, manifestPath(repo, "tagtest0"), nil).want(t, http.StatusAccepted)
				wantError(t, e.getManifest(t, http.MethodGet, repo, "tagtest0"), http.StatusNotFound, "MANIFEST_UNKNOWN")
				wantError(t, e.getManifest(t, http.MethodHead, repo, "tagtest0"), http.StatusNotFound)
				e.wantManifest(t, repo, m.Digest.String(), m)
				e.wantManifest(t, repo, "keep", m)
				r, tl := e.listTags(t, repo, "")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff([]string{"keep"}, tl.Tags); diff != "" {
					t.Errorf("tags after deletion (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "delete a manifest by digest",
			spec: "Content Management/Deleting Manifests: DELETE by digest MUST answer 202; afterwards GET of the digest and of every tag pointing to it answers 404, and the tags list reflects it",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, "a", m)
				e.pushManifest(t, repo, "b", m)
				other := e.pushImage(t, repo, "other")
				e.do(t, http.MethodDelete, manifestPath(repo, m.Digest.String()), nil).want(t, http.StatusAccepted)
				for _, ref := range []string{m.Digest.String(), "a", "b"} {
					wantError(t, e.getManifest(t, http.MethodGet, repo, ref), http.StatusNotFound, "MANIFEST_UNKNOWN")
					wantError(t, e.getManifest(t, http.MethodHead, repo, ref), http.StatusNotFound)
				}
				e.wantManifest(t, repo, "other", other)
				r, tl := e.listTags(t, repo, "")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff([]string{"other"}, tl.Tags); diff != "" {
					t.Errorf("tags after deletion (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "tags list after the last tag is deleted",
			spec: "Content Management (Ginkgo suite \"GET request to tags list should reflect manifest deletion\"): once the only tag and its manifest are deleted, the tags list of the repository still answers 200, with fewer tags",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.pushImage(t, repo, "tagtest0")
				e.do(t, http.MethodDelete, manifestPath(repo, "tagtest0"), nil).want(t, http.StatusAccepted)
				e.do(t, http.MethodDelete, manifestPath(repo, m.Digest.String()), nil).want(t, http.StatusAccepted, http.StatusNotFound)
				r, tl := e.listTags(t, repo, "")
				r.want(t, http.StatusOK)
				if len(tl.Tags) != 0 {
					t.Errorf("tags %q remain", tl.Tags)
				}
			},
		},
		{
			name: "delete a subject that still has referrers",
			spec: "Content Management/Deleting Manifests: DELETE by digest MUST answer 202 (the Ginkgo suite deletes a subject before its referrers and accepts only 2xx, 404 or 405); the referrers list keeps answering 200",
			run: func(t *testing.T) {
				repo := e.repo(t)
				s := e.pushImage(t, repo, "image")
				sd := s.desc()
				ref := e.newArtifact(t, repo, "application/vnd.example.sig", "", []byte("sig "+randomHex(t)), &sd, nil)
				e.pushManifest(t, repo, ref.Digest.String(), ref)
				e.do(t, http.MethodDelete, manifestPath(repo, s.Digest.String()), nil).want(t, http.StatusAccepted)
				e.wantNoManifest(t, repo, s.Digest.String())
				e.wantManifest(t, repo, ref.Digest.String(), ref)
				e.listReferrers(t, repo, s.Digest.String(), "")
			},
		},
		{
			name: "delete a blob a manifest still references",
			spec: "Content Management/Deleting Blobs: DELETE MUST answer 202 on success, or 400/405 when deletion is disabled (the Ginkgo suite deletes a layer still used by other manifests and accepts only 202, 404 or 405); the manifest itself is not affected",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, "v1", m)
				var im v1.Manifest
				if err := json.Unmarshal(m.Body, &im); err != nil {
					t.Fatal(err)
				}
				d := im.Layers[0].Digest
				e.do(t, http.MethodDelete, blobPath(repo, d), nil).want(t, http.StatusAccepted)
				e.wantNoBlob(t, repo, d)
				e.wantManifest(t, repo, "v1", m)
			},
		},
		{
			name: "delete an unknown manifest is 404",
			spec: "Content Management/Deleting Manifests: deleting what does not exist is 404 (end-9 failure; MANIFEST_UNKNOWN for a digest or tag, NAME_UNKNOWN for a missing repository)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushImage(t, repo, "present")
				wantError(t, e.do(t, http.MethodDelete, manifestPath(repo, digest.FromBytes(randomBytes(t, 64)).String()), nil),
					http.StatusNotFound, "MANIFEST_UNKNOWN")
				wantError(t, e.do(t, http.MethodDelete, manifestPath(repo, "absent"), nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
				wantError(t, e.do(t, http.MethodDelete, manifestPath(e.repo(t), digest.FromString("x").String()), nil),
					http.StatusNotFound, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
			},
		},
		{
			name: "delete a blob",
			spec: "Content Management/Deleting Blobs: DELETE /v2/<name>/blobs/<digest> MUST answer 202; the blob is then gone (HEAD and GET 404, as the official runner checks at once)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				d := e.pushBlob(t, repo, randomBytes(t, 500))
				e.do(t, http.MethodDelete, blobPath(repo, d), nil).want(t, http.StatusAccepted)
				wantError(t, e.do(t, http.MethodHead, blobPath(repo, d), nil), http.StatusNotFound)
				wantError(t, e.do(t, http.MethodGet, blobPath(repo, d), nil), http.StatusNotFound, "BLOB_UNKNOWN")
			},
		},
		{
			name: "delete an unknown blob is 404 BLOB_UNKNOWN",
			spec: "Content Management/Deleting Blobs: if the blob is not found, 404 MUST be returned (BLOB_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushBlob(t, repo, randomBytes(t, 5))
				wantError(t, e.do(t, http.MethodDelete, blobPath(repo, digest.FromBytes(randomBytes(t, 5))), nil),
					http.StatusNotFound, "BLOB_UNKNOWN")
			},
		},
		{
			name: "deleting a blob in one repository leaves the others",
			spec: "Content Management/Deleting Blobs: the delete applies to <name>; a repository that mounted or pushed the same blob still serves it",
			run: func(t *testing.T) {
				a, b := e.repo(t), e.repo(t)
				data := randomBytes(t, 256)
				d := e.pushBlob(t, a, data)
				e.pushBlob(t, b, data)
				e.do(t, http.MethodDelete, blobPath(a, d), nil).want(t, http.StatusAccepted)
				e.wantNoBlob(t, a, d)
				e.wantBlob(t, b, d, data)
			},
		},
		{
			name: "deleting a referrer removes it from the list",
			spec: "Content Management/Deleting Manifests with Listing Referrers: a deleted manifest with a subject no longer appears among the subject's referrers",
			run: func(t *testing.T) {
				repo := e.repo(t)
				s := e.pushImage(t, repo, "image")
				sd := s.desc()
				keep := e.newArtifact(t, repo, "application/vnd.example.keep", "", []byte("keep "+randomHex(t)), &sd, nil)
				gone := e.newArtifact(t, repo, "application/vnd.example.gone", "", []byte("gone "+randomHex(t)), &sd, nil)
				e.pushManifest(t, repo, keep.Digest.String(), keep)
				e.pushManifest(t, repo, gone.Digest.String(), gone)
				e.do(t, http.MethodDelete, manifestPath(repo, gone.Digest.String()), nil).want(t, http.StatusAccepted)
				_, got := e.listReferrers(t, repo, s.Digest.String(), "")
				wantDescriptors(t, []v1.Descriptor{referrer(keep, "application/vnd.example.keep", nil)}, got)
			},
		},
		{
			name: "full teardown in the official runner's order",
			spec: "Content Management (official runner \"delete\"): tags, then manifests newest first (index before its children), then blobs, each delete 202 and each object 404 right after",
			run: func(t *testing.T) {
				repo := e.repo(t)
				var blobs []digest.Digest
				var mans []manifest
				for range 2 {
					m := e.buildImage(t, repo, image{layers: 2})
					var im v1.Manifest
					if err := json.Unmarshal(m.Body, &im); err != nil {
						t.Fatal(err)
					}
					blobs = append(blobs, im.Config.Digest)
					for _, l := range im.Layers {
						blobs = append(blobs, l.Digest)
					}
					e.pushManifest(t, repo, m.Digest.String(), m)
					mans = append(mans, m)
				}
				ix := index(t, mtIndex, mans, nil, "", nil)
				e.pushManifest(t, repo, ix.Digest.String(), ix)
				e.pushManifest(t, repo, "index", ix)
				mans = append(mans, ix)

				e.do(t, http.MethodDelete, manifestPath(repo, "index"), nil).want(t, http.StatusAccepted)
				wantError(t, e.getManifest(t, http.MethodHead, repo, "index"), http.StatusNotFound)
				for _, m := range slices.Backward(mans) {
					e.do(t, http.MethodDelete, manifestPath(repo, m.Digest.String()), nil).want(t, http.StatusAccepted)
					wantError(t, e.getManifest(t, http.MethodHead, repo, m.Digest.String()), http.StatusNotFound)
				}
				for _, d := range blobs {
					e.do(t, http.MethodDelete, blobPath(repo, d), nil).want(t, http.StatusAccepted)
					e.wantNoBlob(t, repo, d)
				}
			},
		},
		{
			name: "push again after deletion",
			spec: "Content Management: deleted content can be pushed again (201) and is then served",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 77)
				d := e.pushBlob(t, repo, data)
				m := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, "v1", m)
				e.do(t, http.MethodDelete, manifestPath(repo, m.Digest.String()), nil).want(t, http.StatusAccepted)
				e.do(t, http.MethodDelete, blobPath(repo, d), nil).want(t, http.StatusAccepted)
				e.pushBlobAs(t, repo, data, d)
				e.wantBlob(t, repo, d, data)
				e.pushManifest(t, repo, "v1", m)
				e.wantManifest(t, repo, "v1", m)
			},
		},
	}
	runRequirements(t, rows)
}
