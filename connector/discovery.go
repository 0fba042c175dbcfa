package connector

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
)

// RegistryRef names a registry a connection covers. ARM discovery fills every field;
// a registry given by login server has only Name (its first DNS label) and LoginServer.
type RegistryRef struct {
	Name          string `json:"name"`
	LoginServer   string `json:"loginServer"`
	ResourceID    string `json:"resourceId,omitempty"`
	Subscription  string `json:"subscription,omitempty"`
	ResourceGroup string `json:"resourceGroup,omitempty"`
}

// Registries returns the registries the connection covers: those ARM lists in its
// subscriptions (every subscription the credential can see when it names none and no
// registries), then its given login servers not already found. Only Entra kinds
// discover through ARM.
func (s *Session) Registries(ctx context.Context) ([]RegistryRef, error) {
	var out []RegistryRef
	seen := map[string]bool{}
	kind := s.conn.Credential.Kind
	if kind.Entra() && (len(s.conn.Subscriptions) > 0 || len(s.conn.Registries) == 0) {
		subs := s.conn.Subscriptions
		if len(subs) == 0 {
			var err error
			if subs, err = s.Subscriptions(ctx); err != nil {
				return nil, err
			}
		}
		for _, sub := range subs {
			refs, err := s.RegistriesIn(ctx, sub)
			if err != nil {
				return nil, err
			}
			for _, r := range refs {
				if !seen[r.LoginServer] {
					seen[r.LoginServer] = true
					out = append(out, r)
				}
			}
		}
	}
	for _, host := range s.conn.Registries {
		if !seen[host] {
			seen[host] = true
			out = append(out, RegistryRef{Name: registryName(host), LoginServer: host})
		}
	}
	return out, nil
}

// Subscriptions lists the ids of the subscriptions the credential can see (ARM
// GET /subscriptions).
func (s *Session) Subscriptions(ctx context.Context) ([]string, error) {
	if s.cred == nil {
		return nil, fmt.Errorf("connector: %s credentials cannot use ARM", s.conn.Credential.Kind)
	}
	client, err := armsubscriptions.NewClient(s.cred, s.ARMOptions())
	if err != nil {
		return nil, err
	}
	var ids []string
	for pager := client.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("connector: list subscriptions: %w", err)
		}
		for _, sub := range page.Value {
			if sub != nil && sub.SubscriptionID != nil {
				ids = append(ids, *sub.SubscriptionID)
			}
		}
	}
	return ids, nil
}

// RegistriesIn lists the registries of one subscription through ARM and lets the session
// use their login servers.
func (s *Session) RegistriesIn(ctx context.Context, subscription string) ([]RegistryRef, error) {
	if s.cred == nil {
		return nil, fmt.Errorf("connector: %s credentials cannot use ARM", s.conn.Credential.Kind)
	}
	client, err := armcontainerregistry.NewRegistriesClient(subscription, s.cred, s.ARMOptions())
	if err != nil {
		return nil, err
	}
	var out []RegistryRef
	for pager := client.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("connector: list registries of subscription %s: %w", subscription, err)
		}
		for _, r := range page.Value {
			if r == nil || r.Properties == nil || r.Properties.LoginServer == nil {
				continue
			}
			ref := RegistryRef{LoginServer: strings.ToLower(*r.Properties.LoginServer), Subscription: subscription}
			if r.Name != nil {
				ref.Name = *r.Name
			}
			if r.ID != nil {
				ref.ResourceID = *r.ID
				ref.ResourceGroup = resourceGroupOf(*r.ID)
			}
			out = append(out, ref)
		}
	}
	s.mu.Lock()
	for _, r := range out {
		s.discovered[r.LoginServer] = true
	}
	s.mu.Unlock()
	return out, nil
}

// ARMRegistries returns armcontainerregistry's client factory for a subscription.
func (s *Session) ARMRegistries(subscription string) (*armcontainerregistry.ClientFactory, error) {
	if s.cred == nil {
		return nil, fmt.Errorf("connector: %s credentials cannot use ARM", s.conn.Credential.Kind)
	}
	return armcontainerregistry.NewClientFactory(subscription, s.cred, s.ARMOptions())
}

// resourceGroupOf reads the resource group of an ARM id
// (/subscriptions/S/resourceGroups/G/...), case-insensitively as ARM does.
func resourceGroupOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// registryName is the first DNS label of a login server.
func registryName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil && net.ParseIP(h) != nil || net.ParseIP(host) != nil {
		return host
	}
	name, _, _ := strings.Cut(host, ".")
	name, _, _ = strings.Cut(name, ":")
	return name
}
