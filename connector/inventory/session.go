package inventory

import (
	"context"

	"github.com/cerulean-registry/cerulean/connector"
)

// Targets are the targets of a connection's registries (connector.Session.Registries).
func Targets(refs []connector.RegistryRef) []Target {
	out := make([]Target, len(refs))
	for i, r := range refs {
		out[i] = Target{Name: r.Name, LoginServer: r.LoginServer, ResourceID: r.ResourceID,
			Subscription: r.Subscription, ResourceGroup: r.ResourceGroup}
	}
	return out
}

// SessionOpener opens a session's registry clients, which are Prefetchers.
func SessionOpener(s *connector.Session) Opener {
	return func(ctx context.Context, loginServer string) (Client, error) {
		return s.Registry(ctx, loginServer)
	}
}

// The connector's registry client is what a crawl needs, batch token requests included.
var (
	_ Client     = (*connector.RegistryClient)(nil)
	_ Prefetcher = (*connector.RegistryClient)(nil)
)
