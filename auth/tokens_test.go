package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

func decodeBody(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

// payload decodes a JWT's claims the way the Azure SDK for Go does: standard base64.
func payload(t *testing.T, raw string) Claims {
	t.Helper()
	parts := strings.Split(raw, ".")
	seg := parts[1]
	if strings.ContainsAny(seg, "-_") {
		t.Errorf("payload segment %q holds URL-safe base64 characters", seg)
	}
	b, err := base64.StdEncoding.DecodeString(seg + strings.Repeat("=", (4-len(seg)%4)%4))
	if err != nil {
		t.Fatalf("std base64: %v", err)
	}
	var c Claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenEndpoints(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc := url.Values{"service": {f.store.reg.LoginServer}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}

	// docker login: GET with Basic and offline_token gives an access and a refresh token.
	w := f.tokenRequest(t, http.MethodGet, "/oauth2/token", with(svc, "offline_token", "true", "scope", "repository:app:pull,push repository:other:pull"), basic("contoso", adminPassword))
	if w.Code != http.StatusOK {
		t.Fatalf("GET token: %d %s", w.Code, w.Body)
	}
	body := decodeBody(t, w.Body.Bytes())
	acc := payload(t, body["access_token"].(string))
	if body["token"] != body["access_token"] || acc.GrantType != grantAccess || len(acc.Access) != 2 || acc.Audience[0] != f.store.reg.LoginServer {
		t.Errorf("GET token body %v, claims %+v", body, acc)
	}
	refresh, _ := body["refresh_token"].(string)
	if refresh == "" || payload(t, refresh).GrantType != grantRefresh {
		t.Fatalf("no refresh token in %v", body)
	}

	// The refresh token trades for scoped access tokens, in string-only JSON.
	w = f.tokenRequest(t, http.MethodPost, "/oauth2/token", with(svc, "grant_type", "refresh_token", "refresh_token", refresh, "scope", "repository:app:delete"), "")
	if w.Code != http.StatusOK {
		t.Fatalf("POST refresh_token: %d %s", w.Code, w.Body)
	}
	for k, v := range decodeBody(t, w.Body.Bytes()) {
		if _, ok := v.(string); !ok {
			t.Errorf("POST answer %s is %T, want string", k, v)
		}
	}

	// A token cannot be used as the other kind.
	accessRaw := body["access_token"].(string)
	w = f.tokenRequest(t, http.MethodPost, "/oauth2/token", with(svc, "grant_type", "refresh_token", "refresh_token", accessRaw), "")
	if w.Code != http.StatusUnauthorized {
		t.Errorf("access token as refresh token: %d, want 401", w.Code)
	}

	// The exchange accepts ARM and ACR audiences, or only ACR's under the policy.
	exchange := func() int {
		return f.tokenRequest(t, http.MethodPost, "/oauth2/exchange", with(svc, "grant_type", "access_token", "access_token", "entra:https://management.azure.com/", "tenant", "tenant-1"), "").Code
	}
	if code := exchange(); code != http.StatusOK {
		t.Errorf("exchange of an ARM token: %d", code)
	}
	f.store.update(func(s *fakeStore) { s.reg.Settings.AADAuthAsARMPolicy = false; s.reg.Generation++ })
	if code := exchange(); code != http.StatusUnauthorized {
		t.Errorf("exchange of an ARM token with the policy disabled: %d, want 401", code)
	}

	// Revocation: after the registry changes, the old refresh token is refused.
	w = f.tokenRequest(t, http.MethodPost, "/oauth2/token", with(svc, "grant_type", "refresh_token", "refresh_token", refresh, "scope", "repository:app:pull"), "")
	if w.Code != http.StatusUnauthorized {
		t.Errorf("stale refresh token: %d, want 401", w.Code)
	}

	// Bad requests.
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"unsupported grant", with(svc, "grant_type", "client_credentials"), http.StatusBadRequest},
		{"other registry", url.Values{"service": {"other.example"}, "grant_type": {"password"}}, http.StatusBadRequest},
		{"wildcard scope", with(svc, "grant_type", "password", "scope", "repository:*:pull"), http.StatusBadRequest},
	} {
		if w := f.tokenRequest(t, http.MethodPost, "/oauth2/token", tc.form, ""); w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
	}
}

func TestRevocationOnNextRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		authz  string
		revoke func(*fakeStore)
	}{
		{"token disabled", basic("puller", tokenPassword), func(f *fakeStore) { f.tokens["puller"].Enabled = false }},
		{"token password regenerated", basic("puller", tokenPassword), func(f *fakeStore) { f.tokens["puller"].Generation++ }},
		{"admin disabled", basic("contoso", adminPassword), func(f *fakeStore) { f.reg.Settings.AdminUserEnabled = false; f.reg.Generation++ }},
		{"role assignment removed", basic("sp-app", "sp-secret"), func(f *fakeStore) { f.assignments = nil; f.principalGn["sp-oid"]++ }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			form := url.Values{"service": {f.store.reg.LoginServer}, "scope": {"repository:app:pull"}}
			w := f.tokenRequest(t, http.MethodGet, "/oauth2/token", form, tt.authz)
			if w.Code != http.StatusOK {
				t.Fatalf("token: %d %s", w.Code, w.Body)
			}
			bearer := "Bearer " + decodeBody(t, w.Body.Bytes())["access_token"].(string)
			reg, _ := f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
			if _, err := f.svc.Authenticate(t.Context(), reg, bearer, "192.0.2.1"); err != nil {
				t.Fatalf("fresh token refused: %v", err)
			}
			f.store.update(tt.revoke)
			reg, _ = f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
			if _, err := f.svc.Authenticate(t.Context(), reg, bearer, "192.0.2.1"); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("token issued before the revocation: %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reg, _ := f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
	try := func(pw, client string) error {
		_, err := f.svc.Authenticate(t.Context(), reg, basic("contoso", pw), client)
		return err
	}
	for range 3 {
		if err := try("wrong", "192.0.2.1"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("failure: %v", err)
		}
	}
	var tooMany *TooManyError
	if err := try(adminPassword, "192.0.2.1"); !errors.As(err, &tooMany) || tooMany.RetryAfter <= 0 {
		t.Fatalf("after 3 failures: %v, want TooManyError", err)
	}
	// The username is limited from any address too, until its bucket refills.
	if err := try(adminPassword, "198.51.100.7"); !errors.Is(err, ErrTooManyAttempts) {
		t.Errorf("same user from another address: %v", err)
	}
	f.now = f.now.Add(tooMany.RetryAfter + time.Second)
	if err := try(adminPassword, "192.0.2.1"); err != nil {
		t.Errorf("after the wait the owner signs in: %v", err)
	}
	// The token endpoint answers 429 with Retry-After.
	for range 4 {
		f.tokenRequest(t, http.MethodGet, "/oauth2/token", url.Values{}, basic("contoso", "wrong"))
	}
	w := f.tokenRequest(t, http.MethodGet, "/oauth2/token", url.Values{}, basic("contoso", "wrong"))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("token endpoint after failures: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestPayloadIsStdBase64Clean(t *testing.T) {
	t.Parallel()
	for _, subject := range []string{"a?b?c?d?e?f?g?h", "~~~~~~~~~~~~", "x>y<z&", "José 😀"} {
		c := newClaims("ls", "rid", subject, grantRefresh, time.Unix(1700000000, 0), time.Hour)
		b, err := encodeClaims(&c)
		if err != nil {
			t.Fatalf("%q: %v", subject, err)
		}
		if strings.ContainsAny(base64.RawURLEncoding.EncodeToString(b), "-_") {
			t.Errorf("%q: payload has URL-safe base64 characters", subject)
		}
		var back Claims
		if err := json.Unmarshal(b, &back); err != nil || back.Subject != subject {
			t.Errorf("%q: decodes to %q, %v", subject, back.Subject, err)
		}
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	pull := access.RepositoryScope("library/hello-world", access.MetadataRead)
	for _, tt := range []struct {
		scope   *access.Scope
		invalid bool
		want    string
	}{
		{nil, false, `Bearer realm="https://r.example/oauth2/token",service="r.example"`},
		{&pull, true, `Bearer realm="https://r.example/oauth2/token",service="r.example",scope="repository:library/hello-world:metadata_read",error="invalid_token"`},
	} {
		if got := Challenge("r.example", tt.scope, tt.invalid); got != tt.want {
			t.Errorf("Challenge = %s\nwant       %s", got, tt.want)
		}
	}
}

func TestCheckNetwork(t *testing.T) {
	t.Parallel()
	rules := meta.RegistrySettings{PublicNetworkAccess: true, NetworkDefaultAction: "Deny", IPRules: []string{"10.1.0.0/16", "192.0.2.7"}}
	for _, tt := range []struct {
		settings meta.RegistrySettings
		client   string
		ok       bool
	}{
		{meta.RegistrySettings{PublicNetworkAccess: true, NetworkDefaultAction: "Allow"}, "203.0.113.1", true},
		{meta.RegistrySettings{PublicNetworkAccess: false, NetworkDefaultAction: "Allow"}, "203.0.113.1", false},
		{rules, "10.1.2.3", true},
		{rules, "192.0.2.7", true},
		{rules, "::ffff:192.0.2.7", true},
		{rules, "192.0.2.8", false},
		{rules, "not-an-ip", false},
	} {
		err := CheckNetwork(&meta.Registry{Settings: tt.settings}, tt.client)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrDenied)) {
			t.Errorf("%+v from %s: %v, want ok=%v", tt.settings, tt.client, err, tt.ok)
		}
	}
}

// TestRecordsCachedBetweenChanges shows the cache at work: a record changed behind the
// store's back (no epoch move) is still served from memory, and the epoch's move makes
// the next request read it again.
func TestRecordsCachedBetweenChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reg, _ := f.store.RegistryByLoginServer(t.Context(), f.store.reg.LoginServer)
	authz := basic("puller", tokenPassword)
	if _, err := f.svc.Authenticate(t.Context(), reg, authz, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	f.store.mu.Lock()
	f.store.tokens["puller"].Enabled = false // no epoch move
	f.store.mu.Unlock()
	if _, err := f.svc.Authenticate(t.Context(), reg, authz, "192.0.2.1"); err != nil {
		t.Errorf("unchanged epoch: cached token refused: %v", err)
	}
	f.store.epoch.Add(1)
	if _, err := f.svc.Authenticate(t.Context(), reg, authz, "192.0.2.1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("after the epoch moved: %v, want ErrUnauthorized", err)
	}
}

// TestTokenRefusalsAudited: a refused sign-in at the token endpoints is recorded with the
// name it claimed, never with what it presented.
func TestTokenRefusalsAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := &recorder{}
	f.svc.opts.Audit = rec
	svc := url.Values{"service": {f.store.reg.LoginServer}}
	f.tokenRequest(t, http.MethodGet, "/oauth2/token", svc, basic("contoso", "wrong-password"))
	form := url.Values{"service": svc["service"], "grant_type": {"password"}, "username": {"puller"}, "password": {"nope"}}
	f.tokenRequest(t, http.MethodPost, "/oauth2/token", form, "")
	form = url.Values{"service": svc["service"], "grant_type": {"refresh_token"}, "refresh_token": {"garbage"}}
	f.tokenRequest(t, http.MethodPost, "/oauth2/token", form, "")
	got := rec.all()
	want := []string{"unverified:contoso", "unverified:puller", "unverified:refresh-token"}
	if len(got) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		if e.Principal != want[i] || e.Allowed {
			t.Errorf("event %d: %+v, want a denial for %s", i, e, want[i])
		}
		if strings.Contains(e.Principal, "wrong-password") || strings.Contains(e.Principal, "nope") {
			t.Errorf("event %d holds a password: %+v", i, e)
		}
	}
}
