package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/inventory"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// Media types the tests push.
const (
	mtImage    = "application/vnd.oci.image.manifest.v1+json"
	mtIndex    = "application/vnd.oci.image.index.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtEmpty    = "application/vnd.oci.empty.v1+json"
	atNotation = "application/vnd.cncf.notary.signature"
	atSPDX     = "application/spdx+json"
)

// fixture is a started server seen as a cloud, and a connection to it as the bootstrap
// owner (Owner of the subscription: every registry's data).
type fixture struct {
	cloud *testcloud.Cloud
	conn  connector.Connection
	sec   connector.Secrets
}

func newFixture(t testing.TB, args ...string) *fixture {
	t.Helper()
	c := testcloud.Start(t, args...)
	_, port, _ := net.SplitHostPort(c.Srv.Host)
	return &fixture{cloud: c,
		conn: connector.Connection{Name: "test",
			Cloud: connector.CustomCloud("cerulean", c.Srv.URL, c.Srv.URL, "", "localhost:"+port, c.Srv.CAFile),
			Credential: connector.Credential{Kind: connector.ServicePrincipalSecret, TenantID: c.Boot.TenantID,
				ClientID: c.Boot.ClientID},
			Registries: []string{c.Srv.Host}},
		sec: connector.Secrets{ClientSecret: c.Boot.ClientSecret}}
}

// discovering is the fixture's connection finding its registries through ARM in the
// bootstrap subscription instead of being given the default one.
func (f *fixture) discovering() connector.Connection {
	c := f.conn
	c.Registries, c.Subscriptions = nil, []string{f.cloud.Boot.SubscriptionID}
	return c
}

// session opens conn, reaching every registry of the server (testcloud.Transport).
func (f *fixture) session(t testing.TB, conn connector.Connection, opts ...connector.Option) *connector.Session {
	t.Helper()
	opts = append([]connector.Option{connector.WithTransport(f.cloud.Transport())}, opts...)
	s, err := connector.Open(t.Context(), &conn, f.sec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// result is a run's records and results.
type result struct {
	records []inventory.Record
	results []inventory.Result
	stats   connector.Stats
	elapsed time.Duration
}

// of returns the records of a kind, in order.
func (r *result) of(kind inventory.Kind) []inventory.Record {
	var out []inventory.Record
	for _, rec := range r.records {
		if rec.Kind == kind {
			out = append(out, rec)
		}
	}
	return out
}

// in returns the records of a kind in one repository.
func (r *result) in(kind inventory.Kind, repo string) []inventory.Record {
	var out []inventory.Record
	for _, rec := range r.of(kind) {
		if rec.Repository == repo {
			out = append(out, rec)
		}
	}
	return out
}

// manifest returns the manifest record of a digest, failing the test without one.
func (r *result) manifest(t testing.TB, d digest.Digest) inventory.Record {
	t.Helper()
	for _, rec := range r.of(inventory.KindManifest) {
		if rec.Digest == d.String() {
			return rec
		}
	}
	t.Fatalf("no manifest record of %s", d)
	return inventory.Record{}
}

// noErrors fails the test on error records or incomplete results.
func (r *result) noErrors(t testing.TB) {
	t.Helper()
	for _, rec := range r.of(inventory.KindError) {
		t.Errorf("error record: %+v", rec)
	}
	for _, res := range r.results {
		if !res.Complete {
			t.Errorf("%s: incomplete", res.Target.LoginServer)
		}
	}
}

// run inventories the session's registries (the targets adjust returns, if set) with
// opts, and counts the session's requests made meanwhile.
func run(t testing.TB, s *connector.Session, opts inventory.Options, adjust func([]inventory.Target) []inventory.Target) *result {
	t.Helper()
	refs, err := s.Registries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	targets := inventory.Targets(refs)
	if adjust != nil {
		targets = adjust(targets)
	}
	var res result
	var mu sync.Mutex
	sink := inventory.SinkFunc(func(r inventory.Record) error {
		mu.Lock()
		defer mu.Unlock()
		// Through JSON, as a consumer sees them.
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		var back inventory.Record
		if err := json.Unmarshal(b, &back); err != nil {
			return err
		}
		res.records = append(res.records, back)
		return nil
	})
	before := s.Stats()
	start := time.Now()
	res.results, err = inventory.Run(t.Context(), targets, inventory.SessionOpener(s), sink, opts)
	res.elapsed = time.Since(start)
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	after := s.Stats()
	res.stats = connector.Stats{Requests: after.Requests - before.Requests, TokenRequests: after.TokenRequests - before.TokenRequests,
		Retries: after.Retries - before.Retries, Throttled: after.Throttled - before.Throttled}
	return &res
}

// pusher seeds a registry through the connector's client (bearer tokens, one per batch
// of repositories).
type pusher struct {
	c *connector.RegistryClient
}

func newPusher(t testing.TB, s *connector.Session, loginServer string) *pusher {
	t.Helper()
	c, err := s.Registry(t.Context(), loginServer)
	if err != nil {
		t.Fatal(err)
	}
	return &pusher{c: c}
}

func pushScope(repo string) string { return "repository:" + repo + ":pull,push" }

// prefetch asks one token for pushing to repos.
func (p *pusher) prefetch(ctx context.Context, repos ...string) error {
	scopes := make([]string, len(repos))
	for i, r := range repos {
		scopes[i] = pushScope(r)
	}
	return p.c.Prefetch(ctx, scopes...)
}

func (p *pusher) send(ctx context.Context, method, repo, path, contentType string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, p.c.URL("/v2/"+repo+path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := p.c.Do(ctx, req, pushScope(repo))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s /v2/%s%s: %d %s", method, repo, path, resp.StatusCode, b)
	}
	return nil
}

// blob uploads content in one POST and returns its descriptor.
func (p *pusher) blob(ctx context.Context, repo, mediaType string, content []byte) (desc, error) {
	d := desc{MediaType: mediaType, Digest: digest.FromBytes(content), Size: int64(len(content))}
	return d, p.send(ctx, http.MethodPost, repo, "/blobs/uploads/?digest="+d.Digest.String(), "application/octet-stream", content, http.StatusCreated)
}

// manifest PUTs a manifest under ref ("" for its digest) and returns its descriptor.
func (p *pusher) manifest(ctx context.Context, repo, ref, mediaType string, content []byte) (desc, error) {
	d := desc{MediaType: mediaType, Digest: digest.FromBytes(content), Size: int64(len(content))}
	if ref == "" {
		ref = d.Digest.String()
	}
	return d, p.send(ctx, http.MethodPut, repo, "/manifests/"+ref, mediaType, content, http.StatusCreated)
}

// desc is an OCI descriptor.
type desc struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// imageSpec says what image to push.
type imageSpec struct {
	arch        string
	created     time.Time
	labels      map[string]string
	annotations map[string]string
	layer       []byte // shared layers keep seeding cheap; nil for a fresh one
}

// pushedImage is an image pushed by image.
type pushedImage struct {
	desc
	config desc
}

// image pushes an image's config and layer and its manifest under tags (by digest when
// none).
func (p *pusher) image(ctx context.Context, repo string, spec imageSpec, tags ...string) (pushedImage, error) {
	cfg, _ := json.Marshal(map[string]any{"architecture": spec.arch, "os": "linux",
		"created": spec.created.UTC().Format(time.RFC3339Nano), "config": map[string]any{"Labels": spec.labels},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}})
	config, err := p.blob(ctx, repo, mtConfig, cfg)
	if err != nil {
		return pushedImage{}, err
	}
	layerContent := spec.layer
	if layerContent == nil {
		layerContent = fmt.Appendf(nil, "layer of %s %s", repo, config.Digest)
	}
	layer, err := p.blob(ctx, repo, mtLayer, layerContent)
	if err != nil {
		return pushedImage{}, err
	}
	content, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtImage, "config": config,
		"layers": []desc{layer}, "annotations": spec.annotations})
	img := pushedImage{config: config}
	refs := tags
	if len(refs) == 0 {
		refs = []string{""}
	}
	for _, ref := range refs {
		if img.desc, err = p.manifest(ctx, repo, ref, mtImage, content); err != nil {
			return img, err
		}
	}
	img.Platform = &platform{Architecture: spec.arch, OS: "linux"}
	return img, nil
}

// index pushes an OCI index of children under tags.
func (p *pusher) index(ctx context.Context, repo string, annotations map[string]string, children []pushedImage, tags ...string) (desc, error) {
	var ds []desc
	for _, c := range children {
		ds = append(ds, c.desc)
	}
	content, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtIndex, "manifests": ds, "annotations": annotations})
	var d desc
	var err error
	for _, tag := range tags {
		if d, err = p.manifest(ctx, repo, tag, mtIndex, content); err != nil {
			return d, err
		}
	}
	return d, nil
}

// referrer pushes an artifact of artifactType whose subject is subject, by digest.
func (p *pusher) referrer(ctx context.Context, repo, artifactType string, subject desc, payload []byte, annotations map[string]string) (desc, error) {
	empty, err := p.blob(ctx, repo, mtEmpty, []byte("{}"))
	if err != nil {
		return desc{}, err
	}
	layer, err := p.blob(ctx, repo, artifactType, payload)
	if err != nil {
		return desc{}, err
	}
	subj := subject
	subj.Platform, subj.Annotations, subj.ArtifactType = nil, nil, ""
	content, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtImage, "artifactType": artifactType,
		"config": empty, "layers": []desc{layer}, "subject": subj, "annotations": annotations})
	d, err := p.manifest(ctx, repo, "", mtImage, content)
	d.ArtifactType = artifactType
	return d, err
}

// must fails the test on err.
func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// sortedTags returns tags sorted, for comparison.
func sortedTags(tags []string) []string {
	out := slices.Clone(tags)
	slices.Sort(out)
	return out
}

// repositoryToken creates a repository-scoped token on the registry's system scope map
// _repositories_pull_metadata_read and returns its password1.
func repositoryToken(t testing.TB, c *testcloud.Cloud, registry, name string) string {
	t.Helper()
	return testcloud.CreateToken(t, c.ACR(t, c.Owner).NewTokensClient(), c.Boot.ResourceGroup, registry, name,
		c.RegistryID(registry)+"/scopeMaps/_repositories_pull_metadata_read")
}

// keyOf names a record for comparing runs: kind, repository and what identifies it.
func keyOf(r inventory.Record) string {
	switch r.Kind {
	case inventory.KindRegistry:
		return strings.Join([]string{string(r.Kind), r.Registry}, " ")
	case inventory.KindReferrer:
		return strings.Join([]string{string(r.Kind), r.Registry, r.Repository, r.Subject, r.Digest, r.ArtifactType}, " ")
	}
	b, _ := json.Marshal(r)
	return string(b)
}
