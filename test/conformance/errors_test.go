package conformance

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// testBase covers the API version check (end-1).
func testBase(t *testing.T, e *env) {
	runRequirements(t, []requirement{
		{
			name: "GET /v2/ answers 200",
			spec: "API/Determining Support: GET /v2/ answering 200 OK means the registry implements the specification (end-1)",
			run: func(t *testing.T) {
				e.do(t, http.MethodGet, "/v2/", nil).want(t, http.StatusOK)
			},
		},
		{
			name: "HEAD /v2/ answers 200",
			spec: "API/Determining Support: clients probe /v2/ with HEAD as well; it answers like GET (200, no body)",
			run: func(t *testing.T) {
				r := e.do(t, http.MethodHead, "/v2/", nil)
				r.want(t, http.StatusOK)
				wantNoBody(t, r)
			},
		},
	})
}

// testErrors covers request validation and the error envelope (spec: Error Codes; the
// name grammar of "Pulling manifests").
func testErrors(t *testing.T, e *env) {
	var rows []requirement

	// Repository names outside [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
	names := []struct{ what, name string }{
		{"uppercase", "conformance/Upper-Case"},
		{"dot-dot component", "conformance/a/../b"},
		{"empty component", "conformance//b"},
		{"trailing slash", "conformance/b/"},
		{"leading separator", "-conformance/b"},
		{"double dot separator", "conformance/a..b"},
		{"hidden component", "conformance/.hidden"},
		{"over 255 characters", "conformance/" + strings.Repeat("a", 256)},
	}
	endpoints := []struct {
		what, method, suffix string
	}{
		{"tags list", http.MethodGet, "/tags/list"},
		{"manifest GET", http.MethodGet, "/manifests/latest"},
		{"upload POST", http.MethodPost, "/blobs/uploads/"},
		{"blob GET", http.MethodGet, "/blobs/" + digest.FromString("x").String()},
	}
	for _, n := range names {
		rows = append(rows, requirement{
			name: "invalid name, " + n.what,
			spec: "Pulling manifests: <name> MUST match the repository name grammar; a request with any other name is refused with 400 NAME_INVALID (or 404), never redirected or served from another repository",
			run: func(t *testing.T) {
				for _, ep := range endpoints {
					t.Run(ep.what, func(t *testing.T) {
						r := e.do(t, ep.method, "/v2/"+n.name+ep.suffix, nil)
						wantErrorOneOf(t, r,
							outcome{http.StatusBadRequest, []string{"NAME_INVALID"}},
							outcome{http.StatusNotFound, []string{"NAME_UNKNOWN", "NAME_INVALID"}})
					})
				}
			},
		})
	}

	rows = append(rows, []requirement{
		{
			name: "valid name separators are accepted",
			spec: "Pulling manifests: components may be joined by '.', '_', '__' or runs of '-', and names may have many components",
			run: func(t *testing.T) {
				base := e.repo(t)
				for _, repo := range []string{base + "/a.b_c__d---e", base + "/x/y/z/0"} {
					m := e.pushImage(t, repo, "v1")
					e.wantManifest(t, repo, "v1", m)
				}
			},
		},
		{
			name: "malformed blob digest",
			spec: "Pull/Pulling blobs: <digest> must be a digest; a malformed one is refused with 400 DIGEST_INVALID, or simply not found (404 BLOB_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushBlob(t, repo, randomBytes(t, 10))
				for _, d := range []string{"sha256:not-hex", "sha256:abc", "notadigest"} {
					for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
						wantErrorOneOf(t, e.do(t, method, "/v2/"+repo+"/blobs/"+d, nil),
							outcome{http.StatusBadRequest, []string{"DIGEST_INVALID"}},
							outcome{http.StatusNotFound, []string{"BLOB_UNKNOWN"}})
					}
				}
			},
		},
		{
			name: "unsupported digest algorithm on upload",
			spec: "Push/POST then PUT: a digest of an algorithm the registry does not support cannot be verified; 400 DIGEST_INVALID (or UNSUPPORTED), nothing stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				loc, _ := e.startUpload(t, repo)
				data := []byte("hello")
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", "md5:5d41402abc4b2a76b9719d911017c592"), data, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID", "UNSUPPORTED")
				e.wantNoBlob(t, repo, digest.FromBytes(data))
			},
		},
		{
			name: "malformed mount digest",
			spec: "Push/Mounting a blob: mount=<digest> must be a digest; a malformed one is 400 DIGEST_INVALID, or ignored in favour of a plain upload session (202)",
			run: func(t *testing.T) {
				src, dst := e.repo(t), e.repo(t)
				e.pushBlob(t, src, randomBytes(t, 10))
				r := e.do(t, http.MethodPost, uploadsPath(dst)+"?"+url.Values{"mount": {"sha256:nope"}, "from": {src}}.Encode(), nil)
				if r.Status == http.StatusAccepted {
					r.location(t)
					return
				}
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
			},
		},
	}...)
	runRequirements(t, rows)
}
