package registry

import (
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/oci"
	"github.com/cerulean-registry/cerulean/storage/blob"
)

// getBlob serves GET and HEAD /v2/<name>/blobs/<digest> (end-2), with Range support. The
// blob must be linked into this repository: a digest pushed elsewhere is not readable here.
func (g *Registry) getBlob(w http.ResponseWriter, r *http.Request, p params) error {
	d, err := oci.ParseDigest(p.last)
	if err != nil {
		return err
	}
	if _, err := g.meta.BlobSize(r.Context(), repoOf(r.Context(), p.name), d); err != nil {
		return err
	}
	if g.redirect(w, r, d) {
		return nil
	}
	f, err := g.blobs.Open(r.Context(), d)
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+d.String()+`"`)
	h.Set("Cache-Control", "max-age=31536000") // content-addressed: never changes
	// ServeContent answers Range, If-Range and If-None-Match, and streams the file so the
	// kernel copies it when the connection allows.
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// redirect answers a whole-blob GET with a 307 to a short-lived URL of the blob store (an
// Azure SAS, an S3 presigned GET), as ACR sends clients to its storage, so the bytes do not
// pass through the replica. HEAD and Range requests, stores that cannot sign, and any
// failure to sign are served here instead; it reports whether it answered.
func (g *Registry) redirect(w http.ResponseWriter, r *http.Request, d digest.Digest) bool {
	red, ok := g.blobs.(blob.Redirector)
	if !ok || g.redirectTTL <= 0 || r.Method != http.MethodGet || r.Header.Get("Range") != "" {
		return false
	}
	u, err := red.Redirect(r.Context(), d, g.redirectTTL)
	if err != nil {
		g.log.DebugContext(r.Context(), "blob redirect unavailable; serving the bytes", "digest", d.String(), "err", err)
		return false
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Location", u)
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true
}

// deleteBlob unlinks a blob from the repository (end-10); its bytes go at the next GC if
// nothing else holds them.
func (g *Registry) deleteBlob(w http.ResponseWriter, r *http.Request, p params) error {
	d, err := oci.ParseDigest(p.last)
	if err != nil {
		return err
	}
	if err := g.meta.UnlinkBlob(r.Context(), repoOf(r.Context(), p.name), d); err != nil {
		return err
	}
	w.Header().Set("Docker-Content-Digest", d.String())
	w.WriteHeader(http.StatusAccepted)
	return nil
}
