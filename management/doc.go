// Package management owns Cerulean's management plane: an ARM-compatible façade of
// Microsoft.ContainerRegistry (registries, admin credentials, scope maps, tokens),
// Microsoft.Authorization (role assignments and the built-in role definitions),
// Microsoft.Resources (subscriptions, resource groups, the resource list the Azure CLI
// searches) and Microsoft.Insights (the activity log), plus /metadata/endpoints for
// `az cloud register`. Unmodified Azure clients (armcontainerregistry, armauthorization,
// the Azure CLI) and Cerulean's own CLI drive it.
//
// The wire shapes are those of api-version 2025-11-01 of Microsoft.ContainerRegistry and
// 2022-04-01 of Microsoft.Authorization (acr-protocol.md §4, §5, §8); any api-version is
// accepted. Every call needs a bearer token for the ARM audience from the identity plane;
// every operation is authorized with access.ControlAllowed over the caller's role
// assignments whose scope covers the target, and every write, allowed or not, goes to the
// activity log.
//
// One route table (routes.go) maps paths to operations; fixed path segments match
// case-insensitively, as ARM's do. Handlers return errors, and one table (errors.go) turns
// them into ARM's error JSON. Operations complete synchronously: a PUT answers 200 or 201
// with provisioningState Succeeded, which the SDK pollers take as done.
package management
