package identity

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

// clock is a settable time shared by the service and its keys.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const testBase = "https://login.test"

// env is a service over a real SQLite store with a bootstrapped tenant, served in process.
type env struct {
	t     testing.TB
	s     *Service
	dir   meta.Directory
	h     http.Handler
	clock *clock
	owner *Owner
}

func newEnv(t testing.TB) *env {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mk, err := signing.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	keys, err := signing.New(signing.Options{Store: store, MasterKey: mk, Purpose: SigningPurpose,
		MaxTokenLifetime: SigningKeyLifetime, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Directory: store, Keys: keys, SecretKey: mk.Derive("test"), BaseURL: testBase, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := s.Bootstrap(t.Context(), BootstrapOptions{})
	if err != nil || owner == nil {
		t.Fatalf("Bootstrap = %v, %v", owner, err)
	}
	return &env{t: t, s: s, dir: store, h: s.Handler(http.NotFoundHandler()), clock: c, owner: owner}
}

// do sends a request to the handler and decodes a JSON answer.
func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var body map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			e.t.Fatalf("%s %s: %v: %s", req.Method, req.URL, err, rec.Body)
		}
	}
	return rec.Code, body
}

func (e *env) post(path string, form url.Values) (int, map[string]any) {
	req := httptest.NewRequest(http.MethodPost, testBase+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// secretForm is a client-credentials request of the bootstrap owner.
func (e *env) secretForm(scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {e.owner.ClientID},
		"client_secret": {e.owner.ClientSecret}, "scope": {scope}}
}

// wantAADError checks an error answer: status, OAuth error and AADSTS code.
func wantAADError(t *testing.T, status int, body map[string]any, wantStatus, wantCode int) {
	t.Helper()
	codes, _ := body["error_codes"].([]any)
	if status != wantStatus || len(codes) != 1 || int(codes[0].(float64)) != wantCode {
		t.Errorf("answer %d %v, want %d with AADSTS%d", status, body, wantStatus, wantCode)
	}
	if _, ok := body["access_token"]; ok {
		t.Error("an error answer carries a token")
	}
}

func TestClientSecretTokenVerifies(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, path  string
		form        url.Values
		wantAud     string
		wantVersion string
		stringTimes bool // v1 answers numbers as strings
	}{
		{"v2 scope", "/" + e.owner.TenantID + "/oauth2/v2.0/token", e.secretForm("https://management.core.windows.net//.default"),
			"https://management.core.windows.net/", "2.0", false},
		{"v2 organizations", "/organizations/oauth2/v2.0/token", e.secretForm("https://containerregistry.azure.net/.default"),
			"https://containerregistry.azure.net", "2.0", false},
		{"v1 resource", "/" + e.owner.TenantID + "/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {e.owner.ClientID}, "client_secret": {e.owner.ClientSecret}, "resource": {"https://management.azure.com/"}},
			"https://management.azure.com/", "1.0", true},
		{"adfs", "/adfs/oauth2/token", e.secretForm("https://management.core.windows.net//.default"),
			"https://management.core.windows.net/", "1.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post(tc.path, tc.form)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, body)
			}
			if _, ok := body["expires_in"].(string); ok != tc.stringTimes {
				t.Errorf("expires_in is %T", body["expires_in"])
			}
			c, err := e.s.VerifyAccessToken(t.Context(), body["access_token"].(string), tc.wantAud)
			if err != nil {
				t.Fatal(err)
			}
			if c.TenantID != e.owner.TenantID || c.ObjectID != e.owner.ObjectID || c.AppID != e.owner.ClientID ||
				c.IDType != "app" || c.Kind != meta.KindServicePrincipal || c.Audience != tc.wantAud {
				t.Errorf("claims %+v", c)
			}
			if want := e.s.issuer(e.owner.TenantID, map[string]version{"2.0": v2, "1.0": v1}[tc.wantVersion]); c.Issuer != want {
				t.Errorf("issuer %q, want %q", c.Issuer, want)
			}
		})
	}
}

func TestVerifyAccessTokenRefuses(t *testing.T) {
	e := newEnv(t)
	_, body := e.post("/organizations/oauth2/v2.0/token", e.secretForm("https://management.azure.com/.default"))
	tok := body["access_token"].(string)
	if _, err := e.s.VerifyAccessToken(t.Context(), tok, ACRAudiences...); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token for ARM accepted for ACR: %v", err)
	}
	e.clock.Add(AccessTokenLifetime + 2*time.Minute)
	if _, err := e.s.VerifyAccessToken(t.Context(), tok, ARMAudiences...); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired token: %v, want ErrTokenExpired", err)
	}
	if _, err := e.s.VerifyAccessToken(t.Context(), "e30.e30.", ARMAudiences...); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("alg none token: %v", err)
	}
}

func TestSecretLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	app, err := e.s.CreateApplication(ctx, e.owner.TenantID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateServicePrincipal(ctx, e.owner.TenantID, app.AppID); err != nil {
		t.Fatal(err)
	}
	cred, secret, err := e.s.AddSecret(ctx, e.owner.TenantID, app.ObjectID, "short", e.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app.AppID}, "client_secret": {secret},
		"scope": {"https://management.azure.com/.default"}}
	if status, body := e.post("/organizations/oauth2/v2.0/token", form); status != http.StatusOK {
		t.Fatalf("fresh secret: %d %v", status, body)
	}
	stored, _ := e.dir.ClientCredentials(ctx, app.AppID)
	if len(stored) != 1 || strings.Contains(string(stored[0].SecretHash), secret) || len(stored[0].SecretHash) != 32 {
		t.Errorf("stored secret %+v: want only a 32-byte hash", stored)
	}
	e.clock.Add(2 * time.Hour)
	status, body := e.post("/organizations/oauth2/v2.0/token", form)
	wantAADError(t, status, body, http.StatusUnauthorized, 7000222)

	if err := e.s.RemoveCredential(ctx, e.owner.TenantID, app.ObjectID, cred.KeyID); err != nil {
		t.Fatal(err)
	}
	status, body = e.post("/organizations/oauth2/v2.0/token", form)
	wantAADError(t, status, body, http.StatusUnauthorized, 7000215)
}

func TestClientCredentialsRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	app, _ := e.s.CreateApplication(ctx, e.owner.TenantID, "no-sp")
	_, noSPSecret, _ := e.s.AddSecret(ctx, e.owner.TenantID, app.ObjectID, "", time.Time{})
	scope := "https://management.azure.com/.default"
	with := func(change func(url.Values)) url.Values {
		f := e.secretForm(scope)
		change(f)
		return f
	}
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		code   int
	}{
		{"wrong secret", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Set("client_secret", "nope") }), 401, 7000215},
		{"no secret", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Del("client_secret") }), 401, 7000218},
		{"unknown tenant", "/00000000-0000-0000-0000-000000000001/oauth2/v2.0/token", e.secretForm(scope), 400, 90002},
		{"not a tenant", "/contoso.example/oauth2/v2.0/token", e.secretForm(scope), 400, 90002},
		{"unknown client", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Set("client_id", guid.New()) }), 400, 700016},
		{"no service principal", "/organizations/oauth2/v2.0/token", with(func(f url.Values) {
			f.Set("client_id", app.AppID)
			f.Set("client_secret", noSPSecret)
		}), 400, 700016},
		{"unknown resource", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Set("scope", "https://evil.example/.default") }), 400, 500011},
		{"scope without .default", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Set("scope", "https://management.azure.com/read") }), 400, 70011},
		{"two resources", "/organizations/oauth2/v2.0/token", with(func(f url.Values) {
			f.Set("scope", "https://management.azure.com/.default https://graph.microsoft.com/.default")
		}), 400, 70011},
		{"no grant type", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Del("grant_type") }), 400, 900144},
		{"unsupported grant", "/organizations/oauth2/v2.0/token", with(func(f url.Values) { f.Set("grant_type", "authorization_code") }), 400, 70003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post(tc.path, tc.form)
			wantAADError(t, status, body, tc.status, tc.code)
		})
	}

	// A disabled service principal is refused, whatever its secret.
	if _, err := e.s.SetPrincipalEnabled(ctx, e.owner.TenantID, e.owner.ObjectID, false); err != nil {
		t.Fatal(err)
	}
	status, body := e.post("/organizations/oauth2/v2.0/token", e.secretForm(scope))
	wantAADError(t, status, body, 400, 7000112)
}

func TestVerifyClientSecret(t *testing.T) {
	e := newEnv(t)
	if p, err := e.s.VerifyClientSecret(t.Context(), e.owner.ClientID, e.owner.ClientSecret); err != nil || p.ObjectID != e.owner.ObjectID {
		t.Errorf("VerifyClientSecret = %+v, %v", p, err)
	}
	if _, err := e.s.VerifyClientSecret(t.Context(), e.owner.ClientID, "wrong"); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestBootstrapPresetAndOnce(t *testing.T) {
	e := newEnv(t)
	if again, err := e.s.Bootstrap(t.Context(), BootstrapOptions{}); err != nil || again != nil {
		t.Errorf("second Bootstrap = %+v, %v; want nothing", again, err)
	}
	store, _ := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	defer store.Close()
	s := &Service{dir: store, keys: e.s.keys, secretKey: e.s.secretKey, now: time.Now}
	if _, err := s.Bootstrap(t.Context(), BootstrapOptions{ClientSecret: "short"}); err == nil {
		t.Error("a short preset secret was accepted")
	}
	preset := strings.Repeat("s", MinPresetSecretLength)
	owner, err := s.Bootstrap(t.Context(), BootstrapOptions{ClientID: "11111111-2222-3333-4444-555555555555", ClientSecret: preset})
	if err != nil || owner.ClientID != "11111111-2222-3333-4444-555555555555" || owner.ClientSecret != preset {
		t.Errorf("preset Bootstrap = %+v, %v", owner, err)
	}
	if p, err := store.Principal(t.Context(), owner.ObjectID); err != nil || !p.Owner {
		t.Errorf("owner principal %+v, %v: want Owner", p, err)
	}
}

func TestParseScope(t *testing.T) {
	s := &Service{base: testBase}
	for _, tc := range []struct {
		scope, resource string
		cc              bool
		want            string
		openID, offline bool
		err             error
	}{
		{"https://management.core.windows.net//.default", "", true, "https://management.core.windows.net/", false, false, nil},
		{"https://containerregistry.azure.net/.default", "", true, "https://containerregistry.azure.net", false, false, nil},
		{"", "https://management.azure.com/", true, "https://management.azure.com/", false, false, nil},
		{"openid profile offline_access https://management.core.windows.net//user_impersonation", "", false,
			"https://management.core.windows.net/", true, true, nil},
		{"openid profile", "", false, "https://graph.microsoft.com", true, false, nil},
		{"https://management.usgovcloudapi.net/.default", "", true, "https://management.usgovcloudapi.net", false, false, nil},
		{testBase + "/.default", "", true, testBase, false, false, nil},
		{"api://AzureADTokenExchange/.default", "", true, "api://AzureADTokenExchange", false, false, nil},
		{"", "", true, "", false, false, ErrInvalidRequest},
		{"https://management.azure.com/user_impersonation", "", true, "", false, false, ErrInvalidScope},
		{"https://unknown.example/.default", "", true, "", false, false, ErrResourceNotFound},
	} {
		got, err := s.parseScope(tc.scope, tc.resource, tc.cc)
		if !errors.Is(err, tc.err) || err == nil && (got.resource != tc.want || got.openID != tc.openID || got.offline != tc.offline) {
			t.Errorf("parseScope(%q, %q, %v) = %+v, %v; want %q, %v", tc.scope, tc.resource, tc.cc, got, err, tc.want, tc.err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	get := func(path string) (int, map[string]any) {
		return e.do(httptest.NewRequest(http.MethodGet, testBase+path, nil))
	}
	tid := e.owner.TenantID
	for _, tc := range []struct {
		path, issuer, token string
	}{
		{"/" + tid + "/v2.0/.well-known/openid-configuration", testBase + "/" + tid + "/v2.0", testBase + "/" + tid + "/oauth2/v2.0/token"},
		{"/organizations/v2.0/.well-known/openid-configuration", testBase + "/{tenantid}/v2.0", testBase + "/organizations/oauth2/v2.0/token"},
		{"/" + tid + "/.well-known/openid-configuration", testBase + "/" + tid + "/", testBase + "/" + tid + "/oauth2/token"},
		{"/adfs/.well-known/openid-configuration", testBase + "/adfs", testBase + "/adfs/oauth2/token"},
		{"/adfs/adfs/.well-known/openid-configuration", testBase + "/adfs", testBase + "/adfs/oauth2/token"},
	} {
		status, doc := get(tc.path)
		if status != 200 || doc["issuer"] != tc.issuer || doc["token_endpoint"] != tc.token || doc["authorization_endpoint"] == nil {
			t.Errorf("GET %s = %d %v", tc.path, status, doc)
		}
	}
	if status, body := get("/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration"); status != 400 {
		t.Errorf("unknown tenant: %d %v", status, body)
	}
	status, inst := get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(testBase+"/"+tid+"/oauth2/v2.0/authorize"))
	if status != 200 || inst["tenant_discovery_endpoint"] != testBase+"/"+tid+"/v2.0/.well-known/openid-configuration" {
		t.Errorf("instance discovery: %d %v", status, inst)
	}
	status, body := get("/common/discovery/instance?authorization_endpoint=" + url.QueryEscape("https://login.microsoftonline.com/x/oauth2/v2.0/authorize"))
	wantAADError(t, status, body, 400, 50049)
	if status, keys := get("/" + tid + "/discovery/v2.0/keys"); status != 200 || len(keys["keys"].([]any)) != 1 {
		t.Errorf("keys: %d %v", status, keys)
	}
}
