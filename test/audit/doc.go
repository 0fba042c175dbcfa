// Package audit proves the audit trail end to end against a real `cerulean serve`
// process (internal/testserver): every allow and deny of the data plane reaches the
// metadata store with its principal, registry, repository, action, client address, time
// and request id, and `cerulean audit list` reads it back while the server runs; and no
// secret a client presented or was issued (the bootstrap owner's client secret, a
// repository token's password, an ACR or Entra JWT) ever appears in the server's output.
//
// The package has tests only.
package audit
