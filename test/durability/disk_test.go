package durability

import (
	"context"
	"crypto/sha256"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// The data directory as packages server and storage/blob/fs lay it out:
//
//	DATA/blobs/blobs/sha256/ab/abcdef…   committed blob, named by its digest
//	DATA/blobs/uploads/<id>/…            one upload session
func blobRoot(dataDir string) string    { return filepath.Join(dataDir, "blobs", "blobs") }
func uploadsRoot(dataDir string) string { return filepath.Join(dataDir, "blobs", "uploads") }

func uploadDataFile(dataDir, id string) string {
	return filepath.Join(uploadsRoot(dataDir), id, "data")
}

// blobFiles returns the digests of the committed blob files, checking that each file sits
// at its digest's place and hashes to it: nothing partial or unverified is visible. It
// also fails the test on any other file in the blob tree (a temporary left behind).
func blobFiles(t testing.TB, dataDir string) map[digest.Digest]bool {
	t.Helper()
	root := blobRoot(dataDir)
	found := map[digest.Digest]bool{}
	err := filepath.WalkDir(root, func(path string, e iofs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		d := digest.Digest(filepath.Dir(filepath.Dir(rel)) + ":" + e.Name())
		if d.Validate() != nil || d.Algorithm() != digest.SHA256 || rel != filepath.Join("sha256", d.Encoded()[:2], d.Encoded()) {
			t.Errorf("unexpected file in the blob tree: %s", path)
			return nil
		}
		got, err := hashFile(path)
		if err != nil {
			return err
		}
		if got != d {
			t.Errorf("blob file %s holds bytes hashing to %s: a partial or corrupt blob is visible", path, got)
		}
		found[d] = true
		return nil
	})
	if err != nil {
		t.Fatalf("walk blobs: %v", err)
	}
	return found
}

func hashFile(path string) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// uploadSessions lists the upload session directories.
func uploadSessions(t testing.TB, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(uploadsRoot(dataDir))
	if err != nil {
		t.Fatalf("list uploads: %v", err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// fileSize returns the size of path, or -1 when it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// Bounds for the rare waits that have no event to wait on (the server's own background
// work, a signal's delivery). Generous: they bound a hang, they do not time the server.
const (
	pollTimeout = 30 * time.Second
	pollEvery   = 5 * time.Millisecond
)

// waitFor polls cond until it holds, failing the test after pollTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-tick.C:
		}
	}
}

// diffSets returns the members of a missing from b and the members of b missing from a.
func diffSets[K comparable](a, b map[K]bool) (onlyA, onlyB []K) {
	for k := range a {
		if !b[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			onlyB = append(onlyB, k)
		}
	}
	return onlyA, onlyB
}
