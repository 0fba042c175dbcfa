package registry

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/cerulean-registry/cerulean/observe"
	"github.com/cerulean-registry/cerulean/oci"
)

// Action is what a route does to its repository; authorization (a later plane) decides on
// it once, before the handler runs.
type Action string

// Actions, named as in Docker/ACR token scopes.
const (
	ActionNone    Action = ""        // /v2/ itself: any authenticated caller
	ActionPull    Action = "pull"    // read content
	ActionPush    Action = "push"    // write content
	ActionDelete  Action = "delete"  // delete content
	ActionCatalog Action = "catalog" // list repositories (registry:catalog:*)
)

// handlerFunc serves one route; p holds the path parameters.
type handlerFunc func(g *Registry, w http.ResponseWriter, r *http.Request, p params) error

// params are the path parameters of a matched route.
type params struct {
	name   string // repository
	last   string // the route's trailing parameter: reference, digest or upload id
	action Action
}

// route is one entry of the API: method, path pattern, required action and handler.
// A pattern is "/v2/" followed by fixed segments, or by "{name}" then fixed segments and
// at most one trailing "{param}"; "{param?}" also matches an empty segment, for endpoints
// whose handler must refuse it itself (a referrers request must never be a 404).
type route struct {
	method  string
	pattern string
	label   string // metrics label
	action  Action
	handle  handlerFunc
}

// routes reads like the distribution spec's endpoint table (end-1 … end-13).
var routes = []route{
	{"GET", "/v2/", "base", ActionNone, (*Registry).base},
	{"HEAD", "/v2/", "base", ActionNone, (*Registry).base},
	{"GET", "/v2/_catalog", "catalog", ActionCatalog, (*Registry).catalog},
	{"HEAD", "/v2/_catalog", "catalog", ActionCatalog, (*Registry).catalog},
	{"GET", "/v2/{name}/tags/list", "tags", ActionPull, (*Registry).listTags},
	{"HEAD", "/v2/{name}/tags/list", "tags", ActionPull, (*Registry).listTags},
	{"GET", "/v2/{name}/manifests/{reference}", "manifest", ActionPull, (*Registry).getManifest},
	{"HEAD", "/v2/{name}/manifests/{reference}", "manifest", ActionPull, (*Registry).getManifest},
	{"PUT", "/v2/{name}/manifests/{reference}", "manifest", ActionPush, (*Registry).putManifest},
	{"DELETE", "/v2/{name}/manifests/{reference}", "manifest", ActionDelete, (*Registry).deleteManifest},
	{"GET", "/v2/{name}/blobs/{digest}", "blob", ActionPull, (*Registry).getBlob},
	{"HEAD", "/v2/{name}/blobs/{digest}", "blob", ActionPull, (*Registry).getBlob},
	{"DELETE", "/v2/{name}/blobs/{digest}", "blob", ActionDelete, (*Registry).deleteBlob},
	{"POST", "/v2/{name}/blobs/uploads/", "upload", ActionPush, (*Registry).startUpload},
	{"GET", "/v2/{name}/blobs/uploads/{uuid}", "upload", ActionPush, (*Registry).uploadStatus},
	{"PATCH", "/v2/{name}/blobs/uploads/{uuid}", "upload", ActionPush, (*Registry).patchUpload},
	{"PUT", "/v2/{name}/blobs/uploads/{uuid}", "upload", ActionPush, (*Registry).finishUpload},
	{"DELETE", "/v2/{name}/blobs/uploads/{uuid}", "upload", ActionPush, (*Registry).cancelUpload},
	{"GET", "/v2/{name}/referrers/{digest?}", "referrers", ActionPull, (*Registry).referrers},
	{"HEAD", "/v2/{name}/referrers/{digest?}", "referrers", ActionPull, (*Registry).referrers},
}

// compiledRoute is a route with its pattern split for matching.
type compiledRoute struct {
	route
	fixed      []string // segments after "/v2/" (no {name}) or after "{name}"
	hasName    bool
	hasParam   bool // the last segment is a parameter
	emptyParam bool // ... which may be empty
}

// compiledRoutes is the route table, split once for matching.
var compiledRoutes = compileRoutes()

func compileRoutes() []compiledRoute {
	out := make([]compiledRoute, 0, len(routes))
	for _, rt := range routes {
		c := compiledRoute{route: rt}
		rest := strings.TrimPrefix(rt.pattern, "/v2/")
		if after, ok := strings.CutPrefix(rest, "{name}/"); ok {
			c.hasName, rest = true, after
		}
		if rest != "" {
			c.fixed = strings.Split(rest, "/")
		}
		if n := len(c.fixed); n > 0 && strings.HasPrefix(c.fixed[n-1], "{") {
			c.hasParam, c.emptyParam = true, strings.HasSuffix(c.fixed[n-1], "?}")
			c.fixed = c.fixed[:n-1]
		}
		out = append(out, c)
	}
	return out
}

// match finds the route for a request path. It reads the path from its end, because
// repository names contain '/': the reserved trailing segments decide the route and the
// remaining leading segments are the name. Each segment is unescaped on its own, so a
// name sent as "a%2Fb" (the Azure SDK) and as "a/b" (docker) are the same.
// It returns the routes matching the path (several methods) and the parameters.
func match(table []compiledRoute, escapedPath string) ([]*compiledRoute, params, error) {
	if escapedPath == "/v2" {
		escapedPath = "/v2/" // the API base, as clients also spell it
	}
	rest, ok := strings.CutPrefix(escapedPath, "/v2/")
	if !ok {
		return nil, params{}, nil
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, params{}, oci.ErrInvalidName
		}
		segs[i] = u
	}
	var found []*compiledRoute
	var p params
	for i := range table {
		c := &table[i]
		if q, ok := c.matchSegments(segs); ok {
			if len(found) > 0 && q != p {
				continue // the first pattern to match decides the parameters
			}
			found, p = append(found, c), q
		}
	}
	if len(found) > 0 && found[0].hasName {
		if err := oci.ValidateName(p.name); err != nil {
			return found, p, err
		}
	}
	return found, p, nil
}

func (c *compiledRoute) matchSegments(segs []string) (params, bool) {
	tail := len(c.fixed)
	if c.hasParam {
		tail++
	}
	if !c.hasName {
		// "/v2/" is one empty segment; "/v2/_catalog" is one fixed segment.
		if c.fixed == nil {
			return params{}, len(segs) == 1 && segs[0] == ""
		}
		return params{}, len(segs) == tail && equal(segs, c.fixed)
	}
	if len(segs) <= tail {
		return params{}, false
	}
	end := segs[len(segs)-tail:]
	if !equal(end[:len(c.fixed)], c.fixed) {
		return params{}, false
	}
	p := params{name: strings.Join(segs[:len(segs)-tail], "/")}
	if c.hasParam {
		p.last = end[len(end)-1]
		if p.last == "" && !c.emptyParam {
			return params{}, false
		}
	}
	return p, true
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ServeHTTP routes a /v2/ request, sets the headers every answer carries, and renders the
// handler's error once.
func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	h.Set("X-Content-Type-Options", "nosniff")
	found, p, err := match(compiledRoutes, r.URL.EscapedPath())
	if len(found) == 0 {
		observe.SetRoute(r.Context(), "unmatched")
		writeError(w, r, errorf(http.StatusNotFound, CodeUnsupported, "no such API endpoint"))
		return
	}
	observe.SetRoute(r.Context(), found[0].label)
	if err != nil {
		writeError(w, r, toWire(err))
		return
	}
	var rt *compiledRoute
	allow := make([]string, 0, len(found))
	for _, c := range found {
		allow = append(allow, c.method)
		if c.method == r.Method {
			rt = c
		}
	}
	if rt == nil {
		h.Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, errorf(http.StatusMethodNotAllowed, CodeUnsupported, "method %s not allowed here", r.Method))
		return
	}
	p.action = rt.action
	if err := rt.handle(g, w, r, p); err != nil {
		we := toWire(err)
		if we.Status >= 500 {
			g.log.ErrorContext(r.Context(), "request failed", "route", rt.label, "err", err)
		}
		writeError(w, r, we)
	}
}
