package inventory

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cerulean-registry/cerulean/connector/inventory"
)

// BenchmarkInventory inventories a local server holding 500 repositories of 20 tags
// each, every tag its own image (10,000 manifests and configs), and reports per crawl the
// wall time (ns/op), the registry requests and the token requests made, with a fresh
// session (an empty token cache) each time:
//
//	go test ./test/inventory -run '^$' -bench Inventory -benchtime 3x
//
// INVENTORY_BENCH_REPOS and INVENTORY_BENCH_TAGS change the shape. Sub-benchmarks: full
// (the default crawl), unbatched (one token per repository: what the batch saves),
// metadata (the /acr/v1 listings only) and incremental (nothing changed since the
// watermark).
func BenchmarkInventory(b *testing.B) {
	repos, tags := envInt(b, "INVENTORY_BENCH_REPOS", 500), envInt(b, "INVENTORY_BENCH_TAGS", 20)
	f := newFixture(b)
	start := time.Now()
	seedBench(b, f, repos, tags)
	b.Logf("seeded %d repositories × %d tags in %s", repos, tags, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // see TestCLI

	var watermark time.Time
	bench := func(name string, opts inventory.Options, incremental bool) {
		b.Run(name, func(b *testing.B) {
			var requests, tokens, records int64
			for b.Loop() {
				s := f.session(b, f.conn)
				res := run(b, s, opts, func(ts []inventory.Target) []inventory.Target {
					if incremental {
						ts[0].Since = watermark
					}
					return ts
				})
				res.noErrors(b)
				if !incremental {
					if got := res.results[0].Counts; got.Repositories != repos || got.Tags != repos*tags {
						b.Fatalf("inventoried %d repositories and %d tags; want %d and %d", got.Repositories, got.Tags, repos, repos*tags)
					}
					watermark = res.results[0].Watermark
				}
				requests += res.stats.Requests
				tokens += res.stats.TokenRequests
				records += int64(len(res.records))
			}
			n := float64(b.N)
			b.ReportMetric(float64(requests)/n, "requests/op")
			b.ReportMetric(float64(tokens)/n, "token-requests/op")
			b.ReportMetric(float64(records)/n, "records/op")
			b.Logf("%s: %d repositories, %d tags: %.0f requests, %.0f token requests (%.3f per repository), %.0f records per crawl",
				name, repos, repos*tags, float64(requests)/n, float64(tokens)/n, float64(tokens)/n/float64(repos), float64(records)/n)
		})
	}
	bench("full", inventory.Options{}, false)
	bench("unbatched", inventory.Options{TokenBatch: 1}, false)
	bench("metadata", inventory.Options{Detail: inventory.DetailMetadata}, false)
	bench("incremental", inventory.Options{}, true)
}

// seedBench pushes repos repositories bench/rNNNN of tags images each (a shared layer,
// a config and a manifest per tag), 16 repositories at a time.
func seedBench(b testing.TB, f *fixture, repos, tags int) {
	b.Helper()
	ctx := b.Context()
	p := newPusher(b, f.session(b, f.conn), f.cloud.Srv.Host)
	names := make([]string, repos)
	for i := range names {
		names[i] = fmt.Sprintf("bench/r%04d", i)
	}
	for i := 0; i < len(names); i += 50 {
		if err := p.prefetch(ctx, names[i:min(i+50, len(names))]...); err != nil {
			b.Fatal(err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, repo := range names {
		g.Go(func() error {
			layer, err := p.blob(gctx, repo, mtLayer, []byte("the one layer of every benchmark image"))
			if err != nil {
				return err
			}
			for i := range tags {
				cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
					"created": time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339),
					"config":  map[string]any{"Labels": map[string]string{"repo": repo, "tag": strconv.Itoa(i)}},
					"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{}}})
				config, err := p.blob(gctx, repo, mtConfig, cfg)
				if err != nil {
					return err
				}
				m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtImage, "config": config, "layers": []desc{layer}})
				if _, err := p.manifest(gctx, repo, fmt.Sprintf("v%d", i), mtImage, m); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
