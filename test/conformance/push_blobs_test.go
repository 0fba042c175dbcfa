package conformance

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// uploader pushes data under d to repo one way and returns the reply that completed
// the upload (which must be 201 Created).
type uploader func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply

// chunkSize is the chunk length the tests use: at least the official suite's 1024 bytes
// and at least the registry's OCI-Chunk-Min-Length.
func chunkSize(t testing.TB, post *reply) int {
	t.Helper()
	size := 1024
	if v := post.Header.Get("OCI-Chunk-Min-Length"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("OCI-Chunk-Min-Length %q: %v", v, err)
		}
		size = max(size, n)
	}
	return size
}

// patchChunk sends data[start:end) as one chunk and requires 202 with Location and
// Range 0-(end-1); it returns the next location.
func (e *env) patchChunk(t testing.TB, loc *url.URL, data []byte, start, end int) *url.URL {
	t.Helper()
	r := e.doURL(t, http.MethodPatch, loc, data[start:end],
		"Content-Type", mtOctetStream, "Content-Range", fmt.Sprintf("%d-%d", start, end-1))
	r.want(t, http.StatusAccepted)
	if got := rangeEnd(t, r); got != int64(end-1) {
		t.Errorf("PATCH %d-%d: Range ends at %d, want %d", start, end-1, got, end-1)
	}
	return r.location(t)
}

// uploadChunked pushes data in chunks; with putLast the final chunk travels in the
// closing PUT.
func uploadChunked(putLast bool) uploader {
	return func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply {
		loc, post := e.startUpload(t, repo)
		size := chunkSize(t, post)
		start := 0
		for start < len(data) {
			end := min(start+size, len(data))
			if end == len(data) && putLast {
				return e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), data[start:end],
					"Content-Type", mtOctetStream, "Content-Range", fmt.Sprintf("%d-%d", start, end-1))
			}
			loc = e.patchChunk(t, loc, data, start, end)
			start = end
		}
		return e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), nil, "Content-Type", mtOctetStream)
	}
}

var uploaders = []struct {
	name string
	up   uploader
	spec string
}{
	{
		name: "POST then PUT",
		spec: "Push/POST then PUT: POST MUST answer 202 with Location; PUT <location>?digest= with the body MUST answer 201 with Location of a pullable blob (and Docker-Content-Digest, which the 1.1+dev runner requires)",
		up: func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply {
			loc, _ := e.startUpload(t, repo)
			return e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), data, "Content-Type", mtOctetStream)
		},
	},
	{
		name: "single POST",
		spec: "Push/Single POST: POST /blobs/uploads/?digest= with the body; successful completion MUST return 201 with Location (Cerulean supports it, so no 202 fallback)",
		up: func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply {
			return e.do(t, http.MethodPost, uploadsPath(repo)+"?"+url.Values{"digest": {d.String()}}.Encode(), data,
				"Content-Type", mtOctetStream)
		},
	},
	{
		name: "streamed PATCH then PUT",
		spec: "Push (official suite \"Blob Upload Streamed\"): a PATCH without Content-Range, sent with chunked transfer encoding, MUST answer 202 with Location; the closing PUT with the digest MUST answer 201",
		up: func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply {
			loc, _ := e.startUpload(t, repo)
			r := e.doURL(t, http.MethodPatch, loc, streamed(data), "Content-Type", mtOctetStream)
			r.want(t, http.StatusAccepted)
			if r.Header.Get("Range") != "" {
				if got := rangeEnd(t, r); got != int64(len(data)-1) {
					t.Errorf("streamed PATCH: Range ends at %d, want %d", got, len(data)-1)
				}
			}
			return e.doURL(t, http.MethodPut, withQuery(r.location(t), "digest", d.String()), nil, "Content-Type", mtOctetStream)
		},
	},
	{
		name: "PATCH with Content-Length but no Content-Range then PUT",
		spec: "Push (Ginkgo suite \"Blob Upload Streamed\"): PATCH with the whole blob and no Content-Range MUST answer 202; PUT ?digest= MUST answer 201",
		up: func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply {
			loc, _ := e.startUpload(t, repo)
			r := e.doURL(t, http.MethodPatch, loc, data, "Content-Type", mtOctetStream)
			r.want(t, http.StatusAccepted)
			return e.doURL(t, http.MethodPut, withQuery(r.location(t), "digest", d.String()), nil, "Content-Type", mtOctetStream)
		},
	},
	{
		name: "chunked PATCHes then PUT",
		spec: "Push/Pushing a blob in chunks: each in-order PATCH with Content-Range and Content-Length MUST answer 202 with Location and Range 0-<end>; the closing PUT MUST answer 201 with Location",
		up:   uploadChunked(false),
	},
	{
		name: "chunked with the last chunk in the PUT",
		spec: "Push/Pushing a blob in chunks: the final chunk MAY be uploaded in the closing PUT (with Content-Range and Content-Length), which MUST answer 201",
		up:   uploadChunked(true),
	},
	{
		name: "mount from another repository",
		spec: "Push/Mounting a blob: POST ?mount=<digest>&from=<repo> of a blob the source holds MUST answer 201 with Location /v2/<name>/blobs/<digest> and Docker-Content-Digest",
		up: func(t *testing.T, e *env, repo string, data []byte, d digest.Digest) *reply {
			src := e.repo(t)
			e.pushBlobAs(t, src, data, d)
			r := e.do(t, http.MethodPost, uploadsPath(repo)+"?"+url.Values{"mount": {d.String()}, "from": {src}}.Encode(), nil)
			r.want(t, http.StatusCreated)
			if got, want := r.location(t).Path, blobPath(repo, d); got != want {
				t.Errorf("mount Location path %q, want %q", got, want)
			}
			wantHeader(t, r, "Docker-Content-Digest", d.String())
			return r
		},
	},
}

// testPushBlobs covers blob uploads in the "Push" workflow category (end-4a, end-4b,
// end-5, end-6, end-11, end-13).
func testPushBlobs(t *testing.T, e *env) {
	var rows []requirement

	// Every upload method, with both digest algorithms the official runner uses.
	for _, algo := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		for _, u := range uploaders {
			rows = append(rows, requirement{
				name: fmt.Sprintf("%s (%s)", u.name, algo),
				spec: u.spec,
				run: func(t *testing.T) {
					repo := e.repo(t)
					data := randomBytes(t, 3*1024-5)
					d := algo.FromBytes(data)
					r := u.up(t, e, repo, data, d)
					r.want(t, http.StatusCreated)
					wantHeader(t, r, "Docker-Content-Digest", d.String())
					got := e.doURL(t, http.MethodGet, r.location(t), nil)
					got.want(t, http.StatusOK)
					if !bytes.Equal(got.Body, data) {
						t.Errorf("Location %s does not serve the pushed blob", got.URL)
					}
					e.wantBlob(t, repo, d, data)
				},
			})
		}
	}

	// Pushing a blob the repository already has is an ordinary, successful upload.
	for _, u := range uploaders {
		rows = append(rows, requirement{
			name: "re-push an existing blob with " + u.name,
			spec: "Push/Layer Upload De-duplication: uploading a blob that is already stored completes like any other upload (201) and changes nothing (official runner pushes shared blobs such as {} again and again)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 3*1024-5)
				d := e.pushBlob(t, repo, data)
				r := u.up(t, e, repo, data, d)
				r.want(t, http.StatusCreated)
				wantHeader(t, r, "Docker-Content-Digest", d.String())
				e.wantBlob(t, repo, d, data)
			},
		})
	}

	rows = append(rows, []requirement{
		{
			name: "POST opens a distinct session each time",
			spec: "Push/POST then PUT: POST MUST answer 202 with a Location containing a unique session ID",
			run: func(t *testing.T) {
				repo := e.repo(t)
				a, _ := e.startUpload(t, repo)
				b, _ := e.startUpload(t, repo)
				if a.String() == b.String() {
					t.Errorf("two POSTs returned the same Location %s", a)
				}
			},
		},
		{
			name: "upload status right after POST",
			spec: "Push/Pushing a blob in chunks: GET <location> of an active upload MUST answer 204 with Location and Range 0-<end-of-range>",
			run: func(t *testing.T) {
				loc, _ := e.startUpload(t, e.repo(t))
				r := e.doURL(t, http.MethodGet, loc, nil)
				r.want(t, http.StatusNoContent)
				r.location(t)
				if end := rangeEnd(t, r); end > 0 {
					t.Errorf("nothing uploaded yet, but Range ends at %d", end)
				}
			},
		},
		{
			name: "upload status after a chunk, through the POST's location",
			spec: "Push/Pushing a blob in chunks: GET of the upload (the location from any preceding POST or PATCH) MUST answer 204 with Location and Range 0-<last byte>",
			run: func(t *testing.T) {
				loc, _ := e.startUpload(t, e.repo(t))
				data := randomBytes(t, 1500)
				e.patchChunk(t, loc, data, 0, 1500)
				r := e.doURL(t, http.MethodGet, loc, nil)
				r.want(t, http.StatusNoContent)
				r.location(t)
				if end := rangeEnd(t, r); end != 1499 {
					t.Errorf("Range ends at %d, want 1499", end)
				}
			},
		},
		{
			name: "out-of-order first chunk is 416 and the session survives",
			spec: "Push/Pushing a blob in chunks: a chunk uploaded out of order MUST get 416; a GET then gives the valid offset and the upload can go on",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 3*1024-5)
				d := digest.FromBytes(data)
				loc, post := e.startUpload(t, repo)
				size := chunkSize(t, post)
				bad := e.doURL(t, http.MethodPatch, loc, data[size:2*size],
					"Content-Type", mtOctetStream, "Content-Range", fmt.Sprintf("%d-%d", size, 2*size-1))
				bad.want(t, http.StatusRequestedRangeNotSatisfiable)
				st := e.doURL(t, http.MethodGet, loc, nil)
				st.want(t, http.StatusNoContent)
				if end := rangeEnd(t, st); end > 0 {
					t.Errorf("after a rejected chunk Range ends at %d, want nothing uploaded", end)
				}
				loc = st.location(t)
				for start := 0; start < len(data); start += size {
					loc = e.patchChunk(t, loc, data, start, min(start+size, len(data)))
				}
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), nil, "Content-Type", mtOctetStream)
				r.want(t, http.StatusCreated)
				e.wantBlob(t, repo, d, data)
			},
		},
		{
			name: "re-sent chunk is 416 and the upload completes",
			spec: "Push/Pushing a blob in chunks: each chunk MUST start at the previous end-of-range plus one, else 416 (Ginkgo suite: retry previous chunk, then GET on the stale location gives 204 with Range)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 42)
				d := digest.FromBytes(data)
				first, second := data[:22], data[22:]
				post, _ := e.startUpload(t, repo)
				e.patchChunk(t, post, data, 0, 22)
				again := e.doURL(t, http.MethodPatch, post, first, "Content-Type", mtOctetStream, "Content-Range", "0-21")
				again.want(t, http.StatusRequestedRangeNotSatisfiable)
				st := e.doURL(t, http.MethodGet, post, nil)
				st.want(t, http.StatusNoContent)
				if end := rangeEnd(t, st); end != 21 {
					t.Errorf("Range ends at %d, want 21", end)
				}
				r := e.doURL(t, http.MethodPatch, st.location(t), second, "Content-Type", mtOctetStream, "Content-Range", "22-41")
				r.want(t, http.StatusAccepted)
				r = e.doURL(t, http.MethodPut, withQuery(r.location(t), "digest", d.String()), nil, "Content-Type", mtOctetStream)
				r.want(t, http.StatusCreated)
				r.location(t)
				e.wantBlob(t, repo, d, data)
			},
		},
		{
			name: "out-of-order last chunk in the PUT is 416",
			spec: "Push/Pushing a blob in chunks: chunks MUST be in order, including a final chunk carried by the PUT, else 416 (official runner \"chunked out-of-order and put chunk\")",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 3*1024-5)
				d := digest.FromBytes(data)
				loc, post := e.startUpload(t, repo)
				size := chunkSize(t, post)
				loc = e.patchChunk(t, loc, data, 0, size)
				bad := e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), data[2*size:],
					"Content-Type", mtOctetStream, "Content-Range", fmt.Sprintf("%d-%d", 2*size, len(data)-1))
				bad.want(t, http.StatusRequestedRangeNotSatisfiable)
				e.wantNoBlob(t, repo, d)
				st := e.doURL(t, http.MethodGet, loc, nil)
				st.want(t, http.StatusNoContent)
				loc = e.patchChunk(t, st.location(t), data, size, 2*size)
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), data[2*size:],
					"Content-Type", mtOctetStream, "Content-Range", fmt.Sprintf("%d-%d", 2*size, len(data)-1))
				r.want(t, http.StatusCreated)
				e.wantBlob(t, repo, d, data)
			},
		},
		{
			name: "chunked upload of a 3 MiB blob",
			spec: "Push/Pushing a blob in chunks: chunks of any size at or above OCI-Chunk-Min-Length are accepted in order",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 3<<20+17)
				d := digest.FromBytes(data)
				loc, post := e.startUpload(t, repo)
				size := max(chunkSize(t, post), 1<<20)
				for start := 0; start < len(data); start += size {
					loc = e.patchChunk(t, loc, data, start, min(start+size, len(data)))
				}
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), nil, "Content-Type", mtOctetStream)
				r.want(t, http.StatusCreated)
				e.wantBlob(t, repo, d, data)
			},
		},
		{
			name: "upload session is gone once completed",
			spec: "Push: a closed upload session is no longer active; its location MUST then answer 404 BLOB_UPLOAD_UNKNOWN (end-13 failure)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 100)
				loc, _ := e.startUpload(t, repo)
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", digest.FromBytes(data).String()), data, "Content-Type", mtOctetStream)
				r.want(t, http.StatusCreated)
				wantError(t, e.doURL(t, http.MethodGet, loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
			},
		},
		{
			name: "cancel upload is 204 then 404 BLOB_UPLOAD_UNKNOWN",
			spec: "Push (official runner \"post cancel\"): DELETE of an upload location MUST answer 204; the session is then unknown (404 BLOB_UPLOAD_UNKNOWN) and nothing is stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 100)
				d := digest.FromBytes(data)
				loc, _ := e.startUpload(t, repo)
				e.patchChunk(t, loc, data, 0, len(data))
				e.doURL(t, http.MethodDelete, loc, nil).want(t, http.StatusNoContent)
				wantError(t, e.doURL(t, http.MethodGet, loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				wantError(t, e.doURL(t, http.MethodPatch, loc, data, "Content-Type", mtOctetStream, "Content-Range", "0-99"),
					http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				wantError(t, e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), nil, "Content-Type", mtOctetStream),
					http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				e.wantNoBlob(t, repo, d)
			},
		},
		{
			name: "unknown upload session is 404 BLOB_UPLOAD_UNKNOWN",
			spec: "Push: GET, PATCH, PUT and DELETE of an upload that does not exist MUST answer 404 (end-5, end-6, end-13 failures; code-3 BLOB_UPLOAD_UNKNOWN)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushBlob(t, repo, randomBytes(t, 10))
				target := uploadsPath(repo) + "6d4c6b36-2b34-4f1e-9b7a-" + randomHex(t)[:12]
				data := []byte("abc")
				wantError(t, e.do(t, http.MethodGet, target, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				wantError(t, e.do(t, http.MethodPatch, target, data, "Content-Type", mtOctetStream, "Content-Range", "0-2"),
					http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				wantError(t, e.do(t, http.MethodPut, target+"?digest="+digest.FromBytes(data).String(), data, "Content-Type", mtOctetStream),
					http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				wantError(t, e.do(t, http.MethodDelete, target, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
			},
		},
		{
			name: "upload session belongs to its repository",
			spec: "Push: an upload session is opened for <name>; the same session addressed under another repository MUST be unknown there (404 BLOB_UPLOAD_UNKNOWN), and nothing lands in either",
			run: func(t *testing.T) {
				a, b := e.repo(t), e.repo(t)
				e.pushBlob(t, b, randomBytes(t, 10))
				loc, _ := e.startUpload(t, a)
				if !strings.Contains(loc.Path, "/v2/"+a+"/") {
					t.Skipf("Location %s does not name the repository; nothing to swap", loc)
				}
				other := *loc
				other.Path = strings.Replace(loc.Path, "/v2/"+a+"/", "/v2/"+b+"/", 1)
				data := randomBytes(t, 50)
				d := digest.FromBytes(data)
				r := e.doURL(t, http.MethodPut, withQuery(&other, "digest", d.String()), data, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				e.wantNoBlob(t, a, d)
				e.wantNoBlob(t, b, d)
			},
		},
		{
			name: "PUT with a wrong digest is 400 DIGEST_INVALID and stores nothing",
			spec: "Push/POST then PUT: the <digest> MUST be the blob's digest; a mismatch is 400 (end-6 failure) with code-4 DIGEST_INVALID and no blob is stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 300)
				claimed := digest.FromBytes(append(append([]byte{}, data...), "oh no"...))
				loc, _ := e.startUpload(t, repo)
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", claimed.String()), data, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
				e.wantNoBlob(t, repo, claimed)
				e.wantNoBlob(t, repo, digest.FromBytes(data))
			},
		},
		{
			name: "PUT with a wrong sha512 digest is 400 DIGEST_INVALID",
			spec: "Push/POST then PUT: the <digest> MUST match the blob, whatever the algorithm; a mismatch is 400 DIGEST_INVALID",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 300)
				claimed := digest.SHA512.FromBytes(randomBytes(t, 300))
				loc, _ := e.startUpload(t, repo)
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", claimed.String()), data, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
				e.wantNoBlob(t, repo, claimed)
			},
		},
		{
			name: "single POST with a wrong digest stores nothing",
			spec: "Push/Single POST: the <digest> MUST match the blob; the official runner accepts 400 (DIGEST_INVALID) or a 202 fallback whose PUT then fails with 400",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 300)
				claimed := digest.FromBytes(randomBytes(t, 300))
				r := e.do(t, http.MethodPost, uploadsPath(repo)+"?"+url.Values{"digest": {claimed.String()}}.Encode(), data,
					"Content-Type", mtOctetStream)
				if r.Status == http.StatusAccepted {
					r = e.doURL(t, http.MethodPut, withQuery(r.location(t), "digest", claimed.String()), data, "Content-Type", mtOctetStream)
				}
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
				e.wantNoBlob(t, repo, claimed)
				e.wantNoBlob(t, repo, digest.FromBytes(data))
			},
		},
		{
			name: "chunked upload closed with a wrong digest is 400 DIGEST_INVALID",
			spec: "Push/Pushing a blob in chunks: the closing PUT MUST carry the digest of the whole blob; a mismatch is 400 DIGEST_INVALID and nothing is stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 3*1024-5)
				claimed := digest.FromBytes(data[1:])
				loc, post := e.startUpload(t, repo)
				size := chunkSize(t, post)
				for start := 0; start < len(data); start += size {
					loc = e.patchChunk(t, loc, data, start, min(start+size, len(data)))
				}
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", claimed.String()), nil, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
				e.wantNoBlob(t, repo, claimed)
				e.wantNoBlob(t, repo, digest.FromBytes(data))
			},
		},
		{
			name: "streamed upload closed with a wrong digest is 400 DIGEST_INVALID",
			spec: "Push (official runner \"bad digest stream\"): a streamed upload closed with a digest that does not match MUST answer 400",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 2000)
				claimed := digest.FromBytes(append(append([]byte{}, data...), "oh no"...))
				loc, _ := e.startUpload(t, repo)
				r := e.doURL(t, http.MethodPatch, loc, streamed(data), "Content-Type", mtOctetStream)
				r.want(t, http.StatusAccepted)
				r = e.doURL(t, http.MethodPut, withQuery(r.location(t), "digest", claimed.String()), nil, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
				e.wantNoBlob(t, repo, claimed)
			},
		},
		{
			name: "PUT with a malformed digest is 400 DIGEST_INVALID",
			spec: "Push/POST then PUT: ?digest= MUST be a digest; a malformed one is 400 (DIGEST_INVALID)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				loc, _ := e.startUpload(t, repo)
				r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", "sha256:not-hex"), []byte("abc"), "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
			},
		},
		{
			name: "closing PUT without a digest is 400",
			spec: "Push/Pushing a blob in chunks: the closing PUT MUST include the digest of the whole blob as a query parameter (400 DIGEST_INVALID or BLOB_UPLOAD_INVALID otherwise)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				data := randomBytes(t, 10)
				loc, _ := e.startUpload(t, repo)
				r := e.doURL(t, http.MethodPut, loc, data, "Content-Type", mtOctetStream)
				wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID", "BLOB_UPLOAD_INVALID")
				e.wantNoBlob(t, repo, digest.FromBytes(data))
			},
		},
		{
			name: "mount from a repository without the blob falls back to an upload",
			spec: "Push/Mounting a blob: a registry unable to mount the blob SHOULD return 202, which begins an upload session (Ginkgo suite: Location /v2/<name>/blobs/uploads/...)",
			run: func(t *testing.T) {
				src, dst := e.repo(t), e.repo(t)
				e.pushBlob(t, src, randomBytes(t, 10))
				data := randomBytes(t, 256)
				d := digest.FromBytes(data)
				r := e.do(t, http.MethodPost, uploadsPath(dst)+"?"+url.Values{"mount": {d.String()}, "from": {src}}.Encode(), nil)
				r.want(t, http.StatusAccepted)
				loc := r.location(t)
				if !strings.HasPrefix(loc.Path, uploadsPath(dst)) {
					t.Errorf("fallback Location %s is not an upload of %s", loc, dst)
				}
				e.wantNoBlob(t, dst, d)
				put := e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), data, "Content-Type", mtOctetStream)
				put.want(t, http.StatusCreated)
				e.wantBlob(t, dst, d, data)
			},
		},
		{
			name: "mount from an unknown repository falls back to an upload",
			spec: "Push/Mounting a blob: when the blob cannot be mounted (here the source does not exist) the registry SHOULD answer 202 with an upload Location",
			run: func(t *testing.T) {
				dst := e.repo(t)
				d := digest.FromBytes(randomBytes(t, 32))
				r := e.do(t, http.MethodPost, uploadsPath(dst)+"?"+url.Values{"mount": {d.String()}, "from": {e.repo(t)}}.Encode(), nil)
				r.want(t, http.StatusAccepted)
				r.location(t)
				e.wantNoBlob(t, dst, d)
			},
		},
		{
			name: "mount of an unknown digest without from opens an upload",
			spec: "Push/Mounting a blob (Ginkgo suite: cross-mounting without the from argument yields a session): 202 with a Location",
			run: func(t *testing.T) {
				dst := e.repo(t)
				r := e.do(t, http.MethodPost, uploadsPath(dst)+"?mount="+digest.FromString("hello world").String(), nil)
				r.want(t, http.StatusAccepted)
				if loc := r.location(t); !strings.HasPrefix(loc.Path, uploadsPath(dst)) {
					t.Errorf("Location %s is not an upload of %s", loc, dst)
				}
			},
		},
		{
			name: "mount without from of a blob held elsewhere",
			spec: "Push/Mounting a blob: the registry MAY treat from as optional and mount a blob it can find (201), or answer 202 with an upload that then works",
			run: func(t *testing.T) {
				src, dst := e.repo(t), e.repo(t)
				data := randomBytes(t, 128)
				d := e.pushBlob(t, src, data)
				r := e.do(t, http.MethodPost, uploadsPath(dst)+"?mount="+d.String(), nil)
				r.want(t, http.StatusCreated, http.StatusAccepted)
				if r.Status == http.StatusAccepted {
					put := e.doURL(t, http.MethodPut, withQuery(r.location(t), "digest", d.String()), data, "Content-Type", mtOctetStream)
					put.want(t, http.StatusCreated)
				}
				e.wantBlob(t, dst, d, data)
			},
		},
	}...)
	runRequirements(t, rows)
}
