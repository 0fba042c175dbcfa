package signing

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Errors of verification. Each one wraps the detail of what failed; callers test with
// errors.Is and map them to their protocol's error codes.
var (
	ErrMalformed   = errors.New("signing: malformed token")
	ErrAlgorithm   = errors.New("signing: signature algorithm not allowed")
	ErrUnknownKey  = errors.New("signing: unknown signing key")
	ErrSignature   = errors.New("signing: invalid signature")
	ErrIssuer      = errors.New("signing: issuer not accepted")
	ErrAudience    = errors.New("signing: audience not accepted")
	ErrExpired     = errors.New("signing: token expired")
	ErrNotYetValid = errors.New("signing: token not yet valid")
)

// RS256 is the only algorithm Keys signs with and accepts. Other callers pass their own
// allow-list to Parse; none ever contains "none" or an HMAC algorithm (see Parse).
var RS256 = []jose.SignatureAlgorithm{jose.RS256}

// DefaultLeeway is the clock skew Expect allows when it names none.
const DefaultLeeway = time.Minute

// Expect is what a verified token must show.
type Expect struct {
	// Issuers: iss must equal one of them. Required.
	Issuers []string
	// Audiences: aud must contain one of them. Required.
	Audiences []string
	// Time is when the token is checked; the zero Time means now.
	Time time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means DefaultLeeway.
	Leeway time.Duration
}

// Claims are the registered claims every verified token is checked against.
type Claims = jwt.Claims

// Token is a parsed JWT whose signature is not verified yet.
type Token struct {
	jwt    *jwt.JSONWebToken
	header jose.Header
}

// Parse parses a compact JWS whose "alg" is in algs. "none" and the HMAC algorithms are
// refused whatever algs says: a verifier that holds only public keys must never accept a
// token "signed" with no key, or with a public key used as an HMAC secret (key confusion).
func Parse(raw string, algs []jose.SignatureAlgorithm) (*Token, error) {
	alg, err := headerAlg(raw)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(algs, jose.SignatureAlgorithm(alg)) || strings.HasPrefix(alg, "HS") || strings.EqualFold(alg, "none") {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	t, err := jwt.ParseSigned(raw, algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(t.Headers) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrMalformed)
	}
	return &Token{jwt: t, header: t.Headers[0]}, nil
}

// headerAlg reads "alg" from the protected header, so that a refused algorithm is told
// apart from a malformed token.
func headerAlg(raw string) (string, error) {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	return h.Alg, nil
}

// KeyID is the token's "kid" header, "" when it has none.
func (t *Token) KeyID() string { return t.header.KeyID }

// Header returns a header parameter other than kid and alg ("x5t", "x5t#S256"), or nil.
func (t *Token) Header(name string) any { return t.header.ExtraHeaders[jose.HeaderKey(name)] }

// UnverifiedClaims decodes the claims without checking anything: only to decide which
// key and expectations to verify with (the issuer of a federated token, the client of an
// assertion), never to trust them.
func (t *Token) UnverifiedClaims(dest ...any) error {
	if err := t.jwt.UnsafeClaimsWithoutVerification(dest...); err != nil {
		return fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return nil
}

// Verify checks the signature with key (an RSA or ECDSA public key, or a *jose.JSONWebKey
// holding one), then the registered claims against want, and decodes the claims into
// each of dest.
func (t *Token) Verify(key any, want Expect, dest ...any) error {
	if jwk, ok := key.(*jose.JSONWebKey); ok {
		key = jwk.Key
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		// Private keys, HMAC secrets and anything else: refuse rather than let the
		// library decide what a key of another kind means.
		return fmt.Errorf("%w: unsupported key type %T", ErrUnknownKey, key)
	}
	var std Claims
	if err := t.jwt.Claims(key, append([]any{&std}, dest...)...); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return fmt.Errorf("%w: %v", ErrSignature, err)
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return check(std, want)
}

// check verifies the registered claims. Expiry is required: a token that never expires
// is refused.
func check(c Claims, want Expect) error {
	now, leeway := want.Time, want.Leeway
	if now.IsZero() {
		now = time.Now()
	}
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	switch {
	case c.Expiry == nil:
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	case now.After(c.Expiry.Time().Add(leeway)):
		return fmt.Errorf("%w: at %s", ErrExpired, c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()):
		return fmt.Errorf("%w: not before %s", ErrNotYetValid, c.NotBefore.Time().UTC().Format(time.RFC3339))
	case c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()):
		return fmt.Errorf("%w: issued in the future", ErrNotYetValid)
	case !slices.Contains(want.Issuers, c.Issuer):
		return fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	case !slices.ContainsFunc(want.Audiences, c.Audience.Contains):
		return fmt.Errorf("%w: %q", ErrAudience, []string(c.Audience))
	}
	return nil
}
