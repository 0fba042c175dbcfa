// Package badinput drives a real `cerulean serve` process (internal/testserver) with bad
// input and checks the project rule for it: a clear error in the format the client
// expects (the distribution error envelope {"errors":[{"code","message","detail"?}]} with
// Content-Type application/json), the right status and code, and nothing stored or
// half-written.
//
// It complements test/conformance, which restates the OCI Distribution Specification's
// own requirements, and does not repeat its rows; the few cases in both (tags starting
// with '.' or '-' or of 129 characters) are checked here for more: the whole repository
// unchanged, the open session untouched. What it adds, one table per family:
//
//   - Uploads: bodies that end before their Content-Length (PATCH, the closing PUT and a
//     single POST, written by hand on a TLS connection that is then half-closed or hung
//     up, and over HTTP/2 with END_STREAM before content-length), Content-Range that
//     disagrees with Content-Length or with a chunked body, malformed Content-Range
//     values. After each, the session's Range and its data file are unchanged and the
//     session still completes with the right bytes.
//   - Digests: malformed digests (bad hex, short, unknown or upper-case algorithm,
//     upper-case hex, empty) in every place a digest is taken: blob GET/HEAD/DELETE,
//     ?digest= on POST and PUT, mount=, manifests/<digest> GET/HEAD/PUT/DELETE and
//     referrers/<digest>; and sha384, well-formed but not storable.
//   - Manifest bodies: malformed JSON, wrong shapes and types, media type conflicts,
//     descriptors without mediaType, the 4 MiB limit at exactly 4 MiB and one byte over,
//     and a Content-Length that lies about the size.
//   - Manifest references: descriptor sizes that differ from the pushed blob or child
//     manifest (400 MANIFEST_INVALID), and missing blobs and child manifests, where
//     MANIFEST_BLOB_UNKNOWN must name every missing digest in its detail.
//   - Names and tags: upper case, length limits, percent-encoded '/', '.' and '..'
//     segments, empty components, and tags that are too long, hold '/' or ':' or start
//     with '.' or '-'.
//   - Pagination: n values that are not integers or overflow, and `last` values that
//     name nothing (which must just work), on tags/list and _catalog.
//   - Routing: a method a known path does not have (405 UNSUPPORTED with Allow) and
//     paths under /v2/ that are no endpoint (404 with the JSON envelope).
//
// A row's expected answer is Cerulean's status and code; where the specification allows
// another answer too (a 404 instead of 400 for a malformed digest on a pull endpoint, a
// 202 fallback for a mount that cannot be done), the row lists it after Cerulean's, so
// that a row fails only when the server is wrong by the spec or the project's rule.
//
// Every error answer goes through one helper, checkError. Every row ends with a
// "nothing stored" check: blobs absent by HEAD and on disk, tags, catalog and referrers
// as before, upload sessions at their previous size. When all rows are done, the test
// checks the data directory as a whole: every blob file is one the tests pushed on
// purpose, every upload session is one a response revealed and holds exactly what its
// Range says, and the server answered no request with a 5xx.
//
// Rows run in parallel against one server, each in repositories of its own. A failing
// row logs the rule it enforces. Requests net/http will not send (a Content-Length the
// body does not honour) are written by hand: HTTP/1.1 on a TLS connection, and HTTP/2
// frames with a minimal HPACK encoder whose :status decoding TestHPACKStatus checks.
package badinput
