package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// GCOptions control a garbage collection run.
type GCOptions struct {
	// DryRun lists what would go and changes nothing. Blobs that only the untagged
	// manifests hold are listed by the run after those manifests are really removed.
	DryRun bool
	// Untagged also removes manifests that no tag reaches (through an index or as a
	// referrer), like ACR's retention policy for untagged manifests. As there, a manifest
	// with deleteEnabled or writeEnabled false stays, and so does what it reaches, and
	// every manifest of a write-locked repository.
	Untagged bool
	// Grace spares blobs committed or linked more recently than this, so that a push in
	// progress (blobs first, manifest last) never loses a blob.
	Grace time.Duration
	// UploadTTL ends upload sessions idle for longer than this (0 leaves them alone), so
	// that sessions a crashed or vanished client left behind are reclaimed.
	UploadTTL time.Duration
}

// GCReport says what a run removed (or, in a dry run, would remove).
type GCReport struct {
	Manifests  []meta.ManifestRef
	Blobs      []digest.Digest
	BytesFreed int64
	Uploads    []string // ids of expired upload sessions
}

// CollectGarbage removes untagged manifests when asked, then every blob that no manifest
// references and no repository linked within the grace period. The metadata link is
// released (in a transaction that re-checks use) before the bytes are deleted, so a
// concurrent manifest push either keeps the blob or fails cleanly.
func (g *Registry) CollectGarbage(ctx context.Context, opts GCOptions) (GCReport, error) {
	var rep GCReport
	if opts.UploadTTL > 0 {
		ids, err := g.expireUploads(ctx, opts.UploadTTL, opts.DryRun)
		rep.Uploads = ids
		if err != nil {
			return rep, fmt.Errorf("gc: expire uploads: %w", err)
		}
	}
	if opts.Untagged {
		refs, err := g.meta.UnreachableManifests(ctx)
		if err != nil {
			return rep, fmt.Errorf("gc: list untagged manifests: %w", err)
		}
		for _, ref := range refs {
			if !opts.DryRun {
				err := g.meta.DeleteManifest(ctx, ref.Repo, ref.Digest)
				if errors.Is(err, meta.ErrDisallowed) {
					continue // locked since it was listed: it stays, like any locked manifest
				}
				if err != nil {
					return rep, fmt.Errorf("gc: delete manifest %s/%s@%s: %w", ref.Repo.Registry, ref.Repo.Name, ref.Digest, err)
				}
			}
			rep.Manifests = append(rep.Manifests, ref)
		}
	}
	cutoff := g.now().Add(-opts.Grace)
	var candidates []blob.Info
	err := g.blobs.Walk(ctx, func(b blob.Info) error {
		if b.ModTime.Before(cutoff) {
			candidates = append(candidates, b)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: walk blobs: %w", err)
	}
	for _, b := range candidates {
		gone, err := g.collectBlob(ctx, b, cutoff, opts.DryRun)
		if err != nil {
			return rep, err
		}
		if gone {
			rep.Blobs = append(rep.Blobs, b.Digest)
			rep.BytesFreed += b.Size
		}
	}
	return rep, nil
}

// collectBlob removes one blob if nothing holds it; it reports whether it did (or would).
func (g *Registry) collectBlob(ctx context.Context, b blob.Info, cutoff time.Time, dryRun bool) (bool, error) {
	if dryRun {
		inUse, err := g.meta.BlobInUse(ctx, b.Digest, cutoff)
		return !inUse, err
	}
	released, err := g.meta.ReleaseBlob(ctx, b.Digest, cutoff)
	if err != nil || !released {
		return false, err
	}
	// Until EndRelease, links of this digest are refused, and a push that committed the same
	// bytes meanwhile finds them gone after linking (see link): nothing acknowledged is lost.
	defer func() { _ = g.meta.EndRelease(context.WithoutCancel(ctx), b.Digest) }()
	// A push of the same bytes after the release refreshes the blob's time: spare it.
	if cur, err := g.blobs.Stat(ctx, b.Digest); err != nil || !cur.ModTime.Before(cutoff) {
		return false, nil
	}
	if err := g.blobs.Delete(ctx, b.Digest); err != nil {
		return false, fmt.Errorf("gc: delete blob %s: %w", b.Digest, err)
	}
	return true, nil
}
