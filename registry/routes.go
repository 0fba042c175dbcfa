package registry

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/cerulean-registry/cerulean/observe"
	"github.com/cerulean-registry/cerulean/oci"
)

// Action is what a route does to its repository; the Gate decides on it once, before the
// handler runs.
type Action string

// Actions, named as in Docker/ACR token scopes.
const (
	ActionNone          Action = ""               // /v2/ itself: any authenticated caller
	ActionPull          Action = "pull"           // read content
	ActionPush          Action = "push"           // write content
	ActionDelete        Action = "delete"         // delete content
	ActionCatalog       Action = "catalog"        // list repositories (registry:catalog:*)
	ActionMetadataRead  Action = "metadata_read"  // read ACR metadata (/acr/v1 GETs)
	ActionMetadataWrite Action = "metadata_write" // change changeable attributes (/acr/v1 PATCHes)
)

// handlerFunc serves one route; p holds the path parameters.
type handlerFunc func(g *Registry, w http.ResponseWriter, r *http.Request, p params) error

// params are the path parameters of a matched route.
type params struct {
	name   string // repository
	last   string // the route's trailing parameter: reference, digest or upload id
	action Action
	acr    bool // an /acr/v1 route
}

// route is one entry of the API: method, path pattern, required action and handler.
// A pattern is an API prefix ("/v2/" or "/acr/v1/") followed by fixed segments, or by
// "{name}" then fixed segments and at most one trailing "{param}"; "{param?}" also
// matches an empty segment, for endpoints whose handler must refuse it itself (a
// referrers request must never be a 404). "{name}" alone is the whole rest of the path.
type route struct {
	method  string
	pattern string
	label   string // metrics label
	action  Action
	handle  handlerFunc
}

// routes reads like the distribution spec's endpoint table (end-1 … end-13), then ACR's
// /acr/v1 table (acr-protocol.md §2.1). Where paths could match several patterns the first
// decides, so "/acr/v1/{name}" comes after the patterns with reserved trailing segments.
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

	{"GET", "/acr/v1/_catalog", "acr_catalog", ActionCatalog, (*Registry).acrCatalog},
	{"GET", "/acr/v1/{name}/_tags", "acr_tags", ActionMetadataRead, (*Registry).acrListTags},
	{"GET", "/acr/v1/{name}/_tags/{tag}", "acr_tag", ActionMetadataRead, (*Registry).acrGetTag},
	{"PATCH", "/acr/v1/{name}/_tags/{tag}", "acr_tag", ActionMetadataWrite, (*Registry).acrPatchTag},
	{"DELETE", "/acr/v1/{name}/_tags/{tag}", "acr_tag", ActionDelete, (*Registry).acrDeleteTag},
	{"GET", "/acr/v1/{name}/_manifests", "acr_manifests", ActionMetadataRead, (*Registry).acrListManifests},
	{"GET", "/acr/v1/{name}/_manifests/{digest}", "acr_manifest", ActionMetadataRead, (*Registry).acrGetManifest},
	{"PATCH", "/acr/v1/{name}/_manifests/{digest}", "acr_manifest", ActionMetadataWrite, (*Registry).acrPatchManifest},
	{"GET", "/acr/v1/{name}", "acr_repository", ActionMetadataRead, (*Registry).acrGetRepository},
	{"PATCH", "/acr/v1/{name}", "acr_repository", ActionMetadataWrite, (*Registry).acrPatchRepository},
	{"DELETE", "/acr/v1/{name}", "acr_repository", ActionDelete, (*Registry).acrDeleteRepository},
}

// prefixes are the APIs the table serves; every pattern starts with one.
var prefixes = []string{"/v2/", "/acr/v1/"}

// compiledRoute is a route with its pattern split for matching.
type compiledRoute struct {
	route
	prefix     string   // "/v2/" or "/acr/v1/"
	fixed      []string // segments after the prefix (no {name}) or after "{name}"
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
		var rest string
		for _, p := range prefixes {
			if after, ok := strings.CutPrefix(rt.pattern, p); ok {
				c.prefix, rest = p, after
				break
			}
		}
		if c.prefix == "" {
			panic("registry: route " + rt.pattern + " has no known prefix")
		}
		if rest == "{name}" {
			c.hasName, rest = true, ""
		} else if after, ok := strings.CutPrefix(rest, "{name}/"); ok {
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
// name sent as "a%2Fb" (the Azure SDK) and as "a/b" (docker, the Azure CLI) are the same.
// It returns the routes matching the path (several methods) and the parameters.
func match(table []compiledRoute, escapedPath string) ([]*compiledRoute, params, error) {
	if escapedPath == "/v2" {
		escapedPath = "/v2/" // the API base, as clients also spell it
	}
	var prefix, rest string
	for _, p := range prefixes {
		if after, ok := strings.CutPrefix(escapedPath, p); ok {
			prefix, rest = p, after
			break
		}
	}
	if prefix == "" {
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
	// A reading that leaves a valid name wins ("/acr/v1/a/_tags/_tags" is the tag "_tags"
	// of a, not the tags of "a/_tags"); with none, the first reading is refused for its name.
	found, p := collect(table, prefix, segs, true)
	if len(found) == 0 {
		found, p = collect(table, prefix, segs, false)
	}
	if len(found) > 0 && found[0].hasName {
		if err := oci.ValidateName(p.name); err != nil {
			return found, p, err
		}
	}
	return found, p, nil
}

// collect returns the routes of prefix matching segs, in table order: the first pattern
// to match decides the parameters, and the others with the same parameters are its other
// methods. validName skips readings whose repository name is invalid.
func collect(table []compiledRoute, prefix string, segs []string, validName bool) ([]*compiledRoute, params) {
	var found []*compiledRoute
	var p params
	for i := range table {
		c := &table[i]
		if c.prefix != prefix {
			continue
		}
		q, ok := c.matchSegments(segs)
		if !ok || len(found) > 0 && q != p || validName && c.hasName && oci.ValidateName(q.name) != nil {
			continue
		}
		found, p = append(found, c), q
	}
	return found, p
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
	if tail == 0 && p.name == "" {
		return params{}, false // "/acr/v1/" names no repository
	}
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

// ServeHTTP routes a /v2/ or /acr/v1/ request, sets the headers every answer carries, and
// renders the handler's error once.
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
	p.action, p.acr = rt.action, strings.HasPrefix(rt.pattern, "/acr/")
	r, err = g.admit(r, p)
	if err != nil {
		writeError(w, r, toWire(err))
		return
	}
	if err := rt.handle(g, w, r, p); err != nil {
		we := toWire(err)
		if we.Status >= 500 {
			g.log.ErrorContext(r.Context(), "request failed", "route", rt.label, "err", err)
		}
		writeError(w, r, we)
	}
}
