package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cerulean-registry/cerulean/oci"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// maxConfigRead bounds how much of an image config the registry reads to learn the
// platform of a manifest.
const maxConfigRead = 1 << 20

// getManifest serves GET and HEAD /v2/<name>/manifests/<reference> (end-3). The answer
// carries the manifest's own media type; a client whose Accept excludes it gets 404, as
// distribution does, rather than bytes it cannot read. A readEnabled=false on the way
// (repository, tag, manifest) refuses the pull, as ACR does.
func (g *Registry) getManifest(w http.ResponseWriter, r *http.Request, p params) error {
	m, err := g.lookupManifest(r.Context(), p.name, p.last)
	if err != nil {
		return err
	}
	if m.ReadDisabled {
		return fmt.Errorf("pull %s:%s: %w", p.name, p.last, meta.ErrDisallowed)
	}
	if !accepts(r.Header.Values("Accept"), m.MediaType) {
		return errorf(http.StatusNotFound, CodeManifestUnknown,
			"manifest is %s, which the Accept header does not allow", m.MediaType)
	}
	h := w.Header()
	h.Set("Content-Type", m.MediaType)
	h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	h.Set("Docker-Content-Digest", m.Digest.String())
	h.Set("ETag", `"`+m.Digest.String()+`"`)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, m.Digest.String()) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(m.Content)
	}
	return nil
}

func (g *Registry) lookupManifest(ctx context.Context, name, reference string) (*meta.Manifest, error) {
	if oci.IsDigest(reference) {
		d, err := oci.ParseDigest(reference)
		if err != nil {
			return nil, err
		}
		return g.meta.Manifest(ctx, repoOf(ctx, name), d)
	}
	if oci.ValidateTag(reference) != nil {
		// No such tag can exist; the spec's only answer for a manifest not found is 404.
		return nil, meta.ErrTagNotFound
	}
	return g.meta.TaggedManifest(ctx, repoOf(ctx, name), reference)
}

// accepts reports whether an Accept header allows mediaType. No Accept header, or a
// wildcard, allows anything.
func accepts(accept []string, mediaType string) bool {
	if len(accept) == 0 {
		return true
	}
	for _, line := range accept {
		for _, part := range strings.Split(line, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if mt == mediaType || mt == "*/*" || mt == "application/*" {
				return true
			}
		}
	}
	return false
}

// putManifest serves PUT /v2/<name>/manifests/<reference> (end-7): validate, check every
// referenced blob and child manifest is in the repository, store and tag atomically.
func (g *Registry) putManifest(w http.ResponseWriter, r *http.Request, p params) error {
	tag, want, err := parseReference(p.last)
	if err != nil {
		return err
	}
	content, err := readManifest(r)
	if err != nil {
		return err
	}
	parsed, err := oci.ParseManifest(r.Header.Get("Content-Type"), content)
	if err != nil {
		return err
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	d := alg.FromBytes(content)
	if want != "" && d != want {
		return errorf(http.StatusBadRequest, CodeDigestInvalid, "manifest digest is %s, not %s", d, want)
	}
	if err := g.checkSizes(r.Context(), p.name, parsed); err != nil {
		return err
	}
	m := g.record(r.Context(), p.name, d, content, parsed)
	if err := g.meta.PutManifest(r.Context(), m, tag); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Location", fmt.Sprintf("/v2/%s/manifests/%s", p.name, d))
	h.Set("Docker-Content-Digest", d.String())
	if m.Subject != "" {
		h.Set("OCI-Subject", m.Subject.String())
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// parseReference splits a manifest reference into a tag or a digest.
func parseReference(reference string) (tag string, d digest.Digest, err error) {
	if oci.IsDigest(reference) {
		d, err = oci.ParseDigest(reference)
		return "", d, err
	}
	return reference, "", oci.ValidateTag(reference)
}

// readManifest reads a manifest body, refusing one over the size limit with 413 before
// storing anything.
func readManifest(r *http.Request) ([]byte, error) {
	tooLarge := errorf(http.StatusRequestEntityTooLarge, CodeSizeInvalid,
		"manifest exceeds the %d-byte limit", oci.MaxManifestSize)
	if r.ContentLength > oci.MaxManifestSize {
		return nil, tooLarge
	}
	content, err := io.ReadAll(io.LimitReader(r.Body, oci.MaxManifestSize+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeManifestInvalid, "reading manifest: %v", err)
	}
	if len(content) > oci.MaxManifestSize {
		return nil, tooLarge
	}
	return content, nil
}

// checkSizes refuses a manifest whose descriptors give sizes other than those of the
// content they name: a client pulling it would fail verification. Content that is missing
// altogether is left to PutManifest, which reports every missing digest at once.
func (g *Registry) checkSizes(ctx context.Context, name string, parsed *oci.Manifest) error {
	for _, b := range parsed.Blobs {
		size, err := g.meta.BlobSize(ctx, repoOf(ctx, name), b.Digest)
		if err := sizeMatches(b, size, err, meta.ErrBlobNotFound); err != nil {
			return err
		}
	}
	for _, c := range parsed.Children {
		child, err := g.meta.Manifest(ctx, repoOf(ctx, name), c.Digest)
		var size int64
		if err == nil {
			size = child.Size
		}
		if err := sizeMatches(c, size, err, meta.ErrManifestNotFound); err != nil {
			return err
		}
	}
	return nil
}

// sizeMatches compares a descriptor with a looked-up size; the lookup's notFound error
// passes as a match.
func sizeMatches(desc specs.Descriptor, size int64, lookupErr, notFound error) error {
	switch {
	case errors.Is(lookupErr, notFound):
		return nil
	case lookupErr != nil:
		return lookupErr
	case size != desc.Size:
		return errorf(http.StatusBadRequest, CodeManifestInvalid,
			"descriptor of %s gives size %d, the content is %d bytes", desc.Digest, desc.Size, size)
	}
	return nil
}

// record builds the stored form of a parsed manifest.
func (g *Registry) record(ctx context.Context, name string, d digest.Digest, content []byte, parsed *oci.Manifest) *meta.Manifest {
	m := &meta.Manifest{
		Repo:            repoOf(ctx, name),
		Digest:          d,
		MediaType:       parsed.MediaType,
		Size:            int64(len(content)),
		Content:         content,
		ArtifactType:    parsed.ArtifactType,
		ConfigMediaType: parsed.ConfigMediaType,
		Annotations:     parsed.Annotations,
	}
	if parsed.Subject != nil {
		m.Subject = parsed.Subject.Digest
	}
	for _, b := range parsed.Blobs {
		m.References = append(m.References, meta.Reference{Digest: b.Digest, Kind: meta.RefBlob})
	}
	for _, c := range parsed.Children {
		m.References = append(m.References, meta.Reference{Digest: c.Digest, Kind: meta.RefManifest})
	}
	m.OS, m.Architecture = g.platform(ctx, parsed)
	return m
}

// platform reads os and architecture from an image config, for ACR's manifest metadata.
// Anything unreadable leaves them empty: a missing config is reported by PutManifest.
func (g *Registry) platform(ctx context.Context, m *oci.Manifest) (os, arch string) {
	if m.ConfigMediaType != oci.MediaTypeImageConfig && m.ConfigMediaType != oci.MediaTypeDockerConfig {
		return "", ""
	}
	f, err := g.blobs.Open(ctx, m.Config)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	}
	if json.NewDecoder(io.LimitReader(f, maxConfigRead)).Decode(&cfg) != nil {
		return "", ""
	}
	return cfg.OS, cfg.Architecture
}

// deleteManifest serves DELETE /v2/<name>/manifests/<reference> (end-9): by digest the
// manifest and its tags go; by tag only the tag goes.
func (g *Registry) deleteManifest(w http.ResponseWriter, r *http.Request, p params) error {
	tag, d, err := parseReference(p.last)
	if errors.Is(err, oci.ErrInvalidTag) {
		return meta.ErrTagNotFound // as for GET: a tag that cannot exist is not found
	}
	if err != nil {
		return err
	}
	if tag != "" {
		err = g.meta.DeleteTag(r.Context(), repoOf(r.Context(), p.name), tag)
	} else {
		err = g.meta.DeleteManifest(r.Context(), repoOf(r.Context(), p.name), d)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// referrers serves GET /v2/<name>/referrers/<digest>?artifactType= (end-12a/12b): an
// image index of the manifests whose subject is digest; empty, not 404, when none.
func (g *Registry) referrers(w http.ResponseWriter, r *http.Request, p params) error {
	d, err := oci.ParseDigest(p.last)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	found, err := g.meta.Referrers(r.Context(), repoOf(r.Context(), p.name), d, artifactType)
	if err != nil && !errors.Is(err, meta.ErrRepositoryNotFound) {
		return err
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, r, http.StatusOK, oci.MediaTypeImageIndex, referrersIndex(found))
}

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type imageIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

func referrersIndex(found []meta.Descriptor) imageIndex {
	idx := imageIndex{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex, Manifests: []descriptor{}}
	for _, f := range found {
		idx.Manifests = append(idx.Manifests, descriptor(f))
	}
	return idx
}
