package clients

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types that the tests use for artifacts.
const (
	mediaTypeEmpty = "application/vnd.oci.empty.v1+json" // the empty descriptor's "{}"
	artifactSBOM   = "application/vnd.example.sbom.v1+json"
	artifactSig    = "application/vnd.example.signature.v1+json"
)

// repoName derives a repository name, unique within the test binary, from the test's
// name: "TestGGCR/copy" becomes "testggcr/copy", and extra parts are appended as further
// path components.
func repoName(t testing.TB, parts ...string) string {
	t.Helper()
	segs := append(strings.Split(t.Name(), "/"), parts...)
	for i, s := range segs {
		s = nonName.ReplaceAllString(strings.ToLower(s), "-")
		segs[i] = strings.Trim(s, "-")
	}
	return strings.Join(segs, "/")
}

// nonName is what a repository path component may not contain.
var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// seq makes every random source of the test binary distinct.
var seq atomic.Int64

// source returns a random source for t, distinct across calls and tests, so that no
// blob is shared by accident between tests.
func source(t testing.TB) rand.Source {
	h := fnv.New64a()
	_, _ = io.WriteString(h, t.Name())
	return rand.NewSource(int64(h.Sum64()>>1) + seq.Add(1))
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.New(source(t)).Read(b)
	return b
}

// newImage returns a random image with the given number of layers of size bytes each,
// in Docker schema 2 (types.DockerManifestSchema2) or OCI (types.OCIManifestSchema1)
// form.
func newImage(t testing.TB, mt types.MediaType, layers int, size int64) v1.Image {
	t.Helper()
	src := random.WithSource(source(t))
	if mt == types.DockerManifestSchema2 {
		img, err := random.Image(size, int64(layers), src)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range layers {
		l, err := random.Layer(size, types.OCILayer, src)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// writeLayout writes item, a v1.Image or a v1.ImageIndex, into a new OCI image layout
// at dir, named tag (the org.opencontainers.image.ref.name annotation that `oci:DIR:TAG`
// and `ocidir://DIR:TAG` look up).
func writeLayout(t testing.TB, dir, tag string, item partial.Describable) {
	t.Helper()
	p := must(layout.Write(dir, empty.Index)).in(t)
	name := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})
	var err error
	switch item := item.(type) {
	case v1.Image:
		err = p.AppendImage(item, name)
	case v1.ImageIndex:
		err = p.AppendIndex(item, name)
	default:
		t.Fatalf("writeLayout: %T is neither an image nor an index", item)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sortedBy returns a copy of s sorted by key, for comparing sets.
func sortedBy[T any](s []T, key func(T) string) []T {
	out := slices.Clone(s)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return out
}

// must holds a call's result for in: must(f()).in(t) is f's value, or the end of the
// test if f failed.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) in(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// requireTool returns the path of an external program the tests drive. Without it the
// test skips, except under CI (CI=true), where a missing tool is a failure.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not installed (%v); run scripts/install-test-deps.sh", name, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// exchange is one HTTP request a client made and what the server answered.
type exchange struct {
	method     string
	path       string // unescaped
	rawQuery   string
	query      url.Values
	reqHeader  http.Header
	status     int // 0 when the round trip failed
	respHeader http.Header
	errBody    string // the start of the body of an answer >= 400
	err        error
}

// loggedHeaders are the headers a dump shows: the ones the distribution spec gives
// meaning to.
var loggedHeaders = []string{
	"Accept", "Content-Type", "Content-Length", "Content-Range", "Range", "Location",
	"Docker-Content-Digest", "Docker-Upload-UUID", "OCI-Subject", "OCI-Filters-Applied",
	"OCI-Chunk-Min-Length", "Link", "Transfer-Encoding", "Www-Authenticate",
}

// authScheme is the scheme of a request's Authorization header ("Basic", "Bearer"), or
// "" without one; the credential itself is never logged.
func authScheme(h http.Header) string {
	scheme, _, _ := strings.Cut(h.Get("Authorization"), " ")
	return scheme
}

func (e exchange) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.method, e.path)
	if e.rawQuery != "" {
		fmt.Fprintf(&b, "?%s", e.rawQuery)
	}
	if scheme := authScheme(e.reqHeader); scheme != "" {
		fmt.Fprintf(&b, " > Authorization: %s ...", scheme)
	}
	writeHeaders(&b, " >", e.reqHeader)
	if e.err != nil {
		fmt.Fprintf(&b, "\n    error: %v", e.err)
		return b.String()
	}
	fmt.Fprintf(&b, "\n    %d", e.status)
	writeHeaders(&b, " <", e.respHeader)
	if e.errBody != "" {
		fmt.Fprintf(&b, "\n    body: %s", e.errBody)
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, dir string, h http.Header) {
	for _, k := range loggedHeaders {
		if vs := h.Values(k); len(vs) > 0 {
			fmt.Fprintf(b, "%s %s: %s", dir, k, strings.Join(vs, ", "))
		}
	}
}

// recorder is an http.RoundTripper that records every exchange a client makes through
// it. When the test fails it logs them all, which shows exactly what the client sent and
// what Cerulean answered.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

// newRecorder wraps next, normally the test server's Transport.
func newRecorder(t testing.TB, next http.RoundTripper) *recorder {
	r := &recorder{next: next}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("HTTP exchanges of %s:\n%s", t.Name(), r)
		}
	})
	return r
}

// errBodyMax bounds how much of an error answer's body an exchange keeps.
const errBodyMax = 2048

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	e := exchange{
		method:    req.Method,
		path:      req.URL.Path,
		rawQuery:  req.URL.RawQuery,
		query:     req.URL.Query(),
		reqHeader: req.Header.Clone(),
	}
	if req.ContentLength > 0 && e.reqHeader.Get("Content-Length") == "" {
		e.reqHeader.Set("Content-Length", fmt.Sprint(req.ContentLength))
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		e.err = err
	} else {
		e.status, e.respHeader = resp.StatusCode, resp.Header.Clone()
		if resp.StatusCode >= 400 && req.Method != http.MethodHead {
			head, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyMax))
			e.errBody = string(head)
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		}
	}
	r.mu.Lock()
	r.log = append(r.log, e)
	r.mu.Unlock()
	return resp, err
}

// exchanges returns the recorded exchanges with the given method whose path contains
// part, in order.
func (r *recorder) exchanges(method, part string) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, e := range r.log {
		if e.method == method && strings.Contains(e.path, part) {
			out = append(out, e)
		}
	}
	return out
}

// answered is exchanges without the 401 challenges: the requests a client sent with a
// token too narrow for them, fetched a wider one and sent again.
func (r *recorder) answered(method, part string) []exchange {
	var out []exchange
	for _, e := range r.exchanges(method, part) {
		if e.status != http.StatusUnauthorized {
			out = append(out, e)
		}
	}
	return out
}

// checkMounted checks that a client copied n blobs from repository src to dst by
// cross-repository mount alone: n upload POSTs to dst with mount= and from=src, each
// answered 201 Created (besides 401 challenges), and no blob bytes sent to dst (no PATCH
// or PUT of an upload).
func (r *recorder) checkMounted(t testing.TB, src, dst string, n int) {
	t.Helper()
	uploads := "/v2/" + dst + "/blobs/uploads/"
	// A POST answered 401 was a challenge: the client fetched a token (with pull on src
	// too) and sent it again.
	posts := r.answered(http.MethodPost, uploads)
	if len(posts) != n {
		t.Errorf("%d upload POSTs to %s, want %d mounts", len(posts), dst, n)
	}
	for _, e := range posts {
		if e.query.Get("from") != src || e.query.Get("mount") == "" || e.status != http.StatusCreated {
			t.Errorf("not a successful mount from %s:\n%s", src, e)
		}
	}
	for _, m := range []string{http.MethodPatch, http.MethodPut} {
		if sent := r.exchanges(m, uploads); len(sent) != 0 {
			t.Errorf("%d upload %s requests to %s, want none: every blob should have been mounted", len(sent), m, dst)
		}
	}
}

// checkTokenFlow checks that the client signed in as Docker clients do, rather than
// sending its password with every request: a data-plane request answered 401 with a
// Bearer challenge whose realm is https://host/oauth2/token, then a token request to that
// realm with Basic credentials answered 200, and thereafter only Bearer tokens on /v2/.
func (r *recorder) checkTokenFlow(t testing.TB, host string) {
	t.Helper()
	r.mu.Lock()
	log := slices.Clone(r.log)
	r.mu.Unlock()
	realm := `Bearer realm="https://` + host + `/oauth2/token",service="` + host + `"`
	challenged, tokens := -1, -1
	for i, e := range log {
		switch {
		case challenged < 0 && strings.HasPrefix(e.path, "/v2/") && e.status == http.StatusUnauthorized:
			if got := e.respHeader.Get("Www-Authenticate"); !strings.HasPrefix(got, realm) {
				t.Errorf("401 challenge %q, want it to start %q:\n%s", got, realm, e)
			}
			challenged = i
		case challenged >= 0 && tokens < 0 && e.path == "/oauth2/token":
			if e.status != http.StatusOK || authScheme(e.reqHeader) != "Basic" {
				t.Errorf("token request: want Basic credentials answered 200:\n%s", e)
			}
			tokens = i
		}
	}
	if challenged < 0 || tokens < 0 {
		t.Fatalf("no 401 challenge followed by a token request (challenge at %d, token request at %d)", challenged, tokens)
	}
	bearer := 0
	for _, e := range log[tokens+1:] {
		if !strings.HasPrefix(e.path, "/v2/") {
			continue
		}
		switch authScheme(e.reqHeader) {
		case "Bearer":
			bearer++
		case "Basic":
			t.Errorf("a request after the token flow sent Basic credentials:\n%s", e)
		}
	}
	if bearer == 0 {
		t.Errorf("no /v2/ request carried the Bearer token after the token flow")
	}
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i, e := range r.log {
		fmt.Fprintf(&b, "  %3d %s\n", i+1, e)
	}
	return b.String()
}
