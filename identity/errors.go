package identity

import (
	"errors"
	"fmt"
)

// Error is a failure the client is told about: Kind is one of the sentinels below (which
// the HTTP edges map to status, OAuth error and AADSTS code in one table each) and
// Description is the sentence shown after the code.
type Error struct {
	Kind        error
	Description string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Description }
func (e *Error) Unwrap() error { return e.Kind }

// fail returns an *Error of kind with a formatted description.
func fail(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Description: fmt.Sprintf(format, args...)}
}

// Sign-in errors (token, device-code and managed-identity endpoints).
var (
	ErrInvalidRequest        = errors.New("invalid request")
	ErrUnsupportedGrant      = errors.New("unsupported grant type")
	ErrTenantNotFound        = errors.New("tenant not found")
	ErrInvalidInstance       = errors.New("unknown authority instance")
	ErrAppNotFound           = errors.New("application not found")
	ErrAppDisabled           = errors.New("application disabled")
	ErrNoClientCredential    = errors.New("no client credential")
	ErrInvalidSecret         = errors.New("invalid client secret")
	ErrSecretExpired         = errors.New("client secret expired")
	ErrInvalidAssertion      = errors.New("invalid client assertion")
	ErrAssertionSignature    = errors.New("client assertion signature")
	ErrAssertionExpired      = errors.New("client assertion expired")
	ErrAssertionClient       = errors.New("client assertion client mismatch")
	ErrNoFederatedCredential = errors.New("no federated credential")
	ErrFederatedIssuer       = errors.New("federated issuer mismatch")
	ErrFederatedSubject      = errors.New("federated subject mismatch")
	ErrFederatedAudience     = errors.New("federated audience mismatch")
	ErrExternalIssuer        = errors.New("external issuer unreachable")
	ErrInvalidScope          = errors.New("invalid scope")
	ErrResourceNotFound      = errors.New("resource not found")
	ErrInvalidUserCredential = errors.New("invalid user credentials")
	ErrUserDisabled          = errors.New("user disabled")
	ErrInvalidGrant          = errors.New("invalid grant")
	ErrAuthorizationPending  = errors.New("authorization pending")
	ErrExpiredToken          = errors.New("device code expired")
	ErrIdentityNotFound      = errors.New("managed identity not found")
	ErrHostUnauthorized      = errors.New("managed identity host not recognised")
)

// Directory errors (the Graph-shaped API), and bearer-token errors of every plane.
var (
	ErrInvalidToken = errors.New("invalid access token")
	ErrTokenExpired = errors.New("access token expired")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrBadRequest   = errors.New("bad request")
)
