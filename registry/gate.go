package registry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Gate admits requests. It finds the registry a request addresses (by its Host) and
// decides, once per request and before the handler runs, whether the caller may do what
// the route does. Package auth provides it.
type Gate interface {
	// Registry returns the registry at a login server, or auth.ErrUnknownRegistry.
	Registry(ctx context.Context, loginServer string) (*meta.Registry, error)
	// Admit applies the registry's network rules, checks the request's credentials and
	// decides want; a nil want (the API base) asks only for a valid credential.
	Admit(r *http.Request, reg *meta.Registry, want *access.Scope) error
}

type targetKey struct{}

// withTarget records the registry a request addresses.
func withTarget(ctx context.Context, reg *meta.Registry) context.Context {
	return context.WithValue(ctx, targetKey{}, reg)
}

// targetOf is the registry the request addresses.
func targetOf(ctx context.Context) *meta.Registry {
	return ctx.Value(targetKey{}).(*meta.Registry)
}

// repoOf names a repository of the registry the request addresses.
func repoOf(ctx context.Context, name string) meta.Repo {
	return meta.Repo{Registry: targetOf(ctx).ID, Name: name}
}

// admit resolves the addressed registry and lets the gate decide the route's action. A
// Registry without a gate serves one open registry (DefaultRegistryID): embedded use and
// the tests of the storage rules.
func (g *Registry) admit(r *http.Request, p params) (*http.Request, error) {
	if g.gate == nil {
		return r.WithContext(withTarget(r.Context(), &meta.Registry{ID: DefaultRegistryID, LoginServer: auth.LoginServer(r)})), nil
	}
	reg, err := g.gate.Registry(r.Context(), auth.LoginServer(r))
	if err != nil {
		return r, err
	}
	r = r.WithContext(withTarget(r.Context(), reg))
	if err := g.gate.Admit(r, reg, p.scope()); err != nil {
		return r, &refusal{err: err, loginServer: reg.LoginServer, scope: p.scope(), acr: p.acr}
	}
	return r, nil
}

// scope is what the route needs, in token-scope terms (nil for the API base). Pushes ask
// for "pull,push", as distribution's challenges do: a client pushing also reads.
func (p params) scope() *access.Scope {
	var s access.Scope
	switch p.action {
	case ActionNone:
		return nil
	case ActionCatalog:
		s = access.CatalogScope()
	case ActionPush:
		s = access.RepositoryScope(p.name, access.Pull, access.Push)
	default:
		s = access.RepositoryScope(p.name, access.Action(p.action))
	}
	return &s
}

// refusal is the gate's no, with what a 401 challenge must name.
type refusal struct {
	err         error
	loginServer string
	scope       *access.Scope
	acr         bool // an /acr/v1 request: ACR adds error="invalid_token" to its challenge
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// refusalToWire renders the gate's refusals: 401 with ACR's challenge, 403 for network
// rules, 429 for guessing.
func refusalToWire(e *refusal) *Error {
	var tooMany *auth.TooManyError
	switch {
	case errors.As(e.err, &tooMany):
		w := errorf(http.StatusTooManyRequests, CodeTooManyRequests, "too many failed sign-ins; retry later")
		w.header = http.Header{"Retry-After": {strconv.Itoa(int(tooMany.RetryAfter.Seconds() + 0.5))}}
		return w
	case errors.Is(e.err, auth.ErrDenied):
		return errorf(http.StatusForbidden, CodeDenied, "client address is not allowed access to this registry")
	case errors.Is(e.err, auth.ErrUnauthorized):
		w := errorf(http.StatusUnauthorized, CodeUnauthorized,
			"authentication required, visit https://aka.ms/acr/authorization for more information.")
		w.header = http.Header{"Www-Authenticate": {auth.Challenge(e.loginServer, e.scope, e.acr)}}
		if e.scope != nil {
			w.Detail = challengeDetail(*e.scope)
		}
		return w
	}
	return toWire(e.err)
}

// challengeDetail is the detail ACR sends with UNAUTHORIZED: what was asked for.
func challengeDetail(s access.Scope) []scopeDetail {
	actions := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		actions[i] = string(a)
	}
	return []scopeDetail{{Type: s.Type, Name: s.Name, Action: strings.Join(actions, ",")}}
}

// scopeDetail has ACR's capitalised keys, in ACR's order.
type scopeDetail struct {
	Type   string `json:"Type"`
	Name   string `json:"Name"`
	Action string `json:"Action"`
}
