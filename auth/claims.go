package auth

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cerulean-registry/cerulean/access"
)

// Issuer is the iss of every ACR token, as real registries write it.
const Issuer = "Azure Container Registry"

// Grant types written into tokens (acr-protocol.md §1.5).
const (
	grantRefresh = "refresh_token"
	grantAccess  = "access_token"
)

// Claims are the claims of the ACR refresh and access tokens this service issues: ACR's
// own (acr-protocol.md §1.5) plus Cerulean's binding, which says whom the token stands for
// and under which generations it was issued.
type Claims struct {
	jwt.Claims
	Version     string         `json:"version"`
	RegistryID  string         `json:"rid"`
	GrantType   string         `json:"grant_type"`
	Tenant      string         `json:"tenant,omitempty"`
	AppID       string         `json:"appid,omitempty"`
	Permissions *permissions   `json:"permissions,omitempty"`
	Roles       []string       `json:"roles"`
	Access      []access.Scope `json:"access,omitempty"`
	Binding     Binding        `json:"cerulean"`
}

// permissions is the refresh token's summary of what it allows, as ACR writes it.
type permissions struct {
	Actions    []string `json:"Actions"`
	NotActions []string `json:"NotActions"`
}

// Binding names the principal a token stands for and the generations of the records it
// was issued under. Any change to those records makes the token stale.
type Binding struct {
	Kind     access.Kind `json:"kind"`
	Name     string      `json:"name,omitempty"` // admin user or repository token name
	ObjectID string      `json:"oid,omitempty"`  // Entra principal
	// RegistryGeneration, TokenGeneration and PrincipalGeneration are the generations of
	// the registry, the repository token and the Entra principal's role assignments.
	RegistryGeneration  int64 `json:"rgen"`
	TokenGeneration     int64 `json:"tgen,omitempty"`
	PrincipalGeneration int64 `json:"pgen,omitempty"`
}

// newClaims fills the registered claims of a token for loginServer valid for ttl.
func newClaims(loginServer, registryID, subject, grant string, now time.Time, ttl time.Duration) Claims {
	return Claims{
		Claims: jwt.Claims{
			Issuer:    Issuer,
			Subject:   subject,
			Audience:  jwt.Audience{loginServer},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(ttl)),
		},
		Version:    "1.0",
		RegistryID: registryID,
		GrantType:  grant,
		Roles:      []string{},
	}
}

// encodeClaims marshals c so that its base64url form holds neither '-' nor '_': the Azure
// SDK for Go decodes the refresh token's payload with the standard base64 alphabet to read
// exp (acr-protocol.md §1.2) and fails on the URL-safe characters. In ASCII JSON only '?'
// and '~' (at some offsets) and '>' encode to them; JSON may spell any character of a
// string as a \u escape, so those, and every non-ASCII character, are written escaped.
func encodeClaims(c *Claims) ([]byte, error) {
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	c.ID = id
	b, err := json.Marshal(c) // escapes '<', '>' and '&' already
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	for _, r := range string(b) {
		if r == '?' || r == '~' || r > 0x7e {
			writeEscaped(&out, r)
		} else {
			out.WriteRune(r)
		}
	}
	return []byte(out.String()), nil
}

// writeEscaped writes r as JSON \u escapes (a surrogate pair above the BMP).
func writeEscaped(out *strings.Builder, r rune) {
	if r > 0xffff {
		r1, r2 := utf16.EncodeRune(r)
		fmt.Fprintf(out, `\u%04x\u%04x`, r1, r2)
		return
	}
	fmt.Fprintf(out, `\u%04x`, r)
}

// randomID returns a random UUID-shaped token id.
func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}
