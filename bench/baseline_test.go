package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

func TestWriteDurably(t *testing.T) {
	spec := newBlobSpec(9, 2*genBlock+5)
	path := filepath.Join(t.TempDir(), "blob")
	if err := writeBaseline(path, spec); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != spec.size {
		t.Errorf("file is %d bytes, want %d", fi.Size(), spec.size)
	}
}

// TestFileServerFetch runs the pull baseline end to end: Go's file server over TLS and
// the bench client, on both protocols the bench uses.
func TestFileServerFetch(t *testing.T) {
	dir := t.TempDir()
	b := baselineFiles{dir: dir}
	img := makeImage(1)
	if err := os.WriteFile(b.path(manifestFile), img.manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := startFileServer(testserver.Binary(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.close()
	for _, tc := range []struct {
		http2 bool
		proto string
	}{{false, "HTTP/1.1"}, {true, "HTTP/2.0"}} {
		ctx := context.Background()
		cs, err := newClients(ctx, 2, fs.endpoint(), tc.http2)
		if err != nil {
			t.Fatal(err)
		}
		proto, err := warm(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		if proto != tc.proto {
			t.Errorf("http2=%v: protocol %s, want %s", tc.http2, proto, tc.proto)
		}
		res, err := hammer(ctx, cs, 50*time.Millisecond, getRef(manifestFile, int64(len(img.manifest))))
		if err != nil {
			t.Fatal(err)
		}
		if res.requests == 0 || res.p50 <= 0 || res.p99 < res.p50 {
			t.Errorf("implausible load result %+v", res)
		}
		if err := cs[0].fetch(ctx, manifestFile, 1); err == nil {
			t.Error("fetch accepted a body of the wrong length")
		}
		closeClients(cs)
	}
}
