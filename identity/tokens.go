package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Token versions: which issuer and claim set an endpoint's tokens carry.
type version int

const (
	v2   version = iota // /{tenant}/oauth2/v2.0/token
	v1                  // /{tenant}/oauth2/token, managed identity
	adfs                // /adfs/oauth2/token: v1 access tokens, ID tokens of the ADFS issuer
)

// issuer returns the tenant's issuer for tokens of version v: v2 tokens
// https://<host>/<tid>/v2.0, v1 tokens https://<host>/<tid>/ (Entra's v1 issuer is
// sts.windows.net; ours is the server itself).
func (s *Service) issuer(tenantID string, v version) string {
	if v == v2 {
		return s.base + "/" + tenantID + "/v2.0"
	}
	return s.base + "/" + tenantID + "/"
}

// adfsIssuer is the issuer of the ADFS discovery document and of ID tokens issued there.
func (s *Service) adfsIssuer() string { return s.base + "/adfs" }

// refreshAudience is the audience of refresh tokens: never a resource, so a refresh
// token is refused wherever an access token is expected, and the reverse.
const refreshAudience = "urn:cerulean:refresh-token"

// accessClaims is the payload of access tokens, with the claims Azure resources read.
type accessClaims struct {
	Audience     string   `json:"aud"`
	Issuer       string   `json:"iss"`
	IssuedAt     int64    `json:"iat"`
	NotBefore    int64    `json:"nbf"`
	Expiry       int64    `json:"exp"`
	AppID        string   `json:"appid,omitempty"`
	AppIDACR     string   `json:"appidacr,omitempty"`
	AZP          string   `json:"azp,omitempty"`
	AZPACR       string   `json:"azpacr,omitempty"`
	IDType       string   `json:"idtyp"`
	ObjectID     string   `json:"oid"`
	Subject      string   `json:"sub"`
	TenantID     string   `json:"tid"`
	TokenID      string   `json:"uti"`
	Version      string   `json:"ver"`
	MIResourceID string   `json:"xms_mirid,omitempty"`
	UPN          string   `json:"upn,omitempty"`
	UniqueName   string   `json:"unique_name,omitempty"`
	Name         string   `json:"name,omitempty"`
	Scope        string   `json:"scp,omitempty"`
	AMR          []string `json:"amr,omitempty"`
}

// idClaims is the payload of ID tokens (users only).
type idClaims struct {
	Audience          string `json:"aud"`
	Issuer            string `json:"iss"`
	IssuedAt          int64  `json:"iat"`
	NotBefore         int64  `json:"nbf"`
	Expiry            int64  `json:"exp"`
	Subject           string `json:"sub"`
	ObjectID          string `json:"oid"`
	TenantID          string `json:"tid"`
	PreferredUsername string `json:"preferred_username"`
	UPN               string `json:"upn"`
	Name              string `json:"name"`
	Version           string `json:"ver"`
}

// refreshClaims is the payload of refresh tokens (users only).
type refreshClaims struct {
	Audience string `json:"aud"`
	Issuer   string `json:"iss"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	Subject  string `json:"sub"`
	TenantID string `json:"tid"`
	ClientID string `json:"cid"`
	Scope    string `json:"scp"`
	TokenID  string `json:"jti"`
}

// Authentication methods, as appidacr says them.
const (
	acrPublic      = "0" // public client: no client authentication
	acrSecret      = "1" // client secret
	acrCertificate = "2" // certificate or federated assertion
)

// grant is who signed in, for what: everything issue needs.
type grant struct {
	principal *meta.Principal
	clientID  string // the client application (for users: the public client they used)
	acr       string
	scope     scopeRequest
	version   version
	// clientInfo asks for MSAL's client_info (uid, utid) with user tokens.
	clientInfo bool
}

// Issued is what a successful sign-in returns; the HTTP edge renders it in the shape of
// the endpoint that was called.
type Issued struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	ClientInfo   string
	Scope        string
	Resource     string
	ClientID     string
	IssuedAt     time.Time
	ExpiresAt    time.Time
}

// issue signs the tokens of a grant.
func (s *Service) issue(ctx context.Context, g grant) (*Issued, error) {
	p := g.principal
	now := s.now().Truncate(time.Second)
	exp := now.Add(AccessTokenLifetime)
	user := p.Kind == meta.KindUser
	c := accessClaims{
		Audience: g.scope.resource, Issuer: s.issuer(p.TenantID, g.version),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(),
		AppID: g.clientID, AppIDACR: g.acr, AZP: g.clientID, AZPACR: g.acr,
		IDType: "app", ObjectID: p.ObjectID, Subject: p.ObjectID, TenantID: p.TenantID,
		TokenID: guid.New(), Version: "2.0",
	}
	if g.version != v2 {
		c.Version = "1.0"
	}
	if p.Kind == meta.KindManagedIdentity {
		c.MIResourceID = p.ResourceID
	}
	if user {
		c.IDType, c.UPN, c.UniqueName, c.Name = "user", p.UserPrincipalName, p.UserPrincipalName, p.DisplayName
		c.Scope, c.AMR = "user_impersonation", []string{"pwd"}
	}
	out := &Issued{Scope: g.scope.scopes, Resource: g.scope.resource, ClientID: g.clientID, IssuedAt: now, ExpiresAt: exp}
	var err error
	if out.AccessToken, err = s.keys.Sign(ctx, c); err != nil {
		return nil, err
	}
	if !user {
		return out, nil
	}
	if g.scope.openID {
		if out.IDToken, err = s.idToken(ctx, g, now); err != nil {
			return nil, err
		}
	}
	if g.scope.offline {
		rc := refreshClaims{Audience: refreshAudience, Issuer: s.issuer(p.TenantID, v2), IssuedAt: now.Unix(),
			Expiry: now.Add(RefreshTokenLifetime).Unix(), Subject: p.ObjectID, TenantID: p.TenantID,
			ClientID: g.clientID, Scope: g.scope.scopes, TokenID: guid.New()}
		if out.RefreshToken, err = s.keys.Sign(ctx, rc); err != nil {
			return nil, err
		}
	}
	if g.clientInfo {
		b, _ := json.Marshal(map[string]string{"uid": p.ObjectID, "utid": p.TenantID})
		out.ClientInfo = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, nil
}

// idToken signs an ID token for the client: MSAL reads the account from it (and MSAL
// Python checks its issuer against the discovery document's).
func (s *Service) idToken(ctx context.Context, g grant, now time.Time) (string, error) {
	p := g.principal
	iss := s.issuer(p.TenantID, v2)
	if g.version == adfs {
		iss = s.adfsIssuer()
	}
	return s.keys.Sign(ctx, idClaims{
		Audience: g.clientID, Issuer: iss, IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expiry: now.Add(AccessTokenLifetime).Unix(), Subject: p.ObjectID, ObjectID: p.ObjectID,
		TenantID: p.TenantID, PreferredUsername: p.UserPrincipalName, UPN: p.UserPrincipalName,
		Name: p.DisplayName, Version: "2.0",
	})
}

// Claims are what other planes learn from a verified access token.
type Claims struct {
	TenantID string
	ObjectID string // oid: what role assignments name
	AppID    string // the client application (appid, or azp)
	Subject  string
	// IDType is "app" for service principals and managed identities, "user" for users.
	IDType string
	// Kind says which kind of principal signed in.
	Kind     meta.PrincipalKind
	Name     string // the user principal name of users
	Audience string
	Issuer   string
	// MIResourceID is the resource id of a managed identity.
	MIResourceID string
	IssuedAt     time.Time
	Expiry       time.Time
}

// VerifyAccessToken verifies an access token this service issued: its signature (RS256,
// a published key), issuer (the v1 or v2 issuer of its own tenant, which must exist),
// expiry, and an audience among audiences. The management plane and the registry's
// /oauth2/exchange call it. Errors wrap ErrInvalidToken, or ErrTokenExpired.
func (s *Service) VerifyAccessToken(ctx context.Context, raw string, audiences ...string) (Claims, error) {
	// The tenant decides which issuers to expect; it is read unverified and then checked
	// through the issuer, which the signature covers.
	t, err := signing.Parse(raw, signing.RS256)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var peek struct {
		TenantID string `json:"tid"`
	}
	if err := t.UnverifiedClaims(&peek); err != nil || !guid.Valid(peek.TenantID) {
		return Claims{}, fmt.Errorf("%w: no tenant", ErrInvalidToken)
	}
	var c accessClaims
	err = s.keys.Verify(ctx, raw, signing.Expect{
		Issuers:   []string{s.issuer(peek.TenantID, v2), s.issuer(peek.TenantID, v1)},
		Audiences: audiences,
	}, &c)
	switch {
	case errors.Is(err, signing.ErrExpired):
		return Claims{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	case c.TenantID != peek.TenantID || c.ObjectID == "": // refresh tokens have no oid
		return Claims{}, fmt.Errorf("%w: claims", ErrInvalidToken)
	}
	if err := s.tenantExists(ctx, c.TenantID); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	kind := meta.KindServicePrincipal
	switch {
	case c.IDType == "user":
		kind = meta.KindUser
	case c.MIResourceID != "":
		kind = meta.KindManagedIdentity
	}
	return Claims{
		TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID, Subject: c.Subject, IDType: c.IDType,
		Kind: kind, Name: c.UPN, Audience: c.Audience, Issuer: c.Issuer, MIResourceID: c.MIResourceID,
		IssuedAt: time.Unix(c.IssuedAt, 0), Expiry: time.Unix(c.Expiry, 0),
	}, nil
}
