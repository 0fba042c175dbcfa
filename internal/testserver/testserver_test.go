package testserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

func get(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestServeStopRestart(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)

	for _, path := range []string{"/healthz", "/readyz", "/v2/"} {
		resp := get(t, s.Client, s.URL+path)
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("GET %s: %d over %s, want 200 over HTTP/2", path, resp.StatusCode, resp.Proto)
		}
		if resp.Header.Get("X-Request-Id") == "" ||
			resp.Header.Get("X-Request-Id") != resp.Header.Get("X-Ms-Correlation-Request-Id") {
			t.Errorf("GET %s: request id headers %v", path, resp.Header)
		}
	}
	if s.CAFile != filepath.Join(s.DataDir, "tls", "ca.pem") {
		t.Errorf("CAFile = %q", s.CAFile)
	}
	if s.Host != strings.TrimPrefix(s.URL, "https://") {
		t.Errorf("Host %q, URL %q: want the listen address as login server", s.Host, s.URL)
	}
	// Without the CA, verification must fail: the server is not trusted by accident.
	if _, err := (&http.Client{}).Get(s.URL + "/healthz"); err == nil || !isUnknownAuthority(err) {
		t.Errorf("GET without the CA: %v, want an unknown-authority error", err)
	}
	metrics := get(t, http.DefaultClient, s.MetricsURL)
	if metrics.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d", s.MetricsURL, metrics.StatusCode)
	}

	url := s.URL
	s.Stop(t) // fails the test unless the exit is 0
	if _, err := os.Stat(filepath.Join(s.DataDir, "run", "serve.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run file after shutdown: %v, want it removed", err)
	}

	s.Restart(t)
	if s.URL != url {
		t.Errorf("after restart URL %s, want %s", s.URL, url)
	}
	if resp := get(t, s.Client, s.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz after restart: %d", resp.StatusCode)
	}

	// A crash leaves the run file behind; the next start must still come up.
	s.Kill(t)
	s.Restart(t)
	if resp := get(t, s.Client, s.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz after kill and restart: %d", resp.StatusCode)
	}
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

func TestHostNameInCertificate(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, "--host", "reg.test")
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	if s.Host != "reg.test:"+port {
		t.Errorf("Host = %q, want reg.test:%s", s.Host, port)
	}
	// Dial the listener but verify the certificate for the login server's name, as a
	// client that resolves reg.test would.
	tr := s.Transport()
	tr.TLSClientConfig.ServerName = "reg.test"
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.URL, "https://"), tr.TLSClientConfig)
	if err != nil {
		t.Fatalf("TLS as reg.test: %v", err)
	}
	conn.Close()
}

// TestShutdownFinishesInFlightRequests holds an upload request open across SIGTERM: the
// server must stop accepting yet complete the request before it exits.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	resp, err := s.Client.Post(s.URL+"/v2/test/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %d", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}

	body, feed := io.Pipe()
	req, err := http.NewRequest(http.MethodPatch, loc.String(), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	result := make(chan *http.Response, 1)
	go func() {
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Error(err)
		}
		result <- resp
	}()
	if _, err := feed.Write([]byte("first half;")); err != nil {
		t.Fatal(err)
	}
	// Until a handler runs, an HTTP/2 stream may fall outside the server's GOAWAY and
	// rightly fail; wait until the upload is being served.
	if !awaitMetric(s.MetricsURL, "cerulean_http_requests_in_flight 1") {
		t.Fatal("the upload never reached a handler")
	}
	go func() { // completes the body once the server has stopped accepting
		if !awaitRefused(strings.TrimPrefix(s.URL, "https://")) {
			t.Error("server kept accepting connections after SIGTERM")
		}
		_, _ = feed.Write([]byte("second half"))
		feed.Close()
	}()

	s.Stop(t) // fails the test unless the exit is 0
	if resp := <-result; resp == nil || resp.StatusCode != http.StatusAccepted {
		t.Errorf("in-flight upload across shutdown: %v, want 202", resp)
	} else {
		resp.Body.Close()
	}
}

// awaitMetric reports whether the exposition at url came to contain line within a bound.
func awaitMetric(url, line string) bool {
	return await(func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\n"+line+"\n")
	})
}

// awaitRefused reports whether addr came to refuse connections (the server began shutting
// down) within a bound.
func awaitRefused(addr string) bool {
	return await(func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

// await polls cond until it holds or 30 seconds passed, and reports whether it held.
func await(cond func() bool) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}

func TestGC(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	out, err := s.Run(t, "gc", "--data", s.DataDir, "--dry-run", "--untagged")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "would remove 0 manifests, 0 blobs, 0 bytes") {
		t.Errorf("gc output %q", out)
	}
	if _, err := s.Run(t, "gc", "--data", filepath.Join(s.DataDir, "absent")); err == nil {
		t.Error("gc on a missing data directory succeeded")
	}
}
