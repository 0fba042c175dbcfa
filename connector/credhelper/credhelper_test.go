package credhelper

import (
	"bytes"
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
	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/vault"
)

type fakeCred struct{}

func (fakeCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "entra", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func jwt(exp time.Time) string {
	b, _ := json.Marshal(map[string]any{"exp": exp.Unix(), "jti": fmt.Sprint(time.Now().UnixNano())})
	return "e30." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

// TestNoStampede: many helpers (as many docker processes) asking at once sign in once,
// and a stale cache is refreshed once.
func TestNoStampede(t *testing.T) {
	var exchanges atomic.Int64
	var host string
	now := time.Now()
	var clock sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, host, host))
			w.WriteHeader(http.StatusUnauthorized)
		case "/oauth2/exchange":
			exchanges.Add(1)
			time.Sleep(50 * time.Millisecond) // a slow sign-in widens the race
			clock.Lock()
			exp := now.Add(3 * time.Hour)
			clock.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]string{"refresh_token": jwt(exp)})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host = strings.TrimPrefix(srv.URL, "https://")

	key := vault.StaticKey(bytes.Repeat([]byte{9}, 32))
	store, err := connector.OpenStore(t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	conn := connector.Connection{Name: "c", Cloud: connector.CustomCloud("x", srv.URL, srv.URL, "", "example.test", ""),
		Credential: connector.Credential{Kind: connector.ServicePrincipalSecret, TenantID: "t", ClientID: "c"}, Registries: []string{host}}
	if err := store.Add(conn, connector.Secrets{ClientSecret: "s"}); err != nil {
		t.Fatal(err)
	}
	anon := connector.Connection{Name: "anon", Cloud: conn.Cloud, Credential: connector.Credential{Kind: connector.Anonymous},
		Registries: []string{"public.example.test"}}
	if err := store.Add(anon, connector.Secrets{}); err != nil {
		t.Fatal(err)
	}
	newHelper := func() *Helper {
		h := New(store, key, connector.WithHTTPClient(srv.Client()), connector.WithCredential(fakeCred{}))
		h.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
		return h
	}
	getAll := func() []string {
		var wg sync.WaitGroup
		out := make([]string, 16)
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user, secret, err := newHelper().Get("https://" + host)
				if err != nil || user != TokenUsername {
					t.Errorf("get: %q %v", user, err)
				}
				out[i] = secret
			}()
		}
		wg.Wait()
		return out
	}
	first := getAll()
	if n := exchanges.Load(); n != 1 {
		t.Fatalf("16 concurrent gets: %d exchanges, want 1", n)
	}
	for _, s := range first {
		if s != first[0] {
			t.Fatal("different tokens")
		}
	}
	// Within 10 minutes of expiry the cached token is refreshed, once.
	clock.Lock()
	now = now.Add(2*time.Hour + 51*time.Minute)
	clock.Unlock()
	second := getAll()
	if n := exchanges.Load(); n != 2 || second[0] == first[0] {
		t.Fatalf("after expiry: %d exchanges", n)
	}
	// Other hosts, and hosts of anonymous connections, are "not found".
	for _, other := range []string{"other.example", "public.example.test", host + ".evil.example"} {
		if _, _, err := newHelper().Get(other); !credentials.IsErrCredentialsNotFound(err) {
			t.Errorf("get %s: %v", other, err)
		}
	}
	list, err := newHelper().List()
	if err != nil || len(list) != 1 || list[host] != TokenUsername {
		t.Errorf("list %v %v", list, err)
	}
	if err := newHelper().Add(&credentials.Credentials{ServerURL: host}); err == nil {
		t.Error("store accepted")
	}
	if err := newHelper().Delete(host); err != nil {
		t.Fatal(err)
	}
	newHelper().Get(host)
	if n := exchanges.Load(); n != 3 {
		t.Errorf("after erase: %d exchanges, want 3", n)
	}
}
