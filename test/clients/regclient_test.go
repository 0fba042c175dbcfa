package clients

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/scheme"
	"github.com/regclient/regclient/scheme/reg"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"
	"github.com/regclient/regclient/types/ref"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// rcOptions shape one regclient client.
type rcOptions struct {
	// record routes the client through a recorder over the server's transport. regclient
	// then uses that transport as is; without it, the client trusts the server through
	// its own config.Host RegCert, as a regclient user configures a private registry.
	record bool
	chunk  int64 // with record: upload blobs larger than chunk in PATCH chunks of chunk bytes
}

// newRegclient returns a regclient client for the server, signed in as the bootstrap
// owner (config.Host User and Pass, as `regctl registry login` stores them: regclient
// answers the 401 challenge with the token flow), and its recorder when o.record. Retries
// are off, so that an error answer fails the test.
func newRegclient(t *testing.T, s *testserver.Server, o rcOptions) (*regclient.RegClient, *recorder) {
	t.Helper()
	host := config.Host{
		Name:    s.Host,
		TLS:     config.TLSEnabled,
		RegCert: string(must(os.ReadFile(s.CAFile)).in(t)),
		User:    s.Username,
		Pass:    s.Password,
	}
	opts := []regclient.Opt{
		regclient.WithSlog(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))),
		regclient.WithRegOpts(reg.WithRetryLimit(0)),
		regclient.WithUserAgent("cerulean-clients-test"),
	}
	var rec *recorder
	if o.record {
		rec = newRecorder(t, s.Transport())
		opts = append(opts, regclient.WithRegOpts(reg.WithHTTPClient(&http.Client{Transport: rec})))
		if o.chunk > 0 {
			host.BlobChunk, host.BlobMax = o.chunk, o.chunk
		}
	}
	return regclient.New(append(opts, regclient.WithConfigHost(host))...), rec
}

// rcRef parses a regclient reference.
func rcRef(t testing.TB, s string) ref.Ref {
	t.Helper()
	return must(ref.New(s)).in(t)
}

// rcPush copies img into host/repo:tag with regclient, from an OCI layout written with
// go-containerregistry, and returns the registry reference.
func rcPush(t *testing.T, rc *regclient.RegClient, host, repo, tag string, img partial.Describable) ref.Ref {
	t.Helper()
	dir := t.TempDir()
	writeLayout(t, dir, tag, img)
	dst := rcRef(t, host+"/"+repo+":"+tag)
	if err := rc.ImageCopy(t.Context(), rcRef(t, "ocidir://"+dir+":"+tag), dst); err != nil {
		t.Fatalf("copy ocidir://%s:%s to %s: %v", dir, tag, dst.CommonName(), err)
	}
	return dst
}

func TestRegclient(t *testing.T) {
	s := testserver.Start(t)

	t.Run("copy-from-oci-layout", func(t *testing.T) {
		t.Parallel()
		rc, _ := newRegclient(t, s, rcOptions{})
		img := newImage(t, types.OCIManifestSchema1, 2, 4096)
		r := rcPush(t, rc, s.Host, repoName(t), "v1", img)
		raw := must(img.RawManifest()).in(t)

		for _, get := range []struct {
			name  string
			fetch func(context.Context, ref.Ref, ...regclient.ManifestOpts) (manifest.Manifest, error)
		}{{"get", rc.ManifestGet}, {"head", rc.ManifestHead}} {
			m, err := get.fetch(t.Context(), r)
			if err != nil {
				t.Fatalf("manifest %s: %v", get.name, err)
			}
			want := descriptor.Descriptor{MediaType: mediatype.OCI1Manifest, Size: int64(len(raw)), Digest: digest.FromBytes(raw)}
			if diff := cmp.Diff(want, m.GetDescriptor(), cmpopts.IgnoreUnexported(descriptor.Descriptor{})); diff != "" {
				t.Errorf("manifest %s descriptor (-want +got):\n%s", get.name, diff)
			}
		}
		m := must(rc.ManifestGet(t.Context(), r)).in(t)
		if body := must(m.RawBody()).in(t); !bytes.Equal(body, raw) {
			t.Errorf("manifest\n%s\nwant\n%s", body, raw)
		}

		// Out again, into a fresh OCI layout, and compare byte for byte.
		out := t.TempDir()
		outRef := rcRef(t, "ocidir://"+out+":v1")
		if err := rc.ImageCopy(t.Context(), r, outRef); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(t.Context(), outRef); err != nil {
			t.Fatal(err)
		}
		compareImages(t, layoutImage(t, out, "v1"), img)
	})

	t.Run("tags", func(t *testing.T) {
		t.Parallel()
		rc, _ := newRegclient(t, s, rcOptions{})
		r := rcPush(t, rc, s.Host, repoName(t), "c", newImage(t, types.OCIManifestSchema1, 1, 256))
		m := must(rc.ManifestGet(t.Context(), r)).in(t)
		for _, tag := range []string{"e", "a", "d", "b"} {
			if err := rc.ManifestPut(t.Context(), r.SetTag(tag), m); err != nil {
				t.Fatalf("tag %s: %v", tag, err)
			}
		}
		for _, tc := range []struct {
			name string
			opts []scheme.TagOpts
			want []string
		}{
			{"all", nil, []string{"a", "b", "c", "d", "e"}},
			{"n=2", []scheme.TagOpts{scheme.WithTagLimit(2)}, []string{"a", "b"}},
			{"last=b", []scheme.TagOpts{scheme.WithTagLast("b")}, []string{"c", "d", "e"}},
			{"last=b,n=2", []scheme.TagOpts{scheme.WithTagLast("b"), scheme.WithTagLimit(2)}, []string{"c", "d"}},
			{"last=e", []scheme.TagOpts{scheme.WithTagLast("e")}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tl, err := rc.TagList(t.Context(), r, tc.opts...)
				if err != nil {
					t.Fatal(err)
				}
				got := must(tl.GetTags()).in(t)
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("referrers", func(t *testing.T) {
		t.Parallel()
		rc, _ := newRegclient(t, s, rcOptions{})
		r := rcPush(t, rc, s.Host, repoName(t), "v1", newImage(t, types.OCIManifestSchema1, 1, 256))
		subject := must(rc.ManifestHead(t.Context(), r)).in(t).GetDescriptor()
		subjectRef := r.SetDigest(subject.Digest.String())

		want := map[string]descriptor.Descriptor{}
		for _, at := range []string{artifactSBOM, artifactSig} {
			want[at] = rcPushArtifact(t, rc, r, at, subject)
		}
		for _, tc := range []struct {
			name   string
			filter string
			want   []descriptor.Descriptor
		}{
			{"all", "", []descriptor.Descriptor{want[artifactSBOM], want[artifactSig]}},
			{"sbom", artifactSBOM, []descriptor.Descriptor{want[artifactSBOM]}},
			{"signature", artifactSig, []descriptor.Descriptor{want[artifactSig]}},
			{"no-match", "application/vnd.example.none", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var opts []scheme.ReferrerOpts
				if tc.filter != "" {
					opts = append(opts, scheme.WithReferrerMatchOpt(descriptor.MatchOpt{ArtifactType: tc.filter}))
				}
				rl, err := rc.ReferrerList(t.Context(), subjectRef, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if len(rl.Tags) != 0 {
					t.Errorf("referrers read from fallback tags %v, not from the Referrers API", rl.Tags)
				}
				if diff := cmp.Diff(sortedBy(tc.want, rcDigest), sortedBy(rl.Descriptors, rcDigest), cmpopts.IgnoreUnexported(descriptor.Descriptor{}), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("referrers (-want +got):\n%s", diff)
				}
			})
		}
		// regclient writes the fallback tag sha256-<hex> unless the registry answered the
		// push with OCI-Subject: it must not be there.
		tl := must(rc.TagList(t.Context(), r)).in(t)
		if diff := cmp.Diff([]string{"v1"}, must(tl.GetTags()).in(t)); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		rc, rec := newRegclient(t, s, rcOptions{record: true})
		r := rcPush(t, rc, s.Host, repoName(t), "v1", newImage(t, types.OCIManifestSchema1, 1, 256))
		m := must(rc.ManifestGet(t.Context(), r)).in(t)
		if err := rc.ManifestPut(t.Context(), r.SetTag("v2"), m); err != nil {
			t.Fatal(err)
		}
		byDigest := r.SetDigest(m.GetDescriptor().Digest.String())

		// TagDelete tries DELETE /v2/<name>/manifests/<tag> and, unless that answers 202,
		// silently falls back to pushing a throwaway manifest over the tag and deleting it
		// by digest. The direct delete must have done it.
		puts := len(rec.answered(http.MethodPut, "/manifests/"))
		if err := rc.TagDelete(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		dels := rec.answered(http.MethodDelete, "/manifests/v1")
		if len(dels) != 1 || dels[0].status != http.StatusAccepted {
			t.Errorf("tag delete: want one DELETE .../manifests/v1 answered 202, got %v", dels)
		}
		if n := len(rec.answered(http.MethodPut, "/manifests/")); n != puts {
			t.Errorf("tag delete pushed %d manifests: it fell back to the throwaway-manifest method", n-puts)
		}
		rcExists(t, rc, r, false)
		rcExists(t, rc, r.SetTag("v2"), true)
		rcExists(t, rc, byDigest, true)

		if err := rc.ManifestDelete(t.Context(), byDigest); err != nil {
			t.Fatal(err)
		}
		rcExists(t, rc, byDigest, false)
		rcExists(t, rc, r.SetTag("v2"), false)
		rec.checkTokenFlow(t, s.Host)
	})

	t.Run("copy-between-repos", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			item  func(t *testing.T) partial.Describable
			blobs int // configs and layers
		}{
			{"image", func(t *testing.T) partial.Describable { return newImage(t, types.OCIManifestSchema1, 2, 1024) }, 3},
			{"index", func(t *testing.T) partial.Describable {
				idx := ggcrv1.ImageIndex(empty.Index)
				for _, p := range []ggcrv1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}} {
					idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
						Add:        newImage(t, types.OCIManifestSchema1, 1, 1024),
						Descriptor: ggcrv1.Descriptor{Platform: &p},
					})
				}
				return idx
			}, 4},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				rc, rec := newRegclient(t, s, rcOptions{record: true})
				item := tc.item(t)
				src := rcPush(t, rc, s.Host, repoName(t, "src"), "v1", item)
				dst := rcRef(t, s.Host+"/"+repoName(t, "dst")+":v1")
				if err := rc.ImageCopy(t.Context(), src, dst); err != nil {
					t.Fatal(err)
				}
				want := must(item.Digest()).in(t).String()
				if got := must(rc.ManifestHead(t.Context(), dst)).in(t).GetDescriptor().Digest.String(); got != want {
					t.Errorf("copied manifest %s, want %s", got, want)
				}
				if idx, ok := item.(ggcrv1.ImageIndex); ok {
					for _, d := range must(idx.IndexManifest()).in(t).Manifests {
						p := platform.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture}
						m, err := rc.ManifestGet(t.Context(), dst, regclient.WithManifestPlatform(p))
						if err != nil {
							t.Fatalf("resolve %s: %v", p, err)
						}
						if got := m.GetDescriptor().Digest.String(); got != d.Digest.String() {
							t.Errorf("platform %s resolved to %s, want %s", p, got, d.Digest)
						}
					}
				}
				// Every blob reached dst by a mount from src.
				rec.checkMounted(t, src.Repository, dst.Repository, tc.blobs)
			})
		}
	})

	t.Run("chunked-upload", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			size  int
			chunk int64
			long  bool
		}{
			{"2.5MiB-in-1MiB", 5 << 19, 1 << 20, false},
			{"50MiB-in-4MiB", 50 << 20, 4 << 20, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.long && testing.Short() {
					t.Skip("large upload; runs without -short")
				}
				t.Parallel()
				rc, rec := newRegclient(t, s, rcOptions{record: true, chunk: tc.chunk})
				r := rcRef(t, s.Host+"/"+repoName(t))
				data := randomBytes(t, tc.size)
				d := descriptor.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
				if _, err := rc.BlobPut(t.Context(), r, d, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}

				// The registry may ask for larger chunks (OCI-Chunk-Min-Length), which
				// regclient honours.
				chunk := tc.chunk
				for _, e := range rec.exchanges(http.MethodPost, "/blobs/uploads/") {
					if m, err := strconv.ParseInt(e.respHeader.Get("OCI-Chunk-Min-Length"), 10, 64); err == nil && m > chunk {
						chunk = m
					}
				}
				patches := rec.answered(http.MethodPatch, "/blobs/uploads/")
				if want := (int64(tc.size) + chunk - 1) / chunk; int64(len(patches)) != want {
					t.Errorf("%d PATCH chunks, want %d of %d bytes", len(patches), want, chunk)
				}
				for i, e := range patches {
					if e.status != http.StatusAccepted || e.reqHeader.Get("Content-Range") == "" {
						t.Errorf("chunk %d: want a Content-Range chunk answered 202:\n%s", i, e)
					}
				}

				br, err := rc.BlobGet(t.Context(), r, d)
				if err != nil {
					t.Fatal(err)
				}
				defer br.Close()
				got := must(io.ReadAll(br)).in(t)
				if !bytes.Equal(got, data) {
					t.Errorf("pulled %d bytes (%s), want %d (%s)", len(got), digest.FromBytes(got), len(data), d.Digest)
				}
			})
		}
	})
}

// rcPushArtifact pushes, with regclient, an artifact manifest of the given artifactType
// whose subject is subject, and returns the descriptor the referrers API must list.
func rcPushArtifact(t *testing.T, rc *regclient.RegClient, r ref.Ref, artifactType string, subject descriptor.Descriptor) descriptor.Descriptor {
	t.Helper()
	put := func(mt string, b []byte) descriptor.Descriptor {
		d := descriptor.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if _, err := rc.BlobPut(t.Context(), r, d, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	annotations := map[string]string{"org.example.type": artifactType}
	m := must(manifest.New(manifest.WithOrig(v1.Manifest{
		Versioned:    v1.ManifestSchemaVersion,
		MediaType:    mediatype.OCI1Manifest,
		ArtifactType: artifactType,
		Config:       put(mediatype.OCI1Empty, []byte("{}")),
		Layers:       []descriptor.Descriptor{put("application/vnd.example.data", randomBytes(t, 100))},
		Subject:      &subject,
		Annotations:  annotations,
	}))).in(t)
	d := m.GetDescriptor()
	if err := rc.ManifestPut(t.Context(), r.SetDigest(d.Digest.String()), m); err != nil {
		t.Fatalf("push artifact %s: %v", artifactType, err)
	}
	return descriptor.Descriptor{
		MediaType:    mediatype.OCI1Manifest,
		Digest:       d.Digest,
		Size:         d.Size,
		ArtifactType: artifactType,
		Annotations:  annotations,
	}
}

// rcExists checks with a HEAD whether r resolves.
func rcExists(t testing.TB, rc *regclient.RegClient, r ref.Ref, want bool) {
	t.Helper()
	_, err := rc.ManifestHead(t.Context(), r)
	switch {
	case want && err != nil:
		t.Errorf("HEAD %s: %v", r.CommonName(), err)
	case !want && !errors.Is(err, errs.ErrNotFound):
		t.Errorf("HEAD %s: got %v, want not found", r.CommonName(), err)
	}
}

// layoutImage reads the image named tag from the OCI layout at dir.
func layoutImage(t testing.TB, dir, tag string) ggcrv1.Image {
	t.Helper()
	idx := must(layout.ImageIndexFromPath(dir)).in(t)
	for _, d := range must(idx.IndexManifest()).in(t).Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == tag {
			return must(idx.Image(d.Digest)).in(t)
		}
	}
	t.Fatalf("no image %q in the layout at %s:\n%s", tag, dir, must(os.ReadFile(filepath.Join(dir, "index.json"))).in(t))
	return nil
}

func rcDigest(d descriptor.Descriptor) string { return d.Digest.String() }
