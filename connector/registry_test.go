package connector

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, c *RegistryClient, path string, scopes ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	resp, err := c.Do(t.Context(), req, scopes...)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func registry(t *testing.T, s *Session, host string) *RegistryClient {
	t.Helper()
	c, err := s.Registry(t.Context(), host)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenCache: one exchange and one access token serve many requests; the access
// token is renewed shortly before it expires, the refresh token too.
func TestTokenCache(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	s, cred := f.open(t, ServicePrincipalSecret)
	c := registry(t, s, f.host)
	for range 10 {
		if got := get(t, c, "/v2/repo/tags/list", "repository:repo:pull"); got != 200 {
			t.Fatalf("status %d", got)
		}
	}
	st := c.Stats()
	if st.Exchanges != 1 || st.TokenRequests != 1 || st.Requests != 11 || cred.calls.Load() != 1 {
		t.Fatalf("after 10 requests: %+v, entra calls %d", st, cred.calls.Load())
	}
	// The same scopes in another order and spelling are the same set.
	get(t, c, "/v2/repo/tags/list", "repository:repo:pull repository:repo:pull")
	if c.Stats().TokenRequests != 1 {
		t.Fatalf("scope set not canonical: %+v", c.Stats())
	}
	// 69 minutes on, the 75-minute token is still used; at 71 it is renewed (5 min early).
	clock.Advance(69 * time.Minute)
	get(t, c, "/v2/repo/tags/list", "repository:repo:pull")
	if c.Stats().TokenRequests != 1 {
		t.Fatalf("renewed too early: %+v", c.Stats())
	}
	clock.Advance(2 * time.Minute)
	get(t, c, "/v2/repo/tags/list", "repository:repo:pull")
	if st := c.Stats(); st.TokenRequests != 2 || st.Exchanges != 1 {
		t.Fatalf("not renewed before expiry: %+v", st)
	}
	// The 3-hour refresh token is exchanged again before it expires.
	clock.Advance(105 * time.Minute) // 2h56m after the exchange
	get(t, c, "/v2/repo/tags/list", "repository:repo:pull")
	if st := c.Stats(); st.Exchanges != 2 || st.TokenRequests != 3 {
		t.Fatalf("refresh token not renewed: %+v", st)
	}
	if cred.scopes[0] != "https://containerregistry.azure.net/.default" {
		t.Errorf("Entra scope %q", cred.scopes[0])
	}
}

// TestChallengeRenewal: a 401 naming a scope the token lacks fetches one fresh token for
// the union of scopes.
func TestChallengeRenewal(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	s, _ := f.open(t, ServicePrincipalSecret)
	c := registry(t, s, f.host)
	if got := get(t, c, "/v2/other/tags/list", "repository:repo:pull"); got != 200 {
		t.Fatalf("status %d", got)
	}
	st := c.Stats()
	if st.ChallengeRenewals != 1 || st.TokenRequests != 2 {
		t.Fatalf("%+v", st)
	}
	tok, err := c.AccessToken(t.Context(), "repository:repo:pull", "repository:other:pull")
	if err != nil || !tok.Grants("repository", "other", "pull") || c.Stats().TokenRequests != 2 {
		t.Fatalf("union token not cached: %v %+v", err, c.Stats())
	}
	// A scope the registry will not grant: one renewal, then the 401 is returned.
	f.granted = func(s string) bool { return s != "repository:secret:pull" }
	if got := get(t, c, "/v2/secret/tags/list", "repository:secret:pull"); got != 401 {
		t.Fatalf("status %d, want 401", got)
	}
	if st := c.Stats(); st.ChallengeRenewals != 2 {
		t.Fatalf("%+v", st)
	}
}

// TestRevokedRefreshToken: a refresh token refused at /oauth2/token is exchanged once more.
func TestRevokedRefreshToken(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	s, _ := f.open(t, ServicePrincipalSecret)
	c := registry(t, s, f.host)
	f.refreshOK = false
	_, err := c.AccessToken(t.Context(), "repository:repo:pull")
	var te *TokenError
	if !errors.As(err, &te) || te.Status != 401 || te.Code != "UNAUTHORIZED" {
		t.Fatalf("err %v", err)
	}
	if st := c.Stats(); st.Exchanges != 2 || st.TokenRequests != 2 {
		t.Fatalf("%+v", st)
	}
}

// TestHostChecks: no credential goes to a host the challenge or the connection does not name.
func TestHostChecks(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	f.realm = "https://login.evil.example/oauth2/token"
	s, cred := f.open(t, ServicePrincipalSecret)
	c := registry(t, s, f.host)
	req, _ := http.NewRequest(http.MethodGet, "/v2/repo/tags/list", nil)
	_, err := c.Do(t.Context(), req, "repository:repo:pull")
	var ce *ChallengeError
	if !errors.Is(err, ErrChallengeHostMismatch) || !errors.As(err, &ce) || ce.Realm != f.realm {
		t.Fatalf("err %v", err)
	}
	if cred.calls.Load() != 0 || f.exchanges != 0 {
		t.Fatalf("Entra token requested (%d) or sent (%d) despite the mismatch", cred.calls.Load(), f.exchanges)
	}
	for _, realm := range []string{
		"https://" + f.host + ".evil.example/oauth2/token", // suffix trick
		"http://" + f.host + "/oauth2/token",               // not https
		"https://x" + f.host + "/oauth2/token",
	} {
		f.realm = realm
		s, _ := f.open(t, AdminUser)
		if err := registry(t, s, f.host).Check(t.Context()); !errors.Is(err, ErrChallengeHostMismatch) {
			t.Errorf("realm %s: %v", realm, err)
		}
	}
	f.realm = ""
	// Absolute URLs must name the login server.
	req, _ = http.NewRequest(http.MethodGet, "https://elsewhere.example/v2/", nil)
	if _, err := c.Do(t.Context(), req); !errors.Is(err, ErrHostNotAllowed) {
		t.Errorf("other host: %v", err)
	}
	// The session refuses hosts the connection does not cover...
	for _, h := range []string{"myreg.azurecr.io", "myreg.example.test.evil.com", "a.b.example.test"} {
		if _, err := s.Registry(t.Context(), h); !errors.Is(err, ErrHostNotAllowed) {
			t.Errorf("Registry(%s): %v", h, err)
		}
	}
	// ...but covers NAME.<ACR suffix> for Entra kinds.
	if !s.Covers("team1.example.test") {
		t.Error("team1.example.test not covered")
	}
	admin, _ := f.open(t, AdminUser)
	if admin.Covers("team1.example.test") {
		t.Error("admin credentials cover a registry they do not belong to")
	}
}

// TestThrottling: 429 with Retry-After is waited out and retried, with the wait shared.
func TestThrottling(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	s, _ := f.open(t, ServicePrincipalSecret, WithRetry(3, 10*time.Second))
	c := registry(t, s, f.host)
	f.throttle = 2
	if got := get(t, c, "/v2/repo/tags/list", "repository:repo:pull"); got != 200 {
		t.Fatalf("status %d", got)
	}
	if st := c.Stats(); st.Throttled != 2 || st.Retries != 2 {
		t.Fatalf("%+v", st)
	}
	if len(clock.sleeps) != 2 || clock.sleeps[0] != 2*time.Second {
		t.Fatalf("sleeps %v", clock.sleeps)
	}
	// Bounded: more 429s than retries return the 429.
	f.throttle = 10
	if got := get(t, c, "/v2/repo/tags/list", "repository:repo:pull"); got != 429 {
		t.Fatalf("status %d, want 429 after 3 retries", got)
	}
}

// TestConcurrentTokens: concurrent requests for one scope set share one token request.
func TestConcurrentTokens(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	s, _ := f.open(t, ServicePrincipalSecret)
	c := registry(t, s, f.host)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.AccessToken(t.Context(), "repository:repo:pull"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.TokenRequests != 1 || st.Exchanges != 1 {
		t.Fatalf("%+v", st)
	}
}

// TestBasicKinds: admin user and repository tokens use GET /oauth2/token with Basic,
// anonymous without credentials; refresh tokens come with offline_token.
func TestBasicKinds(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	for _, kind := range []CredentialKind{AdminUser, RepositoryToken, Anonymous} {
		s, _ := f.open(t, kind)
		c := registry(t, s, f.host)
		if got := get(t, c, "/v2/repo/tags/list", "repository:repo:pull"); got != 200 {
			t.Fatalf("%s: status %d", kind, got)
		}
		_, err := c.RefreshToken(t.Context())
		if kind == Anonymous && !errors.Is(err, ErrNoRefreshToken) || kind != Anonymous && err != nil {
			t.Errorf("%s: refresh token: %v", kind, err)
		}
	}
	want := []string{"user", "user", "user", "user", ""}
	if len(f.basicUsers) != len(want) {
		t.Fatalf("token requests by %q", f.basicUsers)
	}
	for i := range want {
		if f.basicUsers[i] != want[i] {
			t.Fatalf("token requests by %q, want %q", f.basicUsers, want)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	ch := ParseChallenge(`Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:a/b:pull,push repository:c:pull",error="invalid_token"`)
	if ch.Scheme != "Bearer" || ch.Realm != "https://r.azurecr.io/oauth2/token" || ch.Service != "r.azurecr.io" ||
		len(ch.Scope) != 2 || ch.Scope[0] != "repository:a/b:pull,push" || ch.Error != "invalid_token" {
		t.Errorf("%+v", ch)
	}
	if !holds([]string{"repository:a/b:pull,push"}, "repository:a/b:push") || holds([]string{"repository:a/b:pull"}, "repository:a/b:push") ||
		!holds([]string{"registry:catalog:*"}, "registry:catalog:*") {
		t.Error("holds")
	}
}

// TestPrefetch: one token for a batch of scopes serves requests for each of them.
func TestPrefetch(t *testing.T) {
	clock := newFakeClock()
	f := newFakeRegistry(t, clock)
	s, _ := f.open(t, ServicePrincipalSecret)
	c := registry(t, s, f.host)
	if err := c.Prefetch(t.Context(), "repository:a:pull", "repository:b:pull,metadata_read", "repository:c:pull"); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"a", "b", "c"} {
		if got := get(t, c, "/v2/"+repo+"/tags/list", "repository:"+repo+":pull"); got != 200 {
			t.Fatalf("%s: %d", repo, got)
		}
	}
	if st := c.Stats(); st.TokenRequests != 1 {
		t.Fatalf("%+v", st)
	}
	// A scope outside the batch gets its own token.
	get(t, c, "/v2/d/tags/list", "repository:d:pull")
	if st := c.Stats(); st.TokenRequests != 2 {
		t.Fatalf("%+v", st)
	}
}
