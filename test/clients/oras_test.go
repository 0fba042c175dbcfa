package clients

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// orasCreated fixes the created annotation that oras.PackManifest otherwise sets to the
// current time, so that manifests and their referrers descriptors are predictable.
const orasCreated = "2024-01-02T03:04:05Z"

// newORAS returns an oras-go repository client for path on the server, over HTTPS
// through a recorder, signed in as the bootstrap owner: an auth.Client with the owner's
// static credential and a token cache, as the oras CLI sets it up, answers the 401
// challenge with the token flow.
func newORAS(t testing.TB, s *testserver.Server, path string) (*remote.Repository, *recorder) {
	t.Helper()
	rec := newRecorder(t, s.Transport())
	repo := must(remote.NewRepository(s.Host + "/" + path)).in(t)
	repo.PlainHTTP = false
	repo.Client = &auth.Client{
		Client:     &http.Client{Transport: rec},
		Header:     http.Header{"User-Agent": {"cerulean-clients-test"}},
		Credential: auth.StaticCredential(s.Host, auth.Credential{Username: s.Username, Password: s.Password}),
		Cache:      auth.NewCache(),
	}
	return repo, rec
}

// orasPack pushes one data blob and an OCI 1.1 manifest of artifactType over it, with
// subject when not nil, and returns the manifest's descriptor as the referrers API lists
// it.
func orasPack(t testing.TB, repo *remote.Repository, artifactType string, subject *ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	blob := must(oras.PushBytes(ctx, repo, "application/vnd.example.data", randomBytes(t, 200))).in(t)
	annotations := map[string]string{ocispec.AnnotationCreated: orasCreated, "org.example.type": artifactType}
	d, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Subject:             subject,
		Layers:              []ocispec.Descriptor{blob},
		ManifestAnnotations: annotations,
	})
	if err != nil {
		t.Fatalf("pack %s: %v", artifactType, err)
	}
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: artifactType, Annotations: annotations}
}

// orasReferrers lists the referrers of subject with the given artifactType filter.
func orasReferrers(t testing.TB, repo *remote.Repository, subject ocispec.Descriptor, artifactType string) []ocispec.Descriptor {
	t.Helper()
	var all []ocispec.Descriptor
	err := repo.Referrers(t.Context(), subject, artifactType, func(page []ocispec.Descriptor) error {
		all = append(all, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("referrers of %s (artifactType %q): %v", subject.Digest, artifactType, err)
	}
	return all
}

// orasTags lists all tags of repo.
func orasTags(t testing.TB, repo *remote.Repository) []string {
	t.Helper()
	var all []string
	if err := repo.Tags(t.Context(), "", func(page []string) error {
		all = append(all, page...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

func ociDigest(d ocispec.Descriptor) string { return d.Digest.String() }

// cmpDescs compares descriptor sets.
func cmpDescs(want, got []ocispec.Descriptor) string {
	return cmp.Diff(sortedBy(want, ociDigest), sortedBy(got, ociDigest), cmpopts.EquateEmpty())
}

func TestORAS(t *testing.T) {
	s := testserver.Start(t)

	t.Run("artifact", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		repo, rec := newORAS(t, s, repoName(t))

		// A bare blob: push, check, fetch, delete.
		data := randomBytes(t, 1000)
		blob := must(oras.PushBytes(ctx, repo, "application/octet-stream", data)).in(t)
		if ok := must(repo.Blobs().Exists(ctx, blob)).in(t); !ok {
			t.Errorf("blob %s does not exist after push", blob.Digest)
		}
		if got := must(readAllClose(repo.Blobs().Fetch(ctx, blob))).in(t); !bytes.Equal(got, data) {
			t.Errorf("fetched blob differs from the pushed one")
		}
		if err := repo.Blobs().Delete(ctx, blob); err != nil {
			t.Errorf("delete blob: %v", err)
		} else if ok := must(repo.Blobs().Exists(ctx, blob)).in(t); ok {
			t.Errorf("blob %s exists after delete", blob.Digest)
		}

		// The subject, tagged, and two artifacts that refer to it.
		subject := orasPack(t, repo, "application/vnd.example.subject.v1", nil)
		if err := repo.Tag(ctx, subject, "v1"); err != nil {
			t.Fatal(err)
		}
		sbom := orasPack(t, repo, artifactSBOM, &subject)
		sig := orasPack(t, repo, artifactSig, &subject)
		for _, e := range rec.exchanges(http.MethodPut, "/manifests/") {
			if strings.HasSuffix(e.path, "/"+sbom.Digest.String()) || strings.HasSuffix(e.path, "/"+sig.Digest.String()) {
				if got := e.respHeader.Get("OCI-Subject"); got != subject.Digest.String() {
					t.Errorf("manifest with a subject pushed; OCI-Subject is %q, want %s:\n%s", got, subject.Digest, e)
				}
			}
		}

		for _, tc := range []struct {
			name   string
			filter string
			want   []ocispec.Descriptor
		}{
			{"all", "", []ocispec.Descriptor{sbom, sig}},
			{"sbom", artifactSBOM, []ocispec.Descriptor{sbom}},
			{"signature", artifactSig, []ocispec.Descriptor{sig}},
			{"no-match", "application/vnd.example.none", nil},
		} {
			t.Run("referrers-"+tc.name, func(t *testing.T) {
				if diff := cmpDescs(tc.want, orasReferrers(t, repo, subject, tc.filter)); diff != "" {
					t.Errorf("referrers (-want +got):\n%s", diff)
				}
				if tc.filter == "" {
					return
				}
				// oras sends the filter to the registry and filters again itself when the
				// answer says it was not applied: check the registry did filter.
				gets := rec.exchanges(http.MethodGet, "/referrers/")
				last := gets[len(gets)-1]
				if last.query.Get("artifactType") != tc.filter || last.respHeader.Get("OCI-Filters-Applied") != "artifactType" {
					t.Errorf("want a referrers request filtered by the registry (OCI-Filters-Applied: artifactType):\n%s", last)
				}
			})
		}
		// oras maintains the sha256-<hex> fallback tag itself unless the registry
		// answered the pushes with OCI-Subject.
		if diff := cmp.Diff([]string{"v1"}, orasTags(t, repo)); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}

		// Fetch by tag and by digest.
		wantRaw := must(readAllClose(repo.Fetch(ctx, subject))).in(t)
		for _, ref := range []string{"v1", subject.Digest.String()} {
			d, raw, err := oras.FetchBytes(ctx, repo, ref, oras.DefaultFetchBytesOptions)
			if err != nil {
				t.Fatalf("fetch %s: %v", ref, err)
			}
			if d.Digest != subject.Digest || d.Size != subject.Size || d.MediaType != ocispec.MediaTypeImageManifest || !bytes.Equal(raw, wantRaw) {
				t.Errorf("fetch %s: got %v, want %v", ref, d, subject)
			}
		}

		// Tag by digest, resolve the tag.
		if _, err := oras.Tag(ctx, repo, sbom.Digest.String(), "sbom"); err != nil {
			t.Fatal(err)
		}
		if d := must(repo.Resolve(ctx, "sbom")).in(t); d.Digest != sbom.Digest || d.Size != sbom.Size {
			t.Errorf("resolve sbom: %v, want %v", d, sbom)
		}

		// Delete the signature: gone, and gone from the referrers.
		if err := repo.Delete(ctx, sig); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Resolve(ctx, sig.Digest.String()); !errors.Is(err, errdef.ErrNotFound) {
			t.Errorf("resolve deleted %s: got %v, want not found", sig.Digest, err)
		}
		if diff := cmpDescs([]ocispec.Descriptor{sbom}, orasReferrers(t, repo, subject, "")); diff != "" {
			t.Errorf("referrers after delete (-want +got):\n%s", diff)
		}
		rec.checkTokenFlow(t, s.Host)
	})

	t.Run("copy", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name     string
			extended bool // oras.ExtendedCopy: the referrers come along
		}{
			{"copy", false},
			{"extended-copy", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				src, _ := newORAS(t, s, repoName(t, "src"))
				dst, rec := newORAS(t, s, repoName(t, "dst"))
				subject := orasPack(t, src, "application/vnd.example.subject.v1", nil)
				if err := src.Tag(ctx, subject, "v1"); err != nil {
					t.Fatal(err)
				}
				sbom := orasPack(t, src, artifactSBOM, &subject)

				var mounted atomic.Int32
				graph := oras.CopyGraphOptions{
					MountFrom: func(context.Context, ocispec.Descriptor) ([]string, error) {
						return []string{src.Reference.Repository}, nil
					},
					OnMounted: func(context.Context, ocispec.Descriptor) error {
						mounted.Add(1)
						return nil
					},
				}
				var (
					d   ocispec.Descriptor
					err error
				)
				if tc.extended {
					d, err = oras.ExtendedCopy(ctx, src, "v1", dst, "v1", oras.ExtendedCopyOptions{
						ExtendedCopyGraphOptions: oras.ExtendedCopyGraphOptions{CopyGraphOptions: graph},
					})
				} else {
					d, err = oras.Copy(ctx, src, "v1", dst, "v1", oras.CopyOptions{CopyGraphOptions: graph})
				}
				if err != nil {
					t.Fatal(err)
				}
				if d.Digest != subject.Digest {
					t.Errorf("copied %s, want %s", d.Digest, subject.Digest)
				}
				if got := must(dst.Resolve(ctx, "v1")).in(t); got.Digest != subject.Digest {
					t.Errorf("dst v1 resolves to %s, want %s", got.Digest, subject.Digest)
				}

				// Every blob crossed by mount: the empty config and the data layer of the
				// subject, and with the referrers the sbom's data layer (its empty config
				// is there already).
				want := int32(2)
				wantReferrers := []ocispec.Descriptor(nil)
				if tc.extended {
					want, wantReferrers = 3, []ocispec.Descriptor{sbom}
				}
				if n := mounted.Load(); n != want {
					t.Errorf("%d blobs mounted, want %d", n, want)
				}
				rec.checkMounted(t, src.Reference.Repository, dst.Reference.Repository, int(want))
				if diff := cmpDescs(wantReferrers, orasReferrers(t, dst, subject, "")); diff != "" {
					t.Errorf("dst referrers (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// readAllClose reads and closes what a Fetch returned.
func readAllClose(rc io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
