package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// fakeStore holds management records in memory: the registry "contoso" with two tokens,
// and role assignments by principal.
type fakeStore struct {
	mu          sync.Mutex
	reg         meta.Registry
	tokens      map[string]*meta.Token
	assignments []meta.RoleAssignment
	principalGn map[string]int64
	epoch       atomic.Uint64
}

func (f *fakeStore) RegistryByLoginServer(_ context.Context, ls string) (*meta.Registry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ls != f.reg.LoginServer {
		return nil, meta.ErrResourceNotFound
	}
	r := f.reg
	return &r, nil
}

func (f *fakeStore) Token(_ context.Context, _, name string) (*meta.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[name]
	if !ok {
		return nil, meta.ErrResourceNotFound
	}
	c := *t
	return &c, nil
}

func (f *fakeStore) RoleAssignments(_ context.Context, q meta.RoleAssignmentQuery) ([]meta.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []meta.RoleAssignment
	for _, a := range f.assignments {
		if a.PrincipalID == q.PrincipalIDs[0] {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeStore) PrincipalGeneration(_ context.Context, ids ...string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.principalGn[ids[0]], nil
}

// update changes the records under the lock and moves the epoch, as a management write
// does.
func (f *fakeStore) update(fn func(*fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
	f.epoch.Add(1)
}

// fakeEntra knows one service principal, "sp-app" with secret "sp-secret", and accepts
// Entra tokens of the form "entra:<audience>".
type fakeEntra struct{}

var spPrincipal = meta.Principal{ObjectID: "sp-oid", TenantID: "tenant-1", AppID: "sp-app", Kind: meta.KindServicePrincipal, Enabled: true}

func (fakeEntra) VerifyClientSecret(_ context.Context, appID, secret string) (*meta.Principal, error) {
	if appID == "sp-app" && secret == "sp-secret" {
		p := spPrincipal
		return &p, nil
	}
	return nil, errors.New("invalid client secret")
}

func (fakeEntra) PrincipalByObjectID(_ context.Context, oid string) (*meta.Principal, error) {
	if oid == spPrincipal.ObjectID {
		p := spPrincipal
		return &p, nil
	}
	return nil, errors.New("not found")
}

func (fakeEntra) VerifyAccessToken(_ context.Context, raw string, audiences ...string) (identity.Claims, error) {
	aud, ok := strings.CutPrefix(raw, "entra:")
	for _, a := range audiences {
		if ok && a == aud {
			return identity.Claims{TenantID: spPrincipal.TenantID, ObjectID: spPrincipal.ObjectID, AppID: spPrincipal.AppID, Audience: aud}, nil
		}
	}
	return identity.Claims{}, errors.New("audience not accepted")
}

const (
	adminPassword = "admin-password-1"
	tokenPassword = "token-password-1"
)

type fixture struct {
	svc   *Service
	store *fakeStore
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	keys := newKeys(t)
	f := &fixture{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	f.store = &fakeStore{
		reg: meta.Registry{ID: "0123456789abcdef0123456789abcdef", Subscription: "sub", ResourceGroup: "rg",
			Name: "contoso", LoginServer: "contoso.example:5443", Generation: 1,
			Settings: meta.RegistrySettings{AdminUserEnabled: true, PublicNetworkAccess: true, NetworkDefaultAction: "Allow",
				AADAuthAsARMPolicy: true, RoleAssignmentMode: string(access.LegacyRegistryPermissions)},
			Admin: [2]meta.AdminPassword{{Hash: meta.HashSecret(adminPassword)}, {Hash: meta.HashSecret("admin-password-2")}},
		},
		tokens: map[string]*meta.Token{
			"puller": {Name: "puller", ScopeMap: "_repositories_pull", Enabled: true, Generation: 1,
				ScopeMapActions: []string{"repositories/*/content/read"},
				Passwords:       [2]meta.TokenPassword{{Hash: meta.HashSecret(tokenPassword)}, {Hash: meta.HashSecret("old"), Expiry: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}},
			"disabled": {Name: "disabled", Enabled: false, Generation: 1, ScopeMapActions: []string{"repositories/*/content/read"},
				Passwords: [2]meta.TokenPassword{{Hash: meta.HashSecret(tokenPassword)}}},
		},
		assignments: []meta.RoleAssignment{{Name: "a1", PrincipalID: "sp-oid", RoleDefinitionID: access.RoleAcrPull,
			Scope: "/subscriptions/sub"}},
		principalGn: map[string]int64{"sp-oid": 1},
	}
	// Records are cached between changes, as the server runs it: revocation tests prove
	// that every change reaches the next request through the cache.
	f.svc = New(Options{Store: f.store, Entra: fakeEntra{}, Keys: keys, Now: func() time.Time { return f.now },
		Epoch:   f.store.epoch.Load,
		Limiter: NewLimiter(3, time.Minute, func() time.Time { return f.now })})
	return f
}

// newKeys returns real signing keys over a throwaway in-memory key store.
func newKeys(t *testing.T) *signing.Keys {
	t.Helper()
	mk, err := signing.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.New(signing.Options{Store: &memKeys{}, MasterKey: mk, Purpose: "acr"})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type memKeys struct {
	mu   sync.Mutex
	keys []meta.SigningKey
}

func (m *memKeys) AddSigningKey(_ context.Context, k *meta.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, *k)
	return nil
}

func (m *memKeys) SigningKeys(context.Context, string) ([]meta.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]meta.SigningKey(nil), m.keys...), nil
}

func (m *memKeys) DeleteSigningKeys(context.Context, string, time.Time) (int, error) { return 0, nil }

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestAuthenticateAndDecide(t *testing.T) {
	t.Parallel()
	pull := access.RepositoryScope("app", access.Pull)
	push := access.RepositoryScope("app", access.Push)
	tests := []struct {
		name       string
		authz      string
		setup      func(*fakeStore)
		wantErr    error
		want       access.Scope
		wantAllows bool
	}{
		{name: "anonymous without anonymous pull", authz: "", want: pull, wantAllows: false},
		{name: "anonymous with anonymous pull", authz: "", want: pull, wantAllows: true,
			setup: func(f *fakeStore) { f.reg.Settings.AnonymousPullEnabled = true }},
		{name: "admin password", authz: basic("contoso", adminPassword), want: push, wantAllows: true},
		{name: "admin password2, name in other case", authz: basic("Contoso", "admin-password-2"), want: push, wantAllows: true},
		{name: "admin disabled", authz: basic("contoso", adminPassword), wantErr: ErrUnauthorized,
			setup: func(f *fakeStore) { f.reg.Settings.AdminUserEnabled = false }},
		{name: "admin wrong password", authz: basic("contoso", "nope"), wantErr: ErrUnauthorized},
		{name: "token pulls", authz: basic("puller", tokenPassword), want: pull, wantAllows: true},
		{name: "token cannot push", authz: basic("puller", tokenPassword), want: push, wantAllows: false},
		{name: "token cannot list the catalog", authz: basic("puller", tokenPassword), want: access.CatalogScope(), wantAllows: false},
		{name: "token expired password", authz: basic("puller", "old"), wantErr: ErrUnauthorized},
		{name: "token disabled", authz: basic("disabled", tokenPassword), wantErr: ErrUnauthorized},
		{name: "service principal with AcrPull", authz: basic("sp-app", "sp-secret"), want: pull, wantAllows: true},
		{name: "service principal cannot push", authz: basic("sp-app", "sp-secret"), want: push, wantAllows: false},
		{name: "service principal wrong secret", authz: basic("sp-app", "x"), wantErr: ErrUnauthorized},
		{name: "garbage bearer", authz: "Bearer abc.def.ghi", wantErr: ErrUnauthorized},
		{name: "unknown scheme", authz: "Digest x", wantErr: ErrUnauthorized},
		{name: "malformed basic", authz: "Basic !!!", wantErr: ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.setup != nil {
				f.store.update(tt.setup)
			}
			reg, _ := f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
			c, err := f.svc.Authenticate(t.Context(), reg, tt.authz, "192.0.2.1")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Authenticate = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.svc.Authorize(t.Context(), reg, c, tt.want, "192.0.2.1"); got != tt.wantAllows {
				t.Errorf("Authorize(%s) = %v, want %v", tt.want, got, tt.wantAllows)
			}
		})
	}
}

// tokenRequest performs a request against the token service of the fixture.
func (f *fixture) tokenRequest(t *testing.T, method, path string, form url.Values, authz string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	f.svc.Routes(mux)
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, "https://"+f.store.reg.LoginServer+path+"?"+form.Encode(), nil)
	} else {
		r = httptest.NewRequest(method, "https://"+f.store.reg.LoginServer+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}
