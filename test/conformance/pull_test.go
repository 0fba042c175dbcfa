package conformance

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
)

// testPull covers the "Pull" workflow category (spec: Workflow Categories / Pull, and
// endpoints end-2 and end-3), which every conforming registry MUST support.
func testPull(t *testing.T, e *env) {
	rows := []requirement{
		{
			name: "GET blob returns its bytes",
			spec: "Pull/Pulling blobs: a GET of an existing blob MUST answer 200 with the blob; Docker-Content-Digest, when sent, MUST match the body",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 1234)
				d := e.pushBlob(t, repo, data)
				r := e.do(t, http.MethodGet, blobPath(repo, d), nil)
				r.want(t, http.StatusOK)
				if !bytes.Equal(r.Body, data) {
					t.Errorf("body differs from the pushed blob: %s", r)
				}
				wantHeader(t, r, "Content-Length", "1234")
				wantHeader(t, r, "Docker-Content-Digest", d.String())
			},
		},
		{
			name: "HEAD blob answers 200 with size and digest",
			spec: "Pull/Checking if content exists: HEAD of an existing blob MUST answer 200 and SHOULD carry Docker-Content-Digest and Content-Length; no body",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 321)
				d := e.pushBlob(t, repo, data)
				r := e.do(t, http.MethodHead, blobPath(repo, d), nil)
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Content-Length", "321")
				wantHeader(t, r, "Docker-Content-Digest", d.String())
				wantNoBody(t, r)
			},
		},
		{
			name: "HEAD unknown blob is 404",
			spec: "Pull/Checking if content exists: if the blob is not found the response MUST be 404",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushBlob(t, repo, randomBytes(t, 10))
				r := e.do(t, http.MethodHead, blobPath(repo, digest.FromString("hello world")), nil)
				r.want(t, http.StatusNotFound)
				wantNoBody(t, r)
			},
		},
		{
			name: "GET unknown blob is 404 BLOB_UNKNOWN",
			spec: "Pull/Pulling blobs: if the blob is not found the response MUST be 404 (code-1 BLOB_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushBlob(t, repo, randomBytes(t, 10))
				r := e.do(t, http.MethodGet, blobPath(repo, digest.FromBytes(randomBytes(t, 8))), nil)
				wantError(t, r, http.StatusNotFound, "BLOB_UNKNOWN")
			},
		},
		{
			name: "GET blob in unknown repository is 404",
			spec: "Pull/Pulling blobs: a blob not found in the repository MUST be 404 (BLOB_UNKNOWN or NAME_UNKNOWN)",
			run: func(t *testing.T) {
				r := e.do(t, http.MethodGet, blobPath(e.repo(t), digest.FromString("hello world")), nil)
				wantError(t, r, http.StatusNotFound, "BLOB_UNKNOWN", "NAME_UNKNOWN")
			},
		},
		{
			name: "blob of another repository is not served",
			spec: "Pull/Pulling blobs: a blob not found in *the repository* MUST be 404, even if another repository holds it",
			run: func(t *testing.T) {
				a, b := e.repo(t), e.repo(t)
				data := randomBytes(t, 64)
				d := e.pushBlob(t, a, data)
				e.pushBlob(t, b, randomBytes(t, 64))
				wantError(t, e.do(t, http.MethodGet, blobPath(b, d), nil), http.StatusNotFound, "BLOB_UNKNOWN")
				e.wantNoBlob(t, b, d)
			},
		},
		{
			name: "empty blob",
			spec: "Pull/Pulling blobs: a zero-byte blob is a blob like any other (official suite data set \"empty\")",
			run: func(t *testing.T) {
				repo := e.repo(t)
				d := e.pushBlob(t, repo, []byte{})
				r := e.do(t, http.MethodHead, blobPath(repo, d), nil)
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Content-Length", "0")
				wantHeader(t, r, "Docker-Content-Digest", d.String())
				r = e.do(t, http.MethodGet, blobPath(repo, d), nil)
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Content-Length", "0")
				wantNoBody(t, r)
			},
		},
		{
			name: "sha512 blob",
			spec: "Pull/Pulling blobs with a sha512 digest: GET/HEAD MUST answer 200 and Docker-Content-Digest names the sha512 digest (official suite pushes sha512 data by default)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 512)
				d := digest.SHA512.FromBytes(data)
				e.pushBlobAs(t, repo, data, d)
				e.wantBlob(t, repo, d, data)
				r := e.do(t, http.MethodHead, blobPath(repo, d), nil)
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Docker-Content-Digest", d.String())
				wantHeader(t, r, "Content-Length", "512")
			},
		},
		{
			name: "GET manifest by tag",
			spec: "Pull/Pulling manifests: GET of an existing tag MUST answer 200 with the manifest as pushed; Content-Type is the pushed type; Docker-Content-Digest is its digest",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.pushImage(t, repo, "v1")
				e.wantManifest(t, repo, "v1", m)
				r := e.getManifest(t, http.MethodGet, repo, "v1")
				wantHeader(t, r, "Content-Length", strconv.Itoa(len(m.Body)))
			},
		},
		{
			name: "GET manifest by digest",
			spec: "Pull/Pulling manifests: GET by digest MUST answer 200 with the manifest; Content-Type, Docker-Content-Digest and Content-Length describe it",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, m.Digest.String(), m)
				e.wantManifest(t, repo, m.Digest.String(), m)
				r := e.getManifest(t, http.MethodGet, repo, m.Digest.String())
				wantHeader(t, r, "Content-Length", strconv.Itoa(len(m.Body)))
			},
		},
		{
			name: "HEAD manifest by tag and by digest",
			spec: "Pull/Checking if content exists: HEAD of an existing manifest MUST answer 200 with Content-Type, Content-Length and Docker-Content-Digest and no body",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.pushImage(t, repo, "latest")
				for _, ref := range []string{"latest", m.Digest.String()} {
					r := e.getManifest(t, http.MethodHead, repo, ref)
					r.want(t, http.StatusOK)
					wantHeader(t, r, "Content-Type", m.MediaType)
					wantHeader(t, r, "Content-Length", strconv.Itoa(len(m.Body)))
					wantHeader(t, r, "Docker-Content-Digest", m.Digest.String())
					wantNoBody(t, r)
				}
			},
		},
		{
			name: "unknown tag is 404 MANIFEST_UNKNOWN",
			spec: "Pull/Pulling manifests: if the manifest is not found in the repository the response MUST be 404 (code-7 MANIFEST_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushImage(t, repo, "present")
				wantError(t, e.getManifest(t, http.MethodGet, repo, "absent"), http.StatusNotFound, "MANIFEST_UNKNOWN")
				wantError(t, e.getManifest(t, http.MethodHead, repo, "absent"), http.StatusNotFound)
			},
		},
		{
			name: "unknown digest is 404 MANIFEST_UNKNOWN",
			spec: "Pull/Pulling manifests: if the manifest is not found in the repository the response MUST be 404 (MANIFEST_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushImage(t, repo, "present")
				d := digest.FromBytes(randomBytes(t, 1024)).String()
				wantError(t, e.getManifest(t, http.MethodGet, repo, d), http.StatusNotFound, "MANIFEST_UNKNOWN")
				wantError(t, e.getManifest(t, http.MethodHead, repo, d), http.StatusNotFound)
			},
		},
		{
			name: "manifest in unknown repository is 404",
			spec: "Push/Pushing Manifests: an attempt to pull a nonexistent repository MUST return 404 (NAME_UNKNOWN or MANIFEST_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				wantError(t, e.getManifest(t, http.MethodGet, repo, "latest"), http.StatusNotFound, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
				wantError(t, e.getManifest(t, http.MethodHead, repo, "latest"), http.StatusNotFound)
			},
		},
		{
			name: "manifest of another repository is not served",
			spec: "Pull/Pulling manifests: a manifest not found in *the repository* MUST be 404, even if another repository holds it",
			run: func(t *testing.T) {
				a, b := e.repo(t), e.repo(t)
				m := e.pushImage(t, a, "v1")
				e.pushImage(t, b, "v1")
				wantError(t, e.getManifest(t, http.MethodGet, b, m.Digest.String()), http.StatusNotFound, "MANIFEST_UNKNOWN")
			},
		},
		{
			name: "malformed tag reference is 404",
			spec: "Pull/Pulling manifests (official suite): GET and HEAD of the reference \".INVALID_MANIFEST_NAME\" are the suite's \"nonexistent manifest\" and MUST answer 404",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushImage(t, repo, "present")
				wantError(t, e.getManifest(t, http.MethodGet, repo, ".INVALID_MANIFEST_NAME"), http.StatusNotFound)
				wantError(t, e.getManifest(t, http.MethodHead, repo, ".INVALID_MANIFEST_NAME"), http.StatusNotFound)
			},
		},
		{
			name: "malformed digest reference is 400 or 404",
			spec: "Error codes (official suite): GET of reference sha256:totallywrong or sha256:baddigeststring answers 404 or 400, and a 400 carries a spec error code",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushImage(t, repo, "present")
				for _, ref := range []string{"sha256:totallywrong", "sha256:baddigeststring"} {
					r := e.getManifest(t, http.MethodGet, repo, ref)
					wantErrorOneOf(t, r, outcome{http.StatusBadRequest, legacySuiteCodes}, outcome{http.StatusNotFound, nil})
				}
			},
		},
	}

	// Content negotiation: the client lists the types it takes in Accept, and the answer
	// names the stored type in Content-Type (spec: Pulling manifests; RFC 7231 3.1.1.1).
	accepts := []struct {
		name   string
		header []string
	}{
		{"one Accept value", []string{"Accept", mtImage}},
		{"several Accept headers", []string{"Accept", mtIndex, "Accept", mtImage}},
		{"comma-separated Accept with q-values", []string{"Accept", mtDockerImage + ";q=0.5, " + mtImage + ", " + mtIndex + ";q=0.9"}},
		{"wildcard Accept", []string{"Accept", "*/*"}},
	}
	for _, a := range accepts {
		rows = append(rows, requirement{
			name: "Accept negotiation: " + a.name,
			spec: "Pull/Pulling manifests: with an Accept header that admits the stored type the registry MUST answer 200 and Content-Type MUST be the pushed type, without parameters",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.pushImage(t, repo, "v1")
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					r := e.do(t, method, manifestPath(repo, "v1"), nil, a.header...)
					r.want(t, http.StatusOK)
					wantHeader(t, r, "Content-Type", m.MediaType)
				}
			},
		})
	}
	rows = append(rows, requirement{
		name: "Accept negotiation: Docker manifest keeps its type",
		spec: "Pull/Pulling manifests: Content-Type SHOULD match the Content-Type the manifest was pushed with (Docker schema 2 here)",
		run: func(t *testing.T) {
			repo := e.repo(t)
			m := e.buildImage(t, repo, image{mediaType: mtDockerImage})
			e.pushManifest(t, repo, "v1", m)
			r := e.do(t, http.MethodGet, manifestPath(repo, "v1"), nil, "Accept", mtDockerImage)
			r.want(t, http.StatusOK)
			wantHeader(t, r, "Content-Type", mtDockerImage)
			if !bytes.Equal(r.Body, m.Body) {
				t.Errorf("body differs from the pushed manifest")
			}
		},
	})

	// Range requests, as the official runner checks them on a 2048-byte blob
	// (spec: Pulling blobs, "SHOULD support the Range request header" per RFC 9110).
	const size = 2048
	ranges := []struct {
		header     string
		start, end int // expected slice [start, end); -1 means 416
	}{
		{"bytes=500-1499", 500, 1500},
		{"bytes=500-", 500, size},
		{"bytes=-500", size - 500, size},
		{"bytes=2000-5000", 2000, size},
		{"bytes=0-0", 0, 1},
		{"bytes=500-0", -1, -1},
		{"bytes=5000-10000", -1, -1},
	}
	for _, rg := range ranges {
		rows = append(rows, requirement{
			name: "Range " + rg.header,
			spec: "Pull/Pulling blobs: a satisfiable Range MUST get 206 with the bytes, Content-Length and Content-Range \"bytes first-last/size\"; an unsatisfiable one 416 (RFC 9110 14.2)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, size)
				d := e.pushBlob(t, repo, data)
				r := e.do(t, http.MethodGet, blobPath(repo, d), nil, "Range", rg.header)
				if rg.start < 0 {
					r.want(t, http.StatusRequestedRangeNotSatisfiable)
					return
				}
				r.want(t, http.StatusPartialContent)
				if !bytes.Equal(r.Body, data[rg.start:rg.end]) {
					t.Errorf("body is not bytes [%d,%d) of the blob: %d bytes", rg.start, rg.end, len(r.Body))
				}
				wantHeader(t, r, "Content-Length", strconv.Itoa(rg.end-rg.start))
				wantHeader(t, r, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end-1, size))
			},
		})
	}
	// A blob larger than the server's write pieces over TLS (1 MiB): whole, and a range
	// that crosses two pieces, over HTTP/2 as the test client speaks it and over HTTP/1.1.
	const bigSize = 3<<20 + 17
	for _, c := range []struct {
		env         *env
		name, proto string
	}{{e, "HTTP 2", "HTTP/2.0"}, {e.overHTTP1(), "HTTP 1.1", "HTTP/1.1"}} {
		for _, rg := range []struct {
			header     string
			start, end int
		}{{"", 0, bigSize}, {fmt.Sprintf("bytes=%d-%d", 1<<20-5, 2<<20+4), 1<<20 - 5, 2<<20 + 5}} {
			rows = append(rows, requirement{
				name: "3 MiB blob over " + c.name + ", Range " + cmp.Or(rg.header, "none"),
				spec: "Pull/Pulling blobs: GET of a blob MUST return its bytes (and a satisfiable Range those bytes), whatever its size",
				run: func(t *testing.T) {
					repo := e.repo(t)
					data := randomBytes(t, bigSize)
					d := e.pushBlob(t, repo, data)
					var h []string
					if rg.header != "" {
						h = []string{"Range", rg.header}
					}
					r := c.env.do(t, http.MethodGet, blobPath(repo, d), nil, h...)
					r.want(t, http.StatusOK, http.StatusPartialContent)
					if r.Proto != c.proto {
						t.Errorf("answered over %s, want %s", r.Proto, c.proto)
					}
					if !bytes.Equal(r.Body, data[rg.start:rg.end]) {
						t.Errorf("body is not bytes [%d,%d) of the blob: %d bytes", rg.start, rg.end, len(r.Body))
					}
				},
			})
		}
	}
	runRequirements(t, rows)
}
