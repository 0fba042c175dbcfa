package badinput

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// Media types the tests push.
const (
	mtImage       = v1.MediaTypeImageManifest
	mtIndex       = v1.MediaTypeImageIndex
	mtConfig      = v1.MediaTypeImageConfig
	mtLayer       = v1.MediaTypeImageLayerGzip
	mtOctetStream = "application/octet-stream"
	mtDockerImage = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxManifest is the manifest size limit Cerulean enforces (the spec's "at least 4
// megabytes").
const maxManifest = 4 << 20

// ---------------------------------------------------------------------------
// Rows

// row is what every family's table turns into: a named request with the rule it
// enforces. run sends the request, checks the answer and then that nothing was stored.
type row struct {
	name string
	spec string
	run  func(t *testing.T)
}

// runRows runs every row as a parallel subtest; a failing row logs its rule.
func runRows(t *testing.T, rows []row) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.name] || strings.Contains(r.name, "/") {
			t.Fatalf("row name %q is a duplicate or holds a '/' (which -run would read as a level)", r.name)
		}
		seen[r.name] = true
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("rule: %s", r.spec)
				}
			})
			r.run(t)
		})
	}
}

// ---------------------------------------------------------------------------
// The server under test

// env is the shared server, HTTP clients that do not follow redirects, and what the rows
// stored on purpose, for the final check of the data directory.
type env struct {
	base *url.URL
	host string // the login server, which challenges name
	pool *x509.CertPool
	// client signs every request in with the bootstrap owner's Basic credentials, unless
	// the request carries an Authorization of its own; anon sends none. authorization is
	// that Basic header, which the hand-written requests send.
	client, anon  *http.Client
	authorization string
	user          string // the owner's client id
	dataDir       string
	metrics       string
	seq           atomic.Uint64

	mu       sync.Mutex
	pushed   map[digest.Digest]bool // blobs stored on purpose
	sessions map[string]string      // upload session id -> the Location that revealed it
}

func newEnv(t *testing.T, srv *testserver.Server) *env {
	t.Helper()
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("server URL %q: %v", srv.URL, err)
	}
	noRedirects := func(c http.Client) *http.Client {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		c.Timeout = 2 * time.Minute
		return &c
	}
	return &env{
		base: base, host: srv.Host, pool: srv.CAPool,
		client: noRedirects(*srv.Client), anon: noRedirects(*srv.Anonymous),
		authorization: basicAuth(srv.Username, srv.Password), user: srv.Username,
		dataDir: srv.DataDir, metrics: srv.MetricsURL,
		pushed: map[digest.Digest]bool{}, sessions: map[string]string{},
	}
}

// basicAuth is the Authorization value of Basic credentials.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// repo returns a fresh repository name derived from the running test.
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
	s := strings.TrimPrefix(b.String(), "testbadinput-")
	if len(s) > 60 {
		s = s[len(s)-60:]
	}
	return fmt.Sprintf("badinput/%s-%d", strings.Trim(s, "-"), e.seq.Add(1))
}

func (e *env) notePushed(d digest.Digest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pushed[d] = true
}

// noteLocation remembers the upload session a Location names.
func (e *env) noteLocation(loc string) {
	u, err := url.Parse(loc)
	if err != nil {
		return
	}
	before, id, ok := strings.Cut(u.Path, "/blobs/uploads/")
	if !ok || id == "" || before == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessions[id] = loc
}

// ---------------------------------------------------------------------------
// Requests

// framing says how a request's body travels.
type framing int

const (
	// withLength sends the body with a Content-Length that matches it (the default).
	withLength framing = iota
	// chunked sends the body with chunked transfer encoding and no Content-Length.
	chunked
	// cutShort writes HTTP/1.1 by hand: Content-Length says declared, fewer bytes follow,
	// then the client closes its side of the TLS stream (close_notify) and reads the
	// answer.
	cutShort
	// hangUp is cutShort with "Expect: 100-continue": the client waits until the
	// handler asks for the body, sends the short body and closes the connection without
	// reading an answer. The handler is then running, so it holds its upload session.
	hangUp
	// h2EndStream speaks HTTP/2 by hand: content-length says declared, and the one DATA
	// frame, shorter, ends the stream.
	h2EndStream
)

// request is one request of a row.
type request struct {
	method   string
	target   string   // path with query, or an absolute URL
	header   []string // name/value pairs
	body     []byte
	framing  framing
	declared int64 // Content-Length announced by cutShort, hangUp and h2EndStream
	// anonymous sends no credentials. Otherwise a request carries the owner's Basic
	// credentials unless header holds an Authorization of its own.
	anonymous bool
}

// authFor is the Authorization value rq is sent with ("" for none).
func (e *env) authFor(rq request) string {
	for i := 0; i+1 < len(rq.header); i += 2 {
		if http.CanonicalHeaderKey(rq.header[i]) == "Authorization" {
			return rq.header[i+1]
		}
	}
	if rq.anonymous {
		return ""
	}
	return e.authorization
}

func (rq request) String() string {
	s := rq.method + " " + rq.target
	switch rq.framing {
	case chunked:
		s += fmt.Sprintf(" (%d bytes chunked)", len(rq.body))
	case cutShort, hangUp, h2EndStream:
		s += fmt.Sprintf(" (Content-Length %d, %d bytes sent)", rq.declared, len(rq.body))
	default:
		if len(rq.body) > 0 {
			s += fmt.Sprintf(" (%d bytes)", len(rq.body))
		}
	}
	return s
}

// reply is a fully read answer.
type reply struct {
	req    request
	Status int
	// Header is nil for an answer read from hand-made HTTP/2 frames, whose header block
	// is decoded only as far as :status.
	Header http.Header
	Body   []byte
}

func (r *reply) String() string {
	body := string(r.Body)
	if len(body) > 400 {
		body = body[:400] + "..."
	}
	return fmt.Sprintf("%s -> %d %q", r.req, r.Status, body)
}

func (e *env) resolve(t testing.TB, target string) *url.URL {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("bad target %q: %v", target, err)
	}
	if u.IsAbs() {
		return u
	}
	// Sent as written: no dot-segment removal, no merging of empty components, since
	// some rows are about exactly those.
	abs := *e.base
	abs.Path, abs.RawPath, abs.RawQuery = u.Path, u.RawPath, u.RawQuery
	return &abs
}

// send sends rq and reads the answer; it returns nil for hangUp, whose answer nobody reads.
func (e *env) send(t testing.TB, rq request) *reply {
	t.Helper()
	var r *reply
	switch rq.framing {
	case withLength, chunked:
		r = e.sendClient(t, rq)
	case cutShort, hangUp:
		r = e.sendHTTP1(t, rq)
	case h2EndStream:
		r = e.sendHTTP2(t, rq)
	default:
		t.Fatalf("unknown framing %d", rq.framing)
	}
	if r != nil && r.Header != nil {
		if loc := r.Header.Get("Location"); loc != "" {
			e.noteLocation(loc)
		}
	}
	return r
}

func (e *env) sendClient(t testing.TB, rq request) *reply {
	t.Helper()
	u := e.resolve(t, rq.target)
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
		if rq.framing == chunked {
			body = struct{ io.Reader }{body} // hides the length from net/http
		}
	}
	req, err := http.NewRequest(rq.method, u.String(), body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.ContentLength = int64(len(rq.body))
	if rq.framing == chunked {
		req.ContentLength = -1
	}
	addHeaders(t, req.Header, rq.header)
	client := e.client
	if rq.anonymous {
		client = e.anon
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", rq, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading body: %v", rq, err)
	}
	return &reply{req: rq, Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func addHeaders(t testing.TB, h http.Header, kv []string) {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatalf("odd header list %q", kv)
	}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
}

// ---------------------------------------------------------------------------
// Answers

// specCodes are the codes an error may carry: the spec's table, the two legacy Docker
// codes it names (TAG_INVALID, MANIFEST_UNVERIFIED), and distribution's
// PAGINATION_NUMBER_INVALID, which Cerulean uses for a bad `n` as test/conformance does.
var specCodes = map[string]bool{
	"BLOB_UNKNOWN": true, "BLOB_UPLOAD_INVALID": true, "BLOB_UPLOAD_UNKNOWN": true,
	"DIGEST_INVALID": true, "MANIFEST_BLOB_UNKNOWN": true, "MANIFEST_INVALID": true,
	"MANIFEST_UNKNOWN": true, "NAME_INVALID": true, "NAME_UNKNOWN": true,
	"SIZE_INVALID": true, "UNAUTHORIZED": true, "DENIED": true, "UNSUPPORTED": true,
	"TOOMANYREQUESTS": true, "TAG_INVALID": true, "MANIFEST_UNVERIFIED": true,
	"PAGINATION_NUMBER_INVALID": true,
}

// outcome is one acceptable answer: a status and, for an error, the codes allowed with it.
type outcome struct {
	status int
	codes  []string
}

// answer builds an outcome.
func answer(status int, codes ...string) outcome { return outcome{status, codes} }

func (o outcome) String() string {
	if len(o.codes) == 0 {
		return fmt.Sprint(o.status)
	}
	return fmt.Sprintf("%d %s", o.status, strings.Join(o.codes, "|"))
}

// wantAnswer checks that r is one of outs: the status, and for an error status the error
// envelope (checkError) with one of the outcome's codes. A wrong status is reported
// without stopping the test, so that the row's "nothing stored" check still runs.
func wantAnswer(t testing.TB, r *reply, outs ...outcome) {
	t.Helper()
	if r == nil {
		t.Fatalf("no answer")
	}
	for _, o := range outs {
		if o.status != r.Status {
			continue
		}
		if r.Status >= 400 {
			checkError(t, r, o.status, o.codes...)
		}
		return
	}
	want := make([]string, len(outs))
	for i, o := range outs {
		want[i] = o.String()
	}
	t.Errorf("want %s: %s", strings.Join(want, " or "), r)
}

// errorEnvelope is the distribution error body.
type errorEnvelope struct {
	Errors []wireError `json:"errors"`
}

type wireError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail"`
}

// checkError is the one check of an error answer: the status, Content-Type
// application/json, and (except for HEAD, which has no body) a body that is the error
// envelope, every error with a spec code and a non-empty message, one of them with one
// of codes. It returns the errors.
func checkError(t testing.TB, r *reply, status int, codes ...string) []wireError {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r)
	}
	if r.Header != nil {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			t.Errorf("error Content-Type %q, want application/json: %s", ct, r)
		}
	}
	if r.req.method == http.MethodHead {
		if len(r.Body) != 0 {
			t.Errorf("HEAD answer has a body: %s", r)
		}
		return nil
	}
	var env errorEnvelope
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("body is not the error envelope (%v): %s", err, r)
	}
	if len(env.Errors) == 0 {
		t.Fatalf("error envelope without errors: %s", r)
	}
	matched := len(codes) == 0
	for _, e := range env.Errors {
		if !specCodes[e.Code] {
			t.Errorf("code %q is not a spec error code: %s", e.Code, r)
		}
		if strings.TrimSpace(e.Message) == "" {
			t.Errorf("error %s has an empty message: %s", e.Code, r)
		}
		matched = matched || slices.Contains(codes, e.Code)
	}
	if !matched {
		t.Errorf("want code %s: %s", strings.Join(codes, " or "), r)
	}
	return env.Errors
}

// want fails the test now unless the status is one of statuses.
func (r *reply) want(t testing.TB, statuses ...int) {
	t.Helper()
	if !slices.Contains(statuses, r.Status) {
		t.Fatalf("want status %v: %s", statuses, r)
	}
}

// location resolves the Location header.
func (r *reply) location(t testing.TB, e *env) *url.URL {
	t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		t.Fatalf("no Location: %s", r)
	}
	return e.resolve(t, loc)
}

// ---------------------------------------------------------------------------
// Content

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func blobPath(repo string, d digest.Digest) string { return "/v2/" + repo + "/blobs/" + d.String() }

func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

func uploadsPath(repo string) string { return "/v2/" + repo + "/blobs/uploads/" }

func withQuery(u *url.URL, kv ...string) string {
	c := *u
	q := c.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// pushBlob stores data in repo by POST then PUT and returns its digest.
func (e *env) pushBlob(t testing.TB, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	post := e.send(t, request{method: http.MethodPost, target: uploadsPath(repo)})
	post.want(t, http.StatusAccepted)
	put := e.send(t, request{method: http.MethodPut, target: withQuery(post.location(t, e), "digest", d.String()),
		body: data, header: []string{"Content-Type", mtOctetStream}})
	put.want(t, http.StatusCreated)
	e.notePushed(d)
	return d
}

// manifest is an encoded manifest.
type manifest struct {
	mediaType string
	body      []byte
	digest    digest.Digest
}

func (m manifest) desc() v1.Descriptor {
	return v1.Descriptor{MediaType: m.mediaType, Digest: m.digest, Size: int64(len(m.body))}
}

func encode(t testing.TB, mediaType string, v any) manifest {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return manifest{mediaType: mediaType, body: body, digest: digest.FromBytes(body)}
}

func (e *env) putManifest(t testing.TB, repo, ref string, m manifest) *reply {
	t.Helper()
	return e.send(t, request{method: http.MethodPut, target: manifestPath(repo, ref), body: m.body,
		header: []string{"Content-Type", m.mediaType}})
}

func (e *env) pushManifest(t testing.TB, repo, ref string, m manifest) {
	t.Helper()
	e.putManifest(t, repo, ref, m).want(t, http.StatusCreated)
}

// image is a manifest whose config and layer are pushed but which is not pushed itself.
type image struct {
	v1.Manifest
	config, layer []byte
}

func (im image) encode(t testing.TB) manifest { return encode(t, im.MediaType, im.Manifest) }

// buildImage pushes a config and one layer to repo and returns the image manifest naming
// them, with subject if given.
func (e *env) buildImage(t testing.TB, repo string, subject *v1.Descriptor) image {
	t.Helper()
	cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":%q}`, rand.Text())
	layer := randomBytes(t, 300)
	im := image{config: cfg, layer: layer, Manifest: v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: mtImage,
		Config:    v1.Descriptor{MediaType: mtConfig, Digest: e.pushBlob(t, repo, cfg), Size: int64(len(cfg))},
		Layers:    []v1.Descriptor{{MediaType: mtLayer, Digest: e.pushBlob(t, repo, layer), Size: int64(len(layer))}},
		Subject:   subject,
	}}
	if subject != nil {
		im.ArtifactType = "application/vnd.example.badinput"
	}
	return im
}

// pushImage pushes a new image under ref and returns its manifest.
func (e *env) pushImage(t testing.TB, repo, ref string) manifest {
	t.Helper()
	m := e.buildImage(t, repo, nil).encode(t)
	e.pushManifest(t, repo, ref, m)
	return m
}

// index encodes an OCI index of children.
func index(t testing.TB, children []v1.Descriptor, subject *v1.Descriptor) manifest {
	t.Helper()
	if children == nil {
		children = []v1.Descriptor{}
	}
	return encode(t, mtIndex, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mtIndex,
		Manifests: children, Subject: subject})
}

// ---------------------------------------------------------------------------
// Upload sessions

// session is an upload session a row opened, and the blob it is meant to become.
type session struct {
	e    *env
	repo string
	loc  *url.URL
	id   string
	data []byte // the whole blob
	held int    // bytes the session holds
}

// openSession opens a session for data in repo and PATCHes its first prefix bytes.
func (e *env) openSession(t testing.TB, repo string, data []byte, prefix int) *session {
	t.Helper()
	post := e.send(t, request{method: http.MethodPost, target: uploadsPath(repo)})
	post.want(t, http.StatusAccepted)
	s := &session{e: e, repo: repo, loc: post.location(t, e), data: data}
	s.id = s.loc.Path[strings.LastIndex(s.loc.Path, "/")+1:]
	if prefix > 0 {
		r := e.send(t, s.patch(0, prefix))
		r.want(t, http.StatusAccepted)
		s.held = prefix
	}
	return s
}

// patch is the correct PATCH of data[start:end).
func (s *session) patch(start, end int) request {
	return request{method: http.MethodPatch, target: s.loc.String(), body: s.data[start:end],
		header: []string{"Content-Type", mtOctetStream, "Content-Range", fmt.Sprintf("%d-%d", start, end-1)}}
}

// putURL is the session's location with ?digest= set to d.
func (s *session) putURL(d string) string { return withQuery(s.loc, "digest", d) }

// rangeHeader is the Range a session of size bytes reports ("0-0" when empty).
func rangeHeader(size int) string { return fmt.Sprintf("0-%d", max(size-1, 0)) }

// wantUnchanged checks that the session still holds exactly what it held before the bad
// request: GET answers 204 with the same Range, and its data file is that long.
func (s *session) wantUnchanged(t testing.TB) {
	t.Helper()
	r := s.e.send(t, request{method: http.MethodGet, target: s.loc.String()})
	r.want(t, http.StatusNoContent)
	if got, want := r.Header.Get("Range"), rangeHeader(s.held); got != want {
		t.Errorf("session Range %q after the bad request, want %q (unchanged)", got, want)
	}
	if size, ok := s.e.sessionFileSize(t, s.id); !ok {
		t.Errorf("session %s has no data file", s.id)
	} else if size != int64(s.held) {
		t.Errorf("session %s data file holds %d bytes, want %d", s.id, size, s.held)
	}
}

// complete sends the rest of the blob in order, closes the session with the right digest
// and checks that the blob is served with exactly the intended bytes.
func (s *session) complete(t testing.TB) {
	t.Helper()
	if s.held < len(s.data) {
		s.e.send(t, s.patch(s.held, len(s.data))).want(t, http.StatusAccepted)
		s.held = len(s.data)
	}
	d := digest.FromBytes(s.data)
	r := s.e.send(t, request{method: http.MethodPut, target: s.putURL(d.String()), header: []string{"Content-Type", mtOctetStream}})
	r.want(t, http.StatusCreated)
	s.e.notePushed(d)
	got := s.e.send(t, request{method: http.MethodGet, target: blobPath(s.repo, d)})
	got.want(t, http.StatusOK)
	if !bytes.Equal(got.Body, s.data) {
		t.Errorf("completed blob %s serves %d bytes, not the %d intended", d, len(got.Body), len(s.data))
	}
}

// ---------------------------------------------------------------------------
// What is stored

// blobFile is where the filesystem driver keeps a committed blob.
func (e *env) blobFile(d digest.Digest) string {
	return filepath.Join(e.dataDir, "blobs", "blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded())
}

// sessionFileSize is the size of an upload session's data file.
func (e *env) sessionFileSize(t testing.TB, id string) (int64, bool) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(e.dataDir, "blobs", "uploads", id, "data"))
	if os.IsNotExist(err) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), true
}

// wantNoBlob checks that repo does not serve d (HEAD 404) and, unless a row pushed d
// on purpose (to another repository), that no file holds it.
func (e *env) wantNoBlob(t testing.TB, repo string, d digest.Digest) {
	t.Helper()
	r := e.send(t, request{method: http.MethodHead, target: blobPath(repo, d)})
	if r.Status != http.StatusNotFound {
		t.Errorf("blob %s should not be stored: %s", d, r)
	}
	e.mu.Lock()
	pushed := e.pushed[d]
	e.mu.Unlock()
	if _, err := os.Stat(e.blobFile(d)); err == nil && !pushed {
		t.Errorf("blob file %s exists", e.blobFile(d))
	}
}

// wantBlob checks that repo serves d with data.
func (e *env) wantBlob(t testing.TB, repo string, d digest.Digest, data []byte) {
	t.Helper()
	r := e.send(t, request{method: http.MethodGet, target: blobPath(repo, d)})
	r.want(t, http.StatusOK)
	if !bytes.Equal(r.Body, data) {
		t.Errorf("blob %s changed: %d bytes served, %d pushed", d, len(r.Body), len(data))
	}
}

// snapshot is what a repository shows through the API. A rejected request must leave it
// as it was.
type snapshot struct {
	TagsStatus int
	Tags       []string
	InCatalog  bool
	Referrers  []string       // of Subject
	Manifests  map[string]int // status of GET manifests/<ref> for the watched references
	Subject    digest.Digest
	refs       []string // watched references
	repo       string
}

// snapshot records repo's tags, whether the catalog lists it, the referrers of subject
// (if not empty) and the status of GET for each watched manifest reference.
func (e *env) snapshot(t testing.TB, repo string, subject digest.Digest, refs ...string) snapshot {
	t.Helper()
	s := snapshot{repo: repo, Subject: subject, refs: refs, Manifests: map[string]int{}}
	r := e.send(t, request{method: http.MethodGet, target: "/v2/" + repo + "/tags/list"})
	s.TagsStatus = r.Status
	if r.Status == http.StatusOK {
		var tl struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(r.Body, &tl); err != nil {
			t.Fatalf("tags list: %v: %s", err, r)
		}
		s.Tags = tl.Tags
	}
	s.InCatalog = slices.Contains(e.catalog(t), repo)
	if subject != "" {
		s.Referrers = e.referrers(t, repo, subject)
	}
	for _, ref := range refs {
		s.Manifests[ref] = e.send(t, request{method: http.MethodGet, target: manifestPath(repo, ref),
			header: []string{"Accept", "*/*"}}).Status
	}
	return s
}

// wantSame checks that the repository still shows what before recorded.
func (e *env) wantSame(t testing.TB, before snapshot) {
	t.Helper()
	after := e.snapshot(t, before.repo, before.Subject, before.refs...)
	if diff := cmp.Diff(before, after, cmp.AllowUnexported(snapshot{})); diff != "" {
		t.Errorf("repository %s changed (-before +after):\n%s", before.repo, diff)
	}
}

// catalog lists every repository.
func (e *env) catalog(t testing.TB) []string {
	t.Helper()
	r := e.send(t, request{method: http.MethodGet, target: "/v2/_catalog"})
	r.want(t, http.StatusOK)
	var c struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(r.Body, &c); err != nil {
		t.Fatalf("catalog: %v: %s", err, r)
	}
	return c.Repositories
}

// referrers lists the digests of the referrers of d in repo.
func (e *env) referrers(t testing.TB, repo string, d digest.Digest) []string {
	t.Helper()
	r := e.send(t, request{method: http.MethodGet, target: "/v2/" + repo + "/referrers/" + d.String()})
	r.want(t, http.StatusOK)
	var ix v1.Index
	if err := json.Unmarshal(r.Body, &ix); err != nil {
		t.Fatalf("referrers: %v: %s", err, r)
	}
	out := []string{}
	for _, m := range ix.Manifests {
		out = append(out, m.Digest.String())
	}
	slices.Sort(out)
	return out
}
