package management

import (
	"fmt"
	"strings"
)

// ARM resource types and id segments, in ARM's casing.
const (
	typeRegistries     = "Microsoft.ContainerRegistry/registries"
	typeScopeMaps      = "Microsoft.ContainerRegistry/registries/scopeMaps"
	typeTokens         = "Microsoft.ContainerRegistry/registries/tokens"
	typeRoleAssignment = "Microsoft.Authorization/roleAssignments"
	typeRoleDefinition = "Microsoft.Authorization/roleDefinitions"
	typeResourceGroups = "Microsoft.Resources/resourceGroups"
)

// scope is an ARM scope Cerulean knows: the root ("/"), a subscription, a resource group
// or a registry. Role assignments are made at one; every request targets one.
type scope struct {
	Sub, Group, Registry string
}

// parseScope parses a resource id of one of the four kinds. Fixed segments match
// case-insensitively; a trailing slash is allowed.
func parseScope(s string) (scope, error) {
	segs := splitPath(s)
	var sc scope
	fixed := func(i int, want string) bool { return i < len(segs) && strings.EqualFold(segs[i], want) }
	switch {
	case len(segs) == 0:
	case len(segs) == 2 && fixed(0, "subscriptions"):
		sc.Sub = segs[1]
	case len(segs) == 4 && fixed(0, "subscriptions") && fixed(2, "resourceGroups"):
		sc.Sub, sc.Group = segs[1], segs[3]
	case len(segs) == 8 && fixed(0, "subscriptions") && fixed(2, "resourceGroups") && fixed(4, "providers") &&
		fixed(5, "Microsoft.ContainerRegistry") && fixed(6, "registries"):
		sc.Sub, sc.Group, sc.Registry = segs[1], segs[3], segs[7]
	default:
		return sc, invalidScope(s)
	}
	return sc, nil
}

// String is the scope's resource id in ARM's casing ("/" for the root).
func (s scope) String() string {
	switch {
	case s.Registry != "":
		return registryID(s.Sub, s.Group, s.Registry)
	case s.Group != "":
		return groupID(s.Sub, s.Group)
	case s.Sub != "":
		return subscriptionID(s.Sub)
	}
	return "/"
}

// ancestors lists the scope and every scope above it, the root last: the scopes whose
// role assignments apply to it.
func (s scope) ancestors() []string {
	out := []string{s.String()}
	for s != (scope{}) {
		switch {
		case s.Registry != "":
			s.Registry = ""
		case s.Group != "":
			s.Group = ""
		default:
			s.Sub = ""
		}
		out = append(out, s.String())
	}
	return out
}

// covers reports whether an assignment at scope a applies to the resource id target:
// target is a itself or below it. Ids compare case-insensitively.
func covers(a, target string) bool {
	a, target = scopeKey(a), scopeKey(target)
	return a == "" || a == target || strings.HasPrefix(target, a+"/")
}

// scopeKey is the form in which ids compare: lower case, no trailing slash.
func scopeKey(id string) string { return strings.TrimRight(strings.ToLower(id), "/") }

func subscriptionID(sub string) string { return "/subscriptions/" + sub }

func groupID(sub, group string) string { return subscriptionID(sub) + "/resourceGroups/" + group }

func registryID(sub, group, name string) string {
	return groupID(sub, group) + "/providers/" + typeRegistries + "/" + name
}

// splitPath splits a path into its non-empty segments.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// lastSegment returns what follows the last slash of an id, such as the GUID at the end
// of a role definition id.
func lastSegment(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

// childName checks that id names a child of kind (scopeMaps or tokens) of the registry
// and returns the child's name.
func childName(id, registry, kind string) (string, error) {
	prefix := registry + "/" + kind + "/"
	if len(id) <= len(prefix) || !strings.EqualFold(id[:len(prefix)], prefix) || strings.Contains(id[len(prefix):], "/") {
		return "", badRequest("InvalidParameter", fmt.Sprintf("%q is not the id of a %s resource of registry %s",
			id, kind, lastSegment(registry)))
	}
	return id[len(prefix):], nil
}
