package badinput

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// authFixture is a repository with an image tagged v1 whose config blob is known, a
// manifest built but not pushed, an open upload session and a blob body nobody pushed.
type authFixture struct {
	repo   string
	v1     manifest
	config []byte   // a blob of v1
	next   manifest // not pushed
	sess   *session
	body   []byte
}

func (e *env) newAuthFixture(t testing.TB) *authFixture {
	t.Helper()
	f := &authFixture{repo: e.repo(t), body: randomBytes(t, 64)}
	im := e.buildImage(t, f.repo, nil)
	f.v1, f.config = im.encode(t), im.config
	e.pushManifest(t, f.repo, "v1", f.v1)
	f.next = e.buildImage(t, f.repo, nil).encode(t)
	f.sess = e.openSession(t, f.repo, randomBytes(t, 64), 0)
	return f
}

// authRow is a request that lacks acceptable credentials. {repo}, {session}, {config} (a
// stored blob), {digest} (of the unpushed body) and {next} (the unpushed manifest) in
// path are filled in from the fixture; requests with a body carry the unpushed manifest
// (to manifests paths), an attribute change (to /acr/v1) or the blob body. scope is the
// challenge's scope ("" for the API base, which names none).
type authRow struct {
	name   string
	method string
	path   string
	scope  string
	// authorization is the request's Authorization; "" sends none. {token} is replaced
	// by an access token the owner was granted for repository:{repo}:pull.
	authorization string
	// framing, for a PATCH with the blob body: cutShort and h2EndStream announce 16 bytes
	// more than they send, so the request is refused before its body is read.
	framing framing
}

func authRows(_ *testing.T, e *env) []row {
	const (
		anonRule = "ACR: the data plane requires authentication; a request without credentials is 401 UNAUTHORIZED with " +
			"WWW-Authenticate: Bearer realm=\"https://<login server>/oauth2/token\",service=\"<login server>\", plus " +
			"scope=\"<what the endpoint needs>\" on every endpoint but /v2/ itself and error=\"invalid_token\" on /acr/v1, " +
			"so that a client can fetch a token for it; nothing is stored"
		badRule = "ACR: credentials that are wrong, unreadable or of an unknown scheme, or a token that does not grant " +
			"what the request needs, are 401 UNAUTHORIZED with the challenge for what it needs; nothing is stored"
	)
	const (
		pull, push, del   = "repository:{repo}:pull", "repository:{repo}:pull,push", "repository:{repo}:delete"
		metaRead, metaSet = "repository:{repo}:metadata_read", "repository:{repo}:metadata_write"
		catalog           = "registry:catalog:*"
	)
	wrongPassword := basicAuth(e.user, "not-the-secret-"+strings.Repeat("x", 24))
	unknownUser := basicAuth("3f1e2d4c-0000-4000-8000-000000000001", "whatever-"+strings.Repeat("y", 24))
	const garbage = "Bearer eyJhbGciOiJSUzI1NiJ9.bm90IGEgdG9rZW4.c2lnbmF0dXJl"

	// Failed passwords count against the client address, which every row shares (the
	// server allows 10 at once, then one every 6 seconds): at most three rows send one.
	table := []authRow{
		{name: "anonymous GET of the API base", method: http.MethodGet, path: "/v2/"},
		{name: "anonymous HEAD of the API base", method: http.MethodHead, path: "/v2/"},
		{name: "anonymous GET _catalog", method: http.MethodGet, path: "/v2/_catalog", scope: catalog},
		{name: "anonymous GET tags list", method: http.MethodGet, path: "/v2/{repo}/tags/list", scope: pull},
		{name: "anonymous GET manifest", method: http.MethodGet, path: "/v2/{repo}/manifests/v1", scope: pull},
		{name: "anonymous HEAD manifest", method: http.MethodHead, path: "/v2/{repo}/manifests/v1", scope: pull},
		{name: "anonymous GET blob", method: http.MethodGet, path: "/v2/{repo}/blobs/{config}", scope: pull},
		{name: "anonymous GET referrers", method: http.MethodGet, path: "/v2/{repo}/referrers/{next}", scope: pull},
		{name: "anonymous PUT manifest", method: http.MethodPut, path: "/v2/{repo}/manifests/v2", scope: push},
		{name: "anonymous DELETE manifest", method: http.MethodDelete, path: "/v2/{repo}/manifests/v1", scope: del},
		{name: "anonymous DELETE blob", method: http.MethodDelete, path: "/v2/{repo}/blobs/{config}", scope: del},
		{name: "anonymous single POST", method: http.MethodPost, path: "/v2/{repo}/blobs/uploads/?digest={digest}", scope: push},
		{name: "anonymous mount", method: http.MethodPost, path: "/v2/{repo}/blobs/uploads/?mount={config}&from={repo}", scope: push},
		{name: "anonymous PATCH to a session", method: http.MethodPatch, path: "/v2/{repo}/blobs/uploads/{session}", scope: push},
		{name: "anonymous PATCH cut short", method: http.MethodPatch, path: "/v2/{repo}/blobs/uploads/{session}", scope: push, framing: cutShort},
		{name: "anonymous PATCH over HTTP2", method: http.MethodPatch, path: "/v2/{repo}/blobs/uploads/{session}", scope: push, framing: h2EndStream},
		{name: "anonymous closing PUT", method: http.MethodPut, path: "/v2/{repo}/blobs/uploads/{session}?digest={digest}", scope: push},
		{name: "anonymous GET acr catalog", method: http.MethodGet, path: "/acr/v1/_catalog", scope: catalog},
		{name: "anonymous GET acr repository", method: http.MethodGet, path: "/acr/v1/{repo}", scope: metaRead},
		{name: "anonymous GET acr tags", method: http.MethodGet, path: "/acr/v1/{repo}/_tags", scope: metaRead},
		{name: "anonymous PATCH acr tag", method: http.MethodPatch, path: "/acr/v1/{repo}/_tags/v1", scope: metaSet},
		{name: "anonymous DELETE acr tag", method: http.MethodDelete, path: "/acr/v1/{repo}/_tags/v1", scope: del},
		{name: "anonymous DELETE acr repository", method: http.MethodDelete, path: "/acr/v1/{repo}", scope: del},

		{name: "wrong password, GET manifest", method: http.MethodGet, path: "/v2/{repo}/manifests/v1", scope: pull, authorization: wrongPassword},
		{name: "wrong password, PUT manifest", method: http.MethodPut, path: "/v2/{repo}/manifests/v2", scope: push, authorization: wrongPassword},
		{name: "unknown user, GET acr tags", method: http.MethodGet, path: "/acr/v1/{repo}/_tags", scope: metaRead, authorization: unknownUser},
		{name: "Basic that is not base64", method: http.MethodGet, path: "/v2/{repo}/manifests/v1", scope: pull, authorization: "Basic !!not base64!!"},
		{name: "unknown scheme", method: http.MethodGet, path: "/v2/{repo}/tags/list", scope: pull, authorization: "Digest username=\"x\""},
		{name: "Bearer garbage, GET of the API base", method: http.MethodGet, path: "/v2/", authorization: garbage},
		{name: "Bearer garbage, GET manifest", method: http.MethodGet, path: "/v2/{repo}/manifests/v1", scope: pull, authorization: garbage},
		{name: "Bearer garbage, single POST", method: http.MethodPost, path: "/v2/{repo}/blobs/uploads/?digest={digest}", scope: push, authorization: garbage},
		{name: "Bearer garbage, PATCH acr tag", method: http.MethodPatch, path: "/acr/v1/{repo}/_tags/v1", scope: metaSet, authorization: garbage},
		{name: "Bearer empty", method: http.MethodGet, path: "/v2/{repo}/manifests/v1", scope: pull, authorization: "Bearer "},
		{name: "pull token used to PUT a manifest", method: http.MethodPut, path: "/v2/{repo}/manifests/v2", scope: push, authorization: "Bearer {token}"},
		{name: "pull token used to PATCH a session", method: http.MethodPatch, path: "/v2/{repo}/blobs/uploads/{session}", scope: push, authorization: "Bearer {token}"},
		{name: "pull token used to DELETE a manifest", method: http.MethodDelete, path: "/v2/{repo}/manifests/v1", scope: del, authorization: "Bearer {token}"},
		{name: "pull token used on another repository", method: http.MethodGet, path: "/v2/{repo}-other/manifests/v1", scope: "repository:{repo}-other:pull", authorization: "Bearer {token}"},
	}

	var rows []row
	for _, ar := range table {
		spec := anonRule
		if ar.authorization != "" {
			spec = badRule
		}
		rows = append(rows, row{name: ar.name, spec: spec, run: func(t *testing.T) {
			f := e.newAuthFixture(t)
			bd, cd := digest.FromBytes(f.body), digest.FromBytes(f.config)
			fill := strings.NewReplacer("{repo}", f.repo, "{session}", f.sess.id, "{config}", cd.String(),
				"{digest}", bd.String(), "{next}", f.next.digest.String()).Replace
			path := fill(ar.path)
			rq := request{method: ar.method, target: path, anonymous: ar.authorization == "", framing: ar.framing}
			if ar.authorization != "" {
				a := ar.authorization
				if strings.Contains(a, "{token}") {
					a = strings.ReplaceAll(a, "{token}", e.accessToken(t, "repository:"+f.repo+":pull"))
				}
				rq.header = []string{"Authorization", a}
			}
			acr := strings.HasPrefix(path, "/acr/v1/")
			switch {
			case ar.method != http.MethodPut && ar.method != http.MethodPost && ar.method != http.MethodPatch:
			case strings.Contains(path, "/manifests/"):
				rq.body = f.next.body
				rq.header = append(rq.header, "Content-Type", f.next.mediaType)
			case acr:
				rq.body = []byte(`{"deleteEnabled":false,"writeEnabled":false}`)
				rq.header = append(rq.header, "Content-Type", "application/json")
			case strings.Contains(path, "mount="):
			default:
				rq.body = f.body
				rq.header = append(rq.header, "Content-Type", mtOctetStream)
				if ar.method == http.MethodPatch {
					rq.header = append(rq.header, "Content-Range", rangeHeader(len(f.body)))
				}
				rq.declared = int64(len(f.body))
				if ar.framing != withLength {
					rq.declared += 16
				}
			}
			before := e.snapshot(t, f.repo, f.v1.digest, "v1", "v2", f.next.digest.String())
			tagBefore := e.acrTag(t, f.repo, "v1")

			r := e.send(t, rq)
			wantAnswer(t, r, answer(http.StatusUnauthorized, "UNAUTHORIZED"))
			e.checkChallenge(t, r, fill(ar.scope), acr)

			e.wantSame(t, before)
			e.wantBlob(t, f.repo, cd, f.config)
			e.wantNoBlob(t, f.repo, bd)
			e.wantNoBlob(t, f.repo, f.next.digest)
			if got := e.acrTag(t, f.repo, "v1"); !bytes.Equal(got, tagBefore) {
				t.Errorf("tag attributes changed:\n%s\nwere\n%s", got, tagBefore)
			}
			f.sess.wantUnchanged(t)
			f.sess.complete(t)
		}})
	}
	return rows
}

// checkChallenge checks a 401's WWW-Authenticate against ACR's, exactly: the realm and
// service of the login server, the scope the request needed (none for the API base),
// error="invalid_token" on /acr/v1. A GET's error detail names what was asked for.
func (e *env) checkChallenge(t testing.TB, r *reply, scope string, acr bool) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || r.Header == nil {
		return // wantAnswer reported it, or HTTP/2 by hand, whose headers are not decoded
	}
	want := `Bearer realm="https://` + e.host + `/oauth2/token",service="` + e.host + `"`
	if scope != "" {
		want += `,scope="` + scope + `"`
	}
	if acr {
		want += `,error="invalid_token"`
	}
	if got := r.Header.Values("Www-Authenticate"); len(got) != 1 || got[0] != want {
		t.Errorf("WWW-Authenticate %q, want %q: %s", got, want, r)
	}
	if r.req.method == http.MethodHead || scope == "" {
		return
	}
	var env struct {
		Errors []struct {
			Code   string
			Detail []struct{ Type, Name, Action string }
		}
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || len(env.Errors) != 1 || len(env.Errors[0].Detail) != 1 {
		t.Errorf("want one error with one detail naming the scope: %s", r)
		return
	}
	d := env.Errors[0].Detail[0]
	if got := d.Type + ":" + d.Name + ":" + d.Action; got != scope {
		t.Errorf("error detail names %s, want %s: %s", got, scope, r)
	}
}

// accessToken gets the owner an access token for scope by the Docker token flow (GET
// /oauth2/token with Basic credentials).
func (e *env) accessToken(t testing.TB, scope string) string {
	t.Helper()
	q := url.Values{"service": {e.host}, "scope": {scope}}
	r := e.send(t, request{method: http.MethodGet, target: "/oauth2/token?" + q.Encode()})
	r.want(t, http.StatusOK)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer without access_token (%v): %s", err, r)
	}
	return tok.AccessToken
}

// acrTag is the owner's view of a tag's /acr/v1 attributes.
func (e *env) acrTag(t testing.TB, repo, tag string) []byte {
	t.Helper()
	r := e.send(t, request{method: http.MethodGet, target: "/acr/v1/" + repo + "/_tags/" + tag})
	r.want(t, http.StatusOK)
	return r.Body
}
