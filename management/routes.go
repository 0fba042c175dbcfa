package management

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/observe"
)

// handler serves one operation. It returns the reply or an error, which the dispatcher
// renders once (errors.go).
type handler func(ctx context.Context, c *call) (*reply, error)

// reply is a handler's answer: a status and a JSON body (none for nil).
type reply struct {
	status int
	body   any
}

func ok(body any) (*reply, error) { return &reply{status: http.StatusOK, body: body}, nil }

// call is one management request, authenticated and matched to its route.
type call struct {
	route  *route
	caller *Caller
	grants []grant
	p      params
	query  url.Values
	body   []byte
	now    time.Time
	host   string // the Host the client addressed
	// event is filled by handlers of writes with what the activity log records beyond the
	// request: the resource id of the resource written.
	resourceID string
}

// params are the named segments of a route's pattern.
type params struct {
	sub, group, registry string
	name                 string // the child resource: scope map, token, role assignment or definition
	scope                scope  // {scope...}: the scope of a role assignment or definition path
}

// target is the resource id authorization checks the operation against.
func (p *params) target() string {
	if named := (scope{Sub: p.sub, Group: p.group, Registry: p.registry}); named != (scope{}) {
		return named.String()
	}
	return p.scope.String()
}

// decode reads the JSON body into v; an empty body leaves v as it is.
func (c *call) decode(v any) error {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return invalidContent(err)
	}
	return nil
}

// allowed reports whether the caller may perform operation on target.
func (c *call) allowed(operation, target string) bool { return allowed(c.grants, operation, target) }

// route is one entry of the route table.
type route struct {
	method string
	// pattern: fixed segments match case-insensitively; {sub}, {rg}, {registry} and
	// {name} match one segment; a leading {scope...} matches any number of segments
	// (the pattern's other segments match the end of the path).
	pattern string
	// operation is the Azure RBAC operation the caller needs on the target, or "" for
	// routes that filter what they list themselves.
	operation string
	h         handler
	// anonymous routes need no token (/metadata/endpoints).
	anonymous bool
	segs      []string
}

// routes is the management plane's one route table.
func (s *Service) routes() []*route {
	const (
		sub      = "/subscriptions/{sub}"
		group    = sub + "/resourceGroups/{rg}"
		acr      = "/providers/Microsoft.ContainerRegistry"
		registry = group + acr + "/registries/{registry}"
		authz    = "{scope...}/providers/Microsoft.Authorization"
		opACR    = "Microsoft.ContainerRegistry/registries/"
		opAuthz  = "Microsoft.Authorization/"
		opGroups = "Microsoft.Resources/subscriptions/resourceGroups/"
	)
	rs := []*route{
		{method: "GET", pattern: "/metadata/endpoints", h: s.metadataEndpoints, anonymous: true},

		{method: "GET", pattern: "/tenants", h: s.listTenants},
		{method: "GET", pattern: "/subscriptions", h: s.listSubscriptions},
		{method: "GET", pattern: sub, h: s.getSubscription},
		{method: "GET", pattern: sub + "/resources", h: s.listResources},
		{method: "GET", pattern: sub + "/resourceGroups", h: s.listGroups},
		{method: "GET", pattern: group, operation: opGroups + "read", h: s.getGroup},
		{method: "HEAD", pattern: group, operation: opGroups + "read", h: s.getGroup},
		{method: "PUT", pattern: group, operation: opGroups + "write", h: s.putGroup},
		{method: "PATCH", pattern: group, operation: opGroups + "write", h: s.patchGroup},
		{method: "DELETE", pattern: group, operation: opGroups + "delete", h: s.deleteGroup},
		{method: "GET", pattern: group + "/resources", h: s.listResources},

		{method: "POST", pattern: sub + acr + "/checkNameAvailability",
			operation: "Microsoft.ContainerRegistry/checkNameAvailability/read", h: s.checkName},
		{method: "GET", pattern: sub + acr + "/registries", h: s.listRegistries},
		{method: "GET", pattern: group + acr + "/registries", h: s.listRegistries},
		{method: "GET", pattern: registry, operation: opACR + "read", h: s.getRegistry},
		{method: "PUT", pattern: registry, operation: opACR + "write", h: s.putRegistry},
		{method: "PATCH", pattern: registry, operation: opACR + "write", h: s.patchRegistry},
		{method: "DELETE", pattern: registry, operation: opACR + "delete", h: s.deleteRegistry},
		{method: "POST", pattern: registry + "/listCredentials", operation: opACR + "listCredentials/action", h: s.listCredentials},
		{method: "POST", pattern: registry + "/regenerateCredential", operation: opACR + "regenerateCredential/action", h: s.regenerateCredential},
		{method: "POST", pattern: registry + "/generateCredentials", operation: opACR + "generateCredentials/action", h: s.generateCredentials},

		{method: "GET", pattern: registry + "/scopeMaps", operation: opACR + "scopeMaps/read", h: s.listScopeMaps},
		{method: "GET", pattern: registry + "/scopeMaps/{name}", operation: opACR + "scopeMaps/read", h: s.getScopeMap},
		{method: "PUT", pattern: registry + "/scopeMaps/{name}", operation: opACR + "scopeMaps/write", h: s.putScopeMap},
		{method: "PATCH", pattern: registry + "/scopeMaps/{name}", operation: opACR + "scopeMaps/write", h: s.patchScopeMap},
		{method: "DELETE", pattern: registry + "/scopeMaps/{name}", operation: opACR + "scopeMaps/delete", h: s.deleteScopeMap},

		{method: "GET", pattern: registry + "/tokens", operation: opACR + "tokens/read", h: s.listTokens},
		{method: "GET", pattern: registry + "/tokens/{name}", operation: opACR + "tokens/read", h: s.getToken},
		{method: "PUT", pattern: registry + "/tokens/{name}", operation: opACR + "tokens/write", h: s.putToken},
		{method: "PATCH", pattern: registry + "/tokens/{name}", operation: opACR + "tokens/write", h: s.patchToken},
		{method: "DELETE", pattern: registry + "/tokens/{name}", operation: opACR + "tokens/delete", h: s.deleteToken},

		{method: "GET", pattern: authz + "/roleAssignments", operation: opAuthz + "roleAssignments/read", h: s.listRoleAssignments},
		{method: "GET", pattern: authz + "/roleAssignments/{name}", operation: opAuthz + "roleAssignments/read", h: s.getRoleAssignment},
		{method: "PUT", pattern: authz + "/roleAssignments/{name}", operation: opAuthz + "roleAssignments/write", h: s.putRoleAssignment},
		{method: "DELETE", pattern: authz + "/roleAssignments/{name}", operation: opAuthz + "roleAssignments/delete", h: s.deleteRoleAssignment},
		{method: "GET", pattern: authz + "/roleDefinitions", operation: opAuthz + "roleDefinitions/read", h: s.listRoleDefinitions},
		{method: "GET", pattern: authz + "/roleDefinitions/{name}", operation: opAuthz + "roleDefinitions/read", h: s.getRoleDefinition},

		{method: "GET", pattern: sub + "/providers/Microsoft.Insights/eventtypes/management/values",
			operation: "Microsoft.Insights/eventtypes/values/read", h: s.listEvents},
	}
	for _, r := range rs {
		r.segs = splitPath(r.pattern)
	}
	return rs
}

// match finds the route for method and the path's segments. It reports whether any
// route has the path, for telling 405 from 404.
func (s *Service) match(method string, segs []string) (*route, params, bool, error) {
	known := false
	for _, r := range s.table {
		p, ok, err := r.match(segs)
		if err != nil {
			return nil, p, true, err
		}
		if !ok {
			continue
		}
		known = true
		if r.method == method {
			return r, p, true, nil
		}
	}
	return nil, params{}, known, nil
}

func (r *route) match(segs []string) (params, bool, error) {
	var p params
	pat := r.segs
	var scopeSegs []string
	if len(pat) > 0 && pat[0] == "{scope...}" {
		pat = pat[1:]
		if len(segs) < len(pat) {
			return p, false, nil
		}
		scopeSegs, segs = segs[:len(segs)-len(pat)], segs[len(segs)-len(pat):]
	}
	if len(segs) != len(pat) {
		return p, false, nil
	}
	for i, want := range pat {
		switch want {
		case "{sub}":
			p.sub = segs[i]
		case "{rg}":
			p.group = segs[i]
		case "{registry}":
			p.registry = segs[i]
		case "{name}":
			p.name = segs[i]
		default:
			if !strings.EqualFold(want, segs[i]) {
				return p, false, nil
			}
		}
	}
	if scopeSegs != nil {
		sc, err := parseScope("/" + strings.Join(scopeSegs, "/"))
		if err != nil {
			return p, true, err
		}
		p.scope = sc
		p.sub = sc.Sub
	}
	return p, true, nil
}

// Owns reports whether path belongs to the management plane, so the server can send it
// here before its ServeMux, which would redirect ARM's case-insensitive or
// double-slashed paths.
func Owns(path string) bool {
	segs := splitPath(path)
	if len(segs) == 0 {
		return false
	}
	switch strings.ToLower(segs[0]) {
	case "subscriptions", "providers", "tenants":
		return true
	case "metadata":
		return len(segs) == 2 && strings.EqualFold(segs[1], "endpoints")
	}
	return false
}

// maxBody bounds a management request body: ARM resources are small.
const maxBody = 1 << 20

// ServeHTTP serves the management plane.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if observe.RequestID(r.Context()) == "" { // mounted without the server's middleware
		r = r.WithContext(observe.WithRequest(r.Context(), guid.New()))
	}
	observe.SetRoute(r.Context(), "management")
	c, err := s.prepare(r)
	var rep *reply
	if err == nil {
		rep, err = c.route.h(r.Context(), c)
	}
	if c != nil && c.route.method != http.MethodGet && c.route.method != http.MethodHead {
		s.record(r, c, err)
	}
	s.respond(w, r, rep, err)
}

// prepare matches, authenticates and authorizes r. The call it returns is nil only when
// no caller is known yet (nothing to record in the activity log).
func (s *Service) prepare(r *http.Request) (*call, error) {
	segs, err := unescapedSegments(r.URL.EscapedPath())
	if err != nil {
		return nil, badRequest("InvalidRequestUri", "The request URI is not valid.")
	}
	rt, p, known, err := s.match(r.Method, segs)
	switch {
	case err != nil:
		return nil, err
	case rt == nil && known:
		return nil, &Error{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
			Message: fmt.Sprintf("The requested method '%s' is not allowed for '%s'.", r.Method, r.URL.Path)}
	case rt == nil:
		return nil, &Error{Status: http.StatusNotFound, Code: "InvalidResourceType",
			Message: fmt.Sprintf("The resource type of '%s' could not be found.", r.URL.Path)}
	}
	c := &call{route: rt, p: p, query: r.URL.Query(), now: s.now().UTC(), host: r.Host}
	if rt.anonymous {
		return c, nil
	}
	if c.caller, err = s.authenticate(r); err != nil {
		return nil, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if c.body, err = io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody)); err != nil {
			return c, badRequest("InvalidRequestContent", "The request content could not be read: "+err.Error())
		}
	}
	if p.sub != "" {
		sub, err := s.store.Subscription(r.Context(), p.sub)
		if err != nil {
			return c, s.notFound(err, subscriptionNotFound(p.sub))
		}
		if !strings.EqualFold(sub.TenantID, c.caller.TenantID) {
			return c, unauthenticated("InvalidAuthenticationTokenTenant",
				fmt.Sprintf("The access token is from the wrong issuer. It must match the tenant associated with subscription '%s'.", p.sub))
		}
		c.p.sub = sub.ID
	}
	if c.grants, err = s.grants(r.Context(), c.caller); err != nil {
		return c, err
	}
	if rt.operation != "" && !c.allowed(rt.operation, p.target()) {
		return c, authorizationFailed(c.caller, rt.operation, p.target())
	}
	return c, nil
}

// notFound returns nf when err is the store's not-found, and err otherwise.
func (s *Service) notFound(err error, nf *Error) error {
	if isNotFound(err) {
		return nf
	}
	return err
}

// unescapedSegments splits an escaped path into its non-empty, unescaped segments. ARM
// names never hold a slash, so an escaped one is just a character of a name.
func unescapedSegments(escaped string) ([]string, error) {
	raw := splitPath(escaped)
	segs := make([]string, len(raw))
	for i, seg := range raw {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return nil, err
		}
		segs[i] = u
	}
	return segs, nil
}

// respond writes the reply, or the ARM error JSON for err, with ARM's request headers.
func (s *Service) respond(w http.ResponseWriter, r *http.Request, rep *reply, err error) {
	h := w.Header()
	id := observe.RequestID(r.Context())
	h.Set("x-ms-request-id", id)
	h.Set("x-ms-correlation-request-id", correlationID(r))
	h.Set("Cache-Control", "no-cache")
	if err != nil {
		e := armError(err)
		if e.Status >= 500 {
			s.log.ErrorContext(r.Context(), "management request failed", "err", err)
		}
		if e.Status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="https://%s/adfs", error="invalid_token", error_description=%q`,
				r.Host, e.Message))
		}
		rep = &reply{status: e.Status, body: map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}}}
	}
	if rep.body == nil || r.Method == http.MethodHead {
		w.WriteHeader(rep.status)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body) // the status is sent; a write error means the client left
}

// correlationID is the client's x-ms-correlation-request-id when it sent a well-formed
// one (ARM keeps it, so a client can follow its operation through the activity log), and
// the request id otherwise.
func correlationID(r *http.Request) string {
	if v := r.Header.Get("x-ms-correlation-request-id"); guid.Valid(v) {
		return strings.ToLower(v)
	}
	return observe.RequestID(r.Context())
}
