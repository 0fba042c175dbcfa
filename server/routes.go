package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/observe"
	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/blob"
)

// routes builds the one handler every plane mounts on. The token service, identity and
// management planes join here, on the same listener.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", s.handle("healthz", s.healthz))
	mux.Handle("GET /readyz", s.handle("readyz", s.readyz))
	s.auth.Routes(mux)
	// The identity plane's patterns start with a {tenant} wildcard, which would conflict
	// with other planes' prefixes here: it serves what no other pattern matches.
	var fallback http.Handler = s.handle("", notFound)
	if s.identity != nil {
		fallback = s.identity.Handler(fallback)
	}
	mux.Handle("/", fallback)
	planes := rawPrefix("/v2/", s.registry, rawPrefix("/acr/v1/", s.registry, s.managementPlane(mux)))
	return s.instrument(s.recoverPanics(s.epochOnAccessWrites(planes)))
}

// epochOnAccessWrites moves the access epoch for writes to the management plane and the
// directory API, and, with a shared store, brings it up to date before data-plane
// requests (see accessEpoch).
func (s *Server) epochOnAccessWrites(next http.Handler) http.Handler {
	bumping := s.epoch.bumpOnWrite(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if writesAccessRecords(r.URL.Path) {
			bumping.ServeHTTP(w, r)
			return
		}
		if syncsAccess(r.URL.Path) {
			s.epoch.sync(r.Context()) // another replica's changes (a no-op without a shared store)
		}
		next.ServeHTTP(w, r)
	})
}

// imdsRoutes serve the IMDS-style managed-identity listener (--imds-addr), bound to one
// identity host (--imds-host).
func (s *Server) imdsRoutes() http.Handler {
	return s.instrument(s.recoverPanics(s.identity.IMDSHandler(s.cfg.IMDSHost, s.handle("", notFound))))
}

// rawPrefix sends paths under prefix to h untouched and the rest to next. ServeMux cleans
// paths and redirects "/v2/a/../b/..." to another repository; the registry plane instead
// reads repository names from the raw path and refuses malformed ones itself.
func rawPrefix(prefix string, h, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) || r.URL.Path+"/" == prefix {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handlerFunc is a handler of the server's own endpoints; its error is rendered by writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h, naming its route for logs and metrics ("" leaves it to routeOther).
func (s *Server) handle(route string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route != "" {
			observe.SetRoute(r.Context(), route)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// Errors of the server's own endpoints, mapped to responses by writeError.
var (
	errNotFound = errors.New("not found")
	errNotReady = errors.New("not ready")
)

// errorResponses is the one table from error to status and wire code; anything else is a 500.
var errorResponses = []struct {
	err    error
	status int
	code   string
}{
	{errNotFound, http.StatusNotFound, "NOT_FOUND"},
	{errNotReady, http.StatusServiceUnavailable, "UNAVAILABLE"},
}

// writeError answers with err's response and logs server errors with their detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if status := respond(w, err); status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", slog.Int("status", status), slog.Any("err", err))
	}
}

// respond writes the response for err in the distribution error envelope, which registry
// clients already parse, and returns the status. Only a sentinel's own text reaches the
// client, never the detail wrapped around it.
func respond(w http.ResponseWriter, err error) (status int) {
	status, code, message := http.StatusInternalServerError, "INTERNAL_ERROR", "internal server error"
	for _, e := range errorResponses {
		if errors.Is(err, e.err) {
			status, code, message = e.status, e.code, e.err.Error()
			break
		}
	}
	writeJSON(w, status, map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a write error means the client left
}

func notFound(http.ResponseWriter, *http.Request) error { return errNotFound }

// healthz answers while the process can serve HTTP at all.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyTimeout bounds the store checks, so a hung backend fails the probe instead of hanging it.
const readyTimeout = 5 * time.Second

// readyProbe is a digest that no one pushes; a Stat of it touches the blob store cheaply.
var readyProbe = digest.FromString("cerulean readiness probe")

// readyz answers 200 when both stores answer a cheap query.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := s.blobs.Stat(ctx, readyProbe); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w: blob store: %w", errNotReady, err)
	}
	// Any registry will do: the query only has to be answered.
	if _, err := s.meta.Repositories(ctx, registry.DefaultRegistryID, "", 1); err != nil {
		return fmt.Errorf("%w: metadata store: %w", errNotReady, err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
