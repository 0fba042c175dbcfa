package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Individual sign-in: users sign in with a password (the resource-owner password grant,
// `az login -u -p`) or approve a device code in a browser (`az login --use-device-code`),
// always through a public client, and renew with refresh tokens.

// publicClients are Microsoft's first-party public clients that sign users in without a
// registration in the tenant: the Azure CLI (also azidentity's default for
// DeviceCodeCredential), Azure PowerShell, Visual Studio and VS Code.
var publicClients = []string{
	"04b07795-8ddb-461a-bbee-02f9e1bf7b46",
	"1950a258-227b-4e31-a9cf-717495945fc2",
	"872cd9fa-d31f-45e0-9eab-6e460a02d1f1",
	"aebc6443-996d-45c2-90f0-388ff96faa56",
}

// publicClient checks the client a user signs in through: a first-party public client or
// an application of the user's tenant ("" before the user is known: any tenant).
func (s *Service) publicClient(ctx context.Context, clientID, tenantID string) error {
	clientID = strings.ToLower(clientID)
	if clientID == "" {
		return missing("client_id")
	}
	if slices.Contains(publicClients, clientID) {
		return nil
	}
	app, err := s.dir.ApplicationByAppID(ctx, clientID)
	switch {
	case err == nil && (tenantID == "" || app.TenantID == tenantID):
		return nil
	case err != nil && !errors.Is(err, meta.ErrObjectNotFound):
		return fmt.Errorf("identity: %w", err)
	}
	return fail(ErrAppNotFound, "Application with identifier '%s' was not found in the directory '%s'.", clientID, tenantID)
}

// signInUser checks a user's name and password, in the tenant of the path. Unknown users
// cost the same argon2id time as known ones, and every failure reads the same, so the
// answer does not tell which user names exist.
func (s *Service) signInUser(ctx context.Context, tenantRef, upn, password string) (*meta.Principal, error) {
	if upn == "" || password == "" {
		return nil, missing("username' and 'password")
	}
	tenantID, err := s.pathTenant(ctx, tenantRef)
	if err != nil {
		return nil, err
	}
	u, err := s.dir.PrincipalByUPN(ctx, strings.ToLower(upn))
	if err != nil && !errors.Is(err, meta.ErrObjectNotFound) {
		return nil, err
	}
	hash := ""
	if u != nil && u.Kind == meta.KindUser && (tenantID == "" || u.TenantID == tenantID) {
		hash = u.PasswordHash
	}
	if !passwordMatches(hash, password) {
		return nil, fail(ErrInvalidUserCredential, "Error validating credentials due to invalid username or password.")
	}
	if !u.Enabled {
		return nil, fail(ErrUserDisabled, "The user account is disabled.")
	}
	return u, nil
}

// passwordGrant signs a user in with a password.
func (s *Service) passwordGrant(ctx context.Context, r tokenRequest) (*Issued, error) {
	u, err := s.signInUser(ctx, r.tenant, r.username, r.password)
	if err != nil {
		return nil, err
	}
	return s.userTokens(ctx, u, r, r.scope)
}

// userTokens checks the public client and the scope and issues a user's tokens.
func (s *Service) userTokens(ctx context.Context, u *meta.Principal, r tokenRequest, scope string) (*Issued, error) {
	if err := s.publicClient(ctx, r.clientID, u.TenantID); err != nil {
		return nil, err
	}
	sr, err := s.parseScope(scope, r.resource, false)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, grant{principal: u, clientID: strings.ToLower(r.clientID), acr: acrPublic, scope: sr,
		version: r.version, clientInfo: r.clientInfo})
}

// DeviceAuthorization is the answer to a device-code request (RFC 8628 §3.2).
type DeviceAuthorization struct {
	DeviceCode      string
	UserCode        string
	VerificationURI string
	ExpiresIn       time.Duration
	Interval        time.Duration
	Message         string
}

// deviceInterval is how often clients are told to poll.
const deviceInterval = 5 * time.Second

// startDeviceCode begins a device-code sign-in for a public client.
func (s *Service) startDeviceCode(ctx context.Context, tenantRef, clientID, scope string) (*DeviceAuthorization, error) {
	tenantID, err := s.pathTenant(ctx, tenantRef)
	if err != nil {
		return nil, err
	}
	if err := s.publicClient(ctx, clientID, tenantID); err != nil {
		return nil, err
	}
	if _, err := s.parseScope(scope, "", false); err != nil {
		return nil, err
	}
	now := s.now()
	a := &DeviceAuthorization{DeviceCode: newSecret(), VerificationURI: s.base + "/devicelogin",
		ExpiresIn: DeviceCodeLifetime, Interval: deviceInterval}
	hash := sha256.Sum256([]byte(a.DeviceCode))
	for range 3 { // a user code may collide with a pending one
		a.UserCode = newUserCode()
		err = s.dir.CreateDeviceCode(ctx, &meta.DeviceCode{CodeHash: hash[:], UserCode: a.UserCode,
			ClientID: strings.ToLower(clientID), Tenant: tenantRef, Scope: scope,
			ExpiresAt: now.Add(DeviceCodeLifetime), CreatedAt: now}, now)
		if !errors.Is(err, meta.ErrObjectExists) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	a.Message = fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", a.VerificationURI, a.UserCode)
	return a, nil
}

// userCodeAlphabet leaves out letters and digits that read alike (0/O, 1/I/L).
const userCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newUserCode returns nine characters, as Entra's user codes have (~44 bits).
func newUserCode() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b)
}

// ApproveDeviceCode signs a user in on the device-login page and approves the device code
// they entered.
func (s *Service) ApproveDeviceCode(ctx context.Context, userCode, upn, password string) error {
	userCode = strings.ToUpper(strings.TrimSpace(userCode))
	notFound := func() error {
		return fail(ErrInvalidGrant, "The code you entered has expired or is not valid. Get a new code from the device you're trying to sign in to and try again.")
	}
	d, err := s.dir.DeviceCodeByUserCode(ctx, userCode)
	if err := notFoundAs(err, notFound); err != nil {
		return err
	}
	if !s.now().Before(d.ExpiresAt) {
		return notFound()
	}
	u, err := s.signInUser(ctx, d.Tenant, upn, password)
	if err != nil {
		return err
	}
	if err := s.publicClient(ctx, d.ClientID, u.TenantID); err != nil {
		return err
	}
	return notFoundAs(s.dir.ApproveDeviceCode(ctx, userCode, u.ObjectID), notFound)
}

// deviceCodeGrant answers a polling client: pending until the user approved, then the
// user's tokens, once.
func (s *Service) deviceCodeGrant(ctx context.Context, r tokenRequest) (*Issued, error) {
	if r.deviceCode == "" {
		return nil, missing("device_code")
	}
	expired := func() error {
		return fail(ErrExpiredToken, "The provided device code is unknown or has expired. Start the sign-in again.")
	}
	hash := sha256.Sum256([]byte(r.deviceCode))
	d, err := s.dir.RedeemDeviceCode(ctx, hash[:])
	if err := notFoundAs(err, expired); err != nil {
		return nil, err
	}
	switch {
	case !s.now().Before(d.ExpiresAt):
		return nil, expired()
	case !strings.EqualFold(d.ClientID, r.clientID):
		return nil, fail(ErrInvalidGrant, "The device code was issued to another client.")
	case d.UserObjectID == "":
		return nil, fail(ErrAuthorizationPending, "Authorization pending: the user has not yet approved the code.")
	}
	u, err := s.activeUser(ctx, d.UserObjectID)
	if err != nil {
		return nil, err
	}
	return s.userTokens(ctx, u, r, d.Scope)
}

// activeUser returns an enabled user by object id.
func (s *Service) activeUser(ctx context.Context, objectID string) (*meta.Principal, error) {
	u, err := s.dir.Principal(ctx, objectID)
	if err := notFoundAs(err, func() error { return fail(ErrInvalidGrant, "The user no longer exists.") }); err != nil {
		return nil, err
	}
	if !u.Enabled {
		return nil, fail(ErrUserDisabled, "The user account is disabled.")
	}
	return u, nil
}

// refreshGrant renews a user's tokens with a refresh token, for any resource (Entra's
// refresh tokens are multi-resource too). A refresh token issued before the user's
// password last changed is refused.
func (s *Service) refreshGrant(ctx context.Context, r tokenRequest) (*Issued, error) {
	if r.refreshToken == "" {
		return nil, missing("refresh_token")
	}
	invalid := func(why string) error {
		return fail(ErrInvalidGrant, "The provided refresh token is invalid: %s.", why)
	}
	t, err := signing.Parse(r.refreshToken, signing.RS256)
	if err != nil {
		return nil, invalid("malformed")
	}
	var c refreshClaims
	if err := t.UnverifiedClaims(&c); err != nil || !guid.Valid(c.TenantID) {
		return nil, invalid("malformed")
	}
	err = s.keys.Verify(ctx, r.refreshToken, signing.Expect{Issuers: []string{s.issuer(c.TenantID, v2)},
		Audiences: []string{refreshAudience}}, &c)
	switch {
	case errors.Is(err, signing.ErrExpired):
		return nil, invalid("it has expired; sign in again")
	case err != nil:
		return nil, invalid("it does not verify")
	case !strings.EqualFold(c.ClientID, r.clientID):
		return nil, invalid("it was issued to another client")
	}
	u, err := s.activeUser(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	if u.PasswordChangedAt.Truncate(time.Second).After(time.Unix(c.IssuedAt, 0)) {
		return nil, invalid("the password changed since; sign in again")
	}
	scope := r.scope
	if scope == "" {
		scope = c.Scope
	}
	return s.userTokens(ctx, u, r, scope)
}
