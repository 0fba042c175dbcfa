package postgres

import (
	"fmt"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The benchmarks of the SQLite store (sqlite_test.go), run here. The server is pgtest's
// (no fsync) unless CERULEAN_POSTGRES_DSN names another, e.g. scripts/postgres.sh's, which
// keeps PostgreSQL's durable defaults.

// BenchmarkTaggedManifest reads a tag of a repository holding 1 tag and of one holding
// 10,000 (each on its own manifest): the cost must not depend on the tag count.
func BenchmarkTaggedManifest(b *testing.B) {
	s := openNew(b)
	for _, n := range []int{1, 10000} {
		repository := meta.Repo{Registry: "reg", Name: fmt.Sprintf("tags-%d", n)}
		populate(b, s, repository, n)
		tag := fmt.Sprintf("v%d", n/2)
		b.Run(fmt.Sprintf("tags=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.TaggedManifest(b.Context(), repository, tag); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// populate pushes n manifests into repository, each with its own tag, from a few
// goroutines (pushes to one repository take turns on its lock, but their round trips
// overlap).
func populate(b *testing.B, s *Store, repository meta.Repo, n int) {
	b.Helper()
	ctx := b.Context()
	layer := digest.FromString("layer")
	if err := s.LinkBlob(ctx, repository, layer, 1); err != nil {
		b.Fatal(err)
	}
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := s.PutManifest(ctx, manifest(repository, fmt.Sprint(i), layer), fmt.Sprintf("v%d", i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPutManifest pushes a new manifest with 3 blob references and a tag per
// iteration (one committed transaction each).
func BenchmarkPutManifest(b *testing.B) {
	s := openNew(b)
	blobs := []digest.Digest{digest.FromString("config"), digest.FromString("layer1"), digest.FromString("layer2")}
	r := meta.Repo{Registry: "reg", Name: "r"}
	for _, d := range blobs {
		if err := s.LinkBlob(b.Context(), r, d, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.PutManifest(b.Context(), manifest(r, fmt.Sprint(i), blobs...), fmt.Sprintf("v%d", i%100)); err != nil {
			b.Fatal(err)
		}
	}
}
