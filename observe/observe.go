// Package observe owns the request-scoped facts that logs and metrics share: the request id
// and the route a request matched. The server's middleware creates them; the planes fill in
// the route; a slog handler adds the request id to every log line written with a context.
package observe

import (
	"context"
	"log/slog"
	"sync/atomic"
)

type requestKey struct{}

type request struct {
	id    string
	route atomic.Pointer[string]
}

// WithRequest returns ctx carrying a new request record with id.
func WithRequest(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestKey{}, &request{id: id})
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		return r.id
	}
	return ""
}

// SetRoute records the name of the route the request matched (a metrics label: keep the
// set of names small and fixed). It does nothing without a request record.
func SetRoute(ctx context.Context, route string) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		r.route.Store(&route)
	}
}

// Route returns the route recorded for the request, or "".
func Route(ctx context.Context) string {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		if p := r.route.Load(); p != nil {
			return *p
		}
	}
	return ""
}

// Handler wraps a slog.Handler so that records logged with a request context carry
// request_id.
func Handler(h slog.Handler) slog.Handler { return requestHandler{h} }

type requestHandler struct{ slog.Handler }

func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestHandler{h.Handler.WithAttrs(as)}
}

func (h requestHandler) WithGroup(name string) slog.Handler {
	return requestHandler{h.Handler.WithGroup(name)}
}
