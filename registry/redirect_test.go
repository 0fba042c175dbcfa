package registry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/fs"
)

// signingStore is the filesystem driver with the Redirector capability of the object-store
// drivers: its URLs point at a file server over the same blobs, or fail when refuse is set.
type signingStore struct {
	*fs.Store
	base   string
	refuse bool
}

func (s *signingStore) Redirect(_ context.Context, d digest.Digest, ttl time.Duration) (string, error) {
	if s.refuse {
		return "", errors.ErrUnsupported
	}
	return s.base + "/" + d.Encoded() + "?ttl=" + ttl.String(), nil
}

var _ blob.Redirector = (*signingStore)(nil)

func TestBlobRedirect(t *testing.T) {
	t.Parallel()
	files, md := newStores(t)
	data := []byte("a layer's bytes")
	d := digest.FromBytes(data)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+d.Encoded() || r.Header.Get("Authorization") != "" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(storage.Close)
	store := &signingStore{Store: files, base: storage.URL}
	reg := httptest.NewServer(registry.New(registry.Options{Blobs: store, Meta: md, RedirectTTL: 15 * time.Minute}))
	t.Cleanup(reg.Close)
	do(t, reg, "POST", "/v2/app/blobs/uploads/?digest="+d.String(), "application/octet-stream", data, http.StatusCreated)

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, rng string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, reg.URL+"/v2/app/blobs/"+d.String(), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("GET", "")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("GET: %d %v, want 307 with the digest", resp.StatusCode, resp.Header)
	}
	// A client following the redirect reads the bytes from the store, without credentials.
	followed, err := http.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(followed.Body)
	followed.Body.Close()
	if string(body) != string(data) {
		t.Errorf("following the redirect read %q", body)
	}
	// HEAD, Range requests and a store that cannot sign are served by the registry.
	if r := get("HEAD", ""); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %d, want 200", r.StatusCode)
	}
	if r := get("GET", "bytes=0-3"); r.StatusCode != http.StatusPartialContent {
		t.Errorf("Range GET: %d, want 206", r.StatusCode)
	}
	store.refuse = true
	if r := get("GET", ""); r.StatusCode != http.StatusOK {
		t.Errorf("GET when the store cannot sign: %d, want 200", r.StatusCode)
	}
}
