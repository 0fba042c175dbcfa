package blobtest

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
)

// BenchmarkAppendCommit measures what a chunk-less push costs a driver: per iteration one
// session, one Append of data and its Commit. The blob is deleted off the clock, so every
// iteration stores new bytes.
func BenchmarkAppendCommit(b *testing.B, s blob.Store, data []byte) {
	want := digest.FromBytes(data)
	ctx := b.Context()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		u, err := s.CreateUpload(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := u.Append(ctx, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if _, err := u.Commit(ctx, want); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(ctx, want); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
