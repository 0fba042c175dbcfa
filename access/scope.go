package access

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cerulean-registry/cerulean/oci"
)

// Resource types and names of the scope grammar (acr-protocol.md §1.6).
const (
	// TypeRepository is the resource type of repository:<name>:<actions>.
	TypeRepository = "repository"
	// TypeRegistry is the resource type of registry:catalog:*.
	TypeRegistry = "registry"
	// CatalogName is the only registry-level resource: the repository catalog.
	CatalogName = "catalog"
)

// ErrInvalidScope reports a scope parameter that does not follow the grammar; the token
// service answers it with 400.
var ErrInvalidScope = errors.New("invalid scope")

// Scope is one resource and actions on it: what a client asks the token service for, and
// what a token grants. Its JSON form is exactly an entry of the Docker JWT "access" claim
// ({"type":"repository","name":"samples/hello","actions":["pull"]}), which is what ACR
// puts in its access tokens (acr-protocol.md §1.5).
type Scope struct {
	// Type is TypeRepository or TypeRegistry.
	Type string `json:"type"`
	// Name is a repository name, or CatalogName for TypeRegistry.
	Name string `json:"name"`
	// Actions are the actions asked for or granted.
	Actions []Action `json:"actions"`
}

// String formats s back into the grammar, as used in a WWW-Authenticate challenge's
// scope and in the scope parameter: "repository:samples/hello:pull,push".
func (s Scope) String() string {
	acts := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		acts[i] = string(a)
	}
	return s.Type + ":" + s.Name + ":" + strings.Join(acts, ",")
}

// ParseScopes parses the scope parameters of a token request. Each value holds one or
// more scopes separated by spaces: docker and containerd POST one space-joined value,
// GET clients repeat scope= (acr-protocol.md §1.3). No values, or only blank ones, ask
// for nothing (docker login asks no scope).
//
// The grammar is <type>:<name>:<action>[,<action>...]:
//   - repository:<name>:<actions>, where <name> follows the OCI name grammar and may not
//     hold a wildcard: "*" and "?" are refused with ErrInvalidScope rather than matched
//     (wildcards exist only in scope maps, §1.6);
//   - registry:catalog:*.
//
// Unknown actions are dropped, and a scope left with none is dropped. Unknown resource
// types (the legacy Helm artifact-repository, §1.6) and registry resources other than the
// catalog are dropped too rather than failing the request: the token service grants the
// intersection of what is asked and what is allowed (Docker token spec), and a resource
// Cerulean does not serve is simply not granted, so a client that asks for several scopes
// at once still gets the ones it can have. Only text that is not a scope at all (fewer
// than three parts, an empty part or action, a bad repository name) is an error.
//
// Scopes naming the same resource are merged; actions come out in canonical order.
func ParseScopes(values []string) ([]Scope, error) {
	var scopes []Scope
	for _, v := range values {
		for _, field := range strings.Fields(v) {
			s, ok, err := parseScope(field)
			if err != nil {
				return nil, err
			}
			if ok {
				scopes = append(scopes, s)
			}
		}
	}
	return merge(scopes), nil
}

// parseScope parses one scope; ok is false for a well-formed scope that is ignored.
func parseScope(text string) (s Scope, ok bool, err error) {
	typ, rest, _ := strings.Cut(text, ":")
	i := strings.LastIndexByte(rest, ':')
	if typ == "" || i <= 0 || i == len(rest)-1 {
		return Scope{}, false, fmt.Errorf("%w: %q: want <type>:<name>:<action>[,<action>...]", ErrInvalidScope, text)
	}
	name, list := rest[:i], strings.Split(rest[i+1:], ",")
	for _, a := range list {
		if a == "" {
			return Scope{}, false, fmt.Errorf("%w: %q: empty action", ErrInvalidScope, text)
		}
	}
	switch typ {
	case TypeRepository:
		return parseRepositoryScope(text, name, list)
	case TypeRegistry:
		s, ok := parseRegistryScope(name, list)
		return s, ok, nil
	}
	return Scope{}, false, nil
}

// parseRepositoryScope checks a repository name and keeps the known actions.
func parseRepositoryScope(text, name string, list []string) (Scope, bool, error) {
	if strings.ContainsAny(name, "*?") {
		return Scope{}, false, fmt.Errorf("%w: %q: wildcards are not allowed in a requested repository name", ErrInvalidScope, text)
	}
	if err := oci.ValidateName(name); err != nil {
		return Scope{}, false, fmt.Errorf("%w: %q: %v", ErrInvalidScope, text, err)
	}
	var actions []Action
	for _, a := range list {
		if a := Action(a); a == All || bit(a) != 0 {
			actions = append(actions, a)
		}
	}
	return Scope{Type: TypeRepository, Name: name, Actions: actions}, len(actions) > 0, nil
}

// parseRegistryScope keeps registry:catalog:* and drops everything else at registry
// level.
func parseRegistryScope(name string, list []string) (Scope, bool) {
	if name != CatalogName {
		return Scope{}, false
	}
	for _, a := range list {
		if Action(a) == All {
			return CatalogScope(), true
		}
	}
	return Scope{}, false
}

// CatalogScope is registry:catalog:*, what /v2/_catalog and /acr/v1/_catalog need.
func CatalogScope() Scope {
	return Scope{Type: TypeRegistry, Name: CatalogName, Actions: []Action{All}}
}

// RepositoryScope is repository:<name>:<actions>, such as the action a /v2 route needs.
func RepositoryScope(name string, actions ...Action) Scope {
	return Scope{Type: TypeRepository, Name: name, Actions: actions}
}

// merge joins scopes on the same resource, keeping first-seen resource order and putting
// each resource's actions in canonical order.
func merge(scopes []Scope) []Scope {
	var out []Scope
	index := map[[2]string]int{}
	for _, s := range scopes {
		key := [2]string{s.Type, s.Name}
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, Scope{Type: s.Type, Name: s.Name})
		}
		out[i].Actions = append(out[i].Actions, s.Actions...)
	}
	for i := range out {
		out[i].Actions = canonical(out[i].Actions)
	}
	return out
}

// canonical deduplicates actions into the order pull, push, delete, metadata_read,
// metadata_write, *.
func canonical(actions []Action) []Action {
	var set actionSet
	all := false
	for _, a := range actions {
		set |= bit(a)
		all = all || a == All
	}
	out := set.list()
	if all {
		out = append(out, All)
	}
	return out
}

// Includes reports whether the granted scopes (an access token's access claim) allow
// every action of want: the data plane's check of a bearer token against the action a
// route needs. A want without actions is never included, and neither is "*" on a
// repository, which is never granted literally: ask for the concrete action.
func Includes(granted []Scope, want Scope) bool {
	if len(want.Actions) == 0 {
		return false
	}
	for _, a := range want.Actions {
		if !grants(granted, want.Type, want.Name, a) {
			return false
		}
	}
	return true
}

// grants reports whether one of the granted scopes holds action a on the resource.
func grants(granted []Scope, typ, name string, a Action) bool {
	if typ == TypeRepository && a == All {
		return false
	}
	for _, g := range granted {
		if g.Type != typ || g.Name != name {
			continue
		}
		for _, ga := range g.Actions {
			if ga == a {
				return true
			}
		}
	}
	return false
}
