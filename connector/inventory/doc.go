// Package inventory lists what registries hold: for each registry of a connection (ARM
// discovery or the connection's list), its repositories, manifests, tags and referrers
// with ACR's metadata, each manifest's annotations and each image's config labels and
// created time (the config blob, never the layers). It is `cerulean inventory`'s engine
// and builds on package connector, whose RegistryClient signs requests in, caches tokens
// per scope set and retries throttled (429) answers after Retry-After.
//
// # The walk
//
// Per registry (acr-protocol.md §2): GET /acr/v1/_catalog (scope registry:catalog:*;
// repository-scoped tokens can never list it, so a Target may name its repositories
// instead, and a refused catalog is an error record saying so); then, per repository,
// GET /acr/v1/{name} (attributes), GET /acr/v1/{name}/_manifests and _tags newest first
// (orderby=timedesc), each page's Link followed verbatim; with DetailFull also
// GET /v2/{name}/manifests/{digest} of every listed manifest (annotations, subject,
// artifact type, config digest, an index's children) and GET /v2/{name}/blobs/{config}
// of every image config (labels, created; read once per registry per digest), both
// checked against their digest. Every request of a repository asks the one scope
// repository:{name}:pull,metadata_read; when the client is a Prefetcher, one token is
// asked for each batch of TokenBatch repositories (Docker scopes space-joined), so a crawl
// makes about one token request per 20 repositories rather than one per repository.
//
// Concurrency: Options.Concurrency requests in flight per registry (default 8),
// Options.Parallel registries at once (default 2). A repository's failures are error
// records and the crawl goes on; Run fails only when the output fails or ctx ends.
//
// # Incremental runs
//
// A Target with Since reads only what changed at or after it: a repository whose
// lastUpdateTime is older is skipped after its one attributes request, and the listings,
// newest first, stop at the first older item. The watermark a run leaves (Result.Watermark)
// is the registry's clock when the crawl began (its first Date header, to the second),
// not the newest lastUpdateTime seen: a push into a repository already crawled, made while
// the crawl went on, is older than the newest time seen elsewhere but newer than the
// start, so only the start is safe. Watermarks are stored per connection and registry
// (Watermarks) for complete crawls only. Deletions do not show in incremental runs.
//
// # Records
//
// Every record has "kind" and "registry" (the login server). By kind, the other fields
// (JSON names; ACR's where ACR has the field; times RFC 3339 UTC):
//
//   - registry (written after the registry's other records): name, resourceId,
//     subscription, resourceGroup (ARM discovery), since (incremental runs), watermark,
//     complete (no error record), counts {repositories, manifests, tags, referrers,
//     errors, skipped, requests, configsCached}.
//   - repository: repository, createdTime, lastUpdateTime, manifestCount, tagCount,
//     changeableAttributes {deleteEnabled, writeEnabled, readEnabled, listEnabled}.
//   - manifest: repository, digest, mediaType, imageSize (ACR's), architecture, os,
//     createdTime, lastUpdateTime, tags, changeableAttributes, references (an index's
//     children: digest, architecture, os); with DetailFull also size (the manifest's
//     bytes), artifactType, annotations, baseImageName and baseImageDigest (the
//     org.opencontainers.image.base.* annotations), subject (a referrer's), configMediaType,
//     configDigest, and from an image config imageCreated and labels.
//   - tag: repository, tag, digest, createdTime, lastUpdateTime, changeableAttributes.
//   - referrer: repository, digest (the referrer), subject (what it refers to),
//     mediaType, artifactType (a signature's application/vnd.cncf.notary.signature, an
//     SBOM's, ...), size, annotations, and (ReferrersScan) createdTime, lastUpdateTime.
//     A referrer is also listed as a manifest: the referrer record is the edge.
//   - error: repository and digest when they apply, op (connect, catalog, repository,
//     manifests, tags, manifest, config, referrers), status (HTTP, when one came), error.
//
// A repository's records are written together: the repository, its manifests (newest
// first), its tags (newest first), its referrers, its errors. NewWriter writes JSON lines,
// one JSON array, or CSV with the header CSVColumns.
package inventory
