package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// gcLock names the store lock a GC run holds.
const gcLock = "gc"

// ErrGCRunning: another GC run holds the shared stores' GC lock.
var ErrGCRunning = errors.New("gc: another garbage collection is running on these stores")

// GC runs one garbage collection over the stores of dataDir and writes what it removed
// (or, with opts.DryRun, would remove) to out, one line per item and a summary. It is safe
// while a server runs on the same directory: opts.Grace protects pushes in progress.
func GC(ctx context.Context, stores Stores, opts registry.GCOptions, out io.Writer, log *slog.Logger) error {
	// Opening the stores would create an empty data directory; a typo should fail instead.
	if _, err := os.Stat(stores.DataDir); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	blobs, md, err := stores.open(ctx)
	if err != nil {
		return err
	}
	// Runs on shared stores exclude each other across machines (two would race to delete
	// the same blobs and report each other's work as failures). Replicas serving pushes
	// meanwhile are safe without the lock: opts.Grace and ReleaseBlob's check protect them.
	release := func() {}
	if l, ok := md.(meta.Locker); ok {
		var held bool
		if release, held, err = l.TryLock(ctx, gcLock); err != nil || !held {
			return errors.Join(cmp.Or(err, ErrGCRunning), md.Close())
		}
	}
	rep, err := registry.New(registry.Options{Blobs: blobs, Meta: md, Logger: log}).CollectGarbage(ctx, opts)
	writeGCReport(out, rep, opts.DryRun)
	release() // before Close, which waits for the lock's connection
	return errors.Join(err, md.Close())
}

// writeGCReport lists a (possibly partial) report: a run that failed midway still removed
// what it lists.
func writeGCReport(w io.Writer, rep registry.GCReport, dryRun bool) {
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	for _, m := range rep.Manifests {
		fmt.Fprintf(w, "manifest %s/%s@%s\n", m.Repo.Registry, m.Repo.Name, m.Digest)
	}
	for _, d := range rep.Blobs {
		fmt.Fprintf(w, "blob %s\n", d)
	}
	for _, id := range rep.Uploads {
		fmt.Fprintf(w, "upload %s\n", id)
	}
	fmt.Fprintf(w, "%s %d manifests, %d blobs, %d bytes, %d upload sessions\n",
		verb, len(rep.Manifests), len(rep.Blobs), rep.BytesFreed, len(rep.Uploads))
}
