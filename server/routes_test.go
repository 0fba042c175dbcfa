package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// fakeBlobs answers Stat with err; other methods are not called by the server itself.
type fakeBlobs struct {
	blob.Store
	err error
}

func (f fakeBlobs) Stat(context.Context, digest.Digest) (blob.Info, error) { return blob.Info{}, f.err }

// fakeMeta answers Repositories with err.
type fakeMeta struct {
	meta.Store
	err error
}

func (f fakeMeta) Repositories(context.Context, string, string, int) ([]string, error) {
	return nil, f.err
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	down := errors.New("disk on fire")
	tests := []struct {
		name       string
		method     string
		path       string
		blobErr    error
		metaErr    error
		wantStatus int
		wantBody   string
		wantRoute  string
	}{
		{"healthz", "GET", "/healthz", down, down, 200, `"status":"ok"`, "healthz"},
		{"readyz", "GET", "/readyz", blob.ErrNotFound, nil, 200, `"status":"ok"`, "readyz"},
		{"readyz blob store down", "GET", "/readyz", down, nil, 503, `"code":"UNAVAILABLE"`, "readyz"},
		{"readyz metadata down", "GET", "/readyz", blob.ErrNotFound, down, 503, `"code":"UNAVAILABLE"`, "readyz"},
		{"unknown path", "GET", "/nowhere", nil, nil, 404, `"code":"NOT_FOUND"`, "other"},
		{"health by POST", "POST", "/healthz", nil, nil, 404, `"code":"NOT_FOUND"`, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, logs := newTestServer()
			s.blobs, s.meta = fakeBlobs{err: tt.blobErr}, fakeMeta{err: tt.metaErr}
			s.registry = registry.New(registry.Options{Blobs: s.blobs, Meta: s.meta})
			rec := httptest.NewRecorder()
			s.routes().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))

			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("response %d %s, want %d with %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if strings.Contains(rec.Body.String(), "fire") {
				t.Error("an internal error detail reached the client")
			}
			if lines := logLines(t, logs, "request"); len(lines) != 1 || lines[0]["route"] != tt.wantRoute {
				t.Errorf("request log lines %v, want one with route %s", lines, tt.wantRoute)
			}
		})
	}
}

func TestWriteErrorLogsServerErrors(t *testing.T) {
	t.Parallel()
	s, logs := newTestServer()
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest(http.MethodGet, "/", nil), errors.New("detail"))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	if lines := logLines(t, logs, "request failed"); len(lines) != 1 || lines[0]["err"] != "detail" {
		t.Errorf("error log lines %v", lines)
	}
}

func TestLoginServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hosts []string
		addr  string
		want  string
	}{
		{nil, "127.0.0.1:5443", "127.0.0.1:5443"},
		{nil, "0.0.0.0:5443", "localhost:5443"},
		{nil, "[::]:5443", "localhost:5443"},
		{nil, "[::1]:5443", "[::1]:5443"},
		{[]string{"reg.test", "other.test"}, "0.0.0.0:5443", "reg.test:5443"},
		{[]string{"reg.test"}, "0.0.0.0:443", "reg.test"},
		{[]string{"reg.test:8443"}, "0.0.0.0:5443", "reg.test:8443"},
		{[]string{"fd00::7"}, "[::]:5443", "[fd00::7]:5443"},
		{[]string{"[fd00::7]"}, "[::]:5443", "[fd00::7]:5443"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := loginServer(tt.hosts, addr); got != tt.want {
			t.Errorf("loginServer(%q, %s) = %q, want %q", tt.hosts, tt.addr, got, tt.want)
		}
	}
}

func TestHostNames(t *testing.T) {
	t.Parallel()
	got := hostNames([]string{"reg.test:8443", "fd00::7", "[fd00::8]:1", "10.0.0.1"})
	want := []string{"reg.test", "fd00::7", "fd00::8", "10.0.0.1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hostNames = %q, want %q", got, want)
	}
}
