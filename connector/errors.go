package connector

import (
	"errors"
	"fmt"
	"time"
)

// Errors the connector returns; the diagnosis (package diagnose) maps them to codes.
var (
	// ErrHostNotAllowed: the login server is not one the connection covers, so no
	// credential is sent to it.
	ErrHostNotAllowed = errors.New("connector: host is not a registry of this connection")
	// ErrChallengeHostMismatch: the registry's /v2/ challenge names another host as its
	// realm or service; no credential is sent.
	ErrChallengeHostMismatch = errors.New("connector: the registry's challenge names another host")
	// ErrNoChallenge: /v2/ did not answer with a Bearer challenge.
	ErrNoChallenge = errors.New("connector: /v2/ answered without a Bearer challenge")
	// ErrNoRefreshToken: the credential kind has no refresh token (anonymous), or the
	// token service did not return one.
	ErrNoRefreshToken = errors.New("connector: no refresh token for this credential")
)

// SignInError is a failed Entra sign-in (the azidentity error is wrapped).
type SignInError struct {
	Kind CredentialKind
	Err  error
}

func (e *SignInError) Error() string { return fmt.Sprintf("sign-in (%s): %v", e.Kind, e.Err) }
func (e *SignInError) Unwrap() error { return e.Err }

// ChallengeError describes a challenge that failed the host check.
type ChallengeError struct {
	LoginServer, Realm, Service string
}

func (e *ChallengeError) Error() string {
	return fmt.Sprintf("%v: login server %s, realm %q, service %q", ErrChallengeHostMismatch, e.LoginServer, e.Realm, e.Service)
}
func (e *ChallengeError) Unwrap() error { return ErrChallengeHostMismatch }

// TokenError is a refusal from the registry's token service (/oauth2/exchange or
// /oauth2/token) or a refused registry request, with the distribution error envelope's
// first code and message.
type TokenError struct {
	Endpoint   string // "exchange", "token", or the registry path
	Status     int
	Code       string // UNAUTHORIZED, DENIED, TOOMANYREQUESTS, ...
	Message    string
	RetryAfter time.Duration
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("%s: %d", e.Endpoint, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}
