package badinput

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// nameFixture is a family of repositories under base: victim (base/b) holds an image
// tagged v1, a second image that is built but not pushed (the manifest the rows try to
// push), and an open upload session. Requests through bad names and tags must not
// touch any of it, nor create repositories under base.
type nameFixture struct {
	base   string
	victim string
	next   manifest // not pushed
	sess   *session
	body   []byte
}

// nameRow is a request through a bad repository name or tag.
type nameRow struct {
	name   string
	spec   string
	method string
	path   func(f *nameFixture) string
	want   outcome
	alt    outcome // another answer the spec allows, if any
}

func nameRows(_ *testing.T, e *env) []row {
	const (
		nameRule = "Pulling manifests: \"Throughout this document, <name> MUST match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\" (Cerulean: at most 255 characters); any other name, also one that only decodes to such a thing, is refused with 400 NAME_INVALID (code-8) before anything is read or written, and never reaches another repository"
		tagRule  = "Pulling manifests: \"<reference> as a tag MUST be at most 128 characters in length and MUST match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\"; a PUT to anything else is refused with 400 TAG_INVALID (Cerulean; the spec names it as an optional legacy code, so MANIFEST_INVALID would do) and nothing is stored"
		okRule   = "Pulling manifests: a name that matches the grammar is accepted, whatever its length up to the limit, and a '/' sent as %2F is the same separator"
	)
	invalidName := answer(http.StatusBadRequest, "NAME_INVALID")
	invalidTag := answer(http.StatusBadRequest, "TAG_INVALID", "MANIFEST_INVALID")
	put, post, get, del, patch := http.MethodPut, http.MethodPost, http.MethodGet, http.MethodDelete, http.MethodPatch
	manifestOf := func(name, ref string) func(*nameFixture) string {
		return func(f *nameFixture) string {
			return "/v2/" + strings.ReplaceAll(name, "{base}", f.base) + "/manifests/" + ref
		}
	}
	uploadsOf := func(name string) func(*nameFixture) string {
		return func(f *nameFixture) string {
			return "/v2/" + strings.ReplaceAll(name, "{base}", f.base) + "/blobs/uploads/"
		}
	}
	// ofLength is a valid name under base with exactly n characters.
	ofLength := func(n int) func(*nameFixture) string {
		return func(f *nameFixture) string {
			return "/v2/" + f.base + "/" + strings.Repeat("a", n-len(f.base)-1) + "/blobs/uploads/"
		}
	}

	table := []nameRow{
		{name: "PUT manifest, upper-case name", spec: nameRule, method: put, path: manifestOf("{base}/B", "v2"), want: invalidName},
		{name: "POST upload, upper-case name", spec: nameRule, method: post, path: uploadsOf("{base}/B"), want: invalidName},
		{name: "PATCH the victim's session under an upper-case name", spec: nameRule, method: patch, want: invalidName,
			path: func(f *nameFixture) string { return "/v2/" + f.base + "/B/blobs/uploads/" + f.sess.id }},
		{name: "DELETE manifest, upper-case name", spec: nameRule, method: del, path: manifestOf("{base}/B", "v1"), want: invalidName},
		{name: "POST upload, name of 256 characters", spec: nameRule, method: post, path: ofLength(256), want: invalidName},
		{name: "PUT manifest, name of 256 characters", spec: nameRule, method: put, want: invalidName,
			path: func(f *nameFixture) string {
				return strings.Replace(ofLength(256)(f), "/blobs/uploads/", "/manifests/v2", 1)
			}},
		{name: "POST upload, name of 255 characters is accepted", spec: okRule, method: post, path: ofLength(255), want: answer(http.StatusAccepted)},
		{name: "PUT manifest through a%2F..%2Fb", spec: nameRule, method: put, path: manifestOf("{base}/a%2F..%2Fb", "v2"), want: invalidName},
		{name: "POST upload through a%2F..%2Fb", spec: nameRule, method: post, path: uploadsOf("{base}/a%2F..%2Fb"), want: invalidName},
		{name: "DELETE manifest through a%2F..%2Fb", spec: nameRule, method: del, path: manifestOf("{base}/a%2F..%2Fb", "v1"), want: invalidName},
		{name: "PUT manifest through a %2e%2e segment", spec: nameRule, method: put, path: manifestOf("{base}/a/%2e%2e/b", "v2"), want: invalidName},
		{name: "PUT manifest through a .. segment", spec: nameRule, method: put, path: manifestOf("{base}/a/../b", "v2"), want: invalidName},
		{name: "PUT manifest through a . segment", spec: nameRule, method: put, path: manifestOf("{base}/./b", "v2"), want: invalidName},
		{name: "PUT manifest, name ending in %2F", spec: nameRule, method: put, path: manifestOf("{base}/b%2F", "v2"), want: invalidName},
		{name: "PUT manifest, name with an empty last component", spec: nameRule, method: put, path: manifestOf("{base}/b/", "v2"), want: invalidName},
		{name: "PUT manifest, name with a leading slash", spec: nameRule, method: put, path: manifestOf("/{base}/b", "v2"), want: invalidName},
		{name: "PUT manifest, name with %20", spec: nameRule, method: put, path: manifestOf("{base}/b%20", "v2"), want: invalidName},
		{name: "PUT manifest, name with %00", spec: nameRule, method: put, path: manifestOf("{base}/b%00", "v2"), want: invalidName},
		{name: "POST upload, name _catalog", spec: nameRule, method: post, path: uploadsOf("_catalog"), want: invalidName},
		{name: "tags list through %2F is the same repository", spec: okRule, method: get, want: answer(http.StatusOK),
			path: func(f *nameFixture) string { return "/v2/" + f.base + "%2Fb/tags/list" }},

		{name: "PUT tag of 129 characters", spec: tagRule, method: put, path: manifestOf("{base}/b", strings.Repeat("t", 129)), want: invalidTag},
		{name: "PUT tag a%2Fb", spec: tagRule, method: put, path: manifestOf("{base}/b", "a%2Fb"), want: invalidTag},
		{name: "PUT tag starting with .", spec: tagRule, method: put, path: manifestOf("{base}/b", ".v2"), want: invalidTag},
		{name: "PUT tag starting with -", spec: tagRule, method: put, path: manifestOf("{base}/b", "-v2"), want: invalidTag},
		{name: "PUT tag with +", spec: tagRule, method: put, path: manifestOf("{base}/b", "v2+build"), want: invalidTag},
		{name: "PUT tag with %20", spec: tagRule, method: put, path: manifestOf("{base}/b", "v%202"), want: invalidTag},
		{name: "PUT tag with a non-ASCII letter", spec: tagRule, method: put, path: manifestOf("{base}/b", "v%C3%A92"), want: invalidTag},
		{name: "PUT tag with :", spec: tagRule, method: put, path: manifestOf("{base}/b", "v2:x"),
			want: answer(http.StatusBadRequest, "TAG_INVALID", "DIGEST_INVALID", "MANIFEST_INVALID")},
		{name: "DELETE tag starting with .", spec: tagRule + "; DELETE of a tag that cannot exist is 404 MANIFEST_UNKNOWN (end-9) or 400 TAG_INVALID", method: del,
			path: manifestOf("{base}/b", ".v1"), want: answer(http.StatusNotFound, "MANIFEST_UNKNOWN"), alt: answer(http.StatusBadRequest, "TAG_INVALID")},
	}

	var rows []row
	for _, n := range table {
		rows = append(rows, row{name: n.name, spec: n.spec, run: func(t *testing.T) {
			f := e.newNameFixture(t)
			before := e.snapshot(t, f.victim, "", "v1", "v2", f.next.digest.String())
			reposBefore := e.catalogUnder(t, f.base)
			rq := request{method: n.method, target: n.path(f)}
			switch n.method {
			case put:
				rq.body, rq.header = f.next.body, []string{"Content-Type", f.next.mediaType}
			case post, patch:
				rq.body, rq.header = f.body, []string{"Content-Type", mtOctetStream}
			}
			r := e.send(t, rq)
			if n.alt.status != 0 {
				wantAnswer(t, r, n.want, n.alt)
			} else {
				wantAnswer(t, r, n.want)
			}

			e.wantSame(t, before)
			if got := e.catalogUnder(t, f.base); !slices.Equal(got, reposBefore) {
				t.Errorf("repositories under %s: %q, want %q", f.base, got, reposBefore)
			}
			e.wantNoBlob(t, f.victim, digest.FromBytes(f.body))
			f.sess.wantUnchanged(t)
			f.sess.complete(t)
		}})
	}
	return rows
}

func (e *env) newNameFixture(t testing.TB) *nameFixture {
	t.Helper()
	f := &nameFixture{base: e.repo(t), body: randomBytes(t, 64)}
	f.victim = f.base + "/b"
	e.pushImage(t, f.victim, "v1")
	f.next = e.buildImage(t, f.victim, nil).encode(t)
	f.sess = e.openSession(t, f.victim, randomBytes(t, 64), 0)
	return f
}

// catalogUnder lists the repositories under prefix/.
func (e *env) catalogUnder(t testing.TB, prefix string) []string {
	t.Helper()
	var out []string
	for _, r := range e.catalog(t) {
		if strings.HasPrefix(r, prefix+"/") {
			out = append(out, r)
		}
	}
	return out
}
