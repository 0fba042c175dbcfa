package management

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Bootstrap names what a fresh server starts with: a subscription of the bootstrap
// tenant, a resource group, a registry at the server's own address, and the bootstrap
// principal as Owner of the subscription.
type Bootstrap struct {
	TenantID       string
	SubscriptionID string
	ResourceGroup  string
	Registry       string
	// LoginServer is the registry's login server: the server's own address, so that a
	// newcomer needs no DNS.
	LoginServer string
	// OwnerObjectID is the object id of the bootstrap service principal.
	OwnerObjectID string
	Location      string // "" means "local"
}

// Bootstrap creates what b names, keeping what exists, so that running it again changes
// nothing, except that the registry follows the server to a new login server (another
// port or --host): data-plane requests find their registry by it.
func (s *Service) Bootstrap(ctx context.Context, b Bootstrap) error {
	if b.Location == "" {
		b.Location = "local"
	}
	now := s.now().UTC()
	ch := meta.Change{At: now, By: b.OwnerObjectID, ByType: "Application"}
	err := s.store.CreateSubscription(ctx, &meta.Subscription{ID: b.SubscriptionID, TenantID: b.TenantID,
		DisplayName: "Cerulean", CreatedAt: now})
	if err != nil && !isExists(err) {
		return fmt.Errorf("bootstrap subscription: %w", err)
	}
	if _, err := s.store.ResourceGroup(ctx, b.SubscriptionID, b.ResourceGroup); isNotFound(err) {
		g := &meta.ResourceGroup{Subscription: b.SubscriptionID, Name: b.ResourceGroup, Location: b.Location, CreatedAt: now}
		if _, err := s.store.PutResourceGroup(ctx, g); err != nil {
			return fmt.Errorf("bootstrap resource group: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("bootstrap resource group: %w", err)
	}
	g, err := s.store.ResourceGroup(ctx, b.SubscriptionID, b.ResourceGroup)
	if err != nil {
		return fmt.Errorf("bootstrap resource group: %w", err)
	}
	switch r, err := s.store.Registry(ctx, b.SubscriptionID, b.ResourceGroup, b.Registry); {
	case isNotFound(err):
		// Premium, so that every feature (network rules, anonymous pull) is at hand.
		r := s.newRegistry(ch, g, b.Registry, b.Location, b.LoginServer)
		r.SKU = "Premium"
		if err := s.store.CreateRegistry(ctx, r, systemScopeMaps(ch)); err != nil {
			return fmt.Errorf("bootstrap registry: %w", err)
		}
	case err != nil:
		return fmt.Errorf("bootstrap registry: %w", err)
	case !strings.EqualFold(r.LoginServer, b.LoginServer):
		if _, err := s.store.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error {
			r.LoginServer, r.Updated = strings.ToLower(b.LoginServer), ch
			return nil
		}); err != nil {
			return fmt.Errorf("bootstrap registry: %w", err)
		}
	}
	owners, err := s.store.RoleAssignments(ctx, meta.RoleAssignmentQuery{
		AtScopes: []string{subscriptionID(b.SubscriptionID)}, PrincipalIDs: []string{b.OwnerObjectID}})
	if err != nil {
		return fmt.Errorf("bootstrap owner: %w", err)
	}
	for _, a := range owners {
		if a.RoleDefinitionID == access.RoleOwner {
			return nil
		}
	}
	err = s.store.CreateRoleAssignment(ctx, &meta.RoleAssignment{Name: guid.New(), Scope: subscriptionID(b.SubscriptionID),
		RoleDefinitionID: access.RoleOwner, PrincipalID: b.OwnerObjectID, PrincipalType: "ServicePrincipal",
		Description: "Owner of the subscription, made at bootstrap", Created: ch, Updated: ch})
	if err != nil && !errors.Is(err, meta.ErrResourceExists) {
		return fmt.Errorf("bootstrap owner: %w", err)
	}
	return nil
}
