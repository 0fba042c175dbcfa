package meta

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// ACR metadata: the changeable attributes of repositories, tags and manifests, and the
// views the /acr/v1 API lists (acr-protocol.md §2). The attributes are enforced by the
// stores themselves, inside the transaction that writes, so that a lock set concurrently
// with a push or delete is either seen or applied after it:
//
//   - writeEnabled=false on a repository refuses PutManifest and UnlinkBlob in it, and
//     every delete in it (DeleteTag, DeleteManifest, DeleteRepository).
//   - writeEnabled=false on a tag refuses PutManifest to that tag (moving it, even to the
//     manifest it already names) and DeleteTag; on a manifest it refuses DeleteManifest.
//     ACR: a write-locked image "can't be deleted or updated" (container-registry-image-lock.md).
//   - deleteEnabled=false on a tag refuses DeleteTag; on a manifest DeleteManifest; on a
//     repository DeleteRepository only ("individual images can still be updated or deleted").
//   - DeleteManifest also removes the tags naming the manifest, so it is refused when one
//     of them is locked (writeEnabled or deleteEnabled false); DeleteRepository is refused
//     when anything in the repository is locked, as ACR refuses it ("some lock in your
//     repo/manifest/image", delete-operation-issues.md).
//   - A locked manifest (either attribute false), and every manifest of a write-locked
//     repository, is a GC root: UnreachableManifests never lists it, nor what it reaches.
//   - readEnabled=false makes Manifest and TaggedManifest set ReadDisabled (the caller
//     refuses the pull); listEnabled=false hides a tag from Tags and TagInfos, a manifest
//     from ManifestInfos, a repository from Repositories. Direct reads still find them.
//
// Left alone, by choice (ACR's documents speak of images, not of their parts): LinkBlob
// into a write-locked repository (a push fails at its manifest, and its blobs go at the
// next GC); blob reads, which readEnabled does not gate (blobs are content-addressed and
// shared by images; a lock is a guardrail against mistakes, not an access control, which
// is RBAC's); Referrers, which listEnabled does not filter (hiding a signature would
// break verification); the tags of an unlisted repository, which Tags still lists.
//
// DeleteRegistry ignores the attributes: deleting a registry is a management operation.

// ErrDisallowed: a changeable attribute of the repository, a tag or a manifest forbids
// the operation (ACR's REGISTRY_DISALLOWED_OPERATION). Nothing was changed.
var ErrDisallowed = errors.New("meta: the operation is disallowed by the changeable attributes")

// Attributes are ACR's changeable attributes of a repository, tag or manifest.
type Attributes struct {
	DeleteEnabled bool
	WriteEnabled  bool
	ReadEnabled   bool
	ListEnabled   bool
}

// DefaultAttributes are the attributes of anything new: everything enabled.
var DefaultAttributes = Attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}

// Locked reports whether the attributes forbid deleting (writeEnabled or deleteEnabled
// false).
func (a Attributes) Locked() bool { return !a.DeleteEnabled || !a.WriteEnabled }

// AttributesUpdate changes the attributes that are not nil and leaves the others.
type AttributesUpdate struct {
	DeleteEnabled *bool
	WriteEnabled  *bool
	ReadEnabled   *bool
	ListEnabled   *bool
}

// Empty reports whether u changes nothing.
func (u AttributesUpdate) Empty() bool {
	return u.DeleteEnabled == nil && u.WriteEnabled == nil && u.ReadEnabled == nil && u.ListEnabled == nil
}

// RepositoryInfo describes a repository for /acr/v1/{name}.
type RepositoryInfo struct {
	Repo          Repo
	CreatedAt     time.Time
	UpdatedAt     time.Time // the last push to it, or change of its attributes
	ManifestCount int       // every manifest and tag, listed or not
	TagCount      int
	Attributes    Attributes
}

// TagInfo describes a tag for /acr/v1/{name}/_tags.
type TagInfo struct {
	Name       string
	Digest     digest.Digest
	CreatedAt  time.Time
	UpdatedAt  time.Time // the last push to it, or change of its attributes
	Attributes Attributes
}

// ManifestInfo describes a manifest for /acr/v1/{name}/_manifests.
type ManifestInfo struct {
	Digest          digest.Digest
	MediaType       string
	ConfigMediaType string
	Size            int64 // of the manifest itself
	// ImageSize is Size plus the sizes of everything the manifest references directly:
	// an image's config and layers (an artifact's blobs), an index's child manifests.
	ImageSize    int64
	OS           string // from the image config; "" for indexes and artifacts
	Architecture string
	CreatedAt    time.Time
	UpdatedAt    time.Time  // the last push of it, or change of its attributes
	Tags         []string   // the listed tags naming it, in byte order
	Children     []Platform // an index's child manifests, by digest
	Attributes   Attributes
}

// Platform is a child manifest of an index with the platform its image config gives.
type Platform struct {
	Digest       digest.Digest
	OS           string
	Architecture string
}

// Order sorts a metadata listing.
type Order int

const (
	// OrderName: tags by name, manifests by digest, in byte order.
	OrderName Order = iota
	// OrderTimeDesc: last update time, newest first; ties by name (digest), descending.
	// It is exactly the reverse of OrderTimeAsc.
	OrderTimeDesc
	// OrderTimeAsc: last update time, oldest first; ties by name (digest), ascending.
	OrderTimeAsc
)

// ListOptions select a page of a metadata listing.
type ListOptions struct {
	Order Order
	// After names the last tag (digest) of the previous page, exclusive; "" starts at
	// the beginning. In a time order the page continues after that item's (last update
	// time, name) position, so After must name an existing tag (manifest), listed or not:
	// otherwise ErrTagNotFound (ErrManifestNotFound).
	After string
	// Limit is the most items to return; <= 0 means no limit.
	Limit int
	// Digest, for TagInfos, keeps only the tags naming that manifest.
	Digest digest.Digest
}

// ACR is the metadata of the /acr/v1 API. Repositories holding no manifest are unknown
// to it (ErrRepositoryNotFound), as they are to the catalog.
type ACR interface {
	// RepositoryInfo describes repo.
	RepositoryInfo(ctx context.Context, repo Repo) (*RepositoryInfo, error)
	// TagInfo describes a tag, listed or not, or returns ErrTagNotFound.
	TagInfo(ctx context.Context, repo Repo, tag string) (*TagInfo, error)
	// TagInfos lists repo's listed tags; ErrRepositoryNotFound for an unknown repository.
	TagInfos(ctx context.Context, repo Repo, opts ListOptions) ([]TagInfo, error)
	// ManifestInfo describes a manifest, listed or not, or returns ErrManifestNotFound.
	ManifestInfo(ctx context.Context, repo Repo, d digest.Digest) (*ManifestInfo, error)
	// ManifestInfos lists repo's listed manifests (opts.Digest is ignored).
	ManifestInfos(ctx context.Context, repo Repo, opts ListOptions) ([]ManifestInfo, error)

	// UpdateRepositoryAttributes changes repo's attributes. An update that is not empty
	// also sets the last update time. The attributes are metadata: changing them is never
	// disallowed, so a lock can always be lifted.
	UpdateRepositoryAttributes(ctx context.Context, repo Repo, u AttributesUpdate) error
	// UpdateTagAttributes changes a tag's attributes, as UpdateRepositoryAttributes.
	UpdateTagAttributes(ctx context.Context, repo Repo, tag string, u AttributesUpdate) error
	// UpdateManifestAttributes changes a manifest's attributes, as UpdateRepositoryAttributes.
	UpdateManifestAttributes(ctx context.Context, repo Repo, d digest.Digest, u AttributesUpdate) error
}
