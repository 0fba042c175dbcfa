package inventory

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/connector/inventory"
)

// seeded is what seed pushed to the default registry.
type seeded struct {
	amd64, arm64 pushedImage
	index        desc
	signature    desc
	sbom         desc
	many         []string // repositories of four images and five tags each
	created      time.Time
	labels       map[string]string
	base         map[string]string
}

const manyRepos = 12

// seed pushes a multi-arch image with base-image annotations and labels, a signature of
// its index and an SBOM of its amd64 image to app/web, and manyRepos repositories of
// four images (tags v0..v3, latest) each.
func seed(t testing.TB, p *pusher) *seeded {
	t.Helper()
	ctx := t.Context()
	s := &seeded{created: time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC),
		labels: map[string]string{"org.opencontainers.image.source": "https://example.com/web", "team": "web"},
		base: map[string]string{"org.opencontainers.image.base.name": "docker.io/library/alpine:3.20",
			"org.opencontainers.image.base.digest": digest.FromString("alpine").String()}}
	img := must[pushedImage](t)
	s.amd64 = img(p.image(ctx, "app/web", imageSpec{arch: "amd64", created: s.created, labels: s.labels, annotations: s.base}))
	s.arm64 = img(p.image(ctx, "app/web", imageSpec{arch: "arm64", created: s.created.Add(time.Second), labels: s.labels, annotations: s.base}))
	d := must[desc](t)
	s.index = d(p.index(ctx, "app/web", map[string]string{"org.opencontainers.image.title": "web"}, []pushedImage{s.amd64, s.arm64}, "1.0", "latest"))
	s.signature = d(p.referrer(ctx, "app/web", atNotation, s.index, []byte("signature"), map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": "[]"}))
	s.sbom = d(p.referrer(ctx, "app/web", atSPDX, s.amd64.desc, []byte(`{"spdxVersion":"SPDX-2.3"}`), map[string]string{"org.opencontainers.image.created": "2026-03-04T05:06:07Z"}))
	layer := []byte("the shared layer")
	for r := range manyRepos {
		repo := fmt.Sprintf("many/r%02d", r)
		s.many = append(s.many, repo)
		for i := range 4 {
			tags := []string{fmt.Sprintf("v%d", i)}
			if i == 3 {
				tags = append(tags, "latest")
			}
			img(p.image(ctx, repo, imageSpec{arch: "amd64", created: s.created, labels: map[string]string{"n": fmt.Sprint(i)}, layer: layer}, tags...))
		}
	}
	return s
}

// TestInventory inventories two registries found through ARM: the seeded default one,
// with every listing paged (page size 3), and a second one with a single image.
func TestInventory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	second := f.cloud.CreateRegistry(t, "second", "Premium", nil)
	s := f.session(t, f.discovering())
	if _, err := s.Registries(t.Context()); err != nil { // discovery: the session may then reach them
		t.Fatal(err)
	}
	want := seed(t, newPusher(t, s, f.cloud.Srv.Host))
	hello := must[pushedImage](t)(newPusher(t, s, second).image(t.Context(), "hello/world", imageSpec{arch: "arm64", created: want.created}, "1"))

	got := run(t, s, inventory.Options{PageSize: 3, Concurrency: 4}, nil)
	got.noErrors(t)
	t.Logf("full inventory: %d records in %s; %d requests, %d token requests", len(got.records), got.elapsed, got.stats.Requests, got.stats.TokenRequests)

	t.Run("registries", func(t *testing.T) {
		regs := got.of(inventory.KindRegistry)
		byHost := map[string]inventory.Record{}
		for _, r := range regs {
			byHost[r.Registry] = r
		}
		if len(regs) != 2 || len(byHost) != 2 {
			t.Fatalf("registry records = %+v", regs)
		}
		def := byHost[f.cloud.Srv.Host]
		if def.Name != f.cloud.Boot.RegistryName || !strings.EqualFold(def.ResourceID, f.cloud.RegistryID(f.cloud.Boot.RegistryName)) ||
			def.Subscription != f.cloud.Boot.SubscriptionID || !strings.EqualFold(def.ResourceGroup, f.cloud.Boot.ResourceGroup) {
			t.Errorf("default registry record = %+v", def)
		}
		wantCounts := inventory.Counts{Repositories: 1 + manyRepos, Manifests: 5 + 4*manyRepos, Tags: 2 + 5*manyRepos, Referrers: 2}
		gotCounts := *def.Counts
		gotCounts.Requests, gotCounts.ConfigsCached = 0, 0
		if d := cmp.Diff(wantCounts, gotCounts); d != "" {
			t.Errorf("default registry counts (-want +got):\n%s", d)
		}
		if def.Complete == nil || !*def.Complete || def.Watermark.IsZero() {
			t.Errorf("default registry: complete %v, watermark %v", def.Complete, def.Watermark)
		}
		if sec := byHost[second]; sec.Name != "second" || sec.Counts == nil || sec.Counts.Manifests != 1 || sec.Counts.Tags != 1 {
			t.Errorf("second registry record = %+v", sec)
		}
		if m := got.manifest(t, hello.Digest); m.Registry != second || m.Architecture != "arm64" || m.Repository != "hello/world" {
			t.Errorf("second registry's manifest = %+v", m)
		}
	})

	t.Run("repositories", func(t *testing.T) {
		var names []string
		for _, r := range got.of(inventory.KindRepository) {
			if r.Registry != f.cloud.Srv.Host {
				continue
			}
			names = append(names, r.Repository)
			wantM, wantT := 4, 5
			if r.Repository == "app/web" {
				wantM, wantT = 5, 2
			}
			if r.ManifestCount == nil || *r.ManifestCount != wantM || r.TagCount == nil || *r.TagCount != wantT ||
				r.CreatedTime.IsZero() || r.LastUpdateTime.IsZero() || r.ChangeableAttributes == nil || !r.ChangeableAttributes.ListEnabled {
				t.Errorf("repository record = %+v", r)
			}
		}
		slices.Sort(names)
		if d := cmp.Diff(append([]string{"app/web"}, want.many...), names); d != "" {
			t.Errorf("repositories (-want +got):\n%s", d)
		}
	})

	t.Run("multi-arch image", func(t *testing.T) {
		idx := got.manifest(t, want.index.Digest)
		if idx.MediaType != mtIndex || idx.Size != want.index.Size || idx.Architecture != "" || idx.ConfigDigest != "" ||
			!slices.Equal(sortedTags(idx.Tags), []string{"1.0", "latest"}) || idx.Annotations["org.opencontainers.image.title"] != "web" {
			t.Errorf("index record = %+v", idx)
		}
		wantRefs := []inventory.Platform{{Digest: want.amd64.Digest.String(), Architecture: "amd64", OS: "linux"},
			{Digest: want.arm64.Digest.String(), Architecture: "arm64", OS: "linux"}}
		if d := cmp.Diff(wantRefs, idx.References); d != "" {
			t.Errorf("index references (-want +got):\n%s", d)
		}
		for i, img := range []pushedImage{want.amd64, want.arm64} {
			m := got.manifest(t, img.Digest)
			wantRec := inventory.Record{Kind: inventory.KindManifest, Registry: f.cloud.Srv.Host, Repository: "app/web",
				Digest: img.Digest.String(), MediaType: mtImage, ConfigMediaType: mtConfig, ConfigDigest: img.config.Digest.String(),
				Size: img.Size, Architecture: img.Platform.Architecture, OS: "linux", Annotations: want.base,
				BaseImageName: want.base["org.opencontainers.image.base.name"], BaseImageDigest: want.base["org.opencontainers.image.base.digest"],
				ImageCreated: want.created.Add(time.Duration(i) * time.Second), Labels: want.labels}
			ignore := m
			ignore.ImageSize, ignore.CreatedTime, ignore.LastUpdateTime, ignore.ChangeableAttributes = 0, time.Time{}, time.Time{}, nil
			if d := cmp.Diff(wantRec, ignore); d != "" {
				t.Errorf("%s image record (-want +got):\n%s", img.Platform.Architecture, d)
			}
			if m.ImageSize <= 0 || m.CreatedTime.IsZero() || m.ChangeableAttributes == nil {
				t.Errorf("%s image record lacks ACR metadata: %+v", img.Platform.Architecture, m)
			}
		}
		var tags []string
		for _, tg := range got.in(inventory.KindTag, "app/web") {
			tags = append(tags, tg.Tag+"="+tg.Digest)
			if tg.CreatedTime.IsZero() || tg.ChangeableAttributes == nil {
				t.Errorf("tag record = %+v", tg)
			}
		}
		slices.Sort(tags)
		if d := cmp.Diff([]string{"1.0=" + want.index.Digest.String(), "latest=" + want.index.Digest.String()}, tags); d != "" {
			t.Errorf("tags (-want +got):\n%s", d)
		}
	})

	t.Run("referrers", func(t *testing.T) {
		wantRefs := referrerKeys(t, []inventory.Record{
			{Subject: want.index.Digest.String(), Digest: want.signature.Digest.String(), ArtifactType: atNotation},
			{Subject: want.amd64.Digest.String(), Digest: want.sbom.Digest.String(), ArtifactType: atSPDX},
		})
		if d := cmp.Diff(wantRefs, referrerKeys(t, got.in(inventory.KindReferrer, "app/web"))); d != "" {
			t.Errorf("referrers by scan (-want +got):\n%s", d)
		}
		sig := got.manifest(t, want.signature.Digest)
		if sig.Subject != want.index.Digest.String() || sig.ArtifactType != atNotation || sig.ConfigDigest != "" || len(sig.Tags) != 0 {
			t.Errorf("signature manifest record = %+v", sig)
		}
		viaAPI := run(t, s, inventory.Options{PageSize: 3, Referrers: inventory.ReferrersAPI}, keepDefault(f))
		viaAPI.noErrors(t)
		if d := cmp.Diff(wantRefs, referrerKeys(t, viaAPI.in(inventory.KindReferrer, "app/web"))); d != "" {
			t.Errorf("referrers by the referrers API (-want +got):\n%s", d)
		}
		for _, r := range viaAPI.of(inventory.KindReferrer) {
			if r.Digest == want.sbom.Digest.String() && (r.Size != want.sbom.Size || r.Annotations["org.opencontainers.image.created"] == "") {
				t.Errorf("SBOM referrer by API = %+v", r)
			}
		}
		if viaAPI.stats.Requests <= got.stats.Requests/2 {
			t.Errorf("the referrers API run made %d requests: want one more per manifest", viaAPI.stats.Requests)
		}
	})

	t.Run("paging and order", func(t *testing.T) {
		for _, repo := range want.many {
			ms, tags := got.in(inventory.KindManifest, repo), got.in(inventory.KindTag, repo)
			if len(ms) != 4 || len(tags) != 5 {
				t.Errorf("%s: %d manifests and %d tags, want 4 and 5 (paged by 3)", repo, len(ms), len(tags))
				continue
			}
			labels := map[string]bool{}
			for i, m := range ms {
				labels[m.Labels["n"]] = true
				if i > 0 && m.LastUpdateTime.After(ms[i-1].LastUpdateTime) {
					t.Errorf("%s: manifests not newest first: %v after %v", repo, m.LastUpdateTime, ms[i-1].LastUpdateTime)
				}
			}
			if len(labels) != 4 {
				t.Errorf("%s: config labels %v", repo, slices.Collect(maps.Keys(labels)))
			}
		}
	})

	t.Run("token cache", func(t *testing.T) {
		repos := 2 + manyRepos
		// One token per catalog page's batch (page size 3 here) and one for each catalog.
		if got.stats.TokenRequests >= int64(repos) {
			t.Errorf("%d token requests for %d repositories: want fewer than one per repository", got.stats.TokenRequests, repos)
		}
		fresh := f.session(t, f.discovering()) // an empty token cache
		unbatched := run(t, fresh, inventory.Options{PageSize: 3, TokenBatch: 1}, nil)
		unbatched.noErrors(t)
		if unbatched.stats.TokenRequests < int64(repos) {
			t.Errorf("%d token requests without batching: want one per repository and catalog", unbatched.stats.TokenRequests)
		}
		t.Logf("token requests: %d batched, %d with one token per repository", got.stats.TokenRequests, unbatched.stats.TokenRequests)
	})

	t.Run("metadata only", func(t *testing.T) {
		meta := run(t, s, inventory.Options{PageSize: 100, Detail: inventory.DetailMetadata}, keepDefault(f))
		meta.noErrors(t)
		idx := meta.manifest(t, want.index.Digest)
		if len(idx.References) != 2 || idx.Size != 0 || len(meta.of(inventory.KindReferrer)) != 0 {
			t.Errorf("metadata-only index record = %+v", idx)
		}
		// catalog, then per repository: attributes, manifests, tags.
		if want := int64(1 + 3*(1+manyRepos)); meta.stats.Requests > want+2 {
			t.Errorf("metadata-only run: %d requests, want about %d", meta.stats.Requests, want)
		}
	})
}

// keepDefault keeps only the default registry of a run's targets.
func keepDefault(f *fixture) func([]inventory.Target) []inventory.Target {
	return func(ts []inventory.Target) []inventory.Target {
		return slices.DeleteFunc(ts, func(t inventory.Target) bool { return t.LoginServer != f.cloud.Srv.Host })
	}
}

// referrerKeys names referrers by subject, digest and artifact type, sorted.
func referrerKeys(t testing.TB, recs []inventory.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		out = append(out, r.Subject+" <- "+r.Digest+" "+r.ArtifactType)
	}
	slices.Sort(out)
	return out
}
