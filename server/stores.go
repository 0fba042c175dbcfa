package server

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/azblob"
	"github.com/cerulean-registry/cerulean/storage/blob/fs"
	"github.com/cerulean-registry/cerulean/storage/blob/s3"
	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/postgres"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

// Stores say where a server's data lives. By default everything is under the data
// directory (filesystem blobs, SQLite metadata); --metadata postgres://… and --blobs
// azblob://… or s3://… move it to shared engines, so that several replicas serve the same
// registries. The TLS material, master key and bootstrap file stay in the data directory:
// replicas share them by sharing (a copy of) that directory.
type Stores struct {
	DataDir  string
	Metadata string // "" (SQLite in the data directory) or a postgres:// URL
	Blobs    string // "" (files in the data directory), azblob://… or s3://…
}

// Usage of the store flags, shared by serve, gc and audit.
const (
	metadataUsage = "metadata `URL`: postgres://user@host/db?… (default: SQLite in the data directory)"
	blobsUsage    = "blob store `URL`: azblob://account/container[/prefix]?… or s3://bucket[/prefix]?… (default: files in the data directory)"
)

// BindStoreFlags adds --metadata and --blobs to a command that opens a server's stores
// (gc, audit); serve has them through Config.
func BindStoreFlags(f *pflag.FlagSet, s *Stores) {
	f.StringVar(&s.Metadata, "metadata", "", metadataUsage)
	f.StringVar(&s.Blobs, "blobs", "", blobsUsage)
}

// open opens the blob and metadata stores.
func (s Stores) open(ctx context.Context) (blob.Store, meta.Store, error) {
	blobs, err := s.openBlobs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("blob store: %w", err)
	}
	md, err := s.openMeta(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata store: %w", err)
	}
	return blobs, md, nil
}

func (s Stores) openBlobs(ctx context.Context) (blob.Store, error) {
	if s.Blobs == "" {
		return fs.New(filepath.Join(s.DataDir, "blobs"))
	}
	u, err := url.Parse(s.Blobs)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	switch u.Scheme {
	case "azblob":
		return azblob.FromURL(u, azblob.Options{})
	case "s3":
		return s3.FromURL(ctx, u)
	}
	return nil, fmt.Errorf("--blobs %s: want azblob:// or s3://", u.Redacted())
}

func (s Stores) openMeta(ctx context.Context) (meta.Store, error) {
	if s.Metadata == "" {
		return sqlite.Open(filepath.Join(s.DataDir, "metadata.db"))
	}
	u, err := url.Parse(s.Metadata)
	if err != nil {
		return nil, fmt.Errorf("--metadata: %w", err)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return postgres.Open(ctx, s.Metadata)
	}
	return nil, fmt.Errorf("--metadata %s: want postgres://", u.Redacted())
}

// watchAccess runs a shared metadata store's change feed, if it has one, moving the access
// epoch whenever another replica changes what the data plane authenticates with.
func (s *Server) watchAccess(ctx context.Context) error {
	w, ok := s.meta.(interface {
		WatchAccess(ctx context.Context, fn func()) error
	})
	if !ok {
		return nil
	}
	err := w.WatchAccess(ctx, func() { s.epoch.n.Add(1) })
	if ctx.Err() != nil {
		return nil
	}
	return err
}
