package access

import (
	"slices"

	"github.com/cerulean-registry/cerulean/oci"
)

// Decide returns exactly what p may have of the requested scopes: for each resource, the
// intersection of the actions asked for and the actions p holds there, never more than
// asked (Docker token spec; acr-protocol.md §1.3). Resources granted nothing are left
// out, as are names that are not valid repository names (so a wildcard never matches).
// "*" on a repository is expanded to what p holds there; registry:catalog:* is granted
// whole or not at all.
//
// What each kind of principal holds:
//   - Anonymous: pull on every repository while AnonymousPullEnabled; never metadata,
//     push, delete or the catalog ("Only data-plane operations ... read (pull) actions",
//     anonymous-pull-access.md; catalog not allowed, acr-protocol.md §1.8).
//   - AdminUser: everything, catalog included, while AdminUserEnabled.
//   - RepositoryToken: what its scope map's actions matching the repository add up to
//     ("wildcard permissions are additive"); never the catalog ("Repository-scoped
//     permissions do not support the ability to list the catalog").
//   - Entra in a LegacyRegistryPermissions registry: what its roles' control actions
//     carry. Microsoft.ContainerRegistry/registries/pull/read (AcrPull, AcrPush, Reader's
//     "*/read", Contributor's and Owner's "*") gives pull, metadata_read and the catalog;
//     .../push/write (AcrPush, Contributor, Owner) push and metadata_write;
//     .../artifacts/delete (AcrDelete, Contributor, Owner) delete. Data actions give
//     nothing.
//   - Entra in an AbacRepositoryPermissions registry: only data actions, each narrowed
//     by its assignment's condition. .../repositories/content/read gives pull,
//     content/write push, content/delete delete, metadata/read metadata_read,
//     metadata/write metadata_write, and .../catalog/read the catalog.
//   - an unknown RoleAssignmentMode gives Entra principals nothing; any other kind of
//     principal, or the zero Principal, gets nothing.
func Decide(p Principal, reg RegistrySettings, requested []Scope) []Scope {
	var granted []Scope
	for _, s := range merge(requested) {
		if g, ok := grant(p, reg, s); ok {
			granted = append(granted, g)
		}
	}
	return granted
}

// Allowed reports whether p may perform every action of want: the data plane's check
// for a request that arrives with Basic credentials rather than a token. Name concrete
// actions; "*" on a repository is never granted literally.
func Allowed(p Principal, reg RegistrySettings, want Scope) bool {
	return Includes(Decide(p, reg, []Scope{want}), want)
}

// grant decides one merged scope.
func grant(p Principal, reg RegistrySettings, s Scope) (Scope, bool) {
	switch s.Type {
	case TypeRepository:
		if oci.ValidateName(s.Name) != nil {
			return Scope{}, false
		}
		got := repositoryPermissions(p, reg, s.Name) & requestedSet(s.Actions)
		return Scope{Type: TypeRepository, Name: s.Name, Actions: got.list()}, got != 0
	case TypeRegistry:
		if s.Name == CatalogName && slices.Contains(s.Actions, All) && catalogAllowed(p, reg) {
			return CatalogScope(), true
		}
	}
	return Scope{}, false
}

// repositoryPermissions is what p holds on the repository.
func repositoryPermissions(p Principal, reg RegistrySettings, repository string) actionSet {
	switch p.Kind {
	case Anonymous:
		if reg.AnonymousPullEnabled {
			return bit(Pull)
		}
	case AdminUser:
		if reg.AdminUserEnabled {
			return allRepositoryActions
		}
	case RepositoryToken:
		return tokenPermissions(p.ScopeMap, repository)
	case Entra:
		if m, ok := modelFor(reg); ok {
			return m.repositoryPermissions(p.Assignments, repository)
		}
	}
	return 0
}

// catalogAllowed reports whether p may list the catalog.
func catalogAllowed(p Principal, reg RegistrySettings) bool {
	switch p.Kind {
	case AdminUser:
		return reg.AdminUserEnabled
	case Entra:
		m, ok := modelFor(reg)
		return ok && m.allows(p.Assignments, m.catalog, "")
	}
	return false
}

// tokenPermissions adds up the scope map's actions whose pattern covers the
// repository.
func tokenPermissions(scopeMap []ScopeMapAction, repository string) actionSet {
	var s actionSet
	for _, a := range scopeMap {
		if a.Matches(repository) {
			s |= bit(a.Action)
		}
	}
	return s
}

// rbacModel says which RBAC operation carries each scope action for Entra principals.
type rbacModel struct {
	// data is true when DataActions decide (ABAC), false when Actions do (legacy).
	data bool
	// repository maps each repository action to its RBAC operation.
	repository map[Action]string
	// catalog is the RBAC operation that lists the catalog.
	catalog string
}

// legacyModel is LegacyRegistryPermissions. The control actions of AcrPull, AcrPush and
// AcrDelete carry data access; Reader ("*/read"), Contributor and Owner ("*") match them
// too. Per the roles directory reference (RBAC Registry Permissions tab): AcrPull may
// "pull images", "view and list image and artifact metadata such as tags" and "view and
// list repositories" (the catalog), all through pull/read; AcrPush may also "manage image
// and artifact metadata such as tags (creating, reading, listing, retagging, and
// untagging)", through push/write; AcrDelete may "delete images, artifacts, digests, and
// tags", through artifacts/delete, and nothing else (no metadata_read).
var legacyModel = rbacModel{
	repository: map[Action]string{
		Pull:          actionPullRead,
		MetadataRead:  actionPullRead,
		Push:          actionPushWrite,
		MetadataWrite: actionPushWrite,
		Delete:        actionArtifactsDelete,
	},
	catalog: actionPullRead,
}

// abacModel is AbacRepositoryPermissions: only data actions carry data access, so
// AcrPull, AcrPush, AcrDelete, Reader, Contributor and Owner carry none (ABAC doc,
// "Effect on existing role assignments"). Scope actions map to data actions as scope
// maps do (acr-protocol.md §1.6). metadata/delete has no scope action of its own: delete
// needs content/delete, as a scope map's delete does, so metadata/delete alone grants
// nothing. The catalog needs catalog/read (Container Registry Repository Catalog Lister).
var abacModel = rbacModel{
	data: true,
	repository: map[Action]string{
		Pull:          DataActionContentRead,
		Push:          DataActionContentWrite,
		Delete:        DataActionContentDelete,
		MetadataRead:  DataActionMetadataRead,
		MetadataWrite: DataActionMetadataWrite,
	},
	catalog: DataActionCatalogRead,
}

// modelFor returns the registry's model; ok is false for an unknown mode.
func modelFor(reg RegistrySettings) (rbacModel, bool) {
	abac, ok := reg.abac()
	if abac {
		return abacModel, ok
	}
	return legacyModel, ok
}

// repositoryPermissions is what the assignments grant on the repository.
func (m rbacModel) repositoryPermissions(assignments []RoleAssignment, repository string) actionSet {
	var s actionSet
	for _, a := range repositoryActions {
		if m.allows(assignments, m.repository[a], repository) {
			s |= bit(a)
		}
	}
	return s
}

// allows reports whether one assignment's role permits the operation and its condition
// holds for it on the repository ("" when the operation has no repository).
func (m rbacModel) allows(assignments []RoleAssignment, operation, repository string) bool {
	for _, a := range assignments {
		permits := a.Role.permits(operation)
		if m.data {
			permits = a.Role.permitsData(operation)
		}
		if permits && a.Condition.Allows(operation, repository) {
			return true
		}
	}
	return false
}
