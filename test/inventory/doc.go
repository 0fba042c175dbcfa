// Package inventory tests `cerulean inventory` and package connector/inventory against
// real `cerulean serve` processes (internal/testserver, internal/testcloud), signed in as
// the bootstrap service principal through package connector:
//
//   - a full inventory of two registries found through ARM discovery, one seeded with a
//     multi-arch index, base-image annotations, config labels, a signature and an SBOM
//     (referrers, by scan and by the referrers API) and enough repositories, manifests
//     and tags that every listing pages at the page size used; token requests stay
//     under one per repository;
//   - the CLI's JSON lines, JSON and CSV outputs, and an incremental run after a push
//     (--incremental, from the stored watermark) that writes only what changed;
//   - throttling: a reverse proxy in front of the server answers every Nth request 429
//     with Retry-After: 1 (a bounded number of times); the crawl completes, matches an
//     unthrottled one record for record, and each throttled request waited;
//   - repository-scoped tokens: the catalog refusal is an error record, and named
//     repositories are inventoried.
//
// BenchmarkInventory seeds 500 repositories × 20 tags (10,000 manifests) and reports the
// wall time, registry requests and token requests of a full inventory.
package inventory
