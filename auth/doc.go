// Package auth owns the data plane's way in, as ACR has it: the token service
// (/oauth2/token and /oauth2/exchange), the credentials a client may present (the admin
// user, repository-scoped tokens, Entra service principals, managed identities and users,
// ACR refresh and access tokens, anonymous pull), the ACR tokens it issues, and the gate
// every /v2 and /acr/v1 request passes.
//
// What a caller may do is decided by package access, the one place that says yes or no.
// This package finds out who the caller is and whether what they hold is still good:
// every token it issues carries the generations (see meta.Management) of the records it
// was issued under, and a token whose registry, repository token or role assignments
// changed since is refused on its next use, so revocation takes effect at once.
package auth
