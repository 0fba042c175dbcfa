package access

import "strings"

// Kind says how a principal authenticated (acr-protocol.md §1.4).
type Kind string

// The kinds of principal. The zero Kind is no principal at all and is granted nothing.
const (
	// Anonymous is a caller without credentials (acr-protocol.md §1.8).
	Anonymous Kind = "Anonymous"
	// AdminUser is the registry's admin user (username = registry name, password or
	// password2 from listCredentials).
	AdminUser Kind = "AdminUser"
	// RepositoryToken is a repository-scoped token (token name + password1/password2),
	// limited by its scope map.
	RepositoryToken Kind = "RepositoryToken"
	// Entra is a Microsoft Entra identity: a service principal, managed identity or
	// user, identified by tenant and object id, limited by its role assignments.
	Entra Kind = "Entra"
)

// Principal is who is asking, as the token service resolved them. The caller checks
// credentials, token status and password expiry; this package decides what the principal
// may do.
type Principal struct {
	// Kind says how the principal authenticated.
	Kind Kind
	// Name is the admin username or the token name; for Entra principals an optional
	// display name. It is for audit only.
	Name string
	// TenantID and ObjectID identify an Entra principal.
	TenantID, ObjectID string
	// ScopeMap is a RepositoryToken's scope map.
	ScopeMap []ScopeMapAction
	// Assignments are an Entra principal's role assignments whose scope covers this
	// registry (see ARMScopeCovers), group memberships already resolved.
	Assignments []RoleAssignment
}

// RoleAssignment is a role granted to an Entra principal over the registry, optionally
// narrowed by an ABAC condition.
type RoleAssignment struct {
	// Role is the assigned role definition, built-in or custom.
	Role RoleDefinition
	// Condition narrows the assignment; the zero Condition is no condition.
	Condition Condition
}

// String identifies p for audit events: "anonymous", "admin:<name>", "token:<name>" or
// "entra:<tenant>/<object>".
func (p Principal) String() string {
	switch p.Kind {
	case Anonymous:
		return "anonymous"
	case AdminUser:
		return "admin:" + p.Name
	case RepositoryToken:
		return "token:" + p.Name
	case Entra:
		return "entra:" + p.TenantID + "/" + p.ObjectID
	}
	return "unknown"
}

// RoleAssignmentMode is a registry's roleAssignmentMode property (acr-protocol.md §4.1,
// §5): which roles carry data access.
type RoleAssignmentMode string

// The role assignment modes. The zero mode is LegacyRegistryPermissions, ARM's default.
const (
	// LegacyRegistryPermissions ("RBAC Registry Permissions"): AcrPull, AcrPush,
	// AcrDelete, Reader, Contributor and Owner carry data access through their control
	// plane actions; data actions carry none. A condition is still evaluated against the
	// control action, so ACR's repository conditions (which test data actions) leave it
	// whole, and an unparsable one denies.
	LegacyRegistryPermissions RoleAssignmentMode = "LegacyRegistryPermissions"
	// AbacRepositoryPermissions ("RBAC Registry + ABAC Repository Permissions"): only
	// data actions carry data access, optionally narrowed by ABAC conditions.
	AbacRepositoryPermissions RoleAssignmentMode = "AbacRepositoryPermissions"
)

// Valid reports whether m is one of the two modes ARM accepts (or empty, the default),
// so the management plane can refuse anything else with 400.
func (m RoleAssignmentMode) Valid() bool {
	return m == "" || m == LegacyRegistryPermissions || m == AbacRepositoryPermissions
}

// RegistrySettings are the registry properties a decision depends on.
type RegistrySettings struct {
	// AdminUserEnabled is adminUserEnabled: the admin user is refused everything while it
	// is false (ARM's default), even if the caller resolved it, so a stale credential
	// cache cannot outlive the switch.
	AdminUserEnabled bool
	// AnonymousPullEnabled is anonymousPullEnabled: callers without credentials may pull
	// every repository.
	AnonymousPullEnabled bool
	// RoleAssignmentMode is roleAssignmentMode; empty means LegacyRegistryPermissions.
	// An unknown mode grants Entra principals nothing.
	RoleAssignmentMode RoleAssignmentMode
}

// abac reports whether the registry is in ABAC mode; ok is false for an unknown mode.
func (r RegistrySettings) abac() (abac, ok bool) {
	switch r.RoleAssignmentMode {
	case "", LegacyRegistryPermissions:
		return false, true
	case AbacRepositoryPermissions:
		return true, true
	}
	return false, false
}

// ARMScopeCovers reports whether a role assignment at armScope applies to the registry
// whose resource id is registryID: a subscription covers its resource groups, a resource
// group its registries, and a registry itself (Azure RBAC scope inheritance; the ABAC doc
// notes assignments may be made "at the resource group or subscription scope to perform
// this role assignment across all registries"). Ids compare case-insensitively, as ARM
// ids do. Anything else covers nothing: management groups (whose hierarchy Cerulean does
// not model), scopes below the registry, and malformed ids.
//
// registryID has the form
// /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}.
func ARMScopeCovers(armScope, registryID string) bool {
	reg, ok := armSegments(registryID)
	if !ok || len(reg) != 8 || !strings.EqualFold(reg[0], "subscriptions") ||
		!strings.EqualFold(reg[2], "resourceGroups") || !strings.EqualFold(reg[4], "providers") ||
		!strings.EqualFold(reg[5], "Microsoft.ContainerRegistry") || !strings.EqualFold(reg[6], "registries") {
		return false
	}
	scope, ok := armSegments(armScope)
	if !ok || (len(scope) != 2 && len(scope) != 4 && len(scope) != 8) {
		return false
	}
	for i, s := range scope {
		if !strings.EqualFold(s, reg[i]) {
			return false
		}
	}
	return true
}

// armSegments splits an ARM id into its segments; ok is false unless it starts with "/"
// and has no empty segment.
func armSegments(id string) ([]string, bool) {
	rest, ok := strings.CutPrefix(id, "/")
	segs := strings.Split(rest, "/")
	for _, s := range segs {
		if s == "" {
			return nil, false
		}
	}
	return segs, ok
}
