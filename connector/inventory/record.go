package inventory

import (
	"time"
)

// Kind names what a Record describes.
type Kind string

// The kinds of record, in the order a repository's records are written.
const (
	KindRegistry   Kind = "registry"   // one per registry, written after its repositories
	KindRepository Kind = "repository" // a repository's ACR attributes
	KindManifest   Kind = "manifest"   // a manifest: ACR metadata, manifest and config details
	KindTag        Kind = "tag"        // a tag and the manifest it names
	KindReferrer   Kind = "referrer"   // an artifact (signature, SBOM, ...) that refers to a subject
	KindError      Kind = "error"      // something that could not be read; the crawl went on
)

// Record is one line of an inventory. Every record has Kind and Registry; the other
// fields belong to some kinds only and are left out (JSON) or empty (CSV) elsewhere. The
// JSON names are ACR's where ACR has the field (acr-protocol.md §2.3); package doc lists
// which kind carries which field.
type Record struct {
	Kind       Kind   `json:"kind"`
	Registry   string `json:"registry"` // login server
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`

	// Registry records.
	Name          string    `json:"name,omitempty"`
	ResourceID    string    `json:"resourceId,omitempty"`
	Subscription  string    `json:"subscription,omitempty"`
	ResourceGroup string    `json:"resourceGroup,omitempty"`
	Since         time.Time `json:"since,omitzero"`     // an incremental run: what changed at or after this
	Watermark     time.Time `json:"watermark,omitzero"` // where the next incremental run may start
	Complete      *bool     `json:"complete,omitempty"` // no error record for this registry
	Counts        *Counts   `json:"counts,omitempty"`

	// Repository, manifest, tag and referrer records.
	MediaType            string            `json:"mediaType,omitempty"`
	ArtifactType         string            `json:"artifactType,omitempty"`
	ConfigMediaType      string            `json:"configMediaType,omitempty"`
	ConfigDigest         string            `json:"configDigest,omitempty"`
	Size                 int64             `json:"size,omitempty"`      // the manifest's own bytes
	ImageSize            int64             `json:"imageSize,omitempty"` // ACR's imageSize
	Architecture         string            `json:"architecture,omitempty"`
	OS                   string            `json:"os,omitempty"`
	CreatedTime          time.Time         `json:"createdTime,omitzero"`
	LastUpdateTime       time.Time         `json:"lastUpdateTime,omitzero"`
	ManifestCount        *int              `json:"manifestCount,omitempty"`
	TagCount             *int              `json:"tagCount,omitempty"`
	Tags                 []string          `json:"tags,omitempty"`
	ChangeableAttributes *Attributes       `json:"changeableAttributes,omitempty"`
	References           []Platform        `json:"references,omitempty"` // an index's children
	Subject              string            `json:"subject,omitempty"`    // what a referrer refers to
	Annotations          map[string]string `json:"annotations,omitempty"`
	BaseImageName        string            `json:"baseImageName,omitempty"`   // org.opencontainers.image.base.name
	BaseImageDigest      string            `json:"baseImageDigest,omitempty"` // org.opencontainers.image.base.digest
	ImageCreated         time.Time         `json:"imageCreated,omitzero"`     // the config's created
	Labels               map[string]string `json:"labels,omitempty"`          // the config's config.Labels

	// Error records.
	Op     string `json:"op,omitempty"`     // what was being read: catalog, repository, manifests, ...
	Status int    `json:"status,omitempty"` // the HTTP status, when there was an answer
	Error  string `json:"error,omitempty"`
}

// Attributes are ACR's changeable attributes of a repository, manifest or tag.
type Attributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// Platform is one child of an index: its digest and platform.
type Platform struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

// Counts sum up one registry's inventory: the records written of each kind and the
// requests the crawl made.
type Counts struct {
	Repositories int `json:"repositories"`
	Manifests    int `json:"manifests"`
	Tags         int `json:"tags"`
	Referrers    int `json:"referrers"`
	Errors       int `json:"errors"`
	// Skipped are repositories left alone in an incremental run: unchanged since.
	Skipped int `json:"skipped"`
	// Requests are the requests the crawl handed to the registry client (each may have
	// been retried inside it after a 429).
	Requests int64 `json:"requests"`
	// ConfigsCached are config blobs not fetched because an earlier manifest had the same.
	ConfigsCached int64 `json:"configsCached"`
}
