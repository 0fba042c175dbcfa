package acrapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Media types the tests push.
const (
	mtImage       = v1.MediaTypeImageManifest
	mtIndex       = v1.MediaTypeImageIndex
	mtConfig      = v1.MediaTypeImageConfig
	mtLayer       = v1.MediaTypeImageLayerGzip
	mtDockerImage = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerCfg   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// env is a server under test and a client that does not follow redirects.
type env struct {
	srv    *testserver.Server
	host   string // the login server, what "registry" holds
	client *http.Client
	seq    atomic.Uint64
}

func newEnv(t testing.TB, srv *testserver.Server) *env {
	client := *srv.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Timeout = 2 * time.Minute
	return &env{srv: srv, host: srv.Host, client: &client}
}

// repo returns a fresh repository name under prefix, unique in the package run.
func (e *env) repo(prefix string) string {
	return fmt.Sprintf("acrapi/%s-%d", prefix, e.seq.Add(1))
}

// reply is a fully read response.
type reply struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

func (r *reply) String() string {
	body := string(r.Body)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %s", r.Method, r.Path, r.Status, body)
}

// want fails the test unless the status is one of statuses.
func (r *reply) want(t testing.TB, statuses ...int) *reply {
	t.Helper()
	for _, s := range statuses {
		if r.Status == s {
			return r
		}
	}
	t.Fatalf("want status %v: %s", statuses, r)
	return r
}

// decode unmarshals the body into v.
func (r *reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body is not the JSON wanted: %v: %s", err, r)
	}
}

// do sends one request to path (with its query, sent as written) and reads the answer.
// header holds name/value pairs.
func (e *env) do(t testing.TB, method, path string, body []byte, header ...string) *reply {
	t.Helper()
	u, err := url.Parse(e.srv.URL + path)
	if err != nil {
		t.Fatalf("bad path %q: %v", path, err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &reply{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// pushBlob uploads content to repo in one POST.
func (e *env) pushBlob(t testing.TB, repo string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	e.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content,
		"Content-Type", "application/octet-stream").want(t, http.StatusCreated)
	return d
}

// image is a pushed image manifest.
type image struct {
	digest  digest.Digest
	size    int64
	config  digest.Digest
	layers  []digest.Digest
	content []byte
	blobs   int64 // config and layer sizes
}

// buildImage pushes the config and layers of an image for arch with the given layer
// contents and returns it, its manifest not yet pushed. docker selects Docker media types.
func (e *env) buildImage(t testing.TB, repo, arch string, docker bool, layers ...string) image {
	t.Helper()
	cfgType, layerType, mt := mtConfig, mtLayer, mtImage
	if docker {
		cfgType, layerType, mt = mtDockerCfg, mtDockerLayer, mtDockerImage
	}
	config := fmt.Appendf(nil, `{"architecture":%q,"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`, arch)
	img := image{config: e.pushBlob(t, repo, config), blobs: int64(len(config))}
	desc := func(mediaType string, d digest.Digest, size int) string {
		return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mediaType, d, size)
	}
	var ls []string
	for _, l := range layers {
		d := e.pushBlob(t, repo, []byte(l))
		img.layers = append(img.layers, d)
		img.blobs += int64(len(l))
		ls = append(ls, desc(layerType, d, len(l)))
	}
	img.content = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[%s]}`,
		mt, desc(cfgType, img.config, len(config)), strings.Join(ls, ","))
	img.digest, img.size = digest.FromBytes(img.content), int64(len(img.content))
	return img
}

// pushImage builds an image and pushes it to repo under ref ("" pushes it by digest).
func (e *env) pushImage(t testing.TB, repo, ref, arch string, layers ...string) image {
	t.Helper()
	img := e.buildImage(t, repo, arch, false, layers...)
	e.putManifest(t, repo, ref, mtImage, img.content).want(t, http.StatusCreated)
	return img
}

// putManifest PUTs a manifest to repo under ref, or under its digest when ref is "".
func (e *env) putManifest(t testing.TB, repo, ref, mediaType string, content []byte) *reply {
	t.Helper()
	if ref == "" {
		ref = digest.FromBytes(content).String()
	}
	return e.do(t, "PUT", "/v2/"+repo+"/manifests/"+ref, content, "Content-Type", mediaType)
}

// pushIndex pushes an OCI index of children (linux/<arch> each) under ref.
func (e *env) pushIndex(t testing.TB, repo, ref string, archs []string, children ...image) image {
	t.Helper()
	var ds []string
	for i, c := range children {
		ds = append(ds, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":%q,"os":"linux"}}`,
			mtImage, c.digest, c.size, archs[i]))
	}
	content := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, mtIndex, strings.Join(ds, ","))
	e.putManifest(t, repo, ref, mtIndex, content).want(t, http.StatusCreated)
	return image{digest: digest.FromBytes(content), size: int64(len(content)), content: content}
}

// patch sends a PATCH of changeable attributes.
func (e *env) patch(t testing.TB, path, body string) *reply {
	t.Helper()
	return e.do(t, "PATCH", path, []byte(body), "Content-Type", "application/json")
}

// acrTime is ACR's time form: UTC, seven fractional digits.
var acrTime = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"`)

// anyTime finds every JSON string that looks like a time, in any form.
var anyTime = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[^"]*"`)

var anyDigest = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// checkGolden compares a JSON body with testdata/<name>.json after normalising it:
// indented (member order kept), times "<time>" (each first checked for ACR's form), the
// login server "<registry>", and the digests in names by their names (any other digest
// "<digest>").
func (e *env) checkGolden(t testing.TB, name string, body []byte, names map[digest.Digest]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: body is not JSON: %v: %s", name, err, body)
	}
	got := buf.String()
	for _, tm := range anyTime.FindAllString(got, -1) {
		if !acrTime.MatchString(tm) {
			t.Errorf("%s: time %s is not in ACR's form (UTC, seven fractional digits)", name, tm)
		}
	}
	got = acrTime.ReplaceAllString(got, `"<time>"`)
	got = strings.ReplaceAll(got, e.host, "<registry>")
	got = anyDigest.ReplaceAllStringFunc(got, func(d string) string {
		if n, ok := names[digest.Digest(d)]; ok {
			return "<" + n + ">"
		}
		return "<digest>"
	})
	got += "\n"
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// errorCode returns the code of the first error in an error envelope.
func errorCode(t testing.TB, r *reply) string {
	t.Helper()
	var env struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || len(env.Errors) == 0 {
		t.Fatalf("not an error envelope: %s", r)
	}
	return env.Errors[0].Code
}
