package meta

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"time"
)

// Management-plane records: subscriptions, resource groups, registries with their settings
// and admin credentials, scope maps, repository-scoped tokens, role assignments and the
// activity log. Package management writes them; the data plane reads them on every
// authentication, through the methods marked "Data plane" below.
//
// Revocation takes effect on the next request through generations: counters that every
// change of what a credential may do increases, and that access tokens carry. The data
// plane compares the generation a token was issued under with the stored one (one indexed
// read, which it needs anyway to find the registry or token) and refuses a stale token:
//   - Registry.Generation: any change of the registry (settings, admin passwords, SKU, tags).
//     Tokens issued to the admin user, anonymous pulls and every principal of the registry
//     carry it, so disabling the admin user, rotating its password, switching the
//     role-assignment mode or the AAD-as-ARM policy revokes them at once.
//   - Token.Generation: any change of the token (status, scope map, passwords) or of the
//     actions of its scope map.
//   - PrincipalGeneration: any role assignment created for or removed from the principal,
//     at any scope.

// Errors of the management records. Callers test with errors.Is.
var (
	// ErrResourceNotFound: no such subscription, resource group, registry, scope map, token or role
	// assignment.
	ErrResourceNotFound = errors.New("meta: resource not found")
	// ErrResourceExists: the name is taken (registries: across the whole server; role
	// assignments: the same principal, role and scope are already assigned).
	ErrResourceExists = errors.New("meta: resource already exists")
	// ErrResourceInUse: the record still has dependants (a resource group with registries, a scope
	// map that tokens use).
	ErrResourceInUse = errors.New("meta: resource in use")
)

// Subscription is the top of the ARM hierarchy, owned by one tenant.
type Subscription struct {
	ID          string // GUID
	TenantID    string
	DisplayName string
	CreatedAt   time.Time
}

// ResourceGroup groups registries within a subscription. Names compare case-insensitively,
// as in ARM; the stored name keeps the casing it was created with.
type ResourceGroup struct {
	Subscription string
	Name         string
	Location     string
	Tags         map[string]string
	CreatedAt    time.Time
}

// Change says who created or last changed a record, for ARM's systemData.
type Change struct {
	At     time.Time
	By     string // object id (or application id) of the caller
	ByType string // "User", "Application", "ManagedIdentity" or "Key"
}

// Registry is a container registry resource. Names are unique across the server,
// case-insensitively (they become DNS labels); LoginServer is unique too.
type Registry struct {
	ID            string // 32 lower-case hex digits, chosen by the caller; ACR tokens carry it as rid
	Subscription  string
	ResourceGroup string
	Name          string
	LoginServer   string // lower-case host[:port]
	Location      string
	SKU           string // Basic, Standard or Premium
	Tags          map[string]string
	Settings      RegistrySettings
	// Admin holds the admin user's "password" and "password2".
	Admin      [2]AdminPassword
	Created    Change
	Updated    Change
	Generation int64 // set by the store: 1 on create, increased by every update
}

// ResourceID is the registry's ARM resource id.
func (r *Registry) ResourceID() string {
	return "/subscriptions/" + r.Subscription + "/resourceGroups/" + r.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + r.Name
}

// Scopes are the ARM scopes whose role assignments apply to the registry: its resource
// id, its resource group, its subscription and the root (Data plane:
// RoleAssignmentQuery.AtScopes).
func (r *Registry) Scopes() []string {
	group := "/subscriptions/" + r.Subscription + "/resourceGroups/" + r.ResourceGroup
	return []string{r.ResourceID(), group, "/subscriptions/" + r.Subscription, "/"}
}

// RegistrySettings are the registry properties that decide who may reach its content.
type RegistrySettings struct {
	AdminUserEnabled     bool
	AnonymousPullEnabled bool
	// PublicNetworkAccess false refuses every data-plane request (there are no private
	// endpoints here).
	PublicNetworkAccess bool
	// NetworkDefaultAction is "Allow" or "Deny": what happens to a client address that no
	// IP rule matches.
	NetworkDefaultAction string
	IPRules              []string // addresses or CIDR ranges allowed when the default is Deny
	// AADAuthAsARMPolicy false means /oauth2/exchange accepts only tokens for the ACR
	// audience, not ARM ones.
	AADAuthAsARMPolicy bool
	RoleAssignmentMode string // LegacyRegistryPermissions or AbacRepositoryPermissions
}

// AdminPassword is one admin-user password: sealed (encrypted) so that listCredentials can
// return it, and hashed so that the data plane checks it without decrypting.
type AdminPassword struct {
	Sealed []byte
	Hash   []byte // SHA-256 of the password
}

// HashSecret is the hash stored for admin and token passwords: the passwords are random
// and at least 256 bits strong, so a fast unsalted hash is enough to keep them unreadable.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SecretMatches reports, in constant time, whether secret hashes to hash. An empty hash
// (no password set) matches nothing.
func SecretMatches(hash []byte, secret string) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(hash, HashSecret(secret)) == 1
}

// AdminPasswordMatches reports whether password is one of the registry's two admin
// passwords (Data plane; the caller also checks Settings.AdminUserEnabled).
func (r *Registry) AdminPasswordMatches(password string) bool {
	// Both are compared so that the time taken does not say which one matched.
	a, b := SecretMatches(r.Admin[0].Hash, password), SecretMatches(r.Admin[1].Hash, password)
	return a || b
}

// ScopeMap is a named set of repository actions a token may be given.
type ScopeMap struct {
	RegistryID  string
	Name        string
	Description string
	Actions     []string
	System      bool // one of the built-in _repositories_* maps, which cannot be changed
	Created     Change
	Updated     Change
}

// Token is a repository-scoped access token of a registry (user name = Name).
type Token struct {
	RegistryID string
	Name       string
	ScopeMap   string // name of a scope map of the same registry
	Enabled    bool
	Passwords  [2]TokenPassword // "password1" and "password2"
	Created    Change
	Updated    Change
	Generation int64 // set by the store, like Registry.Generation
	// ScopeMapActions are the actions of ScopeMap, filled in by reads (Data plane).
	ScopeMapActions []string
}

// TokenPassword is one token password, kept only as a hash: its value is shown once, when
// generated.
type TokenPassword struct {
	Hash      []byte // SHA-256 of the password; nil when none was generated
	CreatedAt time.Time
	Expiry    time.Time // zero: never expires
}

// Valid reports whether password matches p and p has not expired at now (Data plane).
func (p TokenPassword) Valid(password string, now time.Time) bool {
	return SecretMatches(p.Hash, password) && (p.Expiry.IsZero() || now.Before(p.Expiry))
}

// RoleAssignment grants a role to a principal at a scope (an ARM resource id: "/",
// a subscription, a resource group or a registry) and every scope below it.
type RoleAssignment struct {
	Name             string // GUID, unique across the server
	Scope            string // as given, e.g. /subscriptions/{id}/resourceGroups/{name}
	RoleDefinitionID string // GUID of the role definition
	PrincipalID      string
	PrincipalType    string // User, Group or ServicePrincipal
	Description      string
	Condition        string // ABAC condition, "" for none
	ConditionVersion string
	Created          Change
	Updated          Change
}

// RoleAssignmentQuery selects role assignments. Scopes compare case-insensitively and
// without a trailing slash.
type RoleAssignmentQuery struct {
	// AtScopes: assignments at exactly one of these scopes (a target and its ancestors).
	AtScopes []string
	// Under: also assignments at scopes strictly below this one ("" for none).
	Under string
	// PrincipalIDs: only assignments to one of these principals (none: every principal).
	PrincipalIDs []string
}

// Event is one entry of the activity log: a management write, allowed or denied.
type Event struct {
	ID            string // GUID
	Time          time.Time
	TenantID      string
	Subscription  string
	ResourceGroup string // "" when the resource is not in one
	ResourceID    string
	Operation     string // e.g. Microsoft.ContainerRegistry/registries/write
	Caller        string // object id of the principal
	CallerAppID   string
	Status        string // Succeeded or Failed
	SubStatus     string // the ARM error code of a failure, e.g. AuthorizationFailed
	HTTPStatus    int
	Method        string
	CorrelationID string
	ClientIP      string
}

// EventQuery selects activity-log entries of one subscription, newest first.
type EventQuery struct {
	Subscription  string
	From, To      time.Time // inclusive; zero: unbounded
	ResourceGroup string    // case-insensitive; "" for any
	ResourceID    string    // the resource and those below it, case-insensitive; "" for any
	CorrelationID string
	Limit         int // <= 0: no limit
}

// Management stores the management-plane records. Names (registries, resource groups,
// scope maps, tokens) compare case-insensitively, as in ARM. Update methods run fn on the
// current record inside a write transaction, so concurrent changes never lose one another;
// an error from fn aborts the update and is returned as is.
type Management interface {
	// CreateSubscription stores a subscription, or returns ErrResourceExists.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// Subscription returns a subscription, or ErrResourceNotFound.
	Subscription(ctx context.Context, id string) (*Subscription, error)
	// Subscriptions lists the subscriptions of a tenant ("" for all), by id.
	Subscriptions(ctx context.Context, tenantID string) ([]Subscription, error)

	// PutResourceGroup creates a resource group or updates its tags, reporting whether it
	// created it; ErrResourceNotFound when the subscription does not exist. An update keeps the
	// location and name casing.
	PutResourceGroup(ctx context.Context, g *ResourceGroup) (created bool, err error)
	// ResourceGroup returns a resource group, or ErrResourceNotFound.
	ResourceGroup(ctx context.Context, subscription, name string) (*ResourceGroup, error)
	// ResourceGroups lists a subscription's resource groups by name.
	ResourceGroups(ctx context.Context, subscription string) ([]ResourceGroup, error)
	// DeleteResourceGroup removes an empty resource group: ErrResourceInUse while registries
	// remain in it, ErrResourceNotFound when there is none. Role assignments at or below its
	// scope go with it.
	DeleteResourceGroup(ctx context.Context, subscription, name string) error

	// CreateRegistry stores r (its resource group must exist: ErrResourceNotFound otherwise)
	// together with its initial scope maps, in one transaction. ErrResourceExists when the name,
	// login server or id is taken.
	CreateRegistry(ctx context.Context, r *Registry, scopeMaps []ScopeMap) error
	// Registry returns a registry by subscription, resource group and name, or ErrResourceNotFound.
	Registry(ctx context.Context, subscription, resourceGroup, name string) (*Registry, error)
	// RegistryByLoginServer returns the registry a data-plane request is for (Data plane).
	RegistryByLoginServer(ctx context.Context, loginServer string) (*Registry, error)
	// RegistryByID returns a registry by its id (the rid of ACR tokens) (Data plane).
	RegistryByID(ctx context.Context, id string) (*Registry, error)
	// Registries lists registries by name: of a subscription ("" for all), optionally of
	// one resource group.
	Registries(ctx context.Context, subscription, resourceGroup string) ([]Registry, error)
	// UpdateRegistry changes a registry through fn (which may change LoginServer, SKU, Tags,
	// Settings, Admin and Updated; other fields are kept) and increases its generation.
	// ErrResourceExists when the new login server is another registry's.
	UpdateRegistry(ctx context.Context, id string, fn func(*Registry) error) (*Registry, error)
	// RemoveRegistry removes a registry's records: scope maps, tokens, and role
	// assignments at or below its scope. Its content goes with Store.DeleteRegistry.
	RemoveRegistry(ctx context.Context, id string) error

	// CreateScopeMap stores a scope map, or returns ErrResourceExists.
	CreateScopeMap(ctx context.Context, m *ScopeMap) error
	// ScopeMap returns a scope map, or ErrResourceNotFound.
	ScopeMap(ctx context.Context, registryID, name string) (*ScopeMap, error)
	// ScopeMaps lists a registry's scope maps by name.
	ScopeMaps(ctx context.Context, registryID string) ([]ScopeMap, error)
	// UpdateScopeMap changes Description, Actions and Updated through fn, and increases
	// the generation of every token using the map.
	UpdateScopeMap(ctx context.Context, registryID, name string, fn func(*ScopeMap) error) (*ScopeMap, error)
	// DeleteScopeMap removes a scope map: ErrResourceInUse while a token uses it.
	DeleteScopeMap(ctx context.Context, registryID, name string) error

	// CreateToken stores a token (its scope map must exist: ErrResourceNotFound otherwise), or
	// returns ErrResourceExists.
	CreateToken(ctx context.Context, t *Token) error
	// Token returns a token with its scope map's actions, or ErrResourceNotFound (Data plane).
	Token(ctx context.Context, registryID, name string) (*Token, error)
	// Tokens lists a registry's tokens by name.
	Tokens(ctx context.Context, registryID string) ([]Token, error)
	// UpdateToken changes ScopeMap, Enabled, Passwords and Updated through fn and
	// increases the token's generation. ErrResourceNotFound when the new scope map does not exist.
	UpdateToken(ctx context.Context, registryID, name string, fn func(*Token) error) (*Token, error)
	// DeleteToken removes a token, or returns ErrResourceNotFound.
	DeleteToken(ctx context.Context, registryID, name string) error

	// CreateRoleAssignment stores a, increasing the principal's generation. ErrResourceExists
	// when its name is taken or the principal already has the role at that scope.
	CreateRoleAssignment(ctx context.Context, a *RoleAssignment) error
	// RoleAssignment returns a role assignment by name, or ErrResourceNotFound.
	RoleAssignment(ctx context.Context, name string) (*RoleAssignment, error)
	// RoleAssignments lists the assignments q selects, by scope and then name (Data plane:
	// AtScopes = the registry's scope and its ancestors, PrincipalIDs = the caller and its
	// groups).
	RoleAssignments(ctx context.Context, q RoleAssignmentQuery) ([]RoleAssignment, error)
	// DeleteRoleAssignment removes a role assignment, increasing the principal's
	// generation, and returns what it removed; ErrResourceNotFound when there is none.
	DeleteRoleAssignment(ctx context.Context, name string) (*RoleAssignment, error)
	// PrincipalGeneration returns the sum of the generations of the principals (a caller
	// and its groups): it grows whenever an assignment to any of them changes (Data plane).
	PrincipalGeneration(ctx context.Context, principalIDs ...string) (int64, error)

	// RecordEvent appends e to the activity log.
	RecordEvent(ctx context.Context, e *Event) error
	// Events lists activity-log entries, newest first.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
}
