// Package meta owns registry metadata: repositories, the blobs linked into each repository,
// manifests with their references, tags and referrers. SQLite (package sqlite, through
// modernc.org/sqlite, no cgo) is the embedded default; PostgreSQL implements the same Store
// and passes the same behaviour suite (package metatest).
//
// Manifest content lives here, not in blob storage: a manifest read is one indexed query.
// Every write that must be atomic (a manifest with its references and tag, a tag move, a
// delete with the tags that point at it) is one transaction.
package meta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors returned by stores. Callers test with errors.Is / errors.As.
var (
	// ErrRepositoryNotFound: nothing was ever pushed to a repository of that name.
	ErrRepositoryNotFound = errors.New("meta: repository not found")
	// ErrManifestNotFound: no manifest with that digest in that repository.
	ErrManifestNotFound = errors.New("meta: manifest not found")
	// ErrTagNotFound: no such tag in that repository.
	ErrTagNotFound = errors.New("meta: tag not found")
	// ErrBlobNotFound: the blob is not linked into that repository.
	ErrBlobNotFound = errors.New("meta: blob not linked in repository")
	// ErrBlobBeingDeleted: garbage collection is deleting the blob's bytes; push it again.
	ErrBlobBeingDeleted = errors.New("meta: blob is being garbage-collected")
)

// DeletionMarkTTL is how long ReleaseBlob's mark refuses new links of a blob whose
// collector never called EndRelease (it died between release and delete).
const DeletionMarkTTL = time.Minute

// MissingReferencesError: a manifest names blobs or child manifests that the repository
// does not hold. Nothing was stored.
type MissingReferencesError struct {
	Digests []digest.Digest
}

func (e *MissingReferencesError) Error() string {
	s := make([]string, len(e.Digests))
	for i, d := range e.Digests {
		s[i] = d.String()
	}
	return fmt.Sprintf("meta: manifest references unknown content: %s", strings.Join(s, ", "))
}

// RefKind says what a manifest reference points at.
type RefKind int

const (
	// RefBlob: a config or layer blob (or an artifact's blobs).
	RefBlob RefKind = iota
	// RefManifest: a child manifest of an index.
	RefManifest
)

// Reference is one descriptor a manifest names (its subject is not a reference: a
// referrer may be pushed before its subject).
type Reference struct {
	Digest digest.Digest
	Kind   RefKind
}

// Repo names a repository: a name within one registry. A server hosts several registries
// (each with its own login server); their repositories never mix.
type Repo struct {
	Registry string // the registry's id
	Name     string
}

// Manifest is a stored manifest and what the registry needs to know of it without parsing.
type Manifest struct {
	Repo            Repo
	Digest          digest.Digest
	MediaType       string
	Size            int64
	Content         []byte // exact bytes as pushed
	ArtifactType    string // effective artifact type for referrers (artifactType, else config media type)
	ConfigMediaType string
	Subject         digest.Digest // "" when the manifest has no subject
	Annotations     map[string]string
	OS              string // platform from the image config or, for indexes, "" (set by caller)
	Architecture    string
	References      []Reference
	CreatedAt       time.Time // set by the store on first push to the repository
	// ReadDisabled is set by Manifest and TaggedManifest when a readEnabled attribute
	// (see ACR) forbids pulling the manifest by the reference it was read by.
	ReadDisabled bool
}

// Descriptor is an OCI descriptor as listed in a referrers index.
type Descriptor struct {
	MediaType    string
	Digest       digest.Digest
	Size         int64
	ArtifactType string
	Annotations  map[string]string
}

// ManifestRef names a manifest in a repository.
type ManifestRef struct {
	Repo   Repo
	Digest digest.Digest
}

// RepositoryDeletion says what deleting a repository removed.
type RepositoryDeletion struct {
	Manifests []digest.Digest
	Tags      []string
}

// Store is a metadata backend. Names are already validated by the caller. Writes honour
// the changeable attributes described with ACR, returning ErrDisallowed.
type Store interface {
	ACR

	// LinkBlob records that repo holds a committed blob (creating the repository on first
	// use). Linking again refreshes the link time (GC grace).
	LinkBlob(ctx context.Context, repo Repo, d digest.Digest, size int64) error
	// BlobSize returns the size of a blob linked into repo, or ErrBlobNotFound.
	BlobSize(ctx context.Context, repo Repo, d digest.Digest) (int64, error)
	// UnlinkBlob removes a blob from repo, or returns ErrBlobNotFound (ErrDisallowed when
	// repo is write-locked).
	UnlinkBlob(ctx context.Context, repo Repo, d digest.Digest) error

	// PutManifest stores m in m.Repo (idempotent for the same digest) and, when tag is not
	// empty, points tag at it, in one transaction. It returns *MissingReferencesError when
	// a reference is not in the repository (blobs linked, manifests stored), and
	// ErrDisallowed when repo or tag is write-locked.
	PutManifest(ctx context.Context, m *Manifest, tag string) error
	// Manifest returns a manifest by digest, or ErrManifestNotFound. References are not
	// loaded (nil): the read path needs only the content. ReadDisabled says whether the
	// repository's or the manifest's readEnabled is false.
	Manifest(ctx context.Context, repo Repo, d digest.Digest) (*Manifest, error)
	// TaggedManifest returns the manifest a tag points at, or ErrTagNotFound. References
	// are not loaded, as for Manifest. ReadDisabled also counts the tag's readEnabled.
	TaggedManifest(ctx context.Context, repo Repo, tag string) (*Manifest, error)
	// DeleteManifest removes a manifest and every tag pointing at it, or returns
	// ErrManifestNotFound (ErrDisallowed when repo, the manifest or one of the tags is
	// locked).
	DeleteManifest(ctx context.Context, repo Repo, d digest.Digest) error
	// DeleteTag removes a tag (the manifest stays), or returns ErrTagNotFound
	// (ErrDisallowed when repo is write-locked or the tag locked).
	DeleteTag(ctx context.Context, repo Repo, tag string) error
	// DeleteRepository removes a repository with its manifests, tags and blob links, in one
	// transaction, and says what went; ErrRepositoryNotFound if it holds nothing,
	// ErrDisallowed when it or anything in it is locked.
	DeleteRepository(ctx context.Context, repo Repo) (RepositoryDeletion, error)
	// DeleteRegistry removes every repository of a registry (its blobs' bytes go at the
	// next GC).
	DeleteRegistry(ctx context.Context, registry string) error

	// Tags lists up to limit listed tag names of repo in lexical order, after the name
	// `after` (exclusive; "" from the start). limit <= 0 means no limit.
	// It returns ErrRepositoryNotFound for an unknown repository.
	Tags(ctx context.Context, repo Repo, after string, limit int) ([]string, error)
	// Repositories lists up to limit names of the registry's listed repositories holding
	// at least one manifest, in lexical order, after `after`. limit <= 0 means no limit.
	Repositories(ctx context.Context, registry, after string, limit int) ([]string, error)
	// Referrers lists the manifests in repo whose subject is d, optionally only those of
	// artifactType, ordered by digest.
	Referrers(ctx context.Context, repo Repo, d digest.Digest, artifactType string) ([]Descriptor, error)

	// UnreachableManifests lists manifests, of every registry, that no tag reaches. A manifest is reachable when
	// it is tagged, is a child of a reachable index, or is a referrer whose subject is
	// reachable; a reachable manifest's subject is reachable too. Locked manifests, and
	// those of write-locked repositories, count as tagged.
	UnreachableManifests(ctx context.Context) ([]ManifestRef, error)
	// BlobInUse reports whether any manifest references d, or any repository linked d at
	// or after cutoff.
	BlobInUse(ctx context.Context, d digest.Digest, cutoff time.Time) (bool, error)
	// ReleaseBlob removes every repository link to d, in one transaction, unless d is in use
	// (as BlobInUse says); it reports whether it released the blob. A released blob is
	// marked as being deleted: LinkBlob refuses d with ErrBlobBeingDeleted until EndRelease
	// (or until the mark is DeletionMarkTTL old, should the collector die midway).
	ReleaseBlob(ctx context.Context, d digest.Digest, cutoff time.Time) (bool, error)
	// EndRelease removes the mark ReleaseBlob set, once the bytes are gone or kept.
	EndRelease(ctx context.Context, d digest.Digest) error

	// Close releases the backend.
	Close() error
}
