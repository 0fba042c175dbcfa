package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// TestClientSignIn checks how the bench's clients sign in: by default one token request
// (GET /oauth2/token with Basic credentials, the service and every scope) while warming,
// then that bearer token on every request; with basic, the Basic credentials on every
// request and no token request.
func TestClientSignIn(t *testing.T) {
	var mu sync.Mutex
	var seen []string // "path Authorization"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/oauth2/token" {
			user, pass, ok := r.BasicAuth()
			q := r.URL.Query()
			if !ok || user != "owner" || pass != "secret" || q.Get("service") != "reg.test" ||
				!slices.Equal(q["scope"], []string{"repository:a:pull,push", "repository:b:pull"}) {
				http.Error(w, "bad token request "+r.URL.RawQuery, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token":"tok","access_token":"tok","expires_in":4500}`))
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	creds := credentials{service: "reg.test", user: "owner", password: "secret", scopes: []string{"repository:a:pull,push", "repository:b:pull"}}
	const basic = "Basic b3duZXI6c2VjcmV0" // owner:secret

	for _, tc := range []struct {
		name  string
		basic bool
		want  []string
	}{
		{"bearer", false, []string{"/ ", "/oauth2/token " + basic, "/x Bearer tok", "/x Bearer tok"}},
		{"basic", true, []string{"/ ", "/x " + basic, "/x " + basic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			c := creds
			c.basic = tc.basic
			ctx := context.Background()
			cs, err := newClients(ctx, 1, endpoint{base: srv.URL, roots: roots, auth: &c}, false)
			if err != nil {
				t.Fatal(err)
			}
			defer closeClients(cs)
			for range 2 {
				if err := cs[0].fetch(ctx, "/x", 2); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(seen, tc.want) {
				t.Errorf("requests\n%q\nwant\n%q", seen, tc.want)
			}
		})
	}
}
