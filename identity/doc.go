// Package identity owns Cerulean's identity plane: an Entra ID-compatible token service
// that azidentity, MSAL and the Azure CLI accept with only the authority host changed.
// It holds the directory rules (tenants, applications and their service principals,
// client secrets and certificates, federated identity credentials, managed identities
// and their hosts, users), checks every kind of credential, issues and verifies tokens,
// and serves discovery, keys and a Graph-shaped directory API (package graph has its wire
// types). Its HTTP edge is one route table (http.go) with one error table per wire
// format: Entra's AADSTS error JSON for sign-in, Graph's envelope for the directory API.
//
// # Authority and tokens
//
// The authority host is the server itself, https://<login server>/. Tenant path segments
// may be a tenant id, "organizations" or "common" (the tenant of whoever signs in, found
// from the globally unique client id or user name), or "adfs": the ADFS-style authority
// that the Azure CLI shipped with Debian (MSAL Python 1.21) can use without reaching
// Microsoft's instance discovery (acr-protocol.md §8). The v2.0 endpoints issue tokens
// with issuer https://<host>/<tid>/v2.0 and ver 2.0; the v1, ADFS and managed-identity
// endpoints issue ver 1.0 tokens with issuer https://<host>/<tid>/ (Entra's v1 issuer is
// sts.windows.net; ours is the server). Access tokens carry aud, iss, tid, oid, sub,
// appid/azp with appidacr/azpacr, idtyp, iat/nbf/exp, uti, ver, and xms_mirid for managed
// identities; users' tokens add upn, name and scp. They are RS256 JWTs signed by package
// signing and published in the JWKS document; VerifyAccessToken is how other planes
// trust them. Audiences are those of the resource asked for: ARM (both spellings, every
// cloud), ACR, Microsoft Graph, api://AzureADTokenExchange, or the server itself.
//
// # Credentials
//
// Client secrets are random 256-bit values shown once and stored as HMAC-SHA256 under a
// key derived from the data directory's master key: a slow password hash buys nothing
// for random secrets, and the key keeps weak preset secrets (the bootstrap's) safe from
// whoever copies only the database. Users' passwords are human-chosen and use argon2id.
// Certificate assertions are found by their x5t#S256 (or x5t) thumbprint, accept RS256
// and PS256, must name one of the server's token endpoints as audience, and are usable
// once: their jti is recorded in the store until they expire, so replicas agree.
// Federated assertions are checked against the application's federated credentials:
// issuer, then signature with the issuer's keys (OIDC discovery and JWKS, fetched over
// https only for issuers a credential names, cached an hour), lifetime, subject and
// audience. They are not single-use: workload identity reuses one projected token.
//
// # Managed identity
//
// Real IMDS knows which VM calls it; Cerulean does not. A managed-identity host stands
// for the Azure resource (VM, App Service): it has a system-assigned identity,
// user-assigned identities assigned to it, and a secret. A process proves it runs on a
// host in one of two ways:
//   - App Service style: IDENTITY_ENDPOINT=https://<host>/metadata/identity/oauth2/token
//     and IDENTITY_HEADER=<the host's secret>; azidentity and MSAL send the secret as
//     X-IDENTITY-HEADER.
//   - IMDS style: `serve --imds-addr ADDR --imds-host NAME` opens a plain-HTTP listener
//     bound to one host, serving /metadata/identity/oauth2/token with "Metadata: true".
//     Whoever reaches the listener acts as the host, as whoever reaches 169.254.169.254
//     on a VM does: bind it to 169.254.169.254:80 on the edge box (the address azidentity
//     and MSAL hard-code; AZURE_POD_IDENTITY_AUTHORITY_HOST is no longer honoured by
//     MSAL Go) or to loopback, and let only the host's processes reach it.
//
// Requests select a user-assigned identity by client_id, object_id (principal_id) or
// msi_res_id (mi_res_id); without one they get the system-assigned identity. Answers
// have IMDS's shape, every number a string.
//
// # Directory API
//
// /v1.0/applications (with addPassword, removePassword, addKey, removeKey,
// federatedIdentityCredentials), /v1.0/servicePrincipals and /v1.0/users follow
// Microsoft Graph; /cerulean/identity/managedIdentities and /cerulean/identity/hosts are
// Cerulean's. Until role assignments arrive, only the tenant's owners (the bootstrap
// owner) may call them.
package identity
