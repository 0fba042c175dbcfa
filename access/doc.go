// Package access owns Azure Container Registry's access model and is the only place in
// Cerulean that says yes or no: principals, the scope actions of ACR tokens, the scope
// grammar of the token service, scope maps and their system-defined maps, Azure built-in
// role definitions, ABAC conditions on repository names, and one pure decision function.
//
// Nothing here does I/O or reads the clock: callers resolve who is asking (package auth),
// which role assignments and scope maps apply (package management, storage), and pass
// them in. [Decide] returns exactly the granted subset of what was asked, never more.
//
// The rules follow ACR's documentation; each comment names its source:
//   - acr-protocol.md (shared/design) §1.4–1.6, §1.8, §4.3, §4.4, §5;
//   - "Non-Microsoft Entra token-based repository permissions" (MicrosoftDocs
//     azure-management-docs, container-registry-token-based-repository-permissions.md);
//   - "Azure Container Registry roles directory reference"
//     (container-registry-rbac-built-in-roles-directory-reference.md);
//   - "Microsoft Entra attribute-based access control (ABAC) for repository permissions"
//     (container-registry-rbac-abac-repository-permissions.md) and the Azure/acr
//     preview doc docs/preview/abac-repo-permissions/README.md;
//   - "Azure built-in roles" (MicrosoftDocs azure-docs,
//     articles/role-based-access-control/built-in-roles/{containers,general,privileged}.md);
//   - "Azure role assignment condition format and syntax" (conditions-format.md);
//   - "Unauthenticated anonymous pull access" (anonymous-pull-access.md).
package access
