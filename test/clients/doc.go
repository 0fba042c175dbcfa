// Package clients proves Cerulean's wire compatibility with real registry clients that
// nobody on this project wrote: go-containerregistry (remote and crane), regclient,
// oras-go v2 and the skopeo command-line tool.
//
// Each test starts a real `cerulean serve` process (internal/testserver) and drives it
// over real sockets and TLS, trusting only the server's generated CA, through each
// client's public API or command line as its users would: push and pull of images and
// multi-platform indexes, cross-repository copy and blob mount, referrers with
// artifactType filtering, tag and catalog listing across pages, tag and manifest deletion,
// chunked and large blob uploads.
//
// Every client signs in with its own mechanism, as the bootstrap owner:
// go-containerregistry's authn.Basic, regclient's config.Host User and Pass, oras-go's
// auth.Client with a static credential, skopeo's --creds and a Docker config.json given
// as --authfile. Each answers the registry's 401 challenge with the token flow
// (/oauth2/token), which the tests check once per client.
//
// A hand-written client proves nothing here, so the package holds no HTTP client of its
// own: it only records, for diagnosis and for a few assertions on which path a client
// took (a mount, a chunked upload, a direct tag delete, the token flow), the exchanges
// that the real clients make.
//
// The package has tests only. skopeo is an external program: install it with
// scripts/install-test-deps.sh; without it the skopeo test skips, and fails when CI=true.
// The 50 MiB uploads run only without -short.
package clients
