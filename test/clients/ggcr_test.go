package clients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// ggcr is a go-containerregistry client of one test: remote options and crane options
// over a recording transport that trusts the server's CA. Retries are off, so that an
// error answer fails the test instead of being retried away.
type ggcr struct {
	host  string
	rec   *recorder
	opts  []remote.Option
	crane []crane.Option
}

// ggcrAlias is the host name the go-containerregistry tests reach the server by.
// go-containerregistry assumes that a loopback registry (127.0.0.1, localhost) speaks
// plain HTTP: it does find HTTPS by its ping, but then refuses every tag or catalog page
// Link, because the https URL "does not match registry scheme http" (v0.22.1,
// pkg/v1/remote/list.go validatePaginationURLHost), whatever the registry sends. A
// registry reached by a DNS name, as every real one is, does not meet this; so these
// tests start the server with this name as its login server (--host: the registry
// answers to it, its certificate names it, its token challenges point to it) and resolve
// it to the listener themselves, as an /etc/hosts line would.
const ggcrAlias = "cerulean.test"

// startGGCRServer starts a server whose login server is ggcrAlias.
func startGGCRServer(t *testing.T) *testserver.Server {
	t.Helper()
	s := testserver.Start(t, "--host", ggcrAlias)
	if h, _, _ := net.SplitHostPort(s.Host); h != ggcrAlias {
		t.Fatalf("login server %s, want %s:<port>", s.Host, ggcrAlias)
	}
	return s
}

// aliasTransport is the server's transport, dialling the listener for the login server
// s.Host (ggcrAlias:port).
func aliasTransport(s *testserver.Server) *http.Transport {
	listener := strings.TrimPrefix(s.URL, "https://")
	tr := s.Transport()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == s.Host {
			addr = listener
		}
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

// newGGCR returns a client that signs in as the bootstrap owner: go-containerregistry
// answers the registry's 401 challenge by fetching a token from its realm with these
// Basic credentials, and sends the token thereafter.
func newGGCR(t *testing.T, s *testserver.Server) *ggcr {
	rec := newRecorder(t, aliasTransport(s))
	owner := &authn.Basic{Username: s.Username, Password: s.Password}
	noRetry := []remote.Option{
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(func(error) bool { return false }),
	}
	return &ggcr{
		host: s.Host,
		rec:  rec,
		opts: append([]remote.Option{remote.WithTransport(rec), remote.WithContext(t.Context()), remote.WithAuth(owner)}, noRetry...),
		crane: []crane.Option{
			crane.WithContext(t.Context()),
			crane.WithTransport(rec),
			crane.WithAuth(owner),
			func(o *crane.Options) { o.Remote = append(o.Remote, noRetry...) },
		},
	}
}

// repo names repository path on the server.
func (c *ggcr) repo(t testing.TB, path string) name.Repository {
	t.Helper()
	return must(name.NewRepository(c.host+"/"+path, name.StrictValidation)).in(t)
}

// with returns c's remote options followed by more.
func (c *ggcr) with(more ...remote.Option) []remote.Option {
	return append(slices.Clip(c.opts), more...)
}

// push writes img to repo:tag and returns its digest reference.
func (c *ggcr) push(t testing.TB, repo name.Repository, tag string, img v1.Image) name.Digest {
	t.Helper()
	if err := remote.Write(repo.Tag(tag), img, c.opts...); err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
	return repo.Digest(must(img.Digest()).in(t).String())
}

// isStatus reports whether err is a registry answer with the given HTTP status.
func isStatus(err error, code int) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == code
}

func TestGGCR(t *testing.T) {
	s := startGGCRServer(t)

	t.Run("push-pull", func(t *testing.T) {
		t.Parallel()
		for _, mt := range []types.MediaType{types.DockerManifestSchema2, types.OCIManifestSchema1} {
			t.Run(string(mt), func(t *testing.T) {
				t.Parallel()
				c := newGGCR(t, s)
				repo := c.repo(t, repoName(t))
				img := newImage(t, mt, 3, 4096)
				dig := c.push(t, repo, "v1", img)

				for _, ref := range []name.Reference{repo.Tag("v1"), dig} {
					got, err := remote.Image(ref, c.opts...)
					if err != nil {
						t.Fatalf("pull %s: %v", ref, err)
					}
					compareImages(t, got, img)
				}
				c.rec.checkTokenFlow(t, s.Host)
			})
		}
	})

	t.Run("manifest-head-get", func(t *testing.T) {
		t.Parallel()
		c := newGGCR(t, s)
		repo := c.repo(t, repoName(t))
		img := newImage(t, types.OCIManifestSchema1, 1, 512)
		dig := c.push(t, repo, "v1", img)
		raw := must(img.RawManifest()).in(t)
		want := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(raw)), Digest: must(img.Digest()).in(t)}
		// remote.Get fills in ArtifactType itself, from config.mediaType.
		ignoreAT := cmpopts.IgnoreFields(v1.Descriptor{}, "ArtifactType")
		unknown := repo.Digest("sha256:" + strings.Repeat("0", 64))

		head := func(ref name.Reference) (v1.Descriptor, []byte, error) {
			d, err := remote.Head(ref, c.opts...)
			if err != nil {
				return v1.Descriptor{}, nil, err
			}
			return *d, nil, nil
		}
		get := func(ref name.Reference) (v1.Descriptor, []byte, error) {
			d, err := remote.Get(ref, c.opts...)
			if err != nil {
				return v1.Descriptor{}, nil, err
			}
			return d.Descriptor, d.Manifest, nil
		}
		for _, tc := range []struct {
			name     string
			fetch    func(name.Reference) (v1.Descriptor, []byte, error)
			ref      name.Reference
			wantBody []byte
			wantCode int // an error answer's status, 0 for success
		}{
			{"head-tag", head, repo.Tag("v1"), nil, 0},
			{"head-digest", head, dig, nil, 0},
			{"get-tag", get, repo.Tag("v1"), raw, 0},
			{"get-digest", get, dig, raw, 0},
			{"head-unknown-digest", head, unknown, nil, http.StatusNotFound},
			{"get-unknown-digest", get, unknown, nil, http.StatusNotFound},
			{"get-unknown-tag", get, repo.Tag("nope"), nil, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, body, err := tc.fetch(tc.ref)
				if tc.wantCode != 0 {
					if !isStatus(err, tc.wantCode) {
						t.Fatalf("%s: got error %v, want status %d", tc.ref, err, tc.wantCode)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", tc.ref, err)
				}
				if diff := cmp.Diff(want, d, ignoreAT); diff != "" {
					t.Errorf("%s: descriptor (-want +got):\n%s", tc.ref, diff)
				}
				if !bytes.Equal(body, tc.wantBody) {
					t.Errorf("%s: manifest is\n%s\nwant\n%s", tc.ref, body, tc.wantBody)
				}
			})
		}
	})

	t.Run("copy-mount", func(t *testing.T) {
		t.Parallel()
		c := newGGCR(t, s)
		src, dst := c.repo(t, repoName(t, "src")), c.repo(t, repoName(t, "dst"))
		img := newImage(t, types.OCIManifestSchema1, 2, 2048)
		if err := crane.Push(img, src.Tag("v1").String(), c.crane...); err != nil {
			t.Fatal(err)
		}
		if err := crane.Copy(src.Tag("v1").String(), dst.Tag("v1").String(), c.crane...); err != nil {
			t.Fatal(err)
		}
		got := must(remote.Image(dst.Tag("v1"), c.opts...)).in(t)
		compareImages(t, got, img)

		// Every blob (two layers, the config) crossed by a mount from src.
		c.rec.checkMounted(t, src.RepositoryStr(), dst.RepositoryStr(), 3)
	})

	t.Run("index", func(t *testing.T) {
		t.Parallel()
		platforms := []v1.Platform{
			{OS: "linux", Architecture: "amd64"},
			{OS: "linux", Architecture: "arm64", Variant: "v8"},
			{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.1"},
		}
		for _, tc := range []struct {
			indexMT, imageMT types.MediaType
		}{
			{types.OCIImageIndex, types.OCIManifestSchema1},
			{types.DockerManifestList, types.DockerManifestSchema2},
		} {
			t.Run(string(tc.indexMT), func(t *testing.T) {
				t.Parallel()
				c := newGGCR(t, s)
				repo := c.repo(t, repoName(t))
				idx := mutate.IndexMediaType(empty.Index, tc.indexMT)
				children := map[string]v1.Hash{}
				for _, p := range platforms {
					img := newImage(t, tc.imageMT, 1, 1024)
					idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
						Add:        img,
						Descriptor: v1.Descriptor{Platform: &p},
					})
					children[p.String()] = must(img.Digest()).in(t)
				}
				if err := remote.WriteIndex(repo.Tag("multi"), idx, c.opts...); err != nil {
					t.Fatal(err)
				}

				got := must(remote.Index(repo.Tag("multi"), c.opts...)).in(t)
				if g, w := must(got.Digest()).in(t), must(idx.Digest()).in(t); g != w {
					t.Errorf("index digest %s, want %s", g, w)
				}
				if diff := cmp.Diff(must(idx.IndexManifest()).in(t), must(got.IndexManifest()).in(t)); diff != "" {
					t.Errorf("index manifest (-pushed +pulled):\n%s", diff)
				}
				for _, p := range platforms {
					img, err := remote.Image(repo.Tag("multi"), c.with(remote.WithPlatform(p))...)
					if err != nil {
						t.Fatalf("resolve %s: %v", p, err)
					}
					d := must(img.Digest()).in(t)
					if d != children[p.String()] {
						t.Errorf("platform %s resolved to %s, want %s", p, d, children[p.String()])
					}
					// The child is its own manifest in the repository, and its blobs are there.
					byDigest := must(remote.Image(repo.Digest(d.String()), c.opts...)).in(t)
					compareImages(t, byDigest, img)
				}
				_, err := remote.Image(repo.Tag("multi"), c.with(remote.WithPlatform(v1.Platform{OS: "plan9", Architecture: "mips"}))...)
				if err == nil {
					t.Errorf("resolving an absent platform succeeded")
				}
			})
		}
	})

	t.Run("referrers", func(t *testing.T) {
		t.Parallel()
		c := newGGCR(t, s)
		repo := c.repo(t, repoName(t))
		subject := c.push(t, repo, "v1", newImage(t, types.OCIManifestSchema1, 1, 512))
		subjectDesc := must(remote.Head(subject, c.opts...)).in(t)
		// Without the tag fallback, a push with a subject fails unless the Referrers API
		// answers, and listing reads only the API.
		strict := c.with(remote.WithReferrersTagFallback(false))

		// An artifact whose artifactType is explicit, with an empty config...
		sbom := c.pushArtifact(t, repo, artifactSBOM, *subjectDesc, strict)
		// ...and one whose artifactType the registry must take from config.mediaType.
		sigImg := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), artifactSig)
		sigImg = must(mutate.AppendLayers(sigImg, static.NewLayer(randomBytes(t, 64), "application/vnd.example.signature"))).in(t)
		// (Annotations before Subject: mutate.Annotations drops a subject set before it.)
		sigImg = mutate.Annotations(sigImg, map[string]string{"org.example.signer": "ci"}).(v1.Image)
		sigImg = mutate.Subject(sigImg, *subjectDesc).(v1.Image)
		sigDigest := must(sigImg.Digest()).in(t)
		if err := remote.Write(repo.Digest(sigDigest.String()), sigImg, strict...); err != nil {
			t.Fatalf("push signature: %v", err)
		}
		sig := v1.Descriptor{
			MediaType:    types.OCIManifestSchema1,
			Size:         must(sigImg.Size()).in(t),
			Digest:       sigDigest,
			ArtifactType: artifactSig,
			Annotations:  map[string]string{"org.example.signer": "ci"},
		}

		for _, tc := range []struct {
			name    string
			subject name.Digest
			filter  string
			want    []v1.Descriptor
		}{
			{"all", subject, "", []v1.Descriptor{sbom, sig}},
			{"sbom", subject, artifactSBOM, []v1.Descriptor{sbom}},
			{"signature", subject, artifactSig, []v1.Descriptor{sig}},
			{"no-match", subject, "application/vnd.example.none", nil},
			{"unknown-subject", repo.Digest("sha256:" + strings.Repeat("1", 64)), "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				opts := strict
				if tc.filter != "" {
					opts = append(slices.Clip(strict), remote.WithFilter("artifactType", tc.filter))
				}
				idx, err := remote.Referrers(tc.subject, opts...)
				if err != nil {
					t.Fatal(err)
				}
				got := must(idx.IndexManifest()).in(t).Manifests
				if diff := cmp.Diff(sortedBy(tc.want, ggcrDigest), sortedBy(got, ggcrDigest), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("referrers (-want +got):\n%s", diff)
				}
			})
		}
		// The registry kept the list itself: no client fell back to the tag schema.
		tags := must(remote.List(repo, c.opts...)).in(t)
		if diff := cmp.Diff([]string{"v1"}, tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name     string
			target   func(repo name.Repository, dig name.Digest) name.Reference
			gone     []string // references that must then answer 404
			kept     []string // references that must still resolve
			wantTags []string
		}{
			{
				name:     "by-tag",
				target:   func(repo name.Repository, _ name.Digest) name.Reference { return repo.Tag("v1") },
				gone:     []string{"v1"},
				kept:     []string{"v2", "@digest"},
				wantTags: []string{"v2"},
			},
			{
				name:     "by-digest",
				target:   func(_ name.Repository, dig name.Digest) name.Reference { return dig },
				gone:     []string{"v1", "v2", "@digest"},
				wantTags: []string{},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := newGGCR(t, s)
				repo := c.repo(t, repoName(t))
				img := newImage(t, types.OCIManifestSchema1, 1, 512)
				dig := c.push(t, repo, "v1", img)
				if err := remote.Tag(repo.Tag("v2"), img, c.opts...); err != nil {
					t.Fatal(err)
				}
				if err := remote.Delete(tc.target(repo, dig), c.opts...); err != nil {
					t.Fatalf("delete %s: %v", tc.target(repo, dig), err)
				}
				ref := func(s string) name.Reference {
					if s == "@digest" {
						return dig
					}
					return repo.Tag(s)
				}
				for _, g := range tc.gone {
					if _, err := remote.Head(ref(g), c.opts...); !isStatus(err, http.StatusNotFound) {
						t.Errorf("HEAD %s after delete: got %v, want 404", ref(g), err)
					}
				}
				for _, k := range tc.kept {
					if _, err := remote.Head(ref(k), c.opts...); err != nil {
						t.Errorf("HEAD %s after delete: %v", ref(k), err)
					}
				}
				tags, err := remote.List(repo, c.opts...)
				if err != nil {
					t.Fatalf("list tags: %v", err)
				}
				if diff := cmp.Diff(tc.wantTags, tags, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("tags after delete (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("tags-paging", func(t *testing.T) {
		t.Parallel()
		c := newGGCR(t, s)
		repo := c.repo(t, repoName(t))
		img := newImage(t, types.OCIManifestSchema1, 1, 256)
		// Pushed out of order: the registry lists tags in lexical order.
		want := []string{"a", "b", "c", "d", "e", "f", "g"}
		c.push(t, repo, "d", img)
		for _, tag := range []string{"g", "a", "c", "f", "b", "e"} {
			if err := remote.Tag(repo.Tag(tag), img, c.opts...); err != nil {
				t.Fatal(err)
			}
		}

		got, err := remote.List(repo, c.with(remote.WithPageSize(3))...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("remote.List, pages of 3 (-want +got):\n%s", diff)
		}
		if n := len(c.rec.answered(http.MethodGet, "/tags/list")); n != 3 {
			t.Errorf("%d tag list requests for 7 tags in pages of 3, want 3", n)
		}
		got, err = crane.ListTags(repo.String(), c.crane...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("crane.ListTags (-want +got):\n%s", diff)
		}
	})

	t.Run("catalog-paging", func(t *testing.T) {
		t.Parallel()
		c := newGGCR(t, s)
		img := newImage(t, types.OCIManifestSchema1, 1, 256)
		prefix := repoName(t)
		var want []string
		for _, r := range []string{"r3", "r0", "r4", "r1", "r2"} {
			c.push(t, c.repo(t, prefix+"/"+r), "v1", img)
		}
		for _, r := range []string{"r0", "r1", "r2", "r3", "r4"} {
			want = append(want, prefix+"/"+r)
		}
		reg := c.repo(t, prefix).Registry
		mine := func(all []string) []string {
			var out []string
			for _, r := range all {
				if strings.HasPrefix(r, prefix+"/") {
					out = append(out, r)
				}
			}
			return out
		}

		// Other tests add repositories concurrently; only this test's, which sort
		// together, are compared.
		got, err := remote.Catalog(t.Context(), reg, c.with(remote.WithPageSize(2))...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, mine(got)); diff != "" {
			t.Errorf("remote.Catalog, pages of 2 (-want +got):\n%s", diff)
		}
		if n := len(c.rec.answered(http.MethodGet, "/v2/_catalog")); n < 3 {
			t.Errorf("%d catalog requests in pages of 2 for at least 5 repositories, want >= 3", n)
		}

		got, err = crane.Catalog(c.host, c.crane...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, mine(got)); diff != "" {
			t.Errorf("crane.Catalog (-want +got):\n%s", diff)
		}

		// Page by hand from just before this test's names: exactly three pages of 2.
		var paged []string
		last := prefix
		for range 3 {
			page, err := remote.CatalogPage(reg, last, 2, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			last = page[len(page)-1]
		}
		if diff := cmp.Diff(want, mine(paged)); diff != "" {
			t.Errorf("remote.CatalogPage from %q, n=2 (-want +got):\n%s", prefix, diff)
		}
	})

	t.Run("large-layer", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			size int
			// streamed layers have no known size or digest before upload: ggcr sends them
			// in one PATCH with Transfer-Encoding: chunked.
			streamed bool
			long     bool
		}{
			{"static-50MiB", 50 << 20, false, true},
			{"streamed-50MiB", 50 << 20, true, true},
			{"streamed-1MiB", 1 << 20, true, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.long && testing.Short() {
					t.Skip("large upload; runs without -short")
				}
				t.Parallel()
				c := newGGCR(t, s)
				repo := c.repo(t, repoName(t))
				data := randomBytes(t, tc.size)
				var layer v1.Layer = static.NewLayer(data, types.OCILayer)
				if tc.streamed {
					layer = stream.NewLayer(io.NopCloser(bytes.NewReader(data)))
				}
				base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
				img := must(mutate.AppendLayers(base, layer)).in(t)
				if err := remote.Write(repo.Tag("big"), img, c.opts...); err != nil {
					t.Fatal(err)
				}
				ld := must(layer.Digest()).in(t)
				ls := must(layer.Size()).in(t)

				pulled := must(remote.Layer(repo.Digest(ld.String()), c.opts...)).in(t)
				rc := must(pulled.Compressed()).in(t)
				defer rc.Close()
				h := sha256.New()
				n, err := io.Copy(h, rc)
				if err != nil {
					t.Fatal(err)
				}
				if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != ld.String() || n != ls {
					t.Errorf("pulled layer %s of %d bytes, want %s of %d", got, n, ld, ls)
				}
				m := must(remote.Image(repo.Tag("big"), c.opts...)).in(t)
				if g, w := must(m.Digest()).in(t), must(img.Digest()).in(t); g != w {
					t.Errorf("manifest digest %s, want %s", g, w)
				}
			})
		}
	})
}

// pushArtifact pushes an OCI artifact manifest with the given artifactType and subject,
// an empty config and one small layer, the shape `oras attach` makes, and returns the
// descriptor the referrers API must list for it.
func (c *ggcr) pushArtifact(t testing.TB, repo name.Repository, artifactType string, subject v1.Descriptor, opts []remote.Option) v1.Descriptor {
	t.Helper()
	cfg := static.NewLayer([]byte("{}"), mediaTypeEmpty)
	blob := static.NewLayer(randomBytes(t, 128), "application/vnd.example.sbom")
	for _, l := range []v1.Layer{cfg, blob} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		return v1.Descriptor{MediaType: must(l.MediaType()).in(t), Size: must(l.Size()).in(t), Digest: must(l.Digest()).in(t)}
	}
	annotations := map[string]string{"org.example.kind": "sbom"}
	raw := must(json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config:        desc(cfg),
		Layers:        []v1.Descriptor{desc(blob)},
		Subject:       &subject,
		Annotations:   annotations,
	})).in(t)
	d := must(v1.NewHash("sha256:" + sha256Hex(raw))).in(t)
	if err := remote.Put(repo.Digest(d.String()), rawManifest{raw, types.OCIManifestSchema1}, opts...); err != nil {
		t.Fatalf("push artifact %s: %v", artifactType, err)
	}
	return v1.Descriptor{
		MediaType:    types.OCIManifestSchema1,
		Size:         int64(len(raw)),
		Digest:       d,
		ArtifactType: artifactType,
		Annotations:  annotations,
	}
}

// rawManifest is a manifest as bytes, for remote.Put.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func ggcrDigest(d v1.Descriptor) string { return d.Digest.String() }

// compareImages checks that got, pulled from the registry, is want byte for byte: the
// digest, the manifest, the config and every layer's compressed content.
func compareImages(t testing.TB, got, want v1.Image) {
	t.Helper()
	if g, w := must(got.Digest()).in(t), must(want.Digest()).in(t); g != w {
		t.Errorf("image digest %s, want %s", g, w)
	}
	if g, w := must(got.RawManifest()).in(t), must(want.RawManifest()).in(t); !bytes.Equal(g, w) {
		t.Errorf("manifest\n%s\nwant\n%s", g, w)
	}
	if g, w := must(got.RawConfigFile()).in(t), must(want.RawConfigFile()).in(t); !bytes.Equal(g, w) {
		t.Errorf("config\n%s\nwant\n%s", g, w)
	}
	gl, wl := must(got.Layers()).in(t), must(want.Layers()).in(t)
	if len(gl) != len(wl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range wl {
		if g, w := layerBytes(t, gl[i]), layerBytes(t, wl[i]); !bytes.Equal(g, w) {
			t.Errorf("layer %d: %d bytes differ from the %d pushed", i, len(g), len(w))
		}
	}
}

// layerBytes reads a layer's compressed content.
func layerBytes(t testing.TB, l v1.Layer) []byte {
	t.Helper()
	rc := must(l.Compressed()).in(t)
	defer rc.Close()
	return must(io.ReadAll(rc)).in(t)
}
