package oci

import (
	"encoding/json"
	"fmt"
	"mime"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types the registry accepts.
const (
	MediaTypeImageManifest  = specs.MediaTypeImageManifest
	MediaTypeImageIndex     = specs.MediaTypeImageIndex
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"

	MediaTypeImageConfig  = specs.MediaTypeImageConfig
	MediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"
)

// MaxManifestSize is the largest manifest accepted (ACR's limit, and the spec's
// recommended minimum that registries should support).
const MaxManifestSize = 4 << 20

// Manifest is what the registry needs to know of a pushed manifest.
type Manifest struct {
	MediaType       string
	ArtifactType    string // effective type for referrers: artifactType, else config media type
	ConfigMediaType string
	Config          digest.Digest // "" for indexes
	Subject         *specs.Descriptor
	Annotations     map[string]string
	Blobs           []specs.Descriptor // config and pushed layers (an index has none)
	Children        []specs.Descriptor // an index's manifests
}

// IsIndex reports whether the manifest lists other manifests.
func (m *Manifest) IsIndex() bool {
	return m.MediaType == MediaTypeImageIndex || m.MediaType == MediaTypeDockerList
}

// document is the union of the fields of image manifests and indexes.
type document struct {
	SchemaVersion int                `json:"schemaVersion"`
	MediaType     string             `json:"mediaType"`
	ArtifactType  string             `json:"artifactType"`
	Config        *specs.Descriptor  `json:"config"`
	Layers        []specs.Descriptor `json:"layers"`
	Manifests     []specs.Descriptor `json:"manifests"`
	Subject       *specs.Descriptor  `json:"subject"`
	Annotations   map[string]string  `json:"annotations"`
}

// ParseManifest validates content pushed with the given Content-Type (which may be empty
// when the document names its own mediaType) and returns what it references.
func ParseManifest(contentType string, content []byte) (*Manifest, error) {
	var doc document
	if err := json.Unmarshal(content, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	mediaType, err := effectiveMediaType(contentType, doc.MediaType)
	if err != nil {
		return nil, err
	}
	if doc.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: schemaVersion must be 2", ErrInvalidManifest)
	}
	m := &Manifest{MediaType: mediaType, ArtifactType: doc.ArtifactType, Subject: doc.Subject, Annotations: doc.Annotations}
	if doc.Subject != nil {
		if err := checkDescriptor(*doc.Subject, "subject"); err != nil {
			return nil, err
		}
	}
	switch mediaType {
	case MediaTypeImageManifest, MediaTypeDockerManifest:
		err = m.fromImage(doc)
	case MediaTypeImageIndex, MediaTypeDockerList:
		err = m.fromIndex(doc)
	default:
		err = fmt.Errorf("%w: unsupported media type %q", ErrInvalidManifest, mediaType)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// effectiveMediaType reconciles the Content-Type header with the document's own field:
// either may be missing, but they must not disagree.
func effectiveMediaType(contentType, field string) (string, error) {
	header := ""
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return "", fmt.Errorf("%w: bad Content-Type %q", ErrInvalidManifest, contentType)
		}
		header = mt
	}
	switch {
	case header == "" && field == "":
		return "", fmt.Errorf("%w: no media type in Content-Type or document", ErrInvalidManifest)
	case header == "":
		return field, nil
	case field != "" && field != header:
		return "", fmt.Errorf("%w: mediaType %q does not match Content-Type %q", ErrInvalidManifest, field, header)
	}
	return header, nil
}

func (m *Manifest) fromImage(doc document) error {
	if doc.Manifests != nil {
		return fmt.Errorf("%w: an image manifest has no manifests field", ErrInvalidManifest)
	}
	if doc.Config == nil {
		return fmt.Errorf("%w: config descriptor missing", ErrInvalidManifest)
	}
	if err := checkDescriptor(*doc.Config, "config"); err != nil {
		return err
	}
	m.Config = doc.Config.Digest
	m.ConfigMediaType = doc.Config.MediaType
	m.Blobs = append(m.Blobs, *doc.Config)
	for i, l := range doc.Layers {
		if err := checkDescriptor(l, fmt.Sprintf("layers[%d]", i)); err != nil {
			return err
		}
		// Foreign (non-distributable) layers are fetched from their URLs, never pushed.
		if len(l.URLs) == 0 {
			m.Blobs = append(m.Blobs, l)
		}
	}
	if m.ArtifactType == "" {
		m.ArtifactType = m.ConfigMediaType
	}
	return nil
}

func (m *Manifest) fromIndex(doc document) error {
	if doc.Config != nil || doc.Layers != nil {
		return fmt.Errorf("%w: an index has no config or layers", ErrInvalidManifest)
	}
	for i, c := range doc.Manifests {
		if err := checkDescriptor(c, fmt.Sprintf("manifests[%d]", i)); err != nil {
			return err
		}
		m.Children = append(m.Children, c)
	}
	return nil
}

func checkDescriptor(d specs.Descriptor, where string) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: %s: digest %q: %v", ErrInvalidManifest, where, d.Digest, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: %s: negative size", ErrInvalidManifest, where)
	}
	if d.MediaType == "" {
		return fmt.Errorf("%w: %s: mediaType missing", ErrInvalidManifest, where)
	}
	return nil
}
