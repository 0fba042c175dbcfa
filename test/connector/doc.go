// Package connector drives the connector (package connector and its diagnose,
// credhelper and vault subpackages, and the `cerulean connect` and `cerulean token
// generate` verbs) against a real `cerulean serve` over TLS with its identity and
// management planes (internal/testcloud): every credential kind through the staged
// connection test, generated tokens used by go-containerregistry to pull, and the docker
// credential helper used through go-containerregistry's default keychain.
package connector
