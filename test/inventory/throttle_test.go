package inventory

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/inventory"
)

// throttler is a reverse proxy in front of the server that answers every nth registry or
// token request 429 with Retry-After: 1, at most budget times, and measures how long
// each throttled request took to come back.
type throttler struct {
	srv    *httptest.Server
	every  int
	budget int

	mu        sync.Mutex
	seen      int
	throttled map[string]time.Time // method and URI → when it was refused
	waits     []time.Duration      // refusal → the same request again
}

func newThrottler(t testing.TB, f *fixture, every, budget int) *throttler {
	t.Helper()
	target, _ := url.Parse(f.cloud.Srv.URL)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
		Transport: f.cloud.Srv.Transport(),
	}
	th := &throttler{every: every, budget: budget, throttled: map[string]time.Time{}}
	th.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if th.refuse(r) {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"throttled by the test proxy"}]}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	th.srv.StartTLS()
	t.Cleanup(th.srv.Close)
	return th
}

// refuse decides on one request and notes its timing.
func (th *throttler) refuse(r *http.Request) bool {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/v2/") && !strings.HasPrefix(p, "/acr/v1/") && p != "/oauth2/token" {
		return false // Entra and ARM pass untouched
	}
	key := r.Method + " " + r.URL.RequestURI()
	now := time.Now()
	th.mu.Lock()
	defer th.mu.Unlock()
	if at, ok := th.throttled[key]; ok {
		th.waits = append(th.waits, now.Sub(at))
		delete(th.throttled, key)
	}
	th.seen++
	if th.seen%th.every != 0 || th.budget == 0 {
		return false
	}
	th.budget--
	th.throttled[key] = now
	return true
}

// transport reaches the server's login server through the proxy, trusting both.
func (th *throttler) transport(f *fixture) *http.Transport {
	tr := f.cloud.Srv.Transport()
	pool := f.cloud.Srv.CAPool.Clone()
	pool.AddCert(th.srv.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	proxyAddr, host := th.srv.Listener.Addr().String(), f.cloud.Srv.Host
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == host {
			addr = proxyAddr
		}
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

// TestThrottled inventories through a proxy that throttles every 4th request, 8 times:
// the crawl completes, has every record an unthrottled crawl has, and each refused
// request was sent again only after its Retry-After.
func TestThrottled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	direct := f.session(t, f.conn)
	seed(t, newPusher(t, direct, f.cloud.Srv.Host))
	baseline := run(t, direct, inventory.Options{PageSize: 5}, nil)
	baseline.noErrors(t)

	const budget = 8
	th := newThrottler(t, f, 4, budget)
	throttled := f.session(t, f.conn, connector.WithHTTPClient(&http.Client{Transport: th.transport(f)}))
	got := run(t, throttled, inventory.Options{PageSize: 5}, nil)
	got.noErrors(t)
	t.Logf("throttled crawl: %s, %d requests (%d throttled, %d retried), %d token requests",
		got.elapsed, got.stats.Requests, got.stats.Throttled, got.stats.Retries, got.stats.TokenRequests)

	var want, have []string
	for _, r := range baseline.records {
		want = append(want, keyOf(r))
	}
	for _, r := range got.records {
		have = append(have, keyOf(r))
	}
	slices.Sort(want)
	slices.Sort(have)
	if d := cmp.Diff(want, have); d != "" {
		t.Errorf("throttled crawl's records differ from the unthrottled one's (-want +got):\n%s", d)
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.budget != 0 || got.stats.Throttled != budget || got.stats.Retries != budget {
		t.Errorf("proxy refused %d requests, client saw %d and retried %d; want %d each",
			budget-th.budget, got.stats.Throttled, got.stats.Retries, budget)
	}
	if len(th.waits) != budget || len(th.throttled) != 0 {
		t.Errorf("%d refused requests came back (%d never did); want %d", len(th.waits), len(th.throttled), budget)
	}
	for _, w := range th.waits {
		if w < 950*time.Millisecond {
			t.Errorf("a throttled request came back after %s, before its Retry-After of 1s", w)
		}
	}
	if got.elapsed < time.Second {
		t.Errorf("throttled crawl took %s: it cannot have waited", got.elapsed)
	}
}
