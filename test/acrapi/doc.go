// Package acrapi checks Cerulean's ACR metadata API, /acr/v1 (acr-protocol.md §2), and
// ACR's changeable attributes against a real `cerulean serve` process
// (internal/testserver), over HTTPS:
//
//   - Shapes: every JSON answer (RepositoryAttributes, TagList, TagAttributes,
//     AcrManifests, ManifestAttributes of an image and of an index, DeletedRepository,
//     Repositories, the error envelopes) against golden files in testdata/, with times
//     and the registry host normalised and digests named; the times themselves are checked
//     for ACR's form, UTC with seven fractional digits. Run with -update to rewrite them.
//   - Paging: tags, manifests and the catalog in pages of several sizes, in every
//     orderby, with the Link header checked literally and followed both ways clients do
//     (the Azure SDK's verbatim path; the Azure CLI's own path with the Link's
//     parameters), names sent raw and %2F-encoded, and the digest filter.
//   - Attributes: each of the twelve locks (four attributes on a repository, a tag and
//     a manifest) against every operation that may honour it, over /v2 and /acr/v1: a
//     refusal is 405 REGISTRY_DISALLOWED_OPERATION and changes nothing; unlisted things
//     leave the listings; lifting a lock lets the operation through. GC (`cerulean gc
//     --untagged`) keeps locked manifests and what they reach.
//   - The Azure SDK for Go (azcontainerregistry v0.2.3) signed in with a real
//     credential, azidentity's client-secret credential of the bootstrap owner against
//     the server's identity plane: the SDK answers the 401 challenge itself
//     (/oauth2/exchange, then /oauth2/token), then the pagers, property reads, updates
//     and deletes, as the SDK builds the requests. And the SDK's anonymous access: refused
//     until anonymousPullEnabled is set through ARM, then allowed to pull and nothing more.
//
// Tests share a server where they can, each in repositories of its own; those that list
// the catalog start their own.
package acrapi
