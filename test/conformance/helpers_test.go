package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// Media types the tests push and expect back.
const (
	mtImage        = v1.MediaTypeImageManifest
	mtIndex        = v1.MediaTypeImageIndex
	mtConfig       = v1.MediaTypeImageConfig
	mtLayer        = v1.MediaTypeImageLayerGzip
	mtEmptyJSON    = v1.MediaTypeEmptyJSON
	mtOctetStream  = "application/octet-stream"
	mtDockerImage  = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerConfig = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// emptyJSON is the OCI "empty descriptor" content, used as an artifact config.
var emptyJSON = []byte("{}")

// ---------------------------------------------------------------------------
// Requirements tables

// requirement is one row of a spec table: a named check and the rule it enforces.
type requirement struct {
	name string             // subtest name
	spec string             // "section: paraphrased rule", logged when the row fails
	run  func(t *testing.T) // the check; it makes its own repository
}

// runRequirements runs every row as a parallel subtest. A failing row logs the
// requirement it stands for, so a report reads as a list of broken rules.
func runRequirements(t *testing.T, rows []requirement) {
	t.Helper()
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Fatalf("duplicate requirement name %q", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("requirement: %s", row.spec)
				}
			})
			row.run(t)
		})
	}
}

// ---------------------------------------------------------------------------
// The registry under test

// env is the shared server and a client that does not follow redirects (a redirect is
// an answer the tests want to see, not something to hide).
type env struct {
	srv    *testserver.Server
	base   *url.URL
	client *http.Client
	seq    atomic.Uint64
}

func newEnv(t *testing.T, srv *testserver.Server) *env {
	t.Helper()
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("server URL %q: %v", srv.URL, err)
	}
	return &env{srv: srv, base: base, client: withTestPolicy(srv.Client)}
}

// withTestPolicy returns a copy of c that does not follow redirects and gives up on a
// request after two minutes.
func withTestPolicy(c *http.Client) *http.Client {
	client := *c
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if client.Timeout == 0 {
		client.Timeout = 2 * time.Minute
	}
	return &client
}

// overHTTP1 returns an env whose client speaks HTTP/1.1 only, as the docker daemon does.
func (e *env) overHTTP1() *env {
	tr := e.srv.Transport()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	return &env{srv: e.srv, base: e.base, client: withTestPolicy(e.srv.ClientOver(tr))}
}

// repo returns a fresh repository name derived from the running test, valid under the
// spec's name grammar, so that parallel tests never share state.
func (e *env) repo(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.TrimPrefix(b.String(), "testconformance-")
	if len(s) > 80 {
		s = s[len(s)-80:]
	}
	s = strings.Trim(s, "-")
	return fmt.Sprintf("conformance/%s-%d", s, e.seq.Add(1))
}

// ---------------------------------------------------------------------------
// HTTP

// streamed is a request body sent with chunked transfer encoding, without a
// Content-Length, as the official suite does for streamed PATCHes and manifest PUTs.
type streamed []byte

// reply is a fully read response.
type reply struct {
	Method string
	URL    *url.URL
	Proto  string // HTTP/2.0 for the test client over TLS, HTTP/1.1 for overHTTP1's
	Status int
	Header http.Header
	Body   []byte
}

func (r *reply) String() string {
	body := string(r.Body)
	if len(body) > 400 {
		body = body[:400] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %q", r.Method, r.URL.RequestURI(), r.Status, body)
}

// resolve turns a path (with optional query) or an absolute URL into a request URL. A
// path is sent as written: dot segments and empty components are kept, since some tests
// are about exactly those.
func (e *env) resolve(t testing.TB, target string) *url.URL {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("bad target %q: %v", target, err)
	}
	if u.IsAbs() {
		return u
	}
	u.Scheme, u.Host = e.base.Scheme, e.base.Host
	return u
}

// do sends one request. body is nil, []byte (sent with its Content-Length) or streamed;
// header holds name/value pairs, and a name may repeat.
func (e *env) do(t testing.TB, method, target string, body any, header ...string) *reply {
	t.Helper()
	return e.doURL(t, method, e.resolve(t, target), body, header...)
}

func (e *env) doURL(t testing.TB, method string, u *url.URL, body any, header ...string) *reply {
	t.Helper()
	var rd io.Reader
	length := int64(0)
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, length = bytes.NewReader(b), int64(len(b))
	case streamed:
		rd, length = struct{ io.Reader }{bytes.NewReader(b)}, -1
	default:
		t.Fatalf("unsupported body type %T", body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.ContentLength = length
	if len(header)%2 != 0 {
		t.Fatalf("odd header list %q", header)
	}
	for i := 0; i < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return &reply{Method: method, URL: req.URL, Proto: resp.Proto, Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// want fails the test now unless the status is one of codes.
func (r *reply) want(t testing.TB, codes ...int) {
	t.Helper()
	if !slices.Contains(codes, r.Status) {
		t.Fatalf("want status %v: %s", codes, r)
	}
}

// location returns the Location header resolved against the request URL, the way an
// HTTP client treats a relative or absolute reference.
func (r *reply) location(t testing.TB) *url.URL {
	t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		t.Fatalf("no Location header: %s", r)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("unparsable Location %q: %v", loc, err)
	}
	return r.URL.ResolveReference(u)
}

// wantHeader checks a response header value exactly.
func wantHeader(t testing.TB, r *reply, name, value string) {
	t.Helper()
	if got := r.Header.Values(name); !slices.Contains(got, value) {
		t.Errorf("header %s = %q, want %q (%s)", name, got, value, r)
	}
}

// wantNoBody checks that a response (typically to HEAD) carries no body.
func wantNoBody(t testing.TB, r *reply) {
	t.Helper()
	if len(r.Body) != 0 {
		t.Errorf("want an empty body: %s", r)
	}
}

// mediaType strips parameters from a Content-Type value.
func mediaType(v string) string {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return strings.TrimSpace(strings.ToLower(v))
	}
	return mt
}

// withQuery returns u with key=value added to its query; parameters the registry put
// in the URL (which the spec calls potentially critical) are kept.
func withQuery(u *url.URL, kv ...string) *url.URL {
	c := *u
	q := c.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	c.RawQuery = q.Encode()
	return &c
}

// ---------------------------------------------------------------------------
// Errors

// Error codes that may legitimately appear: the spec's table (v1.1), the two codes of
// earlier drafts that the official suite still accepts, and distribution's pagination
// code which Cerulean uses.
var knownErrorCodes = map[string]bool{
	"BLOB_UNKNOWN": true, "BLOB_UPLOAD_INVALID": true, "BLOB_UPLOAD_UNKNOWN": true,
	"DIGEST_INVALID": true, "MANIFEST_BLOB_UNKNOWN": true, "MANIFEST_INVALID": true,
	"MANIFEST_UNKNOWN": true, "NAME_INVALID": true, "NAME_UNKNOWN": true,
	"SIZE_INVALID": true, "UNAUTHORIZED": true, "DENIED": true, "UNSUPPORTED": true,
	"TOOMANYREQUESTS": true,
	"TAG_INVALID":     true, "MANIFEST_UNVERIFIED": true,
	"PAGINATION_NUMBER_INVALID": true,
}

// legacySuiteCodes is the list the Ginkgo suite compares 400 bodies against.
var legacySuiteCodes = []string{
	"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
	"MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
	"NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED",
	"DENIED", "UNSUPPORTED",
}

var errorCodeRE = regexp.MustCompile(`^[A-Z_]+$`)

type errorEnvelope struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message *string         `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// outcome is one acceptable error answer: a status and the codes allowed with it (any
// known code when none are listed).
type outcome struct {
	status int
	codes  []string
}

// wantError asserts an error status and, unless the request was a HEAD, the spec's
// JSON envelope with one of the given codes.
func wantError(t testing.TB, r *reply, status int, codes ...string) {
	t.Helper()
	wantErrorOneOf(t, r, outcome{status, codes})
}

// wantErrorOneOf is wantError with several acceptable status/code combinations.
func wantErrorOneOf(t testing.TB, r *reply, outcomes ...outcome) {
	t.Helper()
	for _, o := range outcomes {
		if o.status != r.Status {
			continue
		}
		if r.Method != http.MethodHead {
			checkErrorBody(t, r, o.codes...)
		}
		return
	}
	var want []string
	for _, o := range outcomes {
		want = append(want, fmt.Sprintf("%d %v", o.status, o.codes))
	}
	t.Fatalf("want one of %s: %s", strings.Join(want, " or "), r)
}

// checkErrorBody validates the error envelope {"errors":[{"code","message"}]} and, if
// codes are given, that one of the errors carries one of them.
func checkErrorBody(t testing.TB, r *reply, codes ...string) {
	t.Helper()
	if ct := mediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json: %s", r.Header.Get("Content-Type"), r)
	}
	var env errorEnvelope
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("error body is not the JSON error envelope (%v): %s", err, r)
	}
	if len(env.Errors) == 0 {
		t.Fatalf("error body has no errors: %s", r)
	}
	matched := len(codes) == 0
	for _, e := range env.Errors {
		if !errorCodeRE.MatchString(e.Code) || !knownErrorCodes[e.Code] {
			t.Errorf("error code %q is not one of the spec's codes: %s", e.Code, r)
		}
		if e.Message == nil {
			t.Errorf("error %s has no message: %s", e.Code, r)
		}
		if slices.Contains(codes, e.Code) {
			matched = true
		}
	}
	if !matched {
		t.Errorf("want error code in %v: %s", codes, r)
	}
}

// ---------------------------------------------------------------------------
// Blobs

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex(t testing.TB) string { return hex.EncodeToString(randomBytes(t, 8)) }

func blobPath(repo string, d digest.Digest) string { return "/v2/" + repo + "/blobs/" + d.String() }

func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

func uploadsPath(repo string) string { return "/v2/" + repo + "/blobs/uploads/" }

// startUpload opens an upload session (POST with Content-Length: 0) and returns its
// location; the spec requires 202 and a Location.
func (e *env) startUpload(t testing.TB, repo string) (*url.URL, *reply) {
	t.Helper()
	r := e.do(t, http.MethodPost, uploadsPath(repo), nil)
	r.want(t, http.StatusAccepted)
	return r.location(t), r
}

// pushBlob uploads data by POST then PUT and returns its sha256 digest.
func (e *env) pushBlob(t testing.TB, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	e.pushBlobAs(t, repo, data, d)
	return d
}

// pushBlobAs uploads data by POST then PUT under the given digest (any algorithm).
func (e *env) pushBlobAs(t testing.TB, repo string, data []byte, d digest.Digest) {
	t.Helper()
	loc, _ := e.startUpload(t, repo)
	r := e.doURL(t, http.MethodPut, withQuery(loc, "digest", d.String()), data, "Content-Type", mtOctetStream)
	r.want(t, http.StatusCreated)
}

// wantBlob checks that the repository serves data under d.
func (e *env) wantBlob(t testing.TB, repo string, d digest.Digest, data []byte) {
	t.Helper()
	r := e.do(t, http.MethodGet, blobPath(repo, d), nil)
	r.want(t, http.StatusOK)
	if !bytes.Equal(r.Body, data) {
		t.Errorf("blob %s: got %d bytes, want the %d pushed", d, len(r.Body), len(data))
	}
}

// wantNoBlob checks that the repository does not have d (HEAD answers 404).
func (e *env) wantNoBlob(t testing.TB, repo string, d digest.Digest) {
	t.Helper()
	r := e.do(t, http.MethodHead, blobPath(repo, d), nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("blob %s should not be stored: %s", d, r)
	}
}

// ---------------------------------------------------------------------------
// Manifests

// manifest is an encoded manifest ready to push.
type manifest struct {
	MediaType string
	Body      []byte
	Digest    digest.Digest
}

func (m manifest) desc() v1.Descriptor {
	return v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Body))}
}

// encode marshals v with tab indentation (so byte-exact storage is visible) and digests
// it with the algorithm (sha256 unless given).
func encode(t testing.TB, mediaType string, v any, algo ...digest.Algorithm) manifest {
	t.Helper()
	body, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	a := digest.Canonical
	if len(algo) > 0 {
		a = algo[0]
	}
	return manifest{MediaType: mediaType, Body: body, Digest: a.FromBytes(body)}
}

// putManifest PUTs m with its media type as Content-Type.
func (e *env) putManifest(t testing.TB, repo, ref string, m manifest) *reply {
	t.Helper()
	return e.do(t, http.MethodPut, manifestPath(repo, ref), m.Body, "Content-Type", m.MediaType)
}

// pushManifest PUTs m and requires 201 Created.
func (e *env) pushManifest(t testing.TB, repo, ref string, m manifest) *reply {
	t.Helper()
	r := e.putManifest(t, repo, ref, m)
	r.want(t, http.StatusCreated)
	return r
}

// getManifest GETs a manifest accepting every type the tests push.
func (e *env) getManifest(t testing.TB, method, repo, ref string) *reply {
	t.Helper()
	return e.do(t, method, manifestPath(repo, ref), nil,
		"Accept", mtImage, "Accept", mtIndex, "Accept", mtDockerImage, "Accept", mtDockerList)
}

// wantManifest checks that ref serves m byte for byte with its media type and digest.
func (e *env) wantManifest(t testing.TB, repo, ref string, m manifest) {
	t.Helper()
	r := e.getManifest(t, http.MethodGet, repo, ref)
	r.want(t, http.StatusOK)
	if !bytes.Equal(r.Body, m.Body) {
		t.Errorf("manifest %s: body differs from the pushed bytes: %s", ref, r)
	}
	if ct := r.Header.Get("Content-Type"); mediaType(ct) != m.MediaType {
		t.Errorf("manifest %s: Content-Type %q, want %q", ref, ct, m.MediaType)
	}
	wantHeader(t, r, "Docker-Content-Digest", m.Digest.String())
}

// wantNoManifest checks that ref is unknown to the repository.
func (e *env) wantNoManifest(t testing.TB, repo, ref string) {
	t.Helper()
	r := e.getManifest(t, http.MethodGet, repo, ref)
	if r.Status != http.StatusNotFound {
		t.Errorf("manifest %s should not exist: %s", ref, r)
	}
}

// image describes a test image or artifact.
type image struct {
	algo            digest.Algorithm
	layers          int // number of random layers; -1 for an empty list
	layerMediaType  string
	configMediaType string
	configData      []byte
	artifactType    string
	subject         *v1.Descriptor
	annotations     map[string]string
	mediaType       string // mtImage (default) or mtDockerImage
}

// buildImage pushes the config and layers of spec to repo and returns the encoded
// (not yet pushed) manifest.
func (e *env) buildImage(t testing.TB, repo string, spec image) manifest {
	t.Helper()
	algo := spec.algo
	if algo == "" {
		algo = digest.Canonical
	}
	mt := spec.mediaType
	if mt == "" {
		mt = mtImage
	}
	cfgData := spec.configData
	cfgType := spec.configMediaType
	if cfgData == nil {
		cfgData = []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","author":"conformance %s","rootfs":{"type":"layers","diff_ids":[]}}`, randomHex(t)))
	}
	if cfgType == "" {
		cfgType = mtConfig
		if mt == mtDockerImage {
			cfgType = mtDockerConfig
		}
	}
	cfg := v1.Descriptor{MediaType: cfgType, Digest: algo.FromBytes(cfgData), Size: int64(len(cfgData))}
	e.pushBlobAs(t, repo, cfgData, cfg.Digest)

	n := spec.layers
	if n == 0 {
		n = 1
	}
	layers := []v1.Descriptor{}
	for range max(n, 0) {
		data := randomBytes(t, 700)
		lt := spec.layerMediaType
		if lt == "" {
			lt = mtLayer
			if mt == mtDockerImage {
				lt = mtDockerLayer
			}
		}
		d := algo.FromBytes(data)
		e.pushBlobAs(t, repo, data, d)
		layers = append(layers, v1.Descriptor{MediaType: lt, Digest: d, Size: int64(len(data))})
	}
	return encode(t, mt, v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    mt,
		ArtifactType: spec.artifactType,
		Config:       cfg,
		Layers:       layers,
		Subject:      spec.subject,
		Annotations:  spec.annotations,
	}, algo)
}

// pushImage builds a default image and pushes its manifest under ref.
func (e *env) pushImage(t testing.TB, repo, ref string) manifest {
	t.Helper()
	m := e.buildImage(t, repo, image{})
	e.pushManifest(t, repo, ref, m)
	return m
}

// index encodes an OCI index (or, with mediaType mtDockerList, a Docker list) of the
// given manifests.
func index(t testing.TB, mediaType string, children []manifest, subject *v1.Descriptor, artifactType string, annotations map[string]string) manifest {
	t.Helper()
	ix := v1.Index{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    mediaType,
		ArtifactType: artifactType,
		Manifests:    []v1.Descriptor{},
		Subject:      subject,
		Annotations:  annotations,
	}
	archs := []string{"amd64", "arm64", "s390x", "ppc64le"}
	for i, c := range children {
		d := c.desc()
		d.Platform = &v1.Platform{OS: "linux", Architecture: archs[i%len(archs)]}
		ix.Manifests = append(ix.Manifests, d)
	}
	return encode(t, mediaType, ix)
}

// newArtifact encodes an artifact manifest for referrer tests, pushing its blobs to repo.
// Without configType it has artifactType, the empty config and layerData as its one
// layer; with configType, layerData is the config (of that media type, which then names
// the artifact) and the one layer is the empty blob.
func (e *env) newArtifact(t testing.TB, repo, artifactType, configType string, layerData []byte, subject *v1.Descriptor, annotations map[string]string) manifest {
	t.Helper()
	cfgData, cfgType := emptyJSON, mtEmptyJSON
	if configType != "" {
		cfgData, cfgType = layerData, configType
	}
	cd := e.pushBlob(t, repo, cfgData)
	layers := []v1.Descriptor{{MediaType: mtEmptyJSON, Digest: e.pushBlob(t, repo, emptyJSON), Size: int64(len(emptyJSON))}}
	if configType == "" {
		layers = []v1.Descriptor{{MediaType: artifactType, Digest: e.pushBlob(t, repo, layerData), Size: int64(len(layerData))}}
	}
	at := artifactType
	if configType != "" {
		at = "" // the config media type names the artifact
	}
	return encode(t, mtImage, v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    mtImage,
		ArtifactType: at,
		Config:       v1.Descriptor{MediaType: cfgType, Digest: cd, Size: int64(len(cfgData))},
		Layers:       layers,
		Subject:      subject,
		Annotations:  annotations,
	})
}

// ---------------------------------------------------------------------------
// Listings

type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// listTags GETs a tags list (query without '?') and decodes it on 200.
func (e *env) listTags(t testing.TB, repo, query string) (*reply, tagList) {
	t.Helper()
	target := "/v2/" + repo + "/tags/list"
	if query != "" {
		target += "?" + query
	}
	r := e.do(t, http.MethodGet, target, nil)
	var tl tagList
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &tl); err != nil {
			t.Fatalf("tags list is not JSON: %v: %s", err, r)
		}
	}
	return r, tl
}

// linkRE matches an RFC 5988 Link header value with rel="next".
var linkRE = regexp.MustCompile(`^<([^>]+)>\s*;\s*rel="?next"?$`)

// nextLink returns the target of a rel="next" Link header, or nil when there is none.
func nextLink(t testing.TB, r *reply) *url.URL {
	t.Helper()
	v := r.Header.Get("Link")
	if v == "" {
		return nil
	}
	m := linkRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		t.Fatalf("Link header %q is not <url>; rel=\"next\"", v)
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatalf("Link target %q: %v", m[1], err)
	}
	return r.URL.ResolveReference(u)
}

// rangeEnd parses a "0-<end>" Range header (as sent on upload responses).
func rangeEnd(t testing.TB, r *reply) int64 {
	t.Helper()
	v := r.Header.Get("Range")
	rest, ok := strings.CutPrefix(v, "0-")
	if !ok {
		t.Fatalf("Range header %q does not start with 0-: %s", v, r)
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		t.Fatalf("Range header %q: %v", v, err)
	}
	return n
}
