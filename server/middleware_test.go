package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/observe"
)

// newTestServer returns a Server with metrics and a JSON log into the returned buffer, and
// no stores.
func newTestServer() (*Server, *bytes.Buffer) {
	var logs bytes.Buffer
	log := slog.New(observe.Handler(slog.NewJSONHandler(&logs, nil)))
	return &Server{log: log, metrics: newMetrics()}, &logs
}

// logLines decodes the JSON log records with message msg.
func logLines(t *testing.T, logs *bytes.Buffer, msg string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] == msg {
			lines = append(lines, rec)
		}
	}
	return lines
}

// assertMetrics fails unless the exposition text of s contains every line of want.
func assertMetrics(t *testing.T, s *Server, want ...string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.metrics.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range want {
		if !strings.Contains(rec.Body.String(), "\n"+line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestInstrument(t *testing.T) {
	t.Parallel()
	s, logs := newTestServer()
	var seenID string
	h := s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		observe.SetRoute(r.Context(), "thing")
		seenID = observe.RequestID(r.Context())
		assertMetrics(t, s, "cerulean_http_requests_in_flight 1")
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("hello"))
	}))

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPut, "/x?secret=1", strings.NewReader("abc"))
	req.Header.Set(headerRequestID, "client-chosen")
	h.ServeHTTP(rec, req)

	id := rec.Header().Get(headerRequestID)
	if !uuidV4.MatchString(id) || rec.Header().Get(headerCorrelationID) != id || seenID != id {
		t.Errorf("request id: header %q, correlation %q, in context %q; want one fresh UUID",
			id, rec.Header().Get(headerCorrelationID), seenID)
	}
	lines := logLines(t, logs, "request")
	if len(lines) != 1 {
		t.Fatalf("%d request log lines, want 1", len(lines))
	}
	want := map[string]any{
		"method": "PUT", "path": "/x", "status": 201.0, "bytes": 5.0, "bytes_in": 3.0,
		"route": "thing", "request_id": id,
	}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("log %s = %v, want %v", k, lines[0][k], v)
		}
	}
	assertMetrics(t, s,
		`cerulean_http_requests_total{code="201",method="PUT",route="thing"} 1`,
		`cerulean_http_request_bytes_total{route="thing"} 3`,
		`cerulean_http_response_bytes_total{route="thing"} 5`,
		`cerulean_http_request_duration_seconds_count{route="thing"} 1`,
		"cerulean_http_requests_in_flight 0",
	)

	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec2.Header().Get(headerRequestID) == id {
		t.Error("two requests share a request id")
	}
}

func TestInstrumentLabelsUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer()
	h := s.instrument(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/pot", nil))
	assertMetrics(t, s, `cerulean_http_requests_total{code="200",method="OTHER",route="other"} 1`)
}

// TestInstrumentKeepsReadFrom serves a file through a real HTTP/1.1 connection, where
// http.ServeContent copies with ReadFrom (sendfile), and checks the bytes are counted.
func TestInstrumentKeepsReadFrom(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("cerulean"), 64<<10)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer()
	srv := httptest.NewServer(s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		observe.SetRoute(r.Context(), "blob")
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	})))
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Close() // waits for the handler, and so for the metrics
	if !bytes.Equal(got, content) {
		t.Fatalf("body: %d bytes, want %d", len(got), len(content))
	}
	assertMetrics(t, s, `cerulean_http_response_bytes_total{route="blob"} 524288`)
}

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	s, logs := newTestServer()
	h := s.instrument(s.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"code":"INTERNAL_ERROR"`) {
		t.Errorf("response %d %s, want 500 INTERNAL_ERROR", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "boom") {
		t.Error("the panic value reached the client")
	}
	panics := logLines(t, logs, "panic")
	if len(panics) != 1 || panics[0]["value"] != "boom" || panics[0]["request_id"] != rec.Header().Get(headerRequestID) {
		t.Errorf("panic log lines: %v", panics)
	}
	if n := len(logLines(t, logs, "request failed")); n != 0 {
		t.Errorf("the panic was logged again as %d failed requests", n)
	}
	assertMetrics(t, s, `cerulean_http_requests_total{code="500",method="GET",route="other"} 1`)
}

func TestRecoverPanicsAfterHeaders(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer()
	h := s.instrument(s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		panic("late")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("response %d %q: want the 200 already sent and nothing appended", rec.Code, rec.Body)
	}
}

func TestRecoverPanicsLetsAbortThrough(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer()
	h := s.instrument(s.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	})))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
		assertMetrics(t, s, `cerulean_http_requests_total{code="200",method="GET",route="other"} 1`)
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ format, prefix string }{{"auto", "{"}, {"json", "{"}, {"text", "time="}} {
		var buf bytes.Buffer
		log := NewLogger(&buf, tt.format, "warn")
		ctx := observe.WithRequest(context.Background(), "rid")
		log.InfoContext(ctx, "hidden")
		log.WarnContext(ctx, "shown")
		out := buf.String()
		if !strings.HasPrefix(out, tt.prefix) || strings.Contains(out, "hidden") || !strings.Contains(out, "rid") {
			t.Errorf("format %s: log %q", tt.format, out)
		}
	}
}
