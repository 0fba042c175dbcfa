// Package connector is Cerulean's client toolkit for Azure Container Registry and
// Cerulean: what a security or inventory product needs to reach registries in Azure's
// public, US Government and China clouds, or in a custom cloud such as a Cerulean
// server, with only configuration changing.
//
// It owns:
//   - connections (Connection, Cloud, Credential) and their store with secrets sealed by
//     package vault (Store);
//   - sessions (Open): a connection signed in through azidentity for the Entra kinds
//     (service principal with secret or certificate, managed identity, workload identity,
//     the Azure CLI's user), or with ACR's own admin user, repository-scoped token or
//     anonymous access, which the Azure SDK does not model;
//   - registry discovery through ARM (armsubscriptions, armcontainerregistry) or from the
//     connection's list (Session.Registries);
//   - RegistryClient, which speaks /v2 and /acr/v1 of one registry with ACR's token
//     service (acr-protocol.md §1): Entra token → POST /oauth2/exchange → refresh token →
//     POST /oauth2/token per scope set; Basic or anonymous GET /oauth2/token for the
//     others. Tokens are cached per scope set and renewed before they expire; a 401
//     naming a scope not held fetches one fresh token; 429 and 503 are retried after
//     Retry-After with a bounded, adaptive back-off.
//
// Security: an Entra token (and any password) goes only to https://<login server>/oauth2/…
// of a registry the connection covers (listed, discovered through ARM, or NAME.<the
// cloud's ACR suffix>), and only after the registry's /v2/ challenge named that same
// host as its realm and service: an anchored host comparison, never a suffix or
// substring match. Secrets and tokens are never logged; Secrets and Token redact
// themselves when printed.
//
// Subpackages: vault (secret encryption), diagnose (the staged connection test),
// credhelper (the docker credential helper); inventory builds on Session.
package connector
