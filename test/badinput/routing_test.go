package badinput

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// routeFixture is a repository with an image tagged v1, a manifest built but not pushed,
// an open upload session and a blob body that nobody pushed.
type routeFixture struct {
	repo string
	next manifest // not pushed
	sess *session
	body []byte
}

// routeRow is a request a known path does not serve with that method, or a path that
// is no endpoint. {repo}, {session}, {digest} (of the body) and {next} (the unpushed
// manifest's digest) in path are filled in from the fixture. Requests with a body carry
// the unpushed manifest (to manifests paths) or the blob body (elsewhere).
type routeRow struct {
	name   string
	method string
	path   string
	want   outcome
	allow  string // the Allow header a 405 must carry
}

func routeRows(_ *testing.T, e *env) []row {
	const (
		methodRule = "RFC 9110 15.5.6: \"The origin server MUST generate an Allow header field in a 405 response containing a list of the target resource's currently supported methods\"; the body is the error envelope with UNSUPPORTED (code-13), and nothing is stored"
		pathRule   = "API/Endpoints: a path under /v2/ that is none of end-1 ... end-13 is 404 with the error envelope (UNSUPPORTED, code-13), and nothing is stored"
	)
	notAllowed := answer(http.StatusMethodNotAllowed, "UNSUPPORTED")
	noRoute := answer(http.StatusNotFound, "UNSUPPORTED")
	const (
		manifestMethods = "GET, HEAD, PUT, DELETE"
		blobMethods     = "GET, HEAD, DELETE"
		sessionMethods  = "GET, PATCH, PUT, DELETE"
	)

	table := []routeRow{
		{name: "PUT the base endpoint", method: http.MethodPut, path: "/v2/", want: notAllowed, allow: "GET, HEAD"},
		{name: "DELETE the base endpoint", method: http.MethodDelete, path: "/v2/", want: notAllowed, allow: "GET, HEAD"},
		{name: "POST _catalog", method: http.MethodPost, path: "/v2/_catalog", want: notAllowed, allow: "GET, HEAD"},
		{name: "PUT tags list", method: http.MethodPut, path: "/v2/{repo}/tags/list", want: notAllowed, allow: "GET, HEAD"},
		{name: "POST manifest", method: http.MethodPost, path: "/v2/{repo}/manifests/v2", want: notAllowed, allow: manifestMethods},
		{name: "PATCH manifest", method: http.MethodPatch, path: "/v2/{repo}/manifests/v1", want: notAllowed, allow: manifestMethods},
		{name: "OPTIONS manifest", method: http.MethodOptions, path: "/v2/{repo}/manifests/v1", want: notAllowed, allow: manifestMethods},
		{name: "PUT manifest by digest on the blobs path", method: http.MethodPut, path: "/v2/{repo}/blobs/{next}", want: notAllowed, allow: blobMethods},
		{name: "PUT blob by digest", method: http.MethodPut, path: "/v2/{repo}/blobs/{digest}", want: notAllowed, allow: blobMethods},
		{name: "POST blob by digest", method: http.MethodPost, path: "/v2/{repo}/blobs/{digest}", want: notAllowed, allow: blobMethods},
		{name: "GET the uploads endpoint", method: http.MethodGet, path: "/v2/{repo}/blobs/uploads/", want: notAllowed, allow: "POST"},
		{name: "PATCH the uploads endpoint", method: http.MethodPatch, path: "/v2/{repo}/blobs/uploads/", want: notAllowed, allow: "POST"},
		{name: "PUT the uploads endpoint with a digest", method: http.MethodPut, path: "/v2/{repo}/blobs/uploads/?digest={digest}", want: notAllowed, allow: "POST"},
		{name: "POST to a session", method: http.MethodPost, path: "/v2/{repo}/blobs/uploads/{session}?digest={digest}", want: notAllowed, allow: sessionMethods},
		{name: "DELETE referrers", method: http.MethodDelete, path: "/v2/{repo}/referrers/{next}", want: notAllowed, allow: "GET, HEAD"},
		{name: "PUT referrers", method: http.MethodPut, path: "/v2/{repo}/referrers/{next}", want: notAllowed, allow: "GET, HEAD"},

		{name: "GET an unknown endpoint of a repository", method: http.MethodGet, path: "/v2/{repo}/unknown", want: noRoute},
		{name: "HEAD an unknown endpoint of a repository", method: http.MethodHead, path: "/v2/{repo}/unknown", want: noRoute},
		{name: "GET manifests without a reference", method: http.MethodGet, path: "/v2/{repo}/manifests", want: noRoute},
		{name: "PUT manifests with an empty reference", method: http.MethodPut, path: "/v2/{repo}/manifests/", want: noRoute},
		{name: "PUT a manifest path with an extra segment", method: http.MethodPut, path: "/v2/{repo}/manifests/v2/extra", want: noRoute},
		{name: "GET tags without list", method: http.MethodGet, path: "/v2/{repo}/tags", want: noRoute},
		{name: "GET tags list with an extra segment", method: http.MethodGet, path: "/v2/{repo}/tags/list/extra", want: noRoute},
		{name: "PATCH a session path with an extra segment", method: http.MethodPatch, path: "/v2/{repo}/blobs/uploads/{session}/extra", want: noRoute},
		{name: "PUT a session path with a trailing slash", method: http.MethodPut, path: "/v2/{repo}/blobs/uploads/{session}/?digest={digest}", want: noRoute},
		{name: "GET _catalog with an extra segment", method: http.MethodGet, path: "/v2/_catalog/extra", want: noRoute},
		{name: "GET a single segment", method: http.MethodGet, path: "/v2/nothing", want: noRoute},
	}

	var rows []row
	for _, rr := range table {
		spec := pathRule
		if rr.want.status == http.StatusMethodNotAllowed {
			spec = methodRule
		}
		rows = append(rows, row{name: rr.name, spec: spec, run: func(t *testing.T) {
			f := e.newRouteFixture(t)
			bd := digest.FromBytes(f.body)
			path := strings.NewReplacer("{repo}", f.repo, "{session}", f.sess.id, "{digest}", bd.String(),
				"{next}", f.next.digest.String()).Replace(rr.path)
			rq := request{method: rr.method, target: path}
			switch {
			case rr.method != http.MethodPut && rr.method != http.MethodPost && rr.method != http.MethodPatch:
			case strings.Contains(rr.path, "/manifests/"), strings.Contains(rr.path, "{next}"):
				rq.body, rq.header = f.next.body, []string{"Content-Type", f.next.mediaType}
			default:
				rq.body, rq.header = f.body, []string{"Content-Type", mtOctetStream}
			}
			before := e.snapshot(t, f.repo, f.next.digest, "v1", "v2", f.next.digest.String())
			r := e.send(t, rq)
			wantAnswer(t, r, rr.want)
			if rr.allow != "" && r.Status == http.StatusMethodNotAllowed {
				if got := methodSet(r.Header.Get("Allow")); !slices.Equal(got, methodSet(rr.allow)) {
					t.Errorf("Allow %q, want %q: %s", r.Header.Get("Allow"), rr.allow, r)
				}
			}
			e.wantSame(t, before)
			e.wantNoBlob(t, f.repo, bd)
			e.wantNoBlob(t, f.repo, f.next.digest)
			f.sess.wantUnchanged(t)
			f.sess.complete(t)
		}})
	}
	return rows
}

func (e *env) newRouteFixture(t testing.TB) *routeFixture {
	t.Helper()
	f := &routeFixture{repo: e.repo(t), body: randomBytes(t, 64)}
	e.pushImage(t, f.repo, "v1")
	f.next = e.buildImage(t, f.repo, nil).encode(t)
	f.sess = e.openSession(t, f.repo, randomBytes(t, 64), 0)
	return f
}

// methodSet splits an Allow value into its sorted methods.
func methodSet(allow string) []string {
	var out []string
	for _, m := range strings.Split(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}
