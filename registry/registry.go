// Package registry owns the OCI Distribution v1.1 data plane (/v2) and ACR's metadata API
// (/acr/v1): routing by repository name, the rules of push, pull, mount and delete, ACR's
// changeable attributes on all of them, referrers, pagination, upload expiry and garbage
// collection. It speaks HTTP at its edge and keeps storage behind blob.Store and
// meta.Store.
package registry

import (
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Options configure a Registry.
type Options struct {
	Blobs  blob.Store
	Meta   meta.Store
	Logger *slog.Logger
	// Now is the clock (GC grace, upload expiry); time.Now when nil.
	Now func() time.Time
	// RedirectTTL, when positive and the blob store can sign URLs (blob.Redirector),
	// answers whole-blob GETs with a 307 to a URL of the store valid this long.
	RedirectTTL time.Duration
	// Gate finds the registry each request addresses and admits the request. Without
	// one the Registry serves a single open registry, DefaultRegistryID (embedding, tests).
	Gate Gate
}

// DefaultRegistryID is the registry a Registry without a Gate serves.
const DefaultRegistryID = "default"

// Registry serves /v2/ and /acr/v1/.
type Registry struct {
	blobs blob.Store
	meta  meta.Store
	log   *slog.Logger
	now   func() time.Time
	gate  Gate
	// redirectTTL: see Options.RedirectTTL.
	redirectTTL time.Duration

	uploadLocks [64]sync.Mutex // serialise requests on one upload session
	lockSeed    maphash.Seed
}

// New returns a Registry over the given stores.
func New(opts Options) *Registry {
	g := &Registry{blobs: opts.Blobs, meta: opts.Meta, log: opts.Logger, now: opts.Now,
		gate: opts.Gate, redirectTTL: opts.RedirectTTL, lockSeed: maphash.MakeSeed()}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// lockUpload serialises requests for one upload session within this process; the caller
// must call the returned unlock.
func (g *Registry) lockUpload(id string) (unlock func()) {
	m := &g.uploadLocks[maphash.String(g.lockSeed, id)%uint64(len(g.uploadLocks))]
	m.Lock()
	return m.Unlock
}
