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
	up, err := g.blobs.CreateUpload(r.Context(), g.sessionOwner(p.name))
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
	up, err := g.blobs.CreateUpload(r.Context(), g.sessionOwner(name))
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
	if err != nil {
		return false, err
	}
	if oci.ValidateName(from) != nil {
		return false, nil
	}
	size, err := g.meta.BlobSize(r.Context(), g.repo(from), d)
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
	if err := g.meta.LinkBlob(r.Context(), g.repo(name), d, size); err != nil {
		return false, err
	}
	blobCreated(w, name, d)
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
	length, err := chunkLength(r, up.Info().Size)
	if err != nil {
		return err
	}
	if err := appendBody(r, up, length); err != nil {
		return err
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
	length, err := chunkLength(r, up.Info().Size)
	if err != nil {
		return err
	}
	if err := appendBody(r, up, length); err != nil {
		return err
	}
	return g.commit(w, r, p.name, up, d)
}

// cancelUpload serves DELETE on a session.
func (g *Registry) cancelUpload(w http.ResponseWriter, r *http.Request, p params) error {
	up, unlock, err := g.session(r.Context(), p)
	if err != nil {
		return err
	}
	defer unlock()
	if err := up.Cancel(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// session resumes the upload named in the path, locked for this request. A session of
// another repository is unknown here.
func (g *Registry) session(ctx context.Context, p params) (blob.Upload, func(), error) {
	unlock := g.lockUpload(p.last)
	up, err := g.blobs.Upload(ctx, p.last)
	if err == nil && up.Info().Repository != g.sessionOwner(p.name) {
		err = blob.ErrUploadNotFound
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return up, unlock, nil
}

// sessionOwner labels the upload sessions of a repository, so that a session id cannot be
// continued through another repository or another registry.
func (g *Registry) sessionOwner(name string) string { return g.registryID + "/" + name }

// commit verifies and publishes the session's bytes as d, then links d into name. The
// link is the acknowledgement: a crash before it leaves only an unreferenced blob for GC.
func (g *Registry) commit(w http.ResponseWriter, r *http.Request, name string, up blob.Upload, d digest.Digest) error {
	info, err := up.Commit(r.Context(), d)
	if err != nil {
		return err
	}
	return g.link(w, r, name, d, info.Size)
}

// link records a committed blob in the repository and answers 201.
func (g *Registry) link(w http.ResponseWriter, r *http.Request, name string, d digest.Digest, size int64) error {
	if err := g.meta.LinkBlob(r.Context(), g.repo(name), d, size); err != nil {
		return err
	}
	blobCreated(w, name, d)
	return nil
}

// chunkLength reads the chunk's length from Content-Range (checking it starts at offset)
// and Content-Length. It returns -1 when neither says.
func chunkLength(r *http.Request, offset int64) (int64, error) {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return r.ContentLength, nil
	}
	start, end, err := parseContentRange(cr)
	if err != nil {
		return 0, err
	}
	if start != offset {
		e := errorf(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid,
			"chunk starts at %d, the upload is at %d", start, offset)
		e.header = http.Header{"Range": {rangeHeader(offset)}}
		return 0, e
	}
	n := end - start + 1
	if r.ContentLength >= 0 && r.ContentLength != n {
		return 0, errorf(http.StatusBadRequest, CodeSizeInvalid,
			"Content-Range %q does not match Content-Length %d", cr, r.ContentLength)
	}
	return n, nil
}

// parseContentRange parses "start-end" (the form the spec uses), also with a "bytes "
// prefix as some clients send it.
func parseContentRange(s string) (start, end int64, err error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	a, b, ok := strings.Cut(s, "-")
	if ok {
		start, err = strconv.ParseInt(a, 10, 64)
		if err == nil {
			end, err = strconv.ParseInt(strings.TrimSuffix(b, "/*"), 10, 64)
		}
	}
	if !ok || err != nil || start < 0 || end < start {
		return 0, 0, errorf(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, "malformed Content-Range %q", s)
	}
	return start, end, nil
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
func body(r *http.Request, length int64) io.Reader {
	if length >= 0 {
		return &exactReader{r: r.Body, left: length}
	}
	return r.Body
}

// uploadError names a body that ended early; other errors pass as they are.
func uploadError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(http.StatusBadRequest, CodeBlobUploadInvalid, "request body ended before its declared length")
	}
	return fmt.Errorf("store blob: %w", err)
}

// exactReader yields exactly `left` bytes of r, or io.ErrUnexpectedEOF.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if e.left == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// uploadAccepted describes a live session: where to send the next request and how much
// has arrived.
func uploadAccepted(w http.ResponseWriter, status int, name string, info blob.UploadInfo) error {
	h := w.Header()
	h.Set("Location", fmt.Sprintf("/v2/%s/blobs/uploads/%s", name, info.ID))
	h.Set("Range", rangeHeader(info.Size))
	h.Set("Docker-Upload-UUID", info.ID)
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
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
