package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/observe"
)

// Response headers carrying the request id: ACR's name, which the Azure CLI and SDKs show
// in errors, and the common one.
const (
	headerCorrelationID = "X-Ms-Correlation-Request-Id"
	headerRequestID     = "X-Request-Id"
)

// routeOther labels requests that no plane named (unknown paths, early rejections).
const routeOther = "other"

// instrument gives each request a fresh id (never the client's: it must be unique to
// correlate logs) and, once the handler returns, logs one line and records metrics.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := guid.New()
		w.Header().Set(headerCorrelationID, id)
		w.Header().Set(headerRequestID, id)
		r = r.WithContext(observe.WithRequest(r.Context(), id))
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		rw := &responseRecorder{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		// Deferred so that a request whose handler aborts (http.ErrAbortHandler) is recorded too.
		defer func() {
			s.metrics.inFlight.Dec()
			s.record(r, rw, body.n, time.Since(start))
		}()
		next.ServeHTTP(rw, r)
	})
}

func (s *Server) record(r *http.Request, rw *responseRecorder, in int64, d time.Duration) {
	route := observe.Route(r.Context())
	if route == "" {
		route = routeOther
	}
	status := rw.statusCode()
	s.metrics.observe(route, r.Method, status, in, rw.bytes, d)
	// The query is left out: it can carry upload state and, on some token endpoints, secrets.
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rw.bytes),
		slog.Int64("bytes_in", in),
		slog.Duration("duration", d),
		slog.String("route", route),
		slog.String("remote", r.RemoteAddr),
	)
}

// recoverPanics turns a handler's panic into a logged 500, so one bad request does not
// take the process down. http.ErrAbortHandler passes through: it asks net/http to cut the
// connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", slog.Any("value", v), slog.String("stack", string(debug.Stack())))
			if rw, ok := w.(*responseRecorder); !ok || rw.status == 0 {
				respond(w, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// countingBody counts the request body bytes a handler reads.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// responseRecorder remembers the status and counts body bytes. It keeps the capabilities
// blob downloads rely on: ReadFrom (sendfile on HTTP/1.1), Flush, and Unwrap for
// http.ResponseController.
type responseRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *responseRecorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 { // 1xx are interim, the final status follows
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *responseRecorder) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

func (rw *responseRecorder) ReadFrom(src io.Reader) (int64, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := rw.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{rw.ResponseWriter}, src)
	}
	rw.bytes += n
	return n, err
}

func (rw *responseRecorder) Flush() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// statusCode is the status sent, 200 when the handler wrote nothing (as net/http does).
func (rw *responseRecorder) statusCode() int {
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

// writerOnly hides ReadFrom so that io.Copy does not call back into responseRecorder.
type writerOnly struct{ io.Writer }
