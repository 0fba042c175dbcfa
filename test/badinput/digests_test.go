package badinput

import (
	"crypto/md5"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// digestFixture is a repository with an image tagged v1, a second image manifest that is
// built but not pushed, an open (empty) upload session, a repository to mount into, and
// a body to upload. Bad digests must leave all of it as it was.
type digestFixture struct {
	e      *env
	repo   string
	image  manifest      // pushed as v1
	layer  []byte        // one of image's blobs
	other  manifest      // not pushed
	sess   *session      // open, empty
	dst    string        // mount target, empty
	body   []byte        // what uploads carry
	before snapshot      // repo as it was
	ld     digest.Digest // digest of layer
}

func (e *env) newDigestFixture(t *testing.T) *digestFixture {
	t.Helper()
	f := &digestFixture{e: e, repo: e.repo(t), dst: e.repo(t), body: randomBytes(t, 64)}
	im := e.buildImage(t, f.repo, nil)
	f.image, f.layer, f.ld = im.encode(t), im.layer, im.Layers[0].Digest
	e.pushManifest(t, f.repo, "v1", f.image)
	f.other = e.buildImage(t, f.repo, nil).encode(t)
	f.sess = e.openSession(t, f.repo, f.body, 0)
	f.before = e.snapshot(t, f.repo, f.image.digest, "v1", f.image.digest.String(), f.other.digest.String())
	return f
}

// wantIntact is the "nothing stored" check of every digest row.
func (f *digestFixture) wantIntact(t *testing.T, r *reply, sessionMayEnd bool) {
	t.Helper()
	e := f.e
	e.wantSame(t, f.before)
	e.wantBlob(t, f.repo, f.ld, f.layer)
	e.wantNoBlob(t, f.dst, f.ld)
	e.wantNoBlob(t, f.repo, digest.FromBytes(f.body))
	e.wantNoBlob(t, f.dst, digest.FromBytes(f.body))
	// A 202 fallback opened a session: it must hold nothing of the body.
	if r != nil && r.Status == http.StatusAccepted {
		loc := r.location(t, e)
		st := e.send(t, request{method: http.MethodGet, target: loc.String()})
		st.want(t, http.StatusNoContent)
		id := loc.Path[strings.LastIndex(loc.Path, "/")+1:]
		if size, _ := e.sessionFileSize(t, id); st.Header.Get("Range") != "0-0" || size != 0 {
			t.Errorf("fallback session holds %d bytes, Range %q; want nothing of the body", size, st.Header.Get("Range"))
		}
	}
	if sessionMayEnd {
		st := e.send(t, request{method: http.MethodGet, target: f.sess.loc.String()})
		if st.Status == http.StatusNotFound {
			return // ended: nothing of it remains to complete
		}
	}
	f.sess.wantUnchanged(t)
	f.sess.complete(t)
}

// digestEndpoint is a place that takes a digest, with what it may answer for each kind
// of bad digest (Cerulean's answer first, then what else the spec allows). No outcome
// leaves the combination out.
type digestEndpoint struct {
	name        string
	build       func(f *digestFixture, d string) request
	malformed   []outcome // a string that is not a digest (Cerulean's answer first)
	empty       []outcome // the empty string
	unsupported []outcome // sha384: well formed, but not an algorithm the store verifies
	spec        string
}

func digestRows(_ *testing.T, e *env) []row {
	const (
		pullRule  = "Pull: <digest> and a digest <reference> MUST be a digest; one with invalid syntax is refused with 400 DIGEST_INVALID, or simply not found (end-2/end-3 list only 404; MANIFEST_UNKNOWN or BLOB_UNKNOWN), and nothing is read; an empty one leaves a path that is no endpoint (404, JSON envelope)"
		writeRule = "Push and Content Management: a digest <reference> to PUT or DELETE MUST be a digest; one with invalid syntax is refused with 400 DIGEST_INVALID (end-9/end-10 list 400; DELETE may also answer 404) and nothing is stored or deleted; an empty one leaves a path that is no endpoint (404, JSON envelope)"
		queryRule = "Push: ?digest= names the blob being pushed and mount= the blob to mount; an invalid one is refused with 400 DIGEST_INVALID (end-4b, end-6 failure 400) or, where the spec allows a fallback (a single POST the registry does not do; a mount it \"is unable to\" do, which detail.md, apdx-1, extends to \"invalid repository or digest arguments\"), answered with a 202 session that holds nothing of the body; nothing is stored and the open session is unchanged"
		refRule   = "Content Discovery/Listing Referrers: \"If the request is invalid, such as a <digest> with an invalid syntax, a 400 Bad Request MUST be returned\", and a registry with the referrers API \"MUST NOT return a 404 Not Found to a referrers API requests\""
	)
	bad := []outcome{answer(http.StatusBadRequest, "DIGEST_INVALID")}
	badOrNoBlob := slices.Concat(bad, []outcome{answer(http.StatusNotFound, "BLOB_UNKNOWN")})
	badOrNoManifest := slices.Concat(bad, []outcome{answer(http.StatusNotFound, "MANIFEST_UNKNOWN")})
	noRoute := []outcome{answer(http.StatusNotFound, "UNSUPPORTED")}
	fallback := []outcome{answer(http.StatusAccepted)}
	badOrFallback := slices.Concat(bad, fallback)
	oct := []string{"Content-Type", mtOctetStream}

	endpoints := []digestEndpoint{
		{name: "blob GET", spec: pullRule, malformed: badOrNoBlob, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodGet, target: "/v2/" + f.repo + "/blobs/" + d}
			}},
		{name: "blob HEAD", spec: pullRule, malformed: badOrNoBlob, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodHead, target: "/v2/" + f.repo + "/blobs/" + d}
			}},
		{name: "blob DELETE", spec: writeRule, malformed: badOrNoBlob, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodDelete, target: "/v2/" + f.repo + "/blobs/" + d}
			}},
		{name: "single POST digest=", spec: queryRule, malformed: bad, empty: fallback, unsupported: bad,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodPost, target: uploadsPath(f.repo) + "?" + url.Values{"digest": {d}}.Encode(), body: f.body, header: oct}
			}},
		{name: "closing PUT digest=", spec: queryRule, malformed: bad, empty: bad, unsupported: bad,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodPut, target: f.sess.putURL(d), body: f.body, header: oct}
			}},
		{name: "mount=", spec: queryRule, malformed: badOrFallback, empty: fallback, unsupported: fallback,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodPost, target: uploadsPath(f.dst) + "?" + url.Values{"mount": {d}, "from": {f.repo}}.Encode()}
			}},
		{name: "manifest GET", spec: pullRule, malformed: badOrNoManifest, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodGet, target: manifestPath(f.repo, d), header: []string{"Accept", "*/*"}}
			}},
		{name: "manifest HEAD", spec: pullRule, malformed: badOrNoManifest, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodHead, target: manifestPath(f.repo, d), header: []string{"Accept", "*/*"}}
			}},
		{name: "manifest PUT", spec: writeRule, malformed: bad, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodPut, target: manifestPath(f.repo, d), body: f.other.body, header: []string{"Content-Type", f.other.mediaType}}
			}},
		{name: "manifest DELETE", spec: writeRule, malformed: badOrNoManifest, empty: noRoute,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodDelete, target: manifestPath(f.repo, d)}
			}},
		{name: "referrers", spec: refRule, malformed: bad, empty: bad,
			build: func(f *digestFixture, d string) request {
				return request{method: http.MethodGet, target: "/v2/" + f.repo + "/referrers/" + d}
			}},
	}

	// The digests. Those built from the layer's own hex would find it if the server
	// folded case or ignored the algorithm.
	kinds := []struct {
		name  string
		kind  string // "malformed", "empty" or "unsupported"
		value func(f *digestFixture) string
	}{
		{"sha256:xyz", "malformed", func(*digestFixture) string { return "sha256:xyz" }},
		{"63 hex digits", "malformed", func(f *digestFixture) string { return f.ld.String()[:len(f.ld.String())-1] }},
		{"65 hex digits", "malformed", func(f *digestFixture) string { return f.ld.String() + "0" }},
		{"md5", "malformed", func(f *digestFixture) string { return fmt.Sprintf("md5:%x", md5.Sum(f.layer)) }},
		{"upper-case algorithm", "malformed", func(f *digestFixture) string { return "SHA256:" + f.ld.Encoded() }},
		{"upper-case hex", "malformed", func(f *digestFixture) string { return "sha256:" + strings.ToUpper(f.ld.Encoded()) }},
		{"no algorithm", "malformed", func(f *digestFixture) string { return ":" + f.ld.Encoded() }},
		{"empty", "empty", func(*digestFixture) string { return "" }},
		{"sha384", "unsupported", func(f *digestFixture) string { return digest.SHA384.FromBytes(f.body).String() }},
	}

	var rows []row
	for _, ep := range endpoints {
		for _, k := range kinds {
			want := map[string][]outcome{"malformed": ep.malformed, "empty": ep.empty, "unsupported": ep.unsupported}[k.kind]
			if len(want) == 0 {
				continue
			}
			rows = append(rows, row{name: ep.name + " " + k.name, spec: ep.spec, run: func(t *testing.T) {
				f := e.newDigestFixture(t)
				r := e.send(t, ep.build(f, k.value(f)))
				wantAnswer(t, r, want...)
				f.wantIntact(t, r, k.kind == "unsupported")
			}})
		}
	}
	return rows
}
