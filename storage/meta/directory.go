package meta

import (
	"context"
	"errors"
	"time"
)

// Directory records: the identity plane's tenants, applications and the principals that
// sign in (service principals, managed identities, users), their credentials, the hosts
// that managed identities run on, the keys tokens are signed with, and one-time values
// (client assertion ids, device codes). Package identity writes and reads them; package
// signing keeps its keys here so that every replica signs with, and publishes, the same
// keys.
//
// Object ids and application (client) ids are GUIDs chosen by the caller and unique across
// the server, so a sign-in that names only a client id finds its tenant.

// Errors of the directory records. Callers test with errors.Is.
var (
	// ErrObjectNotFound: no such tenant, application, principal, credential, host, signing
	// key or device code.
	ErrObjectNotFound = errors.New("meta: directory object not found")
	// ErrObjectExists: an id, name or unique value (client id, user principal name,
	// signing-key generation, user code) is taken.
	ErrObjectExists = errors.New("meta: directory object already exists")
	// ErrUsedOnce: a one-time value was already used and has not expired.
	ErrUsedOnce = errors.New("meta: one-time value already used")
)

// Tenant is a directory: every other directory object belongs to exactly one.
type Tenant struct {
	ID          string // GUID
	DisplayName string
	CreatedAt   time.Time
}

// Application is an application registration: the object that holds client credentials.
// Its service principal (a Principal with the same AppID) is what signs in and is granted
// roles.
type Application struct {
	ObjectID    string
	AppID       string // the client id
	TenantID    string
	DisplayName string
	CreatedAt   time.Time
}

// PrincipalKind says what a principal is.
type PrincipalKind string

// The kinds of principal, spelled as Microsoft Graph's servicePrincipalType and as role
// assignments' principalType expect.
const (
	KindServicePrincipal PrincipalKind = "ServicePrincipal"
	KindManagedIdentity  PrincipalKind = "ManagedIdentity"
	KindUser             PrincipalKind = "User"
)

// Principal is a security principal: what a token's oid names and what role assignments
// are made to.
type Principal struct {
	ObjectID    string
	TenantID    string
	Kind        PrincipalKind
	DisplayName string
	// AppID is the client id of a service principal or managed identity; "" for users.
	AppID string
	// Enabled false refuses every sign-in (Graph's accountEnabled).
	Enabled bool
	// Owner may manage the tenant's directory objects through the Graph-shaped API
	// (the bootstrap owner; role assignments come with the management plane).
	Owner bool

	// UserPrincipalName (users only) is unique across the server, stored in lower case.
	UserPrincipalName string
	// PasswordHash (users only) is an argon2id hash in PHC string form.
	PasswordHash string
	// PasswordChangedAt invalidates refresh tokens issued before it.
	PasswordChangedAt time.Time

	// ResourceID (managed identities) is the ARM id of a user-assigned identity, or of the
	// host a system-assigned identity belongs to.
	ResourceID string
	// HostID (system-assigned managed identities) is the host the identity belongs to;
	// it is deleted with the host.
	HostID string

	CreatedAt time.Time
}

// CredentialKind says what a client credential is, spelled as Graph's keyCredential type.
type CredentialKind string

// The kinds of client credential.
const (
	CredentialSecret      CredentialKind = "Password"
	CredentialCertificate CredentialKind = "AsymmetricX509Cert"
)

// ClientCredential is a client secret or certificate of an application. Secrets are kept
// only as a keyed hash (package identity chooses it); certificates as their DER bytes.
type ClientCredential struct {
	KeyID       string // GUID
	AppID       string
	Kind        CredentialKind
	DisplayName string
	Hint        string // secrets: the first characters, as Graph shows them
	SecretHash  []byte // secrets
	Certificate []byte // certificates: DER
	StartAt     time.Time
	EndAt       time.Time // zero: never expires
	CreatedAt   time.Time
}

// FederatedCredential trusts tokens of an external issuer with one subject as client
// assertions of an application (workload identity federation).
type FederatedCredential struct {
	ID          string // GUID
	AppID       string
	Name        string // unique per application
	Issuer      string
	Subject     string
	Audiences   []string
	Description string
	CreatedAt   time.Time
}

// IdentityHost stands for the Azure resource a managed identity is attached to (a VM, an
// App Service): a process that holds the host's secret, or reaches an IMDS listener bound
// to the host, may get tokens for the host's identities. Its system-assigned identity is
// the Principal whose HostID is the host's id.
type IdentityHost struct {
	ID         string // GUID
	TenantID   string
	Name       string // unique per tenant
	SecretHash []byte // keyed hash of the secret (App Service's IDENTITY_HEADER); unique
	// Identities are the object ids of the user-assigned identities assigned to the host.
	Identities []string
	// SystemIdentity is the object id of the host's system-assigned identity (set by the
	// store).
	SystemIdentity string
	CreatedAt      time.Time
}

// SigningKey is a token-signing key. Keys of one purpose (a token issuer: "identity",
// "registry") form a sequence of generations: each signs from SignFrom until SignUntil and
// is published (JWKS) until PublishUntil, after the last token it signed has expired.
type SigningKey struct {
	ID           string // kid
	Purpose      string
	Generation   int64 // unique per purpose
	Algorithm    string
	Certificate  []byte // DER, self-signed: carries the public key (x5c, x5t)
	PrivateKey   []byte // sealed by package signing, never stored in the clear
	SignFrom     time.Time
	SignUntil    time.Time
	PublishUntil time.Time
	CreatedAt    time.Time
}

// DeviceCode is a pending device-code sign-in (RFC 8628): the client polls with the device
// code, the user approves the user code in a browser.
type DeviceCode struct {
	CodeHash     []byte // SHA-256 of the device code; the code itself is a bearer secret
	UserCode     string // unique among codes not yet expired
	ClientID     string
	Tenant       string // as requested: a tenant id, "organizations", "common" or "adfs"
	Scope        string
	UserObjectID string // set when a user approved it
	ExpiresAt    time.Time
	CreatedAt    time.Time
}

// Tenants stores tenants.
type Tenants interface {
	// CreateTenant stores a tenant, or returns ErrObjectExists.
	CreateTenant(ctx context.Context, t *Tenant) error
	// Tenant returns a tenant, or ErrObjectNotFound.
	Tenant(ctx context.Context, id string) (*Tenant, error)
	// Tenants lists every tenant by creation time.
	Tenants(ctx context.Context) ([]Tenant, error)
}

// Applications stores application registrations.
type Applications interface {
	// CreateApplication stores an application (its tenant must exist), or returns
	// ErrObjectExists when the object id or client id is taken.
	CreateApplication(ctx context.Context, a *Application) error
	// Application returns an application by object id, or ErrObjectNotFound.
	Application(ctx context.Context, objectID string) (*Application, error)
	// ApplicationByAppID returns an application by client id, or ErrObjectNotFound.
	ApplicationByAppID(ctx context.Context, appID string) (*Application, error)
	// Applications lists a tenant's applications by display name.
	Applications(ctx context.Context, tenantID string) ([]Application, error)
	// DeleteApplication removes an application with its credentials and its service
	// principal, or returns ErrObjectNotFound.
	DeleteApplication(ctx context.Context, objectID string) error
}

// Principals stores service principals, managed identities and users.
type Principals interface {
	// CreatePrincipal stores a principal (its tenant, and host if any, must exist), or
	// returns ErrObjectExists when its object id, client id or user principal name is taken.
	CreatePrincipal(ctx context.Context, p *Principal) error
	// Principal returns a principal by object id, or ErrObjectNotFound.
	Principal(ctx context.Context, objectID string) (*Principal, error)
	// PrincipalByAppID returns the service principal or managed identity with a client id,
	// or ErrObjectNotFound.
	PrincipalByAppID(ctx context.Context, appID string) (*Principal, error)
	// PrincipalByUPN returns the user with a user principal name (lower case), or
	// ErrObjectNotFound.
	PrincipalByUPN(ctx context.Context, upn string) (*Principal, error)
	// Principals lists a tenant's principals of one kind ("" for all) by display name.
	Principals(ctx context.Context, tenantID string, kind PrincipalKind) ([]Principal, error)
	// UpdatePrincipal changes a principal through fn, inside a write transaction; fn may
	// change DisplayName, Enabled, Owner, PasswordHash and PasswordChangedAt (other fields
	// are kept). An error from fn aborts the update and is returned as is.
	UpdatePrincipal(ctx context.Context, objectID string, fn func(*Principal) error) (*Principal, error)
	// DeletePrincipal removes a principal, or returns ErrObjectNotFound.
	DeletePrincipal(ctx context.Context, objectID string) error
}

// Credentials stores client credentials and federated credentials of applications.
type Credentials interface {
	// AddClientCredential stores a credential (its application must exist:
	// ErrObjectNotFound otherwise), or returns ErrObjectExists when its key id is taken.
	AddClientCredential(ctx context.Context, c *ClientCredential) error
	// ClientCredentials lists an application's credentials by creation time.
	ClientCredentials(ctx context.Context, appID string) ([]ClientCredential, error)
	// DeleteClientCredential removes a credential, or returns ErrObjectNotFound.
	DeleteClientCredential(ctx context.Context, appID, keyID string) error

	// AddFederatedCredential stores a federated credential (its application must exist:
	// ErrObjectNotFound otherwise), or returns ErrObjectExists when the id or the name
	// within the application is taken.
	AddFederatedCredential(ctx context.Context, f *FederatedCredential) error
	// FederatedCredentials lists an application's federated credentials by name.
	FederatedCredentials(ctx context.Context, appID string) ([]FederatedCredential, error)
	// DeleteFederatedCredential removes a federated credential by id or name, or returns
	// ErrObjectNotFound.
	DeleteFederatedCredential(ctx context.Context, appID, idOrName string) error
}

// IdentityHosts stores managed-identity hosts.
type IdentityHosts interface {
	// CreateIdentityHost stores a host with its system-assigned identity (system.HostID is
	// set to the host's id) and its assignments, in one transaction; ErrObjectExists when
	// the id, name or secret is taken, ErrObjectNotFound when an assigned identity does
	// not exist.
	CreateIdentityHost(ctx context.Context, h *IdentityHost, system *Principal) error
	// IdentityHost returns a host by id, or ErrObjectNotFound.
	IdentityHost(ctx context.Context, id string) (*IdentityHost, error)
	// IdentityHostByName returns a tenant's host by name, or ErrObjectNotFound.
	IdentityHostByName(ctx context.Context, tenantID, name string) (*IdentityHost, error)
	// IdentityHostBySecret returns the host whose secret hashes to secretHash, or
	// ErrObjectNotFound.
	IdentityHostBySecret(ctx context.Context, secretHash []byte) (*IdentityHost, error)
	// IdentityHosts lists a tenant's hosts by name.
	IdentityHosts(ctx context.Context, tenantID string) ([]IdentityHost, error)
	// AssignIdentity assigns a user-assigned identity to a host (idempotent), or returns
	// ErrObjectNotFound when either does not exist.
	AssignIdentity(ctx context.Context, hostID, objectID string) error
	// DeleteIdentityHost removes a host with its system-assigned identity, or returns
	// ErrObjectNotFound.
	DeleteIdentityHost(ctx context.Context, id string) error
}

// SigningKeys stores token-signing keys.
type SigningKeys interface {
	// AddSigningKey stores a key, or returns ErrObjectExists when its id, or its
	// generation within its purpose, is taken (another replica rotated first).
	AddSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys lists the keys of a purpose by generation.
	SigningKeys(ctx context.Context, purpose string) ([]SigningKey, error)
	// DeleteSigningKeys removes the keys of a purpose published only until before t and
	// returns how many it removed.
	DeleteSigningKeys(ctx context.Context, purpose string, t time.Time) (int, error)
}

// OneTime stores values that may be used once: client assertion ids and device codes.
// They live in the store rather than in memory so that every replica agrees.
type OneTime interface {
	// UseOnce records key as used until expires, or returns ErrUsedOnce when it is
	// recorded already and not expired at now. Expired records are removed.
	UseOnce(ctx context.Context, key string, expires, now time.Time) error

	// CreateDeviceCode stores a device code, or returns ErrObjectExists when its hash or
	// user code is taken. Expired codes are removed.
	CreateDeviceCode(ctx context.Context, d *DeviceCode, now time.Time) error
	// DeviceCodeByUserCode returns the device code with a user code, or ErrObjectNotFound.
	DeviceCodeByUserCode(ctx context.Context, userCode string) (*DeviceCode, error)
	// ApproveDeviceCode records the user who approved a pending device code, or returns
	// ErrObjectNotFound when there is no such code or it was approved already.
	ApproveDeviceCode(ctx context.Context, userCode, userObjectID string) error
	// RedeemDeviceCode returns the device code with a hash, removing it if it was
	// approved so that it is redeemed once; ErrObjectNotFound when there is none.
	RedeemDeviceCode(ctx context.Context, codeHash []byte) (*DeviceCode, error)
}

// Directory is everything the identity plane stores.
type Directory interface {
	Tenants
	Applications
	Principals
	Credentials
	IdentityHosts
	SigningKeys
	OneTime
}
