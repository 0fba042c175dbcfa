// Package durability holds process-level tests of Cerulean's storage promises, run against
// a real `cerulean serve` (internal/testserver) over plain HTTP:
//
//   - a blob is visible only after its digest is verified and it is fsynced;
//   - a tag move is atomic;
//   - a crash (SIGKILL) at any point loses nothing that was acknowledged (201/202), and
//     leaves nothing half-written visible;
//   - what a crash leaves behind (unreferenced blobs, abandoned upload sessions) is
//     reclaimed by `cerulean gc` and by upload expiry;
//   - a SIGTERM lets in-flight uploads finish before the process exits 0.
//
// The package has tests only. They look at the data directory directly where the API cannot
// show something (blob files no repository links, upload session directories), relying on
// the layout documented in packages server and storage/blob/fs.
package durability
