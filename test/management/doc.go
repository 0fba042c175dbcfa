// Package management holds the management plane's integration tests: a real `cerulean
// serve` process (internal/testserver) driven over TLS by the Azure SDK for Go
// (armcontainerregistry, armauthorization, azidentity), by Cerulean's own CLI, and by the
// Azure CLI (`az`) when it is installed. It has test files only.
package management
