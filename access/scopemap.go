package access

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cerulean-registry/cerulean/oci"
)

// ErrInvalidScopeMapAction reports a scope-map action that ACR would not accept; the
// management plane answers it with 400 and the error's text.
var ErrInvalidScopeMapAction = errors.New("invalid scope map action")

// ScopeMapAction is one entry of a scope map, "repositories/<pattern>/<permission>":
// the permission on the repositories the pattern matches
// (container-registry-token-based-repository-permissions.md).
type ScopeMapAction struct {
	// Repository is a repository name, "*" for every repository, or a prefix wildcard
	// such as "samples/*".
	Repository string
	// Action is the scope action the permission grants: content/read is Pull,
	// content/write Push, content/delete Delete, metadata/read MetadataRead and
	// metadata/write MetadataWrite (acr-protocol.md §1.6).
	Action Action
}

// permissionList names the permissions in error messages.
const permissionList = "content/read, content/write, content/delete, metadata/read or metadata/write"

// scopeMapPermissions maps the five permissions of a scope map to scope actions
// (token-based repository permissions doc, "Concepts" table).
var scopeMapPermissions = []struct {
	permission string
	action     Action
}{
	{"content/read", Pull},
	{"content/write", Push},
	{"content/delete", Delete},
	{"metadata/read", MetadataRead},
	{"metadata/write", MetadataWrite},
}

// String formats a back into its ARM form, "repositories/samples/*/content/read".
func (a ScopeMapAction) String() string {
	for _, p := range scopeMapPermissions {
		if p.action == a.Action {
			return "repositories/" + a.Repository + "/" + p.permission
		}
	}
	return "repositories/" + a.Repository + "/" + string(a.Action)
}

// ParseScopeMapAction parses one scope-map action. Accepted forms, per ACR's token-based
// repository permissions doc:
//   - repositories/<name>/<permission>, <name> a repository name in the OCI grammar;
//   - repositories/*/<permission>, every repository ("root level wildcards");
//   - repositories/<prefix>/*/<permission>, every repository under <prefix>/ at any
//     depth, but not <prefix> itself ("should always end with a /* suffix ... and have
//     a single wildcard character"; a prefix wildcard is what the ABAC doc calls a
//     prefix including the trailing slash);
//
// where <permission> is content/read, content/write, content/delete, metadata/read or
// metadata/write. Connected-registry gateway actions (gateway/...) are refused: Cerulean
// has no connected registries.
func ParseScopeMapAction(s string) (ScopeMapAction, error) {
	if strings.HasPrefix(s, "gateway/") {
		return ScopeMapAction{}, fmt.Errorf("%w: %q: connected-registry gateway actions are not supported", ErrInvalidScopeMapAction, s)
	}
	rest, ok := strings.CutPrefix(s, "repositories/")
	i := strings.LastIndexByte(rest, '/')
	j := strings.LastIndexByte(rest[:max(i, 0)], '/')
	if !ok || j < 0 {
		return ScopeMapAction{}, fmt.Errorf("%w: %q: want repositories/<repository>/<permission>, <permission> being %s", ErrInvalidScopeMapAction, s, permissionList)
	}
	pattern, permission := rest[:j], rest[j+1:]
	action, err := permissionAction(s, permission)
	if err != nil {
		return ScopeMapAction{}, err
	}
	if err := validatePattern(s, pattern); err != nil {
		return ScopeMapAction{}, err
	}
	return ScopeMapAction{Repository: pattern, Action: action}, nil
}

// ParseScopeMapActions parses a scope map's actions, as a PUT of a scope map or the
// token service's principal lookup carries them. The error names the first bad entry.
func ParseScopeMapActions(actions []string) ([]ScopeMapAction, error) {
	out := make([]ScopeMapAction, 0, len(actions))
	for _, s := range actions {
		a, err := ParseScopeMapAction(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// permissionAction maps a permission such as "content/read" to its scope action.
func permissionAction(s, permission string) (Action, error) {
	for _, p := range scopeMapPermissions {
		if p.permission == permission {
			return p.action, nil
		}
	}
	return "", fmt.Errorf("%w: %q: unknown permission %q: want %s", ErrInvalidScopeMapAction, s, permission, permissionList)
}

// validatePattern checks a repository pattern: "*", "<name>/*" or "<name>".
func validatePattern(s, pattern string) error {
	if pattern == "*" {
		return nil
	}
	name := strings.TrimSuffix(pattern, "/*")
	if strings.Contains(name, "*") {
		return fmt.Errorf("%w: %q: repository pattern %q: a wildcard must be the whole pattern (*) or its final /* and appear once", ErrInvalidScopeMapAction, s, pattern)
	}
	if err := oci.ValidateName(name); err != nil {
		return fmt.Errorf("%w: %q: repository %q is not a valid repository name (lower-case alphanumerics separated by '/', '.', '_', '__' or '-')", ErrInvalidScopeMapAction, s, name)
	}
	return nil
}

// Matches reports whether a's pattern covers the repository: "*" covers every one,
// "samples/*" covers samples/x and samples/x/y but not samples, and a name covers only
// itself.
func (a ScopeMapAction) Matches(repository string) bool {
	if a.Repository == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(a.Repository, "*"); ok {
		return strings.HasPrefix(repository, prefix) && len(repository) > len(prefix)
	}
	return a.Repository == repository
}

// ScopeMap is a scope map's name, description and actions in ARM form.
type ScopeMap struct {
	// Name is the scope map's name.
	Name string
	// Description is its description.
	Description string
	// Actions are its actions, such as "repositories/*/content/read".
	Actions []string
}

// SystemScopeMaps returns the five system-defined scope maps every registry has, with
// their names, descriptions and actions as exported from real registries (acr-protocol.md
// §4.3), in a fresh copy the caller may change.
func SystemScopeMaps() []ScopeMap {
	return []ScopeMap{
		{
			Name:        "_repositories_admin",
			Description: "Can perform all read, write and delete operations on the registry",
			Actions: []string{
				"repositories/*/metadata/read", "repositories/*/metadata/write",
				"repositories/*/content/read", "repositories/*/content/write", "repositories/*/content/delete",
			},
		},
		{
			Name:        "_repositories_pull",
			Description: "Can pull any repository of the registry",
			Actions:     []string{"repositories/*/content/read"},
		},
		{
			Name:        "_repositories_pull_metadata_read",
			Description: "Can perform all read operations on the registry",
			Actions:     []string{"repositories/*/content/read", "repositories/*/metadata/read"},
		},
		{
			Name:        "_repositories_push",
			Description: "Can push to any repository of the registry",
			Actions:     []string{"repositories/*/content/read", "repositories/*/content/write"},
		},
		{
			Name:        "_repositories_push_metadata_write",
			Description: "Can perform all read and write operations on the registry",
			Actions: []string{
				"repositories/*/metadata/read", "repositories/*/metadata/write",
				"repositories/*/content/read", "repositories/*/content/write",
			},
		},
	}
}
