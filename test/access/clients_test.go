package accessmatrix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/scheme/reg"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"
)

// credential is what a client presents: Basic credentials (admin user, repository
// token, service principal), an ACR refresh token (docker's identity token, as `az acr
// login` leaves it), an ACR access token sent as is, or nothing (anonymous).
type credential struct {
	user, password string
	identityToken  string
	bearer         string
}

func (c credential) anonymous() bool { return c == credential{} }

// authenticator is c for go-containerregistry.
func (c credential) authenticator() authn.Authenticator {
	switch {
	case c.bearer != "":
		return &authn.Bearer{Token: c.bearer}
	case c.identityToken != "":
		return authn.FromConfig(authn.AuthConfig{IdentityToken: c.identityToken})
	case c.user != "":
		return &authn.Basic{Username: c.user, Password: c.password}
	}
	return authn.Anonymous
}

// registry is one registry of the server under test.
type registry struct {
	name string
	host string // login server
	tr   http.RoundTripper
	// seeder may push, pull and delete there: it prepares and checks what a cell does.
	seeder *ggcrClient
}

// client performs the five operations of the matrix as one real client does them.
type client interface {
	push(t testing.TB, repo, tag string) error
	pull(t testing.TB, repo, tag string) error
	deleteManifest(t testing.TB, repo string, d digest.Digest) error
	catalog(t testing.TB) ([]string, error)
	tags(t testing.TB, repo string) ([]string, error)
	// refused returns nil when err is the registry's refusal (401 or 403 from /v2/),
	// else what it is instead.
	refused(err error) error
}

// errUnsupported marks an operation the client has no command for.
var errUnsupported = errors.New("not supported by this client")

// ggcrClient is go-containerregistry's remote package with one credential.
type ggcrClient struct {
	reg  *registry
	opts []remote.Option
}

// newGGCR returns a client of r presenting c. Its calls take the test's context from the
// reference helpers (remote.WithContext is per call).
func newGGCR(r *registry, c credential) *ggcrClient {
	return &ggcrClient{reg: r, opts: []remote.Option{
		remote.WithAuth(c.authenticator()), remote.WithTransport(r.tr),
		// Retries would hide the first answer.
		remote.WithRetryStatusCodes(), remote.WithRetryPredicate(func(error) bool { return false }),
	}}
}

// with is g's options with t's context.
func (g *ggcrClient) with(t testing.TB) []remote.Option {
	return append(slices.Clip(g.opts), remote.WithContext(t.Context()))
}

func (g *ggcrClient) ref(t testing.TB, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(g.reg.host+"/"+s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newImage is a small random OCI image (skopeo's oci: transport finds only OCI
// manifests in a layout), distinct on every call.
func newImage(t testing.TB) v1.Image {
	t.Helper()
	layer, err := random.Layer(64, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushImage pushes img to repo:tag and returns its digest.
func (g *ggcrClient) pushImage(t testing.TB, repo, tag string, img v1.Image) (digest.Digest, error) {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(d.String()), remote.Write(g.ref(t, repo+":"+tag), img, g.with(t)...)
}

func (g *ggcrClient) push(t testing.TB, repo, tag string) error {
	_, err := g.pushImage(t, repo, tag, newImage(t))
	return err
}

func (g *ggcrClient) pull(t testing.TB, repo, tag string) error {
	img, err := remote.Image(g.ref(t, repo+":"+tag), g.with(t)...)
	if err != nil {
		return err
	}
	_, err = img.RawConfigFile()
	return err
}

func (g *ggcrClient) deleteManifest(t testing.TB, repo string, d digest.Digest) error {
	return remote.Delete(g.ref(t, repo+"@"+d.String()), g.with(t)...)
}

func (g *ggcrClient) catalog(t testing.TB) ([]string, error) {
	r, err := name.NewRegistry(g.reg.host, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return remote.Catalog(t.Context(), r, g.with(t)...)
}

func (g *ggcrClient) tags(t testing.TB, repo string) ([]string, error) {
	r, err := name.NewRepository(g.reg.host+"/"+repo, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return remote.List(r, g.with(t)...)
}

func (g *ggcrClient) refused(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("not an HTTP refusal: %v", err)
	}
	if te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden {
		return fmt.Errorf("status %d, want 401 or 403: %v", te.StatusCode, err)
	}
	if te.Request == nil || !strings.HasPrefix(te.Request.URL.Path, "/v2/") {
		return fmt.Errorf("refused by the token service, not the registry: %v", err)
	}
	return nil
}

// exists reports whether repo has the manifest ref (a tag or digest), as the seeder sees it.
func (g *ggcrClient) exists(t testing.TB, repo, ref string) bool {
	t.Helper()
	sep := ":"
	if strings.HasPrefix(ref, "sha256:") {
		sep = "@"
	}
	_, err := remote.Head(g.ref(t, repo+sep+ref), g.with(t)...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return false
	}
	if err != nil {
		t.Fatalf("seeder HEAD %s%s%s: %v", repo, sep, ref, err)
	}
	return true
}

// statusLog records the status of every /v2/ answer a client got.
type statusLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []string // "METHOD path status"
	last int      // status of the last /v2/ answer
}

func (s *statusLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	s.log = append(s.log, fmt.Sprintf("%s %s %d", req.Method, req.URL.Path, status))
	if strings.HasPrefix(req.URL.Path, "/v2/") {
		s.last = status
	}
	return resp, err
}

// rcClient is regclient with one credential, configured as a regclient user configures
// a registry host (user and password), over the registry's transport.
type rcClient struct {
	reg *registry
	rc  *regclient.RegClient
	log *statusLog
}

func newRegclient(t testing.TB, r *registry, c credential) *rcClient {
	t.Helper()
	if c.identityToken != "" || c.bearer != "" {
		t.Fatal("regclient cells take Basic credentials or none")
	}
	log := &statusLog{next: r.tr}
	host := config.Host{Name: r.host, TLS: config.TLSEnabled, User: c.user, Pass: c.password}
	rc := regclient.New(
		regclient.WithSlog(slog.New(slog.DiscardHandler)),
		regclient.WithRegOpts(reg.WithRetryLimit(0), reg.WithHTTPClient(&http.Client{Transport: log})),
		regclient.WithUserAgent("cerulean-access-test"),
		regclient.WithConfigHost(host),
	)
	return &rcClient{reg: r, rc: rc, log: log}
}

func (c *rcClient) ref(t testing.TB, s string) ref.Ref {
	t.Helper()
	r, err := ref.New(c.reg.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (c *rcClient) push(t testing.TB, repo, tag string) error {
	ctx, r := t.Context(), c.ref(t, repo+":"+tag)
	img := newImage(t)
	blobs, err := imageBlobs(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if _, err := c.rc.BlobPut(ctx, r, b.desc, bytes.NewReader(b.data)); err != nil {
			return err
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.New(manifest.WithRaw(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c.rc.ManifestPut(ctx, r, m)
}

// blob is one blob of an image with its descriptor.
type blob struct {
	desc descriptor.Descriptor
	data []byte
}

// imageBlobs returns the config and layers of img.
func imageBlobs(img v1.Image) ([]blob, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	out := []blob{{descriptor.Descriptor{MediaType: string(m.Config.MediaType), Digest: digest.Digest(m.Config.Digest.String()), Size: m.Config.Size}, cfg}}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		d := m.Layers[i]
		out = append(out, blob{descriptor.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size}, data})
	}
	return out, nil
}

func (c *rcClient) pull(t testing.TB, repo, tag string) error {
	ctx, r := t.Context(), c.ref(t, repo+":"+tag)
	m, err := c.rc.ManifestGet(ctx, r)
	if err != nil {
		return err
	}
	img, ok := m.(manifest.Imager)
	if !ok {
		return fmt.Errorf("%s is not an image manifest", r.CommonName())
	}
	cd, err := img.GetConfig()
	if err != nil {
		return err
	}
	br, err := c.rc.BlobGet(ctx, r, cd)
	if err != nil {
		return err
	}
	defer br.Close()
	_, err = io.Copy(io.Discard, br)
	return err
}

func (c *rcClient) deleteManifest(t testing.TB, repo string, d digest.Digest) error {
	return c.rc.ManifestDelete(t.Context(), c.ref(t, repo+"@"+d.String()))
}

func (c *rcClient) catalog(t testing.TB) ([]string, error) {
	rl, err := c.rc.RepoList(t.Context(), c.reg.host)
	if err != nil {
		return nil, err
	}
	return rl.GetRepos()
}

func (c *rcClient) tags(t testing.TB, repo string) ([]string, error) {
	tl, err := c.rc.TagList(t.Context(), c.ref(t, repo))
	if err != nil {
		return nil, err
	}
	return tl.GetTags()
}

func (c *rcClient) refused(err error) error {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	if !errors.Is(err, errs.ErrHTTPUnauthorized) {
		return fmt.Errorf("not regclient's unauthorized: %v", err)
	}
	if c.log.last != http.StatusUnauthorized && c.log.last != http.StatusForbidden {
		return fmt.Errorf("last registry answer %d, want 401 or 403: %v\n%s", c.log.last, err, strings.Join(c.log.log, "\n"))
	}
	return nil
}

// skopeoClient runs the skopeo program with one credential, trusting the server through
// a certificate directory holding its CA, with a home of its own.
type skopeoClient struct {
	reg     *registry
	bin     string
	cred    credential
	certDir string
	home    string
}

// requireSkopeo returns skopeo's path; without it the test skips, except under CI.
func requireSkopeo(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("skopeo")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("skopeo is not installed (%v); scripts/install-test-deps.sh installs it", err)
	}
	t.Skipf("skopeo is not installed (%v); run scripts/install-test-deps.sh", err)
	return ""
}

func newSkopeo(t testing.TB, r *registry, c credential, caFile string) *skopeoClient {
	t.Helper()
	if c.identityToken != "" || c.bearer != "" {
		t.Fatal("skopeo cells take Basic credentials or none")
	}
	k := &skopeoClient{reg: r, bin: requireSkopeo(t), cred: c, certDir: t.TempDir(), home: t.TempDir()}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.certDir, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// creds are the credential flags of a command (prefix "dest-" for copy's destination).
func (k *skopeoClient) creds(prefix string) []string {
	if k.cred.anonymous() {
		return []string{"--" + prefix + "no-creds", "--" + prefix + "cert-dir", k.certDir}
	}
	return []string{"--" + prefix + "creds", k.cred.user + ":" + k.cred.password, "--" + prefix + "cert-dir", k.certDir}
}

func (k *skopeoClient) run(t testing.TB, args ...string) (string, error) {
	cmd := exec.CommandContext(t.Context(), k.bin, append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + k.home, "XDG_RUNTIME_DIR=" + k.home,
		"REGISTRY_AUTH_FILE=" + filepath.Join(k.home, "auth.json"), "TMPDIR=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("skopeo %s: %w: %s", args[0], err, stderr.String())
	}
	return stdout.String(), nil
}

func (k *skopeoClient) docker(s string) string { return "docker://" + k.reg.host + "/" + s }

func (k *skopeoClient) push(t testing.TB, repo, tag string) error {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(newImage(t), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
	_, err = k.run(t, append(append([]string{"copy"}, k.creds("dest-")...), "oci:"+dir+":"+tag, k.docker(repo+":"+tag))...)
	return err
}

func (k *skopeoClient) pull(t testing.TB, repo, tag string) error {
	_, err := k.run(t, append(append([]string{"inspect"}, k.creds("")...), k.docker(repo+":"+tag))...)
	return err
}

func (k *skopeoClient) deleteManifest(t testing.TB, repo string, d digest.Digest) error {
	_, err := k.run(t, append(append([]string{"delete"}, k.creds("")...), k.docker(repo+"@"+d.String()))...)
	return err
}

// catalog: skopeo has no command that lists a registry's repositories.
func (k *skopeoClient) catalog(testing.TB) ([]string, error) { return nil, errUnsupported }

func (k *skopeoClient) tags(t testing.TB, repo string) ([]string, error) {
	out, err := k.run(t, append(append([]string{"list-tags"}, k.creds("")...), k.docker(repo))...)
	if err != nil {
		return nil, err
	}
	var list struct{ Tags []string }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("skopeo list-tags: %v: %s", err, out)
	}
	return list.Tags, nil
}

// skopeoRefusal is how containers/image reports a registry's 401 or 403.
var skopeoRefusal = regexp.MustCompile(`(?i)unauthorized|authentication required|denied|\b40[13]\b`)

func (k *skopeoClient) refused(err error) error {
	if err == nil || !skopeoRefusal.MatchString(err.Error()) {
		return fmt.Errorf("not a registry refusal: %v", err)
	}
	return nil
}

// contains reports whether list holds want; for messages.
func contains(list []string, want string) bool { return slices.Contains(list, want) }
