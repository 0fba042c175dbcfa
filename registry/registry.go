// Package registry owns the OCI Distribution data plane (/v2) and, later, ACR's /acr/v1
// API: routing by repository name, the push/pull/delete rules, and garbage collection.
package registry

import (
	"log/slog"
	"net/http"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Options configure a Registry.
type Options struct {
	Blobs  blob.Store
	Meta   meta.Store
	Logger *slog.Logger
}

// Registry serves /v2/.
type Registry struct {
	opts Options
}

// New returns a Registry over the given stores.
func New(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{opts: opts}
}

// ServeHTTP serves every path under /v2/. (Placeholder until the handlers land.)
func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
