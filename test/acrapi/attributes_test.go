package acrapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// lockFixture is a repository with an image m tagged v1 and v2, and an untagged image n.
type lockFixture struct {
	repo  string
	m, n  image
	layer string // m's layer digest
}

func (e *env) lockFixture(t *testing.T) *lockFixture {
	t.Helper()
	f := &lockFixture{repo: e.repo("locks")}
	f.m = e.pushImage(t, f.repo, "v1", "amd64", "lock layer m")
	e.putManifest(t, f.repo, "v2", mtImage, f.m.content).want(t, http.StatusCreated)
	f.n = e.pushImage(t, f.repo, "", "amd64", "lock layer n")
	f.layer = f.m.layers[0].String()
	return f
}

// lockOp is one operation a changeable attribute may refuse.
type lockOp struct {
	name   string
	status int // on success
	run    func(e *env, t *testing.T, f *lockFixture) *reply
}

var lockOps = []lockOp{
	{"v2 pull v1", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "GET", "/v2/"+f.repo+"/manifests/v1", nil)
	}},
	{"v2 head v1", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "HEAD", "/v2/"+f.repo+"/manifests/v1", nil)
	}},
	{"v2 pull v2", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "GET", "/v2/"+f.repo+"/manifests/v2", nil)
	}},
	{"v2 pull by digest", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "GET", "/v2/"+f.repo+"/manifests/"+f.m.digest.String(), nil)
	}},
	{"v2 pull blob", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "GET", "/v2/"+f.repo+"/blobs/"+f.layer, nil)
	}},
	{"v2 push to v1", 201, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.putManifest(t, f.repo, "v1", mtImage, f.n.content)
	}},
	{"v2 push a new tag", 201, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.putManifest(t, f.repo, "v3", mtImage, f.n.content)
	}},
	{"v2 tag m again", 201, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.putManifest(t, f.repo, "v4", mtImage, f.m.content)
	}},
	{"v2 push by digest", 201, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.putManifest(t, f.repo, "", mtImage, f.n.content)
	}},
	{"v2 delete tag v1", 202, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "DELETE", "/v2/"+f.repo+"/manifests/v1", nil)
	}},
	{"v2 delete manifest", 202, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "DELETE", "/v2/"+f.repo+"/manifests/"+f.m.digest.String(), nil)
	}},
	{"v2 delete blob", 202, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "DELETE", "/v2/"+f.repo+"/blobs/"+f.layer, nil)
	}},
	{"acr untag v1", 202, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "DELETE", "/acr/v1/"+f.repo+"/_tags/v1", nil)
	}},
	{"acr delete repository", 202, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "DELETE", "/acr/v1/"+strings.ReplaceAll(f.repo, "/", "%2F"), nil)
	}},
	{"acr get tag v1", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "GET", "/acr/v1/"+f.repo+"/_tags/v1", nil)
	}},
	{"acr get manifest", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.do(t, "GET", "/acr/v1/"+f.repo+"/_manifests/"+f.m.digest.String(), nil)
	}},
	{"acr patch tag v1", 200, func(e *env, t *testing.T, f *lockFixture) *reply {
		return e.patch(t, "/acr/v1/"+f.repo+"/_tags/v1", `{}`)
	}},
}

// The listings a lock may hide the repository, v1 or m from.
const (
	inV2Tags      = "v2 tags/list"
	inACRTags     = "acr _tags"
	inACRManifest = "acr _manifests"
	inCatalogs    = "catalogs"
)

// lock is one attribute of one thing set to false, with what it refuses and hides.
type lock struct {
	level, attr string // "repository", "tag" or "manifest"; "writeEnabled", ...
	refused     []string
	hidden      []string
}

// locks follows container-registry-image-lock.md, delete-operation-issues.md and the
// retention policy article; see storage/meta/acr.go for the rules and their sources.
var locks = []lock{
	{"repository", "writeEnabled", []string{"v2 push to v1", "v2 push a new tag", "v2 tag m again", "v2 push by digest", "v2 delete tag v1",
		"v2 delete manifest", "v2 delete blob", "acr untag v1", "acr delete repository"}, nil},
	{"repository", "deleteEnabled", []string{"acr delete repository"}, nil},
	{"repository", "readEnabled", []string{"v2 pull v1", "v2 head v1", "v2 pull v2", "v2 pull by digest"}, nil},
	{"repository", "listEnabled", nil, []string{inCatalogs}},
	{"tag", "writeEnabled", []string{"v2 push to v1", "v2 delete tag v1", "v2 delete manifest", "acr untag v1", "acr delete repository"}, nil},
	{"tag", "deleteEnabled", []string{"v2 delete tag v1", "v2 delete manifest", "acr untag v1", "acr delete repository"}, nil},
	{"tag", "readEnabled", []string{"v2 pull v1", "v2 head v1"}, nil},
	{"tag", "listEnabled", nil, []string{inV2Tags, inACRTags}},
	{"manifest", "writeEnabled", []string{"v2 delete manifest", "acr delete repository"}, nil},
	{"manifest", "deleteEnabled", []string{"v2 delete manifest", "acr delete repository"}, nil},
	{"manifest", "readEnabled", []string{"v2 pull v1", "v2 head v1", "v2 pull v2", "v2 pull by digest"}, nil},
	{"manifest", "listEnabled", nil, []string{inACRManifest}},
}

func (l lock) path(f *lockFixture) string {
	base := "/acr/v1/" + f.repo
	switch l.level {
	case "tag":
		return base + "/_tags/v1"
	case "manifest":
		return base + "/_manifests/" + f.m.digest.String()
	}
	return base
}

// set sets the attribute to v and checks the answer says so.
func (l lock) set(e *env, t *testing.T, f *lockFixture, v bool) {
	t.Helper()
	r := e.patch(t, l.path(f), fmt.Sprintf(`{%q:%t}`, l.attr, v)).want(t, http.StatusOK)
	if want := fmt.Sprintf(`%q:%t`, l.attr, v); !strings.Contains(string(r.Body), want) {
		t.Fatalf("PATCH answer lacks %s: %s", want, r.Body)
	}
}

// state is what the fixture's repository holds, read through metadata that no lock
// refuses: the tags and their digests, the manifests, and whether the layer is linked.
func (e *env) state(t *testing.T, f *lockFixture) string {
	t.Helper()
	var out []string
	for _, tag := range []string{"v1", "v2", "v3"} {
		r := e.do(t, "GET", "/acr/v1/"+f.repo+"/_tags/"+tag, nil)
		out = append(out, fmt.Sprintf("%s:%d", tag, r.Status))
		if r.Status == http.StatusOK {
			var v struct{ Tag struct{ Digest string } }
			r.decode(t, &v)
			out = append(out, v.Tag.Digest)
		}
	}
	for _, m := range []image{f.m, f.n} {
		out = append(out, fmt.Sprintf("%s:%d", m.digest, e.do(t, "GET", "/acr/v1/"+f.repo+"/_manifests/"+m.digest.String(), nil).Status))
	}
	r := e.do(t, "GET", "/acr/v1/"+f.repo+"/_manifests?n=1000", nil)
	out = append(out, fmt.Sprintf("manifests:%d:%d", r.Status, strings.Count(string(r.Body), `"digest"`)))
	out = append(out, fmt.Sprintf("tags:%d", e.do(t, "GET", "/v2/"+f.repo+"/tags/list", nil).Status))
	return strings.Join(out, " ")
}

// testAttributes runs every operation under every lock: refused ones answer 405
// REGISTRY_DISALLOWED_OPERATION, change nothing, and go through once the lock is lifted;
// the others succeed. Then each lock's effect on the listings.
func testAttributes(t *testing.T, e *env) {
	for _, l := range locks {
		for _, op := range lockOps {
			t.Run(l.level+" "+l.attr+"="+"false/"+op.name, func(t *testing.T) {
				t.Parallel()
				f := e.lockFixture(t)
				l.set(e, t, f, false)
				before := e.state(t, f)
				r := op.run(e, t, f)
				if !slices.Contains(l.refused, op.name) {
					r.want(t, op.status)
					return
				}
				r.want(t, http.StatusMethodNotAllowed)
				if op.name != "v2 head v1" { // HEAD has no body
					if code := errorCode(t, r); code != "REGISTRY_DISALLOWED_OPERATION" {
						t.Errorf("code %s, want REGISTRY_DISALLOWED_OPERATION", code)
					}
				}
				if after := e.state(t, f); after != before {
					t.Errorf("refused, yet the repository changed:\n got %s\nwant %s", after, before)
				}
				l.set(e, t, f, true)
				op.run(e, t, f).want(t, op.status)
			})
		}
		t.Run(l.level+" "+l.attr+"="+"false/listings", func(t *testing.T) {
			t.Parallel()
			f := e.lockFixture(t)
			l.set(e, t, f, false)
			listed := map[string]bool{
				inV2Tags:      strings.Contains(string(e.do(t, "GET", "/v2/"+f.repo+"/tags/list", nil).want(t, 200).Body), `"v1"`),
				inACRTags:     strings.Contains(string(e.do(t, "GET", "/acr/v1/"+f.repo+"/_tags", nil).want(t, 200).Body), `"name":"v1"`),
				inACRManifest: strings.Contains(string(e.do(t, "GET", "/acr/v1/"+f.repo+"/_manifests", nil).want(t, 200).Body), f.m.digest.String()),
				inCatalogs: strings.Contains(string(e.do(t, "GET", "/acr/v1/_catalog?n=10000", nil).want(t, 200).Body), `"`+f.repo+`"`) &&
					strings.Contains(string(e.do(t, "GET", "/v2/_catalog?n=10000", nil).want(t, 200).Body), `"`+f.repo+`"`),
			}
			for what, ok := range listed {
				if want := !slices.Contains(l.hidden, what); ok != want {
					t.Errorf("listed in %s: %v, want %v", what, ok, want)
				}
			}
		})
	}
}

// testPatch checks PATCH semantics: only the attributes given change; unknown members
// and nulls are ignored; locks never refuse a PATCH, so they can always be lifted; names
// work raw and %2F-encoded.
func testPatch(t *testing.T, e *env) {
	f := e.lockFixture(t)
	esc := "/acr/v1/" + strings.ReplaceAll(f.repo, "/", "%2F")
	attrs := func(path string) string {
		t.Helper()
		body := string(e.do(t, "GET", path, nil).want(t, http.StatusOK).Body)
		i := strings.Index(body, `"changeableAttributes":`)
		if i < 0 {
			t.Fatalf("no changeableAttributes in %s", body)
		}
		return body[i+len(`"changeableAttributes":`) : i+strings.Index(body[i:], "}")+1]
	}
	const all = `{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}`
	for _, tc := range []struct {
		path, body, want string
	}{
		{esc, `{"writeEnabled":false}`, `{"deleteEnabled":true,"writeEnabled":false,"readEnabled":true,"listEnabled":true}`},
		{esc, `{"deleteEnabled":false,"teleportEnabled":true,"unknown":{"x":1}}`, `{"deleteEnabled":false,"writeEnabled":false,"readEnabled":true,"listEnabled":true}`},
		{"/acr/v1/" + f.repo, `{"readEnabled":null,"writeEnabled":true,"deleteEnabled":true}`, all},
		{esc + "/_tags/v1", `{"writeEnabled":false,"deleteEnabled":false}`, `{"deleteEnabled":false,"writeEnabled":false,"readEnabled":true,"listEnabled":true}`},
		{esc + "/_tags/v1", `{"WriteEnabled":true,"DeleteEnabled":true}`, all},
		{esc + "/_manifests/" + f.m.digest.String(), `{"readEnabled":false,"listEnabled":false}`, `{"deleteEnabled":true,"writeEnabled":true,"readEnabled":false,"listEnabled":false}`},
		{esc + "/_manifests/v1", `{"readEnabled":true,"listEnabled":true}`, all}, // by tag: the same manifest
		{esc + "/_manifests/" + f.m.digest.String(), `{}`, all},
	} {
		r := e.patch(t, tc.path, tc.body).want(t, http.StatusOK)
		if got := attrs(tc.path); got != tc.want {
			t.Errorf("PATCH %s %s: attributes %s, want %s (answer %s)", tc.path, tc.body, got, tc.want, r.Body)
		}
	}
	// Locked everywhere, everything can still be unlocked.
	lockAll := `{"deleteEnabled":false,"writeEnabled":false,"readEnabled":false,"listEnabled":false}`
	paths := []string{esc, esc + "/_tags/v1", esc + "/_manifests/" + f.m.digest.String()}
	for _, p := range paths {
		e.patch(t, p, lockAll).want(t, http.StatusOK)
	}
	for _, p := range paths {
		e.patch(t, p, all).want(t, http.StatusOK)
		if got := attrs(p); got != all {
			t.Errorf("%s after unlocking: %s", p, got)
		}
	}
	e.do(t, "DELETE", esc, nil).want(t, http.StatusAccepted)
}

// TestGC runs `cerulean gc --untagged` on a server of its own: locked untagged manifests
// stay, with what they reach; an unlocked one goes; a write-locked repository keeps all.
func TestGC(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testserver.Start(t))
	repo, locked := "gc/r", "gc/locked-repo"
	gone := e.pushImage(t, repo, "", "amd64", "gc gone")
	delLocked := e.pushImage(t, repo, "", "amd64", "gc delete-locked")
	writeLocked := e.pushImage(t, repo, "", "amd64", "gc write-locked")
	child := e.pushImage(t, repo, "", "arm64", "gc child")
	idx := e.pushIndex(t, repo, "", []string{"arm64"}, child)
	inLocked := e.pushImage(t, locked, "", "amd64", "gc in a locked repository")
	e.pushImage(t, locked, "v1", "amd64", "gc tagged in a locked repository")
	e.patch(t, "/acr/v1/gc/r/_manifests/"+delLocked.digest.String(), `{"deleteEnabled":false}`).want(t, 200)
	e.patch(t, "/acr/v1/gc/r/_manifests/"+writeLocked.digest.String(), `{"writeEnabled":false}`).want(t, 200)
	e.patch(t, "/acr/v1/gc/r/_manifests/"+idx.digest.String(), `{"deleteEnabled":false}`).want(t, 200)
	e.patch(t, "/acr/v1/gc%2Flocked-repo", `{"writeEnabled":false}`).want(t, 200)

	out, err := e.srv.Run(t, "gc", "--data", e.srv.DataDir, "--untagged", "--grace", "0s")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gc: %s", out)
	for _, c := range []struct {
		repo   string
		m      image
		status int
	}{
		{repo, gone, 404}, {repo, delLocked, 200}, {repo, writeLocked, 200}, {repo, idx, 200}, {repo, child, 200},
		{locked, inLocked, 200},
	} {
		r := e.do(t, "GET", "/v2/"+c.repo+"/manifests/"+c.m.digest.String(), nil)
		if r.Status != c.status {
			t.Errorf("%s@%s after gc: %d, want %d", c.repo, c.m.digest, r.Status, c.status)
		}
		if c.status == 200 {
			// Its blobs stayed too.
			for _, b := range append([]string{c.m.config.String()}, layerStrings(c.m)...) {
				if b != "" {
					e.do(t, "GET", "/v2/"+c.repo+"/blobs/"+b, nil).want(t, http.StatusOK)
				}
			}
		}
	}
}

func layerStrings(m image) []string {
	var out []string
	for _, l := range m.layers {
		out = append(out, l.String())
	}
	return out
}
