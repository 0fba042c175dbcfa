package registry

import (
	"net/http"
	"time"

	"github.com/cerulean-registry/cerulean/oci"
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
