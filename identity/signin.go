package identity

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// tokenRequest is a parsed token-endpoint request (form fields of RFC 6749 and Entra).
type tokenRequest struct {
	tenant   string  // the path segment: a tenant id, organizations, common or adfs
	version  version // which endpoint was called
	endpoint string  // its URL, as a client assertion's audience names it

	grantType           string
	clientID            string
	clientSecret        string
	clientAssertionType string
	clientAssertion     string
	scope               string
	resource            string // v1
	username, password  string
	deviceCode          string
	refreshToken        string
	clientInfo          bool
}

// Grant types.
const (
	grantClientCredentials = "client_credentials"
	grantPassword          = "password"
	grantRefreshToken      = "refresh_token"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	grantDeviceCodeADFS    = "device_code"
	assertionJWTBearer     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// token runs a token request to completion: who signed in, and the tokens for them.
func (s *Service) token(ctx context.Context, r tokenRequest) (*Issued, error) {
	switch r.grantType {
	case grantClientCredentials:
		return s.clientCredentials(ctx, r)
	case grantPassword:
		return s.passwordGrant(ctx, r)
	case grantDeviceCode, grantDeviceCodeADFS:
		return s.deviceCodeGrant(ctx, r)
	case grantRefreshToken:
		return s.refreshGrant(ctx, r)
	case "":
		return nil, missing("grant_type")
	}
	return nil, fail(ErrUnsupportedGrant, "The app requested an unsupported grant type '%s'.", r.grantType)
}

func missing(param string) error {
	return fail(ErrInvalidRequest, "The request body must contain the following parameter: '%s'.", param)
}

// pathTenant resolves the tenant segment of a path: the tenant id for a tenant GUID (which
// must exist), "" for organizations, common and adfs, which resolve to the tenant of
// whoever signs in.
func (s *Service) pathTenant(ctx context.Context, ref string) (string, error) {
	switch strings.ToLower(ref) {
	case "organizations", "common", "adfs":
		return "", nil
	}
	if !guid.Valid(ref) {
		return "", tenantNotFound(ref)
	}
	id := strings.ToLower(ref)
	return id, s.tenantExists(ctx, id)
}

// confidentialClient finds the application and service principal of client id in the
// tenant of the path, and refuses a disabled one.
func (s *Service) confidentialClient(ctx context.Context, tenantRef, clientID string) (*meta.Application, *meta.Principal, error) {
	if clientID == "" {
		return nil, nil, missing("client_id")
	}
	tenantID, err := s.pathTenant(ctx, tenantRef)
	if err != nil {
		return nil, nil, err
	}
	notFound := func() error {
		return fail(ErrAppNotFound, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenantRef)
	}
	app, err := s.dir.ApplicationByAppID(ctx, strings.ToLower(clientID))
	if err := notFoundAs(err, notFound); err != nil {
		return nil, nil, err
	}
	if tenantID != "" && app.TenantID != tenantID {
		return nil, nil, notFound()
	}
	sp, err := s.dir.PrincipalByAppID(ctx, app.AppID)
	if err := notFoundAs(err, notFound); err != nil {
		return nil, nil, err
	}
	if !sp.Enabled {
		return nil, nil, fail(ErrAppDisabled, "Application '%s'(%s) is disabled.", app.AppID, app.DisplayName)
	}
	return app, sp, nil
}

// clientCredentials signs in a service principal with a secret, a certificate assertion
// or a federated assertion.
func (s *Service) clientCredentials(ctx context.Context, r tokenRequest) (*Issued, error) {
	app, sp, err := s.confidentialClient(ctx, r.tenant, r.clientID)
	if err != nil {
		return nil, err
	}
	acr := acrCertificate
	switch {
	case r.clientAssertion != "":
		err = s.verifyAssertion(ctx, r, app)
	case r.clientSecret != "":
		acr, err = acrSecret, s.checkSecret(ctx, app.AppID, r.clientSecret)
	default:
		err = fail(ErrNoClientCredential, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	if err != nil {
		return nil, err
	}
	// The scope is checked after the credential, so that it tells nothing to a caller
	// who cannot sign in.
	scope, err := s.parseScope(r.scope, r.resource, true)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, grant{principal: sp, clientID: app.AppID, acr: acr, scope: scope, version: r.version})
}

// checkSecret checks secret against the application's client secrets. Every stored
// secret is compared, in constant time each.
func (s *Service) checkSecret(ctx context.Context, appID, secret string) error {
	creds, err := s.dir.ClientCredentials(ctx, appID)
	if err != nil {
		return err
	}
	now := s.now()
	var match *meta.ClientCredential
	for i, c := range creds {
		if c.Kind == meta.CredentialSecret && s.secretMatches(c.SecretHash, secret) {
			match = &creds[i]
		}
	}
	switch {
	case match == nil || now.Before(match.StartAt):
		return fail(ErrInvalidSecret, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", appID)
	case !match.EndAt.IsZero() && !now.Before(match.EndAt):
		return fail(ErrSecretExpired, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", appID)
	}
	return nil
}

// VerifyClientSecret checks a service principal's client id and secret (ACR's Basic
// appId:secret logins) and returns the enabled service principal. Its errors are those
// of a client-credentials sign-in (ErrAppNotFound, ErrAppDisabled, ErrInvalidSecret,
// ErrSecretExpired).
func (s *Service) VerifyClientSecret(ctx context.Context, appID, secret string) (*meta.Principal, error) {
	_, sp, err := s.confidentialClient(ctx, "organizations", appID)
	if err != nil {
		return nil, err
	}
	return sp, s.checkSecret(ctx, sp.AppID, secret)
}

// assertionAlgorithms are accepted on client assertions: MSAL signs certificate
// assertions with PS256 (RS256 for ADFS); external issuers sign with RS256 or ES256.
var assertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// assertionClaims are the claims read from a client assertion besides the registered
// ones.
type assertionClaims struct {
	Subject string `json:"sub"`
	TokenID string `json:"jti"`
	Expiry  int64  `json:"exp"`
}

// verifyAssertion checks a client assertion: one the client signed with a registered
// certificate (iss = sub = client id), or a token of an external issuer that a federated
// credential trusts.
func (s *Service) verifyAssertion(ctx context.Context, r tokenRequest, app *meta.Application) error {
	if r.clientAssertionType != assertionJWTBearer {
		return fail(ErrInvalidRequest, "The client_assertion_type must be '%s'.", assertionJWTBearer)
	}
	t, err := signing.Parse(r.clientAssertion, assertionAlgorithms)
	if err != nil {
		return fail(ErrInvalidAssertion, "The client assertion is not a valid JWT: %v.", err)
	}
	var peek struct {
		Issuer string `json:"iss"`
	}
	if err := t.UnverifiedClaims(&peek); err != nil {
		return fail(ErrInvalidAssertion, "The client assertion is not a valid JWT: %v.", err)
	}
	if strings.EqualFold(peek.Issuer, app.AppID) {
		return s.verifyCertificateAssertion(ctx, r, app, t)
	}
	return s.verifyFederatedAssertion(ctx, r.clientAssertion, app, t, peek.Issuer)
}

// verifyCertificateAssertion checks an assertion signed with one of the application's
// certificates, found by the thumbprint in its header, and records its jti so that it
// is used once.
func (s *Service) verifyCertificateAssertion(ctx context.Context, r tokenRequest, app *meta.Application, t *signing.Token) error {
	creds, err := s.dir.ClientCredentials(ctx, app.AppID)
	if err != nil {
		return err
	}
	now := s.now()
	cred, cert := matchCertificate(creds, t)
	if cert == nil {
		return fail(ErrAssertionSignature, "The certificate with identifier used to sign the client assertion is not registered on application '%s'. [Reason - The key was not found.]", app.AppID)
	}
	if !cred.EndAt.IsZero() && !now.Before(cred.EndAt) {
		return fail(ErrAssertionSignature, "Client assertion contains an invalid signature. [Reason - The key used is expired.]")
	}
	var c assertionClaims
	err = t.Verify(cert.PublicKey, signing.Expect{Issuers: []string{app.AppID}, Audiences: s.tokenEndpoints(r, app.TenantID), Time: now}, &c)
	switch {
	case errors.Is(err, signing.ErrExpired), errors.Is(err, signing.ErrNotYetValid):
		return fail(ErrAssertionExpired, "Client assertion is not within its valid time range. %v", err)
	case errors.Is(err, signing.ErrSignature):
		return fail(ErrAssertionSignature, "Client assertion failed signature validation.")
	case errors.Is(err, signing.ErrAudience):
		return fail(ErrInvalidAssertion, "The audience claim of the client assertion does not match the token endpoint %s.", r.endpoint)
	case err != nil:
		return fail(ErrInvalidAssertion, "The client assertion is invalid: %v.", err)
	case !strings.EqualFold(c.Subject, app.AppID):
		return fail(ErrAssertionClient, "Client assertion application identifier doesn't match 'client_id' parameter.")
	case c.TokenID == "":
		return fail(ErrInvalidAssertion, "The client assertion has no jti claim.")
	}
	// Kept until the assertion can no longer pass the expiry check, in the store, so
	// that a replayed assertion is refused by every replica.
	key := "client-assertion|" + app.AppID + "|" + c.TokenID
	switch err := s.dir.UseOnce(ctx, key, time.Unix(c.Expiry, 0).Add(signing.DefaultLeeway), now); {
	case errors.Is(err, meta.ErrUsedOnce):
		return fail(ErrInvalidAssertion, "The client assertion with jti '%s' was already used. Send a new assertion with each request.", c.TokenID)
	case err != nil:
		return err
	}
	return nil
}

// matchCertificate finds the registered certificate an assertion names by "x5t#S256"
// (MSAL for Entra) or "x5t" (MSAL for ADFS), in standard or URL base64.
func matchCertificate(creds []meta.ClientCredential, t *signing.Token) (*meta.ClientCredential, *x509.Certificate) {
	want, sha := thumbprintHeader(t, "x5t#S256"), true
	if want == nil {
		want, sha = thumbprintHeader(t, "x5t"), false
	}
	for i, c := range creds {
		if c.Kind != meta.CredentialCertificate {
			continue
		}
		var got []byte
		if sha {
			sum := sha256.Sum256(c.Certificate)
			got = sum[:]
		} else {
			sum := sha1.Sum(c.Certificate)
			got = sum[:]
		}
		if want != nil && string(got) == string(want) {
			if cert, err := x509.ParseCertificate(c.Certificate); err == nil {
				return &creds[i], cert
			}
		}
	}
	return nil, nil
}

func thumbprintHeader(t *signing.Token, name string) []byte {
	v, _ := t.Header(name).(string)
	if v == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b
		}
	}
	return nil
}

// tokenEndpoints are the audiences a certificate assertion may name: this server's token
// endpoints for the tenant as the client wrote it and as its id.
func (s *Service) tokenEndpoints(r tokenRequest, tenantID string) []string {
	out := []string{r.endpoint, s.base + "/adfs/oauth2/token"}
	for _, t := range []string{r.tenant, tenantID} {
		out = append(out, s.base+"/"+t+"/oauth2/v2.0/token", s.base+"/"+t+"/oauth2/token", s.issuer(t, v2), s.issuer(t, v1))
	}
	return out
}

// verifyFederatedAssertion checks a token of an external issuer (or of this server)
// against the application's federated credentials: issuer, then signature and lifetime
// with the issuer's keys, then subject and audience of a matching credential.
func (s *Service) verifyFederatedAssertion(ctx context.Context, raw string, app *meta.Application, t *signing.Token, iss string) error {
	fics, err := s.dir.FederatedCredentials(ctx, app.AppID)
	if err != nil {
		return err
	}
	if len(fics) == 0 {
		return fail(ErrNoFederatedCredential, "No matching federated identity record found for presented assertion. Application '%s' has no federated identity credentials.", app.AppID)
	}
	var audiences []string
	var matching []meta.FederatedCredential
	for _, f := range fics {
		if f.Issuer == iss {
			matching = append(matching, f)
			audiences = append(audiences, f.Audiences...)
		}
	}
	if len(matching) == 0 {
		return fail(ErrFederatedIssuer, "No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", iss)
	}
	want := signing.Expect{Issuers: []string{iss}, Audiences: audiences, Time: s.now()}
	var c assertionClaims
	if strings.HasPrefix(iss, s.base+"/") {
		// A token of this server, e.g. one a workload got from its managed identity.
		err = s.keys.Verify(ctx, raw, want, &c)
	} else {
		var key *jose.JSONWebKey
		if key, err = s.fed.key(ctx, iss, t.KeyID()); err != nil {
			return fail(ErrExternalIssuer, "Request to External OIDC endpoint failed: %v.", err)
		}
		err = t.Verify(key, want, &c)
	}
	switch {
	case errors.Is(err, signing.ErrExpired), errors.Is(err, signing.ErrNotYetValid):
		return fail(ErrAssertionExpired, "Client assertion is not within its valid time range. %v", err)
	case errors.Is(err, signing.ErrAudience):
		return fail(ErrFederatedAudience, "No matching federated identity record found for presented assertion audience. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")
	case errors.Is(err, signing.ErrSignature), errors.Is(err, signing.ErrUnknownKey):
		return fail(ErrAssertionSignature, "Client assertion failed signature validation: the key is not among the issuer's keys.")
	case err != nil:
		return fail(ErrInvalidAssertion, "The client assertion is invalid: %v.", err)
	}
	var aud struct {
		Audience jwt.Audience `json:"aud"`
	}
	_ = t.UnverifiedClaims(&aud) // verified above
	return matchFederated(matching, c.Subject, aud.Audience)
}

// matchFederated finds the credential for subject among those of the token's issuer and
// checks that it expects one of the token's audiences.
func matchFederated(fics []meta.FederatedCredential, subject string, aud jwt.Audience) error {
	for _, f := range fics {
		if f.Subject == subject {
			if slices.ContainsFunc(f.Audiences, aud.Contains) {
				return nil
			}
			return fail(ErrFederatedAudience, "No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", strings.Join(aud, ","))
		}
	}
	return fail(ErrFederatedSubject, "No matching federated identity record found for presented assertion subject '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", subject)
}
