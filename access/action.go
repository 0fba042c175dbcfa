package access

// Action is an action in a token scope, named as ACR names it in the scope parameter of
// /oauth2/token and in the access claim of its tokens (acr-protocol.md §1.6).
type Action string

// Repository actions, and the one catalog action.
const (
	// Pull reads manifests and blobs (docker pull). Scope maps: content/read.
	Pull Action = "pull"
	// Push writes manifests and blobs (docker push). Scope maps: content/write.
	Push Action = "push"
	// Delete deletes repositories, manifests and tags. Scope maps: content/delete.
	Delete Action = "delete"
	// MetadataRead lists tags and manifests and reads attributes (/acr/v1 GETs).
	// Scope maps: metadata/read.
	MetadataRead Action = "metadata_read"
	// MetadataWrite changes attributes and untags (/acr/v1 PATCHes). Scope maps:
	// metadata/write.
	MetadataWrite Action = "metadata_write"
	// All is "*". On a repository it asks for everything the caller may do there (the
	// Azure CLI asks repository:<name>:* for untag and delete): [Decide] expands it to the
	// granted actions and never grants "*" itself. On the catalog it is the only action
	// ("catalog only has * as permission, even for a read operation", Azure CLI).
	All Action = "*"
)

// actionSet is a set of the five repository actions.
type actionSet uint8

// repositoryActions lists the repository actions in their canonical order, the order in
// which granted scopes list them.
var repositoryActions = []Action{Pull, Push, Delete, MetadataRead, MetadataWrite}

// allRepositoryActions is every repository action.
const allRepositoryActions actionSet = 1<<5 - 1

// bit returns a's bit, or 0 for anything that is not a repository action.
func bit(a Action) actionSet {
	for i, r := range repositoryActions {
		if r == a {
			return 1 << i
		}
	}
	return 0
}

// list returns s's actions in canonical order.
func (s actionSet) list() []Action {
	var out []Action
	for i, a := range repositoryActions {
		if s&(1<<i) != 0 {
			out = append(out, a)
		}
	}
	return out
}

// requestedSet returns the repository actions a request asks for, with "*" expanded to
// all of them; unknown actions add nothing.
func requestedSet(actions []Action) actionSet {
	var s actionSet
	for _, a := range actions {
		if a == All {
			return allRepositoryActions
		}
		s |= bit(a)
	}
	return s
}
