package identity

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Directory management: the operations behind the Graph-shaped API and the bootstrap.
// Every operation acts within one tenant (the caller's); objects of other tenants are
// not found.

// DefaultSecretLifetime is how long a client secret lives when its end is not given
// (Graph's default for addPassword).
const DefaultSecretLifetime = 2 * 365 * 24 * time.Hour

// maxFederatedCredentials is Entra's limit per application.
const maxFederatedCredentials = 20

var (
	// resourceName is the grammar of managed identity and host names (ARM's, roughly).
	resourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$`)
	// ficName is Entra's grammar of federated credential names.
	ficName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$`)
)

func badRequest(format string, args ...any) error { return fail(ErrBadRequest, format, args...) }

// storeErr maps the store's sentinels to the directory API's.
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, meta.ErrObjectNotFound):
		return fail(ErrNotFound, "%s does not exist or one of its queried reference-property objects are not present.", what)
	case errors.Is(err, meta.ErrObjectExists):
		return fail(ErrConflict, "%s already exists.", what)
	}
	return fmt.Errorf("identity: %w", err)
}

// Application returns an application of the tenant by object id.
func (s *Service) Application(ctx context.Context, tenantID, objectID string) (*meta.Application, error) {
	a, err := s.dir.Application(ctx, strings.ToLower(objectID))
	if err == nil && a.TenantID != tenantID {
		err = meta.ErrObjectNotFound
	}
	return a, storeErr(err, "Application '"+objectID+"'")
}

// CreateApplication registers an application with a new client id.
func (s *Service) CreateApplication(ctx context.Context, tenantID, displayName string) (*meta.Application, error) {
	if displayName == "" || len(displayName) > 256 {
		return nil, badRequest("displayName is required (at most 256 characters).")
	}
	a := &meta.Application{ObjectID: guid.New(), AppID: guid.New(), TenantID: tenantID, DisplayName: displayName, CreatedAt: s.now()}
	return a, storeErr(s.dir.CreateApplication(ctx, a), "Application")
}

// DeleteApplication deletes an application, its credentials and its service principal.
func (s *Service) DeleteApplication(ctx context.Context, tenantID, objectID string) error {
	a, err := s.Application(ctx, tenantID, objectID)
	if err != nil {
		return err
	}
	return storeErr(s.dir.DeleteApplication(ctx, a.ObjectID), "Application '"+objectID+"'")
}

// CreateServicePrincipal creates the service principal of an application of the tenant.
func (s *Service) CreateServicePrincipal(ctx context.Context, tenantID, appID string) (*meta.Principal, error) {
	a, err := s.dir.ApplicationByAppID(ctx, strings.ToLower(appID))
	if err == nil && a.TenantID != tenantID {
		err = meta.ErrObjectNotFound
	}
	if err := storeErr(err, "Application with appId '"+appID+"'"); err != nil {
		return nil, err
	}
	p := &meta.Principal{ObjectID: guid.New(), TenantID: tenantID, Kind: meta.KindServicePrincipal,
		DisplayName: a.DisplayName, AppID: a.AppID, Enabled: true, CreatedAt: s.now()}
	return p, storeErr(s.dir.CreatePrincipal(ctx, p), "A service principal for appId '"+appID+"'")
}

// Principal returns a principal of the tenant by object id.
func (s *Service) Principal(ctx context.Context, tenantID, objectID string) (*meta.Principal, error) {
	p, err := s.dir.Principal(ctx, strings.ToLower(objectID))
	if err == nil && p.TenantID != tenantID {
		err = meta.ErrObjectNotFound
	}
	return p, storeErr(err, "Resource '"+objectID+"'")
}

// PrincipalByObjectID returns any principal by object id, for other planes (role
// assignments name principals by object id); meta.ErrObjectNotFound when there is none.
func (s *Service) PrincipalByObjectID(ctx context.Context, objectID string) (*meta.Principal, error) {
	return s.dir.Principal(ctx, strings.ToLower(objectID))
}

// PrincipalByAppID returns the service principal or managed identity with a client id,
// for other planes; meta.ErrObjectNotFound when there is none.
func (s *Service) PrincipalByAppID(ctx context.Context, appID string) (*meta.Principal, error) {
	return s.dir.PrincipalByAppID(ctx, strings.ToLower(appID))
}

// SetPrincipalEnabled enables or disables sign-in of a principal of the tenant.
func (s *Service) SetPrincipalEnabled(ctx context.Context, tenantID, objectID string, enabled bool) (*meta.Principal, error) {
	if _, err := s.Principal(ctx, tenantID, objectID); err != nil {
		return nil, err
	}
	p, err := s.dir.UpdatePrincipal(ctx, strings.ToLower(objectID), func(p *meta.Principal) error {
		p.Enabled = enabled
		return nil
	})
	return p, storeErr(err, "Resource '"+objectID+"'")
}

// AddSecret adds a client secret to an application and returns it with its value, which
// is not stored and cannot be shown again. A zero end means DefaultSecretLifetime.
func (s *Service) AddSecret(ctx context.Context, tenantID, appObjectID, displayName string, end time.Time) (*meta.ClientCredential, string, error) {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	if end.IsZero() {
		end = now.Add(DefaultSecretLifetime)
	}
	if !end.After(now) {
		return nil, "", badRequest("endDateTime must be in the future.")
	}
	return s.addSecret(ctx, a.AppID, displayName, "", end)
}

// addSecret stores secret (a new random one when "") for appID, valid until end (the
// zero time: forever).
func (s *Service) addSecret(ctx context.Context, appID, displayName, secret string, end time.Time) (*meta.ClientCredential, string, error) {
	now := s.now()
	if secret == "" {
		secret = newSecret()
	}
	c := &meta.ClientCredential{KeyID: guid.New(), AppID: appID, Kind: meta.CredentialSecret, DisplayName: displayName,
		Hint: secret[:3], SecretHash: s.hashSecret(secret), StartAt: now, EndAt: end, CreatedAt: now}
	if err := storeErr(s.dir.AddClientCredential(ctx, c), "Credential"); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// AddCertificate registers a client certificate (DER) on an application; it is valid
// for the certificate's own validity period.
func (s *Service) AddCertificate(ctx context.Context, tenantID, appObjectID, displayName string, der []byte) (*meta.ClientCredential, error) {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, badRequest("key must be a DER-encoded X.509 certificate: %v", err)
	}
	creds, err := s.dir.ClientCredentials(ctx, a.AppID)
	if err != nil {
		return nil, err
	}
	for _, c := range creds {
		if c.Kind == meta.CredentialCertificate && sha1.Sum(c.Certificate) == sha1.Sum(der) {
			return nil, fail(ErrConflict, "The certificate is already registered on the application.")
		}
	}
	c := &meta.ClientCredential{KeyID: guid.New(), AppID: a.AppID, Kind: meta.CredentialCertificate,
		DisplayName: displayName, Certificate: der, StartAt: cert.NotBefore, EndAt: cert.NotAfter, CreatedAt: s.now()}
	return c, storeErr(s.dir.AddClientCredential(ctx, c), "Credential")
}

// RemoveCredential removes a client secret or certificate of an application.
func (s *Service) RemoveCredential(ctx context.Context, tenantID, appObjectID, keyID string) error {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return err
	}
	return storeErr(s.dir.DeleteClientCredential(ctx, a.AppID, strings.ToLower(keyID)), "Credential '"+keyID+"'")
}

// ClientCredentials lists an application's secrets (hashes only) and certificates.
func (s *Service) ClientCredentials(ctx context.Context, tenantID, appObjectID string) ([]meta.ClientCredential, error) {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return nil, err
	}
	return s.dir.ClientCredentials(ctx, a.AppID)
}

// AddFederatedCredential trusts an external issuer's tokens for one subject as client
// assertions of an application. Audiences default to TokenExchangeAudience; as in
// Entra there is exactly one.
func (s *Service) AddFederatedCredential(ctx context.Context, tenantID, appObjectID string, f *meta.FederatedCredential) error {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return err
	}
	if len(f.Audiences) == 0 {
		f.Audiences = []string{TokenExchangeAudience}
	}
	u, err := url.Parse(f.Issuer)
	switch {
	case !ficName.MatchString(f.Name):
		return badRequest("name must be 3 to 120 letters, digits, '-' or '_', starting with a letter or digit.")
	case err != nil || u.Scheme != "https" || u.Host == "":
		return badRequest("issuer must be an https URL.")
	case f.Subject == "" || len(f.Subject) > 600:
		return badRequest("subject is required (at most 600 characters).")
	case len(f.Audiences) != 1 || f.Audiences[0] == "":
		return badRequest("audiences must hold exactly one audience.")
	}
	existing, err := s.dir.FederatedCredentials(ctx, a.AppID)
	if err != nil {
		return err
	}
	if len(existing) >= maxFederatedCredentials {
		return badRequest("An application may have at most %d federated identity credentials.", maxFederatedCredentials)
	}
	f.ID, f.AppID, f.CreatedAt = guid.New(), a.AppID, s.now()
	return storeErr(s.dir.AddFederatedCredential(ctx, f), "A federated identity credential named '"+f.Name+"'")
}

// FederatedCredentials lists an application's federated credentials.
func (s *Service) FederatedCredentials(ctx context.Context, tenantID, appObjectID string) ([]meta.FederatedCredential, error) {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return nil, err
	}
	return s.dir.FederatedCredentials(ctx, a.AppID)
}

// RemoveFederatedCredential removes a federated credential by id or name.
func (s *Service) RemoveFederatedCredential(ctx context.Context, tenantID, appObjectID, idOrName string) error {
	a, err := s.Application(ctx, tenantID, appObjectID)
	if err != nil {
		return err
	}
	return storeErr(s.dir.DeleteFederatedCredential(ctx, a.AppID, idOrName), "Federated identity credential '"+idOrName+"'")
}

// CreateUser creates a user who signs in with a password.
func (s *Service) CreateUser(ctx context.Context, tenantID, upn, displayName, password string) (*meta.Principal, error) {
	upn = strings.ToLower(strings.TrimSpace(upn))
	local, domain, ok := strings.Cut(upn, "@")
	switch {
	case !ok || local == "" || domain == "" || len(upn) > 113 || strings.ContainsAny(upn, " /\\"):
		return nil, badRequest("userPrincipalName must look like name@domain.")
	case len(password) < MinPasswordLength:
		return nil, badRequest("The password must be at least %d characters long.", MinPasswordLength)
	}
	if displayName == "" {
		displayName = upn
	}
	now := s.now()
	u := &meta.Principal{ObjectID: guid.New(), TenantID: tenantID, Kind: meta.KindUser, DisplayName: displayName,
		Enabled: true, UserPrincipalName: upn, PasswordHash: hashPassword(password), PasswordChangedAt: now, CreatedAt: now}
	return u, storeErr(s.dir.CreatePrincipal(ctx, u), "A user named '"+upn+"'")
}

// resourceScope is the ARM scope of new managed identities' and hosts' resource ids.
func (s *Service) resourceScope(tenantID string) string {
	if s.scope != "" {
		return s.scope
	}
	return "/subscriptions/" + tenantID + "/resourceGroups/cerulean"
}

// CreateManagedIdentity creates a user-assigned managed identity.
func (s *Service) CreateManagedIdentity(ctx context.Context, tenantID, name string) (*meta.Principal, error) {
	if !resourceName.MatchString(name) {
		return nil, badRequest("name must be 3 to 128 letters, digits, '-' or '_'.")
	}
	p := &meta.Principal{ObjectID: guid.New(), TenantID: tenantID, Kind: meta.KindManagedIdentity, DisplayName: name,
		AppID: guid.New(), Enabled: true, CreatedAt: s.now(),
		ResourceID: s.resourceScope(tenantID) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name}
	for _, o := range s.managedIdentities(ctx, tenantID) {
		if strings.EqualFold(o.ResourceID, p.ResourceID) {
			return nil, fail(ErrConflict, "A managed identity named '%s' already exists.", name)
		}
	}
	return p, storeErr(s.dir.CreatePrincipal(ctx, p), "Managed identity")
}

// managedIdentities lists the tenant's managed identities (nil on a store error, which
// the caller's next store call reports).
func (s *Service) managedIdentities(ctx context.Context, tenantID string) []meta.Principal {
	ps, _ := s.dir.Principals(ctx, tenantID, meta.KindManagedIdentity)
	return ps
}

// CreateIdentityHost creates a host with its system-assigned identity, assigns it the
// named user-assigned identities (by name, client id, object id or resource id) and returns
// its secret (App Service's IDENTITY_HEADER), which is not stored.
func (s *Service) CreateIdentityHost(ctx context.Context, tenantID, name string, identities []string) (*meta.IdentityHost, *meta.Principal, string, error) {
	if !resourceName.MatchString(name) {
		return nil, nil, "", badRequest("name must be 3 to 128 letters, digits, '-' or '_'.")
	}
	mis := s.managedIdentities(ctx, tenantID)
	var assigned []string
	for _, ref := range identities {
		found := ""
		for _, p := range mis {
			if p.HostID == "" && (ref == p.DisplayName || strings.EqualFold(ref, p.AppID) || strings.EqualFold(ref, p.ObjectID) || strings.EqualFold(ref, p.ResourceID)) {
				found = p.ObjectID
			}
		}
		if found == "" {
			return nil, nil, "", fail(ErrNotFound, "No user-assigned managed identity '%s'.", ref)
		}
		assigned = append(assigned, found)
	}
	now := s.now()
	secret := newSecret()
	h := &meta.IdentityHost{ID: guid.New(), TenantID: tenantID, Name: name, SecretHash: s.hashSecret(secret),
		Identities: assigned, CreatedAt: now}
	system := &meta.Principal{ObjectID: guid.New(), TenantID: tenantID, Kind: meta.KindManagedIdentity, DisplayName: name,
		AppID: guid.New(), Enabled: true, CreatedAt: now,
		ResourceID: s.resourceScope(tenantID) + "/providers/Microsoft.Compute/virtualMachines/" + name}
	if err := storeErr(s.dir.CreateIdentityHost(ctx, h, system), "A host named '"+name+"'"); err != nil {
		return nil, nil, "", err
	}
	h.SystemIdentity = system.ObjectID
	return h, system, secret, nil
}

// IdentityHost returns a host of the tenant by id or name.
func (s *Service) IdentityHost(ctx context.Context, tenantID, idOrName string) (*meta.IdentityHost, error) {
	h, err := s.dir.IdentityHost(ctx, strings.ToLower(idOrName))
	if errors.Is(err, meta.ErrObjectNotFound) {
		h, err = s.dir.IdentityHostByName(ctx, tenantID, idOrName)
	}
	if err == nil && h.TenantID != tenantID {
		err = meta.ErrObjectNotFound
	}
	return h, storeErr(err, "Host '"+idOrName+"'")
}

// DeleteIdentityHost deletes a host with its system-assigned identity.
func (s *Service) DeleteIdentityHost(ctx context.Context, tenantID, idOrName string) error {
	h, err := s.IdentityHost(ctx, tenantID, idOrName)
	if err != nil {
		return err
	}
	return storeErr(s.dir.DeleteIdentityHost(ctx, h.ID), "Host '"+idOrName+"'")
}

// Owner is the bootstrap owner: what DIR/bootstrap.json records of the directory.
type Owner struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	ObjectID     string
}

// BootstrapOptions preset the owner's client id and secret (automation); empty fields
// are generated.
type BootstrapOptions struct {
	ClientID     string
	ClientSecret string
}

// Bootstrap creates, in a directory without tenants, a tenant and its owner: an
// application with a service principal marked Owner and a client secret. It returns nil
// when the directory already has a tenant.
func (s *Service) Bootstrap(ctx context.Context, opts BootstrapOptions) (*Owner, error) {
	tenants, err := s.dir.Tenants(ctx)
	if err != nil || len(tenants) > 0 {
		return nil, err
	}
	clientID := strings.ToLower(opts.ClientID)
	if clientID == "" {
		clientID = guid.New()
	}
	if !guid.Valid(clientID) {
		return nil, fmt.Errorf("identity: bootstrap client id %q is not a GUID", opts.ClientID)
	}
	if opts.ClientSecret != "" && len(opts.ClientSecret) < MinPresetSecretLength {
		return nil, fmt.Errorf("identity: the bootstrap client secret must be at least %d characters", MinPresetSecretLength)
	}
	now := s.now()
	t := &meta.Tenant{ID: guid.New(), DisplayName: "Cerulean", CreatedAt: now}
	if err := s.dir.CreateTenant(ctx, t); err != nil {
		return nil, fmt.Errorf("identity: bootstrap: %w", err)
	}
	app := &meta.Application{ObjectID: guid.New(), AppID: clientID, TenantID: t.ID, DisplayName: "cerulean-owner", CreatedAt: now}
	sp := &meta.Principal{ObjectID: guid.New(), TenantID: t.ID, Kind: meta.KindServicePrincipal, DisplayName: app.DisplayName,
		AppID: clientID, Enabled: true, Owner: true, CreatedAt: now}
	if err := s.dir.CreateApplication(ctx, app); err != nil {
		return nil, fmt.Errorf("identity: bootstrap: %w", err)
	}
	if err := s.dir.CreatePrincipal(ctx, sp); err != nil {
		return nil, fmt.Errorf("identity: bootstrap: %w", err)
	}
	_, secret, err := s.addSecret(ctx, clientID, "bootstrap", opts.ClientSecret, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("identity: bootstrap: %w", err)
	}
	return &Owner{TenantID: t.ID, ClientID: clientID, ClientSecret: secret, ObjectID: sp.ObjectID}, nil
}
