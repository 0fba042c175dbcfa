package access

import "strings"

// RoleDefinition is an Azure role definition: what the management plane serves as a
// Microsoft.Authorization/roleDefinitions resource, and what a role assignment grants.
// Actions are control-plane (ARM) operations, DataActions data-plane operations; each
// may use the "*" wildcard, and Not* entries are subtracted (built-in-roles/*.md).
type RoleDefinition struct {
	// ID is the role definition's GUID (the last segment of its resource id).
	ID string
	// Name is the roleName, such as "AcrPull".
	Name string
	// Description is the role's description, as Azure publishes it.
	Description string
	// Actions, NotActions, DataActions and NotDataActions are the role's permissions.
	Actions, NotActions, DataActions, NotDataActions []string
}

// Built-in role definition ids, from Azure's built-in roles reference
// (built-in-roles/containers.md, general.md and privileged.md; acr-protocol.md §5). The
// Repository Writer and Catalog Lister ids, UNCONFIRMED in acr-protocol.md §5.2, are the
// ones containers.md publishes.
const (
	RoleAcrPull                 = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	RoleAcrPush                 = "8311e382-0749-4cb8-b61a-304f252e45ec"
	RoleAcrDelete               = "c2f4ef07-c644-48eb-af81-4b1b4947fb11"
	RoleAcrImageSigner          = "6cef56e8-d556-48e5-a04f-b8e64114680f"
	RoleAcrQuarantineReader     = "cdda3590-29a3-44f6-95f2-9f980659eb04"
	RoleAcrQuarantineWriter     = "c8d4ff99-41c3-41a8-9f60-21dfdad59608"
	RoleReader                  = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	RoleContributor             = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	RoleOwner                   = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	RoleUserAccessAdministrator = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RoleRepositoryReader        = "b93aa761-3e63-49ed-ac28-beffa264f7ac"
	RoleRepositoryWriter        = "2a1e307c-b015-4ebd-883e-5b7698a07328"
	RoleRepositoryContributor   = "2efddaa5-3f1f-4df3-97df-af3f13818f4c"
	RoleRepositoryCatalogLister = "bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7"
)

// Data actions of ABAC-mode registries (built-in-roles/containers.md). They are also
// what an ABAC condition's ActionMatches tests.
const (
	DataActionContentRead    = "Microsoft.ContainerRegistry/registries/repositories/content/read"
	DataActionContentWrite   = "Microsoft.ContainerRegistry/registries/repositories/content/write"
	DataActionContentDelete  = "Microsoft.ContainerRegistry/registries/repositories/content/delete"
	DataActionMetadataRead   = "Microsoft.ContainerRegistry/registries/repositories/metadata/read"
	DataActionMetadataWrite  = "Microsoft.ContainerRegistry/registries/repositories/metadata/write"
	DataActionMetadataDelete = "Microsoft.ContainerRegistry/registries/repositories/metadata/delete"
	DataActionCatalogRead    = "Microsoft.ContainerRegistry/registries/catalog/read"
)

// Control-plane actions that carry data access in legacy-mode registries
// (built-in-roles/containers.md: AcrPull, AcrPush, AcrDelete).
const (
	actionPullRead        = "Microsoft.ContainerRegistry/registries/pull/read"
	actionPushWrite       = "Microsoft.ContainerRegistry/registries/push/write"
	actionArtifactsDelete = "Microsoft.ContainerRegistry/registries/artifacts/delete"
)

// builtInRoles are the role definitions relevant to a registry, exactly as Azure's
// built-in roles reference publishes them (containers.md for the Acr* and Container
// Registry Repository roles; general.md for Reader; privileged.md for Contributor, Owner
// and User Access Administrator).
var builtInRoles = []RoleDefinition{
	{
		ID: RoleAcrPull, Name: "AcrPull", Description: "acr pull",
		Actions: []string{actionPullRead},
	},
	{
		ID: RoleAcrPush, Name: "AcrPush", Description: "acr push",
		Actions: []string{actionPullRead, actionPushWrite},
	},
	{
		ID: RoleAcrDelete, Name: "AcrDelete", Description: "acr delete",
		Actions: []string{actionArtifactsDelete},
	},
	{
		ID: RoleAcrImageSigner, Name: "AcrImageSigner", Description: "acr image signer",
		Actions:     []string{"Microsoft.ContainerRegistry/registries/sign/write"},
		DataActions: []string{"Microsoft.ContainerRegistry/registries/trustedCollections/write"},
	},
	{
		ID: RoleAcrQuarantineReader, Name: "AcrQuarantineReader", Description: "acr quarantine data reader",
		Actions:     []string{"Microsoft.ContainerRegistry/registries/quarantine/read"},
		DataActions: []string{"Microsoft.ContainerRegistry/registries/quarantinedArtifacts/read"},
	},
	{
		ID: RoleAcrQuarantineWriter, Name: "AcrQuarantineWriter", Description: "acr quarantine data writer",
		Actions: []string{
			"Microsoft.ContainerRegistry/registries/quarantine/read",
			"Microsoft.ContainerRegistry/registries/quarantine/write",
		},
		DataActions: []string{
			"Microsoft.ContainerRegistry/registries/quarantinedArtifacts/read",
			"Microsoft.ContainerRegistry/registries/quarantinedArtifacts/write",
		},
	},
	{
		ID: RoleReader, Name: "Reader",
		Description: "View all resources, but does not allow you to make any changes.",
		Actions:     []string{"*/read"},
	},
	{
		ID: RoleContributor, Name: "Contributor",
		Description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
		Actions:     []string{"*"},
		NotActions: []string{
			"Microsoft.Authorization/*/Delete",
			"Microsoft.Authorization/*/Write",
			"Microsoft.Authorization/elevateAccess/Action",
			"Microsoft.Blueprint/blueprintAssignments/write",
			"Microsoft.Blueprint/blueprintAssignments/delete",
			"Microsoft.Compute/galleries/share/action",
			"Microsoft.Purview/consents/write",
			"Microsoft.Purview/consents/delete",
			"Microsoft.Resources/deploymentStacks/manageDenySetting/action",
			"Microsoft.Subscription/cancel/action",
			"Microsoft.Subscription/enable/action",
		},
	},
	{
		ID: RoleOwner, Name: "Owner",
		Description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
		Actions:     []string{"*"},
	},
	{
		ID: RoleUserAccessAdministrator, Name: "User Access Administrator",
		Description: "Lets you manage user access to Azure resources.",
		Actions:     []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"},
	},
	{
		ID: RoleRepositoryReader, Name: "Container Registry Repository Reader",
		Description: "Allows for read access to Azure Container Registry repositories, but excluding catalog listing. This role is in preview and subject to change.",
		DataActions: []string{DataActionMetadataRead, DataActionContentRead},
	},
	{
		ID: RoleRepositoryWriter, Name: "Container Registry Repository Writer",
		Description: "Allows for read and write access to Azure Container Registry repositories, but excluding catalog listing. This role is in preview and subject to change.",
		DataActions: []string{DataActionMetadataRead, DataActionContentRead, DataActionMetadataWrite, DataActionContentWrite},
	},
	{
		ID: RoleRepositoryContributor, Name: "Container Registry Repository Contributor",
		Description: "Allows for read, write, and delete access to Azure Container Registry repositories, but excluding catalog listing. This role is in preview and subject to change.",
		DataActions: []string{
			DataActionMetadataRead, DataActionContentRead, DataActionMetadataWrite,
			DataActionContentWrite, DataActionMetadataDelete, DataActionContentDelete,
		},
	},
	{
		ID: RoleRepositoryCatalogLister, Name: "Container Registry Repository Catalog Lister",
		Description: "Allows for listing all repositories in an Azure Container Registry. This role is in preview and subject to change.",
		DataActions: []string{DataActionCatalogRead},
	},
}

// BuiltInRoles returns the built-in role definitions relevant to a registry, in a fresh
// copy the caller may change.
func BuiltInRoles() []RoleDefinition {
	out := make([]RoleDefinition, len(builtInRoles))
	for i, r := range builtInRoles {
		out[i] = r.clone()
	}
	return out
}

// BuiltInRole finds a built-in role by id or by name, both case-insensitively, as
// `az role assignment create --role` accepts either.
func BuiltInRole(idOrName string) (RoleDefinition, bool) {
	for _, r := range builtInRoles {
		if strings.EqualFold(r.ID, idOrName) || strings.EqualFold(r.Name, idOrName) {
			return r.clone(), true
		}
	}
	return RoleDefinition{}, false
}

// clone copies r's slices.
func (r RoleDefinition) clone() RoleDefinition {
	c := r
	c.Actions = append([]string(nil), r.Actions...)
	c.NotActions = append([]string(nil), r.NotActions...)
	c.DataActions = append([]string(nil), r.DataActions...)
	c.NotDataActions = append([]string(nil), r.NotDataActions...)
	return c
}

// ControlAllowed reports whether any of roles permits the control-plane operation, such
// as "Microsoft.ContainerRegistry/registries/write" or
// "Microsoft.Authorization/roleAssignments/write": a role permits an operation that one
// of its Actions matches and none of its NotActions does, and the roles' permissions add
// up (Azure RBAC "Understand role definitions": NotActions subtract from the same role's
// Actions, they are not deny assignments). Only Owner and User Access Administrator among
// the built-ins may write role assignments; Contributor's NotActions remove it.
func ControlAllowed(roles []RoleDefinition, operation string) bool {
	for _, r := range roles {
		if r.permits(operation) {
			return true
		}
	}
	return false
}

// permits reports whether r's Actions less its NotActions cover the operation.
func (r RoleDefinition) permits(operation string) bool {
	return matchesAny(r.Actions, operation) && !matchesAny(r.NotActions, operation)
}

// permitsData reports whether r's DataActions less its NotDataActions cover the data
// action.
func (r RoleDefinition) permitsData(action string) bool {
	return matchesAny(r.DataActions, action) && !matchesAny(r.NotDataActions, action)
}

// matchesAny reports whether one of the patterns matches the operation.
func matchesAny(patterns []string, operation string) bool {
	for _, p := range patterns {
		if actionMatches(p, operation) {
			return true
		}
	}
	return false
}

// actionMatches matches an RBAC action pattern against an operation the way Azure does:
// case-insensitively, "*" standing for any run of characters, "/" included, so "*/read"
// covers every read operation and "Microsoft.Authorization/*" everything of that
// provider. ActionMatches in conditions uses the same logic (conditions-format.md).
func actionMatches(pattern, operation string) bool {
	return glob(strings.ToLower(pattern), strings.ToLower(operation), false)
}
