package acrapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// shapesFixture is one repository with two tagged images, an untagged one and an index,
// all of fixed content, so that the golden files hold real sizes.
type shapesFixture struct {
	repo     string // "shapes/library/hello-world"
	a, b     image  // amd64 (tags v1, latest), arm64 (untagged)
	docker   image  // a Docker v2 image (tag docker)
	idx      image  // index of a and b (tag multi)
	names    map[digest.Digest]string
	escaped  string // repo with '/' as %2F
	basePath string // /acr/v1/<escaped>
}

func pushShapes(t *testing.T, e *env, repo string) *shapesFixture {
	t.Helper()
	f := &shapesFixture{repo: repo, escaped: strings.ReplaceAll(repo, "/", "%2F")}
	f.basePath = "/acr/v1/" + f.escaped
	f.a = e.pushImage(t, repo, "v1", "amd64", "layer a1", "layer a2, a little longer")
	e.putManifest(t, repo, "latest", mtImage, f.a.content).want(t, http.StatusCreated)
	f.b = e.pushImage(t, repo, "", "arm64", "layer b1")
	f.docker = e.buildImage(t, repo, "amd64", true, "docker layer")
	e.putManifest(t, repo, "docker", mtDockerImage, f.docker.content).want(t, http.StatusCreated)
	f.idx = e.pushIndex(t, repo, "multi", []string{"amd64", "arm64"}, f.a, f.b)
	f.names = map[digest.Digest]string{
		f.a.digest: "image-a", f.a.config: "config-a", f.a.layers[0]: "layer-a1", f.a.layers[1]: "layer-a2",
		f.b.digest: "image-b", f.b.config: "config-b", f.b.layers[0]: "layer-b1",
		f.docker.digest: "image-docker", f.docker.config: "config-docker", f.docker.layers[0]: "layer-docker",
		f.idx.digest: "index",
	}
	return f
}

// testShapes checks every successful /acr/v1 answer against its golden file, and the
// numbers in it against what was pushed.
func testShapes(t *testing.T, e *env) {
	f := pushShapes(t, e, "shapes/library/hello-world")
	get := func(t *testing.T, path string) *reply {
		t.Helper()
		r := e.do(t, "GET", path+"?api-version=2021-07-01", nil).want(t, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q, want ACR's application/json; charset=utf-8", ct)
		}
		return r
	}
	rows := []struct {
		name, path string
		check      func(t *testing.T, r *reply)
	}{
		{"repository", f.basePath, func(t *testing.T, r *reply) {
			var v struct {
				Registry, ImageName     string
				ManifestCount, TagCount int
			}
			r.decode(t, &v)
			if v.Registry != e.host || v.ImageName != f.repo || v.ManifestCount != 4 || v.TagCount != 4 {
				t.Errorf("repository = %+v, want registry %s, imageName %s, 4 manifests, 4 tags", v, e.host, f.repo)
			}
		}},
		{"tags", f.basePath + "/_tags", nil},
		{"tag", f.basePath + "/_tags/v1", nil},
		{"manifests", f.basePath + "/_manifests", func(t *testing.T, r *reply) {
			var v struct {
				Manifests []struct {
					Digest    digest.Digest
					ImageSize int64
				}
			}
			r.decode(t, &v)
			want := map[digest.Digest]int64{
				f.a.digest:      f.a.size + f.a.blobs,
				f.b.digest:      f.b.size + f.b.blobs,
				f.docker.digest: f.docker.size + f.docker.blobs,
				f.idx.digest:    f.idx.size + f.a.size + f.b.size,
			}
			for _, m := range v.Manifests {
				if m.ImageSize != want[m.Digest] {
					t.Errorf("imageSize of %s = %d, want %d", f.names[m.Digest], m.ImageSize, want[m.Digest])
				}
			}
			if len(v.Manifests) != len(want) {
				t.Errorf("%d manifests, want %d", len(v.Manifests), len(want))
			}
		}},
		{"manifest-image", f.basePath + "/_manifests/" + f.a.digest.String(), nil},
		{"manifest-docker", f.basePath + "/_manifests/" + f.docker.digest.String(), nil},
		{"manifest-index", f.basePath + "/_manifests/" + f.idx.digest.String(), nil},
		// A tag in place of the digest names the manifest it points at.
		{"manifest-index", f.basePath + "/_manifests/multi", nil},
		// Raw slashes, as the Azure CLI sends them, are the same repository.
		{"tags", "/acr/v1/" + f.repo + "/_tags", nil},
		{"repository", "/acr/v1/" + f.repo, nil},
	}
	for _, row := range rows {
		t.Run(row.name+" "+strings.ReplaceAll(row.path, "/", "|"), func(t *testing.T) {
			t.Parallel()
			r := get(t, row.path)
			e.checkGolden(t, row.name, r.Body, f.names)
			if row.check != nil {
				row.check(t, r)
			}
		})
	}
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		// PATCH answers the updated object, as GET does.
		f := pushShapes(t, e, "shapes/patched")
		for _, p := range []struct{ golden, path string }{
			{"tag-patched", f.basePath + "/_tags/latest"},
			{"manifest-patched", f.basePath + "/_manifests/" + f.idx.digest.String()},
			{"repository-patched", f.basePath},
		} {
			r := e.patch(t, p.path+"?api-version=2021-07-01", `{"writeEnabled":false,"listEnabled":false}`).want(t, http.StatusOK)
			e.checkGolden(t, p.golden, r.Body, f.names)
			if got := e.do(t, "GET", p.path, nil).want(t, http.StatusOK); string(got.Body) != string(r.Body) {
				t.Errorf("GET after PATCH = %s, PATCH answered %s", got.Body, r.Body)
			}
		}
	})
}

// testErrors checks the error answers of /acr/v1 against golden files.
func testErrors(t *testing.T, e *env) {
	repo := e.repo("errors")
	esc := strings.ReplaceAll(repo, "/", "%2F")
	img := e.pushImage(t, repo, "v1", "amd64", "errors layer")
	e.patch(t, "/acr/v1/"+esc+"/_tags/v1", `{"deleteEnabled":false}`).want(t, http.StatusOK)
	const d = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	for _, row := range []struct {
		golden, method, path, body string
		status                     int
	}{
		{"error-name-unknown", "GET", "/acr/v1/acrapi/nope", "", 404},
		{"error-name-unknown", "GET", "/acr/v1/acrapi%2Fnope/_tags", "", 404},
		{"error-name-unknown", "GET", "/acr/v1/acrapi/nope/_manifests", "", 404},
		{"error-name-unknown", "GET", "/acr/v1/acrapi/nope/_tags/v1", "", 404},
		{"error-name-unknown", "GET", "/acr/v1/acrapi/nope/_manifests/" + d, "", 404},
		{"error-name-unknown", "PATCH", "/acr/v1/acrapi/nope", `{}`, 404},
		{"error-name-unknown", "DELETE", "/acr/v1/acrapi/nope", "", 404},
		{"error-tag-unknown", "GET", "/acr/v1/" + esc + "/_tags/v2", "", 404},
		{"error-tag-unknown", "PATCH", "/acr/v1/" + esc + "/_tags/v2", `{}`, 404},
		{"error-tag-unknown", "DELETE", "/acr/v1/" + esc + "/_tags/v2", "", 404},
		{"error-tag-unknown", "GET", "/acr/v1/" + esc + "/_tags/-not-a-tag", "", 404},
		{"error-manifest-unknown", "GET", "/acr/v1/" + esc + "/_manifests/" + d, "", 404},
		{"error-manifest-unknown", "PATCH", "/acr/v1/" + esc + "/_manifests/" + d, `{}`, 404},
		{"error-manifest-unknown", "GET", "/acr/v1/" + esc + "/_manifests/v2", "", 404},
		{"error-digest-invalid", "GET", "/acr/v1/" + esc + "/_manifests/sha256:xyz", "", 400},
		{"error-digest-invalid", "GET", "/acr/v1/" + esc + "/_tags?digest=sha256:xyz", "", 400},
		{"error-name-invalid", "GET", "/acr/v1/Upper/_tags", "", 400},
		{"error-empty-body", "PATCH", "/acr/v1/" + esc, "", 400},
		{"error-not-boolean", "PATCH", "/acr/v1/" + esc + "/_tags/v1", `{"writeEnabled":"false"}`, 400},
		{"error-not-object", "PATCH", "/acr/v1/" + esc + "/_manifests/" + img.digest.String(), `[true]`, 400},
		{"error-orderby", "GET", "/acr/v1/" + esc + "/_tags?orderby=newest", "", 400},
		{"error-pagination", "GET", "/acr/v1/" + esc + "/_manifests?n=-1", "", 400},
		{"error-last-tag-unknown", "GET", "/acr/v1/" + esc + "/_tags?orderby=timedesc&last=gone", "", 404},
		{"error-last-manifest-unknown", "GET", "/acr/v1/" + esc + "/_manifests?orderby=timeasc&last=" + d, "", 404},
		{"error-disallowed", "DELETE", "/acr/v1/" + esc + "/_tags/v1", "", 405},
		{"error-method", "POST", "/acr/v1/" + esc + "/_tags", "", 405},
	} {
		t.Run(row.golden+" "+row.method+" "+strings.ReplaceAll(row.path, "/", "|"), func(t *testing.T) {
			t.Parallel()
			var body []byte
			if row.body != "" {
				body = []byte(row.body)
			}
			r := e.do(t, row.method, row.path, body).want(t, row.status)
			e.checkGolden(t, row.golden, r.Body, map[digest.Digest]string{img.digest: "image"})
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// testDeleteRepository deletes a repository over /acr/v1: 202 with what went, then 404
// everywhere, and a second DELETE 404 (which the Azure SDK takes as success).
func testDeleteRepository(t *testing.T, e *env) {
	f := pushShapes(t, e, "shapes/deleted")
	r := e.do(t, "DELETE", f.basePath+"?api-version=2021-07-01", nil).want(t, http.StatusAccepted)
	// The lists come in byte order, so the golden is stable.
	e.checkGolden(t, "deleted-repository", r.Body, f.names)
	var del struct {
		ManifestsDeleted []string `json:"manifestsDeleted"`
		TagsDeleted      []string `json:"tagsDeleted"`
	}
	if err := json.Unmarshal(r.Body, &del); err != nil || len(del.ManifestsDeleted) != 4 || len(del.TagsDeleted) != 4 {
		t.Errorf("DeletedRepository = %+v, %v; want 4 manifests and 4 tags", del, err)
	}
	for _, path := range []string{f.basePath, f.basePath + "/_tags", f.basePath + "/_manifests", "/v2/" + f.repo + "/tags/list"} {
		if code := errorCode(t, e.do(t, "GET", path, nil).want(t, http.StatusNotFound)); code != "NAME_UNKNOWN" {
			t.Errorf("GET %s after delete: code %s, want NAME_UNKNOWN", path, code)
		}
	}
	e.do(t, "GET", "/v2/"+f.repo+"/manifests/v1", nil).want(t, http.StatusNotFound)
	e.do(t, "DELETE", f.basePath, nil).want(t, http.StatusNotFound)
}
