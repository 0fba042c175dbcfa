package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// fakeClock is a clock the test moves; sleeps advance it and are recorded.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// fakeJWT makes an unsigned JWT-shaped token (the connector never verifies: the registry does).
func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(b) + ".c2ln"
}

// fakeRegistry mimics ACR's token service and a little of /v2 (acr-protocol.md §1).
type fakeRegistry struct {
	t     *testing.T
	srv   *httptest.Server
	clock *fakeClock
	host  string
	realm string // overrides the challenge realm when set

	mu          sync.Mutex
	throttle    int // answer this many more registry requests with 429
	exchanges   int
	tokenReqs   int
	basicUsers  []string // Authorization users seen on GET /oauth2/token ("" anonymous)
	refreshOK   bool     // refresh tokens are accepted on /oauth2/token
	granted     func(scope string) bool
	entraTokens []string // access_token values posted to /oauth2/exchange
}

func newFakeRegistry(t *testing.T, clock *fakeClock) *fakeRegistry {
	f := &fakeRegistry{t: t, clock: clock, refreshOK: true, granted: func(string) bool { return true }}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.host = strings.TrimPrefix(f.srv.URL, "https://")
	return f
}

func (f *fakeRegistry) challenge(w http.ResponseWriter, scope string) {
	realm := "https://" + f.host + "/oauth2/token"
	if f.realm != "" {
		realm = f.realm
	}
	h := fmt.Sprintf(`Bearer realm="%s",service="%s"`, realm, f.host)
	if scope != "" {
		h += fmt.Sprintf(`,scope="%s"`, scope)
	}
	w.Header().Set("Www-Authenticate", h)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
}

func (f *fakeRegistry) accessToken(scopes []string) string {
	var access []Access
	for _, s := range scopes {
		if !f.granted(s) {
			continue
		}
		typ, name, acts, _ := splitScope(s)
		access = append(access, Access{Type: typ, Name: name, Actions: acts})
	}
	now := f.clock.Now()
	return fakeJWT(map[string]any{"iat": now.Unix(), "exp": now.Add(75 * time.Minute).Unix(), "access": access, "grant_type": "access_token"})
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = r.ParseForm()
	switch {
	case r.URL.Path == "/oauth2/exchange":
		f.exchanges++
		f.entraTokens = append(f.entraTokens, r.PostForm.Get("access_token"))
		now := f.clock.Now()
		_ = json.NewEncoder(w).Encode(map[string]string{"refresh_token": fakeJWT(map[string]any{
			"iat": now.Unix(), "exp": now.Add(3 * time.Hour).Unix(), "grant_type": "refresh_token"})})
	case r.URL.Path == "/oauth2/token" && r.Method == http.MethodPost:
		f.tokenReqs++
		if !f.refreshOK {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": f.accessToken(strings.Fields(r.PostForm.Get("scope")))})
	case r.URL.Path == "/oauth2/token":
		f.tokenReqs++
		user, _, _ := r.BasicAuth()
		f.basicUsers = append(f.basicUsers, user)
		body := map[string]any{"access_token": f.accessToken(r.Form["scope"])}
		if r.Form.Get("offline_token") == "true" && user != "" {
			body["refresh_token"] = fakeJWT(map[string]any{"exp": f.clock.Now().Add(3 * time.Hour).Unix()})
		}
		_ = json.NewEncoder(w).Encode(body)
	case r.URL.Path == "/v2/":
		if r.Header.Get("Authorization") == "" {
			f.challenge(w, "")
			return
		}
		_, _ = w.Write([]byte("{}"))
	case strings.HasSuffix(r.URL.Path, "/tags/list"):
		if f.throttle > 0 {
			f.throttle--
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
		claims, err := DecodeClaims(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		ok := err == nil && Token{Access: claims.Access}.Grants("repository", repo, "pull") && f.clock.Now().Unix() < claims.Expiry
		if !ok {
			f.challenge(w, "repository:"+repo+":pull")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": []string{"v1"}})
	default:
		http.NotFound(w, r)
	}
}

// fakeCredential is an Entra credential that hands out JWT-shaped tokens.
type fakeCredential struct {
	calls  atomic.Int64
	scopes []string
	mu     sync.Mutex
	err    error
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	aud := strings.TrimSuffix(o.Scopes[0], "/.default")
	return azcore.AccessToken{Token: fakeJWT(map[string]any{"aud": aud, "tid": "tenant-1", "oid": "object-1"}),
		ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// open opens a session of kind against the fake registry.
func (f *fakeRegistry) open(t *testing.T, kind CredentialKind, opts ...Option) (*Session, *fakeCredential) {
	t.Helper()
	conn := &Connection{Name: "test", Cloud: CustomCloud("fake", f.srv.URL, f.srv.URL, "", "example.test", ""),
		Credential: Credential{Kind: kind, TenantID: "tenant-1", ClientID: "client-1", Username: "user"},
		Registries: []string{f.host}}
	sec := Secrets{ClientSecret: "secret", Password: "password"}
	cred := &fakeCredential{}
	opts = append([]Option{WithHTTPClient(f.srv.Client()), WithClock(f.clock.Now, f.clock.Sleep), WithCredential(cred)}, opts...)
	s, err := Open(t.Context(), conn, sec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, cred
}
