// Package accessmatrix proves the data plane's access rules end to end (issue 5): every
// kind of credential ACR has, set up through the management and identity planes' real
// APIs, is tried on every operation (push, pull, delete, catalog, tag list) with real
// clients over TLS against a `cerulean serve` process (internal/testserver), and the
// answer must be the one ACR's documentation gives. The expectations are one table
// (matrix_test.go) that reads like ACR's docs.
//
// Besides go-containerregistry, a subset of the cells runs with regclient and skopeo;
// the Azure SDK for Go (azcontainerregistry with azidentity) and the Azure CLI (`az acr`)
// drive the same rules through the Entra token exchange. The refusals that keep a
// registry safe (forged, expired, foreign and revoked tokens, wildcard scopes, network
// rules, password guessing) each have a case that must end in a refusal with nothing
// done.
//
// It has test files only. skopeo and az are external programs installed by
// scripts/install-test-deps.sh: without them their tests skip, and fail when CI=true.
package accessmatrix
