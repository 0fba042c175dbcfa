package registry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/blob/fs"
	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

// newStores returns an empty filesystem blob store and SQLite metadata store, closed
// when the test ends.
func newStores(t *testing.T) (*fs.Store, *sqlite.Store) {
	t.Helper()
	dir := t.TempDir()
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	return blobs, md
}

// TestRegistryID serves two registries over the same stores: content pushed to one is
// invisible in the other, which is also what the default id serves.
func TestRegistryID(t *testing.T) {
	blobs, md := newStores(t)
	gate := hostGate{}
	serve := func(id string) *httptest.Server {
		var s *httptest.Server
		if id == "" {
			s = httptest.NewServer(registry.New(registry.Options{Blobs: blobs, Meta: md}))
		} else {
			s = httptest.NewServer(registry.New(registry.Options{Blobs: blobs, Meta: md, Gate: gate}))
			gate[strings.TrimPrefix(s.URL, "http://")] = id
		}
		t.Cleanup(s.Close)
		return s
	}
	a, def := serve("a"), serve("")

	config := []byte("{}")
	cd := digest.FromBytes(config)
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, cd, len(config))
	do(t, a, "POST", "/v2/r/blobs/uploads/?digest="+cd.String(), "application/octet-stream", config, http.StatusCreated)
	do(t, a, "PUT", "/v2/r/manifests/v1", "application/vnd.oci.image.manifest.v1+json", manifest, http.StatusCreated)

	do(t, a, "GET", "/v2/r/manifests/v1", "", nil, http.StatusOK)
	do(t, a, "GET", "/v2/r/blobs/"+cd.String(), "", nil, http.StatusOK)
	if body := do(t, a, "GET", "/v2/_catalog", "", nil, http.StatusOK); !strings.Contains(body, `"r"`) {
		t.Errorf("catalog of a = %s, want r", body)
	}
	do(t, def, "GET", "/v2/r/manifests/v1", "", nil, http.StatusNotFound)
	do(t, def, "GET", "/v2/r/blobs/"+cd.String(), "", nil, http.StatusNotFound)
	do(t, def, "GET", "/v2/r/tags/list", "", nil, http.StatusNotFound)
	if body := do(t, def, "GET", "/v2/_catalog", "", nil, http.StatusOK); strings.Contains(body, `"r"`) {
		t.Errorf("catalog of the default registry = %s, want no r", body)
	}
}

func do(t *testing.T, s *httptest.Server, method, path, contentType string, body []byte, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return string(b)
}

// hostGate routes each login server to a registry id and admits every request: the
// tests here are about content, not access.
type hostGate map[string]string

func (h hostGate) Registry(_ context.Context, loginServer string) (*meta.Registry, error) {
	id, ok := h[loginServer]
	if !ok {
		return nil, auth.ErrUnknownRegistry
	}
	return &meta.Registry{ID: id, LoginServer: loginServer}, nil
}

func (hostGate) Admit(*http.Request, *meta.Registry, *access.Scope) error { return nil }
