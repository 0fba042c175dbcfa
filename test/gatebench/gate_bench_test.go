package gatebench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/blob/fs"
	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

const (
	loginServer = "bench.example"
	password    = "admin-password-for-the-gate-benchmark-0123456789"
)

// openGate admits every request to the one registry: the registry without access control.
type openGate struct{ reg *meta.Registry }

func (g openGate) Registry(context.Context, string) (*meta.Registry, error) { return g.reg, nil }
func (openGate) Admit(*http.Request, *meta.Registry, *access.Scope) error   { return nil }

type fixture struct {
	open, gated http.Handler
	tokens      *http.ServeMux
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	md, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { md.Close() })
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	reg := &meta.Registry{ID: "0123456789abcdef0123456789abcdef", Subscription: "00000000-0000-0000-0000-00000000000a",
		ResourceGroup: "bench", Name: "bench", LoginServer: loginServer, SKU: "Premium",
		Settings: meta.RegistrySettings{AdminUserEnabled: true, PublicNetworkAccess: true, NetworkDefaultAction: "Allow",
			RoleAssignmentMode: string(access.LegacyRegistryPermissions)},
		Admin: [2]meta.AdminPassword{{Hash: meta.HashSecret(password)}, {Hash: meta.HashSecret(password + "2")}}}
	must(b, md.CreateSubscription(ctx, &meta.Subscription{ID: reg.Subscription, TenantID: "t", CreatedAt: time.Now()}))
	_, err = md.PutResourceGroup(ctx, &meta.ResourceGroup{Subscription: reg.Subscription, Name: reg.ResourceGroup, Location: "here", CreatedAt: time.Now()})
	must(b, err)
	must(b, md.CreateRegistry(ctx, reg, nil))
	reg, err = md.RegistryByLoginServer(ctx, loginServer)
	must(b, err)
	mk, err := signing.NewMasterKey(make([]byte, 32))
	must(b, err)
	keys, err := signing.New(signing.Options{Store: md, MasterKey: mk, Purpose: "acr"})
	must(b, err)
	svc := auth.New(auth.Options{Store: md, Keys: keys, Epoch: func() uint64 { return 0 }})
	f := &fixture{
		open:   registry.New(registry.Options{Blobs: blobs, Meta: md, Gate: openGate{reg}}),
		gated:  registry.New(registry.Options{Blobs: blobs, Meta: md, Gate: svc}),
		tokens: http.NewServeMux(),
	}
	svc.Routes(f.tokens)
	f.push(b)
	return f
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// push stores a one-config image tagged v1 through the open registry.
func (f *fixture) push(b *testing.B) {
	config := []byte("{}")
	d := digest.FromBytes(config)
	f.expect(b, f.open, "POST", "/v2/app/blobs/uploads/?digest="+d.String(), "", config, http.StatusCreated)
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`, d)
	f.expect(b, f.open, "PUT", "/v2/app/manifests/v1", "", manifest, http.StatusCreated)
}

func (f *fixture) expect(b *testing.B, h http.Handler, method, path, authz string, body []byte, want int) *httptest.ResponseRecorder {
	b.Helper()
	r := httptest.NewRequest(method, "https://"+loginServer+path, bytes.NewReader(body))
	if method == "PUT" {
		r.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	}
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w
}

// BenchmarkManifestGET serves the same manifest GET open, with a bearer token, and with
// Basic credentials; compare ns/op across the three.
func BenchmarkManifestGET(b *testing.B) {
	f := newFixture(b)
	basic := "Basic " + basicCreds("bench", password)
	w := f.expect(b, f.tokens, "GET", "/oauth2/token?service="+loginServer+"&scope=repository:app:pull", basic, nil, http.StatusOK)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	must(b, json.Unmarshal(w.Body.Bytes(), &tok))
	for _, tc := range []struct {
		name    string
		handler http.Handler
		authz   string
	}{
		{"open", f.open, ""},
		{"bearer", f.gated, "Bearer " + tok.AccessToken},
		{"basic", f.gated, basic},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "https://"+loginServer+"/v2/app/manifests/v1", nil)
					r.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
					if tc.authz != "" {
						r.Header.Set("Authorization", tc.authz)
					}
					w := httptest.NewRecorder()
					tc.handler.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

func basicCreds(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")[len("Basic "):]
}
