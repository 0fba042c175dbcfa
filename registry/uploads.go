package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/oci"
	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// startUpload serves POST /v2/<name>/blobs/uploads/ (end-4a, 4b, 11): a cross-repository
// mount, a monolithic upload with ?digest=, or a new session.
func (g *Registry) startUpload(w http.ResponseWriter, r *http.Request, p params) error {
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		done, err := g.mount(w, r, p.name, mount, q.Get("from"))
		if done || err != nil {
			return err
		}
		// The source is missing or unreadable: fall back to a new session, as the spec says.
	}
	if want := q.Get("digest"); want != "" {
		return g.monolithic(w, r, p.name, want)
	}
	up, err := g.blobs.CreateUpload(r.Context(), sessionOwner(r.Context(), p.name))
	if err != nil {
		return err
	}
	return uploadAccepted(w, http.StatusAccepted, p.name, up.Info())
}

// monolithic stores a whole blob sent with POST ?digest= (end-4b): in one call where the
// driver can, else through a session that ends here.
func (g *Registry) monolithic(w http.ResponseWriter, r *http.Request, name, want string) error {
	d, err := oci.ParseDigest(want)
	if err != nil {
		return err
	}
	if putter, ok := g.blobs.(blob.Putter); ok {
		info, err := putter.Put(r.Context(), d, body(r, r.ContentLength))
		if err != nil {
			return uploadError(err)
		}
		return g.link(w, r, name, d, info.Size)
	}
	up, err := g.blobs.CreateUpload(r.Context(), sessionOwner(r.Context(), name))
	if err != nil {
		return err
	}
	if err := appendBody(r, up, -1); err != nil {
		_ = up.Cancel(r.Context())
		return err
	}
	return g.commit(w, r, name, up, d)
}

// mount links a blob of another repository into name. It reports false when the source
// does not hold the blob, so that the caller starts an ordinary upload instead.
func (g *Registry) mount(w http.ResponseWriter, r *http.Request, name, mount, from string) (bool, error) {
	d, err := oci.ParseDigest(mount)
	if err != nil || oci.ValidateName(from) != nil {
		return false, nil // nothing to mount: the spec's answer is a new session
	}
	if g.gate != nil {
		// Mounting reads the source: a caller who may not pull from it uploads instead.
		pull := access.RepositoryScope(from, access.Pull)
		if g.gate.Admit(r, targetOf(r.Context()), &pull) != nil {
			return false, nil
		}
	}
	size, err := g.meta.BlobSize(r.Context(), repoOf(r.Context(), from), d)
	if errors.Is(err, meta.ErrBlobNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := g.blobs.Stat(r.Context(), d); errors.Is(err, blob.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := g.link(w, r, name, d, size); err != nil {
		if errors.Is(err, meta.ErrBlobBeingDeleted) {
			return false, nil // garbage collection is taking the source's bytes: upload afresh
		}
		return false, err
	}
	return true, nil
}

// uploadStatus serves GET on a session (end-13): how much has been received.
func (g *Registry) uploadStatus(w http.ResponseWriter, r *http.Request, p params) error {
	up, unlock, err := g.session(r.Context(), p)
	if err != nil {
		return err
	}
	defer unlock()
	return uploadAccepted(w, http.StatusNoContent, p.name, up.Info())
}

// patchUpload appends one chunk (end-5). With Content-Range the chunk must start where the
// session ends; an out-of-order chunk gets 416 and the current Range.
func (g *Registry) patchUpload(w http.ResponseWriter, r *http.Request, p params) error {
	up, unlock, err := g.session(r.Context(), p)
	if err != nil {
		return err
	}
	defer unlock()
	length, err := chunkLength(r, p.name, up.Info())
	if err != nil {
		return err
	}
	if err := appendBody(r, up, length); err != nil {
		return g.conflict(r.Context(), p, err)
	}
	return uploadAccepted(w, http.StatusAccepted, p.name, up.Info())
}

// finishUpload serves PUT on a session with ?digest= and an optional last chunk (end-6).
func (g *Registry) finishUpload(w http.ResponseWriter, r *http.Request, p params) error {
	up, unlock, err := g.session(r.Context(), p)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := oci.ParseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	length, err := chunkLength(r, p.name, up.Info())
	if err != nil {
		return err
	}
	if err := appendBody(r, up, length); err != nil {
		return g.conflict(r.Context(), p, err)
	}
	return g.conflict(r.Context(), p, g.commit(w, r, p.name, up, d))
}

// cancelUpload serves DELETE on a session.
func (g *Registry) cancelUpload(w http.ResponseWriter, r *http.Request, p params) error {
	up, unlock, err := g.session(r.Context(), p)
	if err != nil {
		return err
	}
	defer unlock()
	if err := up.Cancel(r.Context()); err != nil {
		return g.conflict(r.Context(), p, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// session resumes the upload named in the path, locked for this request. A session of
// another repository is unknown here.
func (g *Registry) session(ctx context.Context, p params) (blob.Upload, func(), error) {
	unlock := g.lockUpload(p.last)
	up, err := g.blobs.Upload(ctx, p.last)
	if err == nil && up.Info().Repository != sessionOwner(ctx, p.name) {
		err = blob.ErrUploadNotFound
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return up, unlock, nil
}

// conflict maps a session that another writer changed meanwhile (another replica, or a
// retry of the same request still running there: blob.ErrUploadConflict, which kept
// nothing of this request) to 416 with the session's current Range and Location, as for
// an out-of-order chunk, so the client resumes from where the session really is; or to
// 404 BLOB_UPLOAD_UNKNOWN when the other writer ended the session. Other errors pass.
func (g *Registry) conflict(ctx context.Context, p params, err error) error {
	if !errors.Is(err, blob.ErrUploadConflict) {
		return err
	}
	up, lerr := g.blobs.Upload(ctx, p.last)
	if lerr != nil {
		return lerr // ErrUploadNotFound: committed or cancelled by the other writer
	}
	size := up.Info().Size
	e := errorf(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid,
		"the upload changed concurrently and now has %d bytes; resume from there", size)
	e.header = http.Header{"Range": {rangeHeader(size)}, "Location": {uploadLocation(p.name, p.last)}}
	return e
}

// sessionOwner labels the upload sessions of a repository, so that a session id cannot be
// continued through another repository or another registry.
func sessionOwner(ctx context.Context, name string) string { return targetOf(ctx).ID + "/" + name }

// commit verifies and publishes the session's bytes as d, then links d into name. The
// link is the acknowledgement: a crash before it leaves only an unreferenced blob for GC.
func (g *Registry) commit(w http.ResponseWriter, r *http.Request, name string, up blob.Upload, d digest.Digest) error {
	info, err := up.Commit(r.Context(), d)
	if err != nil {
		return err
	}
	return g.link(w, r, name, d, info.Size)
}

// link records a committed blob in the repository and answers 201. The bytes are checked
// once more after the link: garbage collection may have deleted a blob whose time this push
// refreshed just before the link, and then the push must not be acknowledged (the client
// pushes again; the collector refuses links while it deletes, see meta.ReleaseBlob).
func (g *Registry) link(w http.ResponseWriter, r *http.Request, name string, d digest.Digest, size int64) error {
	err := g.meta.LinkBlob(r.Context(), repoOf(r.Context(), name), d, size)
	if err == nil {
		if _, serr := g.blobs.Stat(r.Context(), d); errors.Is(serr, blob.ErrNotFound) {
			_ = g.meta.UnlinkBlob(r.Context(), repoOf(r.Context(), name), d)
			err = meta.ErrBlobBeingDeleted
		}
	}
	if err != nil {
		return err
	}
	blobCreated(w, name, d)
	return nil
}

// chunkLength reads the chunk's length from Content-Range (checking it starts where the
// session ends) and Content-Length. It returns -1 when neither says. A 416 tells the client
// where the session is, so it can resume from there.
func chunkLength(r *http.Request, name string, session blob.UploadInfo) (int64, error) {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return r.ContentLength, nil
	}
	start, end, ok := parseContentRange(cr)
	if !ok || start != session.Size {
		e := errorf(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid,
			"Content-Range %q does not continue the upload, which has %d bytes", cr, session.Size)
		e.header = http.Header{"Range": {rangeHeader(session.Size)}, "Location": {uploadLocation(name, session.ID)}}
		return 0, e
	}
	n := end - start + 1 // overflows only for an end of MaxInt64, which no body matches
	if n <= 0 || r.ContentLength >= 0 && r.ContentLength != n {
		return 0, errorf(http.StatusBadRequest, CodeSizeInvalid,
			"Content-Range %q does not match the chunk's length", cr)
	}
	return n, nil
}

// parseContentRange parses "start-end" (the form the spec uses), also with a "bytes "
// prefix as some clients send it.
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(strings.TrimSuffix(b, "/*"), 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// appendBody appends the request body to the session. With a known length, a body that
// ends early is an error and nothing of it is kept.
func appendBody(r *http.Request, up blob.Upload, length int64) error {
	if length == 0 {
		return nil
	}
	if _, err := up.Append(r.Context(), body(r, length)); err != nil {
		return uploadError(err)
	}
	return nil
}

// body is the request body, held to exactly length bytes when length is known (>= 0).
// Its read errors are marked as the client's, so they are not mistaken for storage faults.
func body(r *http.Request, length int64) io.Reader {
	var b io.Reader = bodyReader{r.Body}
	if length >= 0 {
		b = &exactReader{r: b, left: length}
	}
	return b
}

// errBodyTooLong: the body went on past its declared length.
var errBodyTooLong = errors.New("request body is longer than its declared length")

// bodyError is a failure to read the request body: a client that sent less than it
// declared, more than it declared, or went away.
type bodyError struct{ err error }

func (e bodyError) Error() string { return "reading request body: " + e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = bodyError{err}
	}
	return n, err
}

// uploadError tells a bad body (400; nothing was kept) from a storage fault.
func uploadError(err error) error {
	var be bodyError
	switch {
	case errors.Is(err, errBodyTooLong):
		return errorf(http.StatusBadRequest, CodeSizeInvalid, "%v", errBodyTooLong)
	case errors.As(err, &be):
		return errorf(http.StatusBadRequest, CodeBlobUploadInvalid, "request body ended before its declared length or failed: nothing of it was kept")
	}
	return fmt.Errorf("store blob: %w", err)
}

// exactReader yields exactly `left` bytes of r: it fails if r ends sooner, or if r has
// more to give once they are read (a chunked body longer than its Content-Range).
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, e.checkEnd()
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		err = bodyError{io.ErrUnexpectedEOF}
	case err == nil && e.left == 0:
		err = e.checkEnd()
	}
	return n, err
}

// checkEnd reads past the declared length: only the end of the body may come.
func (e *exactReader) checkEnd() error {
	var one [1]byte
	for {
		n, err := e.r.Read(one[:])
		if n > 0 {
			return errBodyTooLong
		}
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return err
		}
	}
}

// uploadAccepted describes a live session: where to send the next request and how much
// has arrived.
func uploadAccepted(w http.ResponseWriter, status int, name string, info blob.UploadInfo) error {
	h := w.Header()
	h.Set("Location", uploadLocation(name, info.ID))
	h.Set("Range", rangeHeader(info.Size))
	h.Set("Docker-Upload-UUID", info.ID)
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

func uploadLocation(name, id string) string {
	return fmt.Sprintf("/v2/%s/blobs/uploads/%s", name, id)
}

// rangeHeader is the spec's "0-<last byte>" for a session of size bytes ("0-0" when empty,
// as distribution answers).
func rangeHeader(size int64) string {
	return fmt.Sprintf("0-%d", max(size-1, 0))
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	h := w.Header()
	h.Set("Location", fmt.Sprintf("/v2/%s/blobs/%s", name, d))
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// ExpireUploads cancels sessions idle for longer than ttl and reports how many went.
func (g *Registry) ExpireUploads(ctx context.Context, ttl time.Duration) (int, error) {
	ids, err := g.expireUploads(ctx, ttl, false)
	return len(ids), err
}

// expireUploads ends (or, in a dry run, lists) the sessions idle for longer than ttl.
func (g *Registry) expireUploads(ctx context.Context, ttl time.Duration, dryRun bool) ([]string, error) {
	cutoff := g.now().Add(-ttl)
	var stale []string
	err := g.blobs.WalkUploads(ctx, func(u blob.UploadInfo) error {
		if u.UpdatedAt.Before(cutoff) {
			stale = append(stale, u.ID)
		}
		return nil
	})
	if err != nil || dryRun {
		return stale, err
	}
	expired := stale[:0]
	for _, id := range stale {
		if g.expire(ctx, id, cutoff) {
			expired = append(expired, id)
		}
	}
	return expired, nil
}

// expire cancels one session if it is still idle once locked.
func (g *Registry) expire(ctx context.Context, id string, cutoff time.Time) bool {
	defer g.lockUpload(id)()
	up, err := g.blobs.Upload(ctx, id)
	if err != nil || !up.Info().UpdatedAt.Before(cutoff) {
		return false
	}
	return up.Cancel(ctx) == nil
}
