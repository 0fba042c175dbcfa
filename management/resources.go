package management

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Microsoft.Resources: subscriptions, resource groups and the resource list, and the
// cloud metadata document. The Azure CLI lists subscriptions at sign-in, and finds a
// registry by listing the subscription's resources of type
// Microsoft.ContainerRegistry/registries (acr-protocol.md §4.5, §8).

// tenantJSON is a TenantIdDescription of Microsoft.Resources. Cerulean's directory has no
// domains or country.
type tenantJSON struct {
	ID             string   `json:"id"`
	TenantID       string   `json:"tenantId"`
	TenantCategory string   `json:"tenantCategory"`
	DisplayName    string   `json:"displayName"`
	Domains        []string `json:"domains"`
	TenantType     string   `json:"tenantType"`
}

func toTenantJSON(t *meta.Tenant) tenantJSON {
	return tenantJSON{ID: "/tenants/" + t.ID, TenantID: t.ID, TenantCategory: "Home", DisplayName: t.DisplayName,
		Domains: []string{}, TenantType: "AAD"}
}

// listTenants lists the tenants the caller can sign in to: its home tenant, as Azure
// lists it for an account without guest memberships. `az login` without --tenant walks
// this list for subscriptions.
func (s *Service) listTenants(ctx context.Context, c *call) (*reply, error) {
	t, err := s.store.Tenant(ctx, c.caller.TenantID)
	if err != nil {
		return nil, err
	}
	return ok(list([]tenantJSON{toTenantJSON(t)}))
}

type subscriptionJSON struct {
	ID                   string            `json:"id"`
	AuthorizationSource  string            `json:"authorizationSource"`
	ManagedByTenants     []struct{}        `json:"managedByTenants"`
	SubscriptionID       string            `json:"subscriptionId"`
	TenantID             string            `json:"tenantId"`
	DisplayName          string            `json:"displayName"`
	State                string            `json:"state"`
	SubscriptionPolicies map[string]string `json:"subscriptionPolicies"`
}

func toSubscriptionJSON(s *meta.Subscription) subscriptionJSON {
	return subscriptionJSON{ID: subscriptionID(s.ID), AuthorizationSource: "RoleBased", ManagedByTenants: []struct{}{},
		SubscriptionID: s.ID, TenantID: s.TenantID, DisplayName: s.DisplayName, State: "Enabled",
		SubscriptionPolicies: map[string]string{"locationPlacementId": "Public_2014-09-01", "quotaId": "Cerulean", "spendingLimit": "Off"}}
}

// listSubscriptions lists the subscriptions of the caller's tenant in which the caller
// has a role assignment, at, above or below the subscription (as Azure lists them).
func (s *Service) listSubscriptions(ctx context.Context, c *call) (*reply, error) {
	subs, err := s.store.Subscriptions(ctx, c.caller.TenantID)
	if err != nil {
		return nil, err
	}
	out := []subscriptionJSON{}
	for i := range subs {
		if visible(c.grants, subscriptionID(subs[i].ID)) {
			out = append(out, toSubscriptionJSON(&subs[i]))
		}
	}
	return ok(list(out))
}

func (s *Service) getSubscription(ctx context.Context, c *call) (*reply, error) {
	if !visible(c.grants, subscriptionID(c.p.sub)) {
		return nil, authorizationFailed(c.caller, "Microsoft.Resources/subscriptions/read", subscriptionID(c.p.sub))
	}
	sub, err := s.store.Subscription(ctx, c.p.sub)
	if err != nil {
		return nil, err
	}
	return ok(toSubscriptionJSON(sub))
}

type groupJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties statusProvisioned `json:"properties"`
}

type statusProvisioned struct {
	ProvisioningState string `json:"provisioningState"`
}

func toGroupJSON(g *meta.ResourceGroup) groupJSON {
	j := groupJSON{ID: groupID(g.Subscription, g.Name), Name: g.Name, Type: typeResourceGroups, Location: g.Location,
		Tags: g.Tags, Properties: statusProvisioned{"Succeeded"}}
	if j.Tags == nil {
		j.Tags = map[string]string{}
	}
	return j
}

func (j groupJSON) resourceID() string { return j.ID }

func (s *Service) listGroups(ctx context.Context, c *call) (*reply, error) {
	groups, err := s.store.ResourceGroups(ctx, c.p.sub)
	if err != nil {
		return nil, err
	}
	return ok(list(readable(c, "Microsoft.Resources/subscriptions/resourceGroups/read", groups, toGroupJSON)))
}

// getGroup also answers HEAD (az group exists): 204 when the group exists, as ARM does.
func (s *Service) getGroup(ctx context.Context, c *call) (*reply, error) {
	g, err := s.store.ResourceGroup(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, s.notFound(err, groupNotFound(c.p.group))
	}
	if c.route.method == http.MethodHead {
		return &reply{status: http.StatusNoContent}, nil
	}
	return ok(toGroupJSON(g))
}

type groupInput struct {
	Location *string            `json:"location"`
	Tags     *map[string]string `json:"tags"`
}

// groupName is ARM's rule for resource group names.
var groupName = regexp.MustCompile(`^[-\w._()]{1,90}$`)

func (s *Service) putGroup(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = groupID(c.p.sub, c.p.group)
	var in groupInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !groupName.MatchString(c.p.group) || strings.HasSuffix(c.p.group, ".") {
		return nil, badRequest("InvalidResourceGroupName", fmt.Sprintf("The resource group name '%s' is invalid: use 1 to 90 "+
			"letters, digits, underscores, hyphens, periods and parentheses, not ending in a period.", c.p.group))
	}
	if in.Location == nil || *in.Location == "" {
		return nil, badRequest("LocationRequired", "The location property is required for this definition.")
	}
	if g, err := s.store.ResourceGroup(ctx, c.p.sub, c.p.group); err == nil && !strings.EqualFold(g.Location, *in.Location) {
		return nil, badRequest("InvalidResourceGroupLocation", fmt.Sprintf("Invalid resource group location '%s'. "+
			"The Resource group already exists in location '%s'.", *in.Location, g.Location))
	}
	g := &meta.ResourceGroup{Subscription: c.p.sub, Name: c.p.group, Location: *in.Location, CreatedAt: c.now}
	if in.Tags != nil {
		g.Tags = *in.Tags
	}
	created, err := s.store.PutResourceGroup(ctx, g)
	if err != nil {
		return nil, err
	}
	g, err = s.store.ResourceGroup(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &reply{status: status, body: toGroupJSON(g)}, nil
}

// patchGroup changes a resource group's tags.
func (s *Service) patchGroup(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = groupID(c.p.sub, c.p.group)
	var in groupInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	g, err := s.store.ResourceGroup(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, s.notFound(err, groupNotFound(c.p.group))
	}
	if in.Tags != nil {
		g.Tags = *in.Tags
		if _, err := s.store.PutResourceGroup(ctx, g); err != nil {
			return nil, err
		}
	}
	return ok(toGroupJSON(g))
}

// deleteGroup deletes a resource group with its registries (content included), as ARM
// deletes a group's resources with it.
func (s *Service) deleteGroup(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = groupID(c.p.sub, c.p.group)
	if _, err := s.store.ResourceGroup(ctx, c.p.sub, c.p.group); err != nil {
		return nil, s.notFound(err, groupNotFound(c.p.group))
	}
	regs, err := s.store.Registries(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, err
	}
	for _, r := range regs {
		if err := s.removeRegistry(ctx, r.ID); err != nil {
			return nil, err
		}
	}
	if err := s.store.DeleteResourceGroup(ctx, c.p.sub, c.p.group); err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK}, nil
}

// genericResourceJSON is an entry of the resource list.
type genericResourceJSON struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
	SKU      skuJSON           `json:"sku"`
}

// listResources lists the registries (the only resources there are) of a subscription or
// resource group that the caller may read. $filter takes resourceType eq and name eq
// clauses, what the Azure CLI sends.
func (s *Service) listResources(ctx context.Context, c *call) (*reply, error) {
	var typ, name string
	for _, clause := range filterClauses(c.query.Get("$filter")) {
		switch lower := strings.ToLower(clause); {
		case strings.HasPrefix(lower, "resourcetype eq "):
			typ = unquote(clause[len("resourcetype eq "):])
		case strings.HasPrefix(lower, "name eq "):
			name = unquote(clause[len("name eq "):])
		default:
			return nil, badFilter(clause)
		}
	}
	out := []genericResourceJSON{}
	if typ != "" && !strings.EqualFold(typ, typeRegistries) {
		return ok(list(out))
	}
	regs, err := s.store.Registries(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, err
	}
	for _, r := range readable(c, "Microsoft.ContainerRegistry/registries/read", regs, toRegistryJSON) {
		if name == "" || strings.EqualFold(name, r.Name) {
			out = append(out, genericResourceJSON{ID: r.ID, Name: r.Name, Type: r.Type, Location: r.Location, Tags: r.Tags, SKU: r.SKU})
		}
	}
	return ok(list(out))
}

// metadataEndpoints is the cloud metadata document `az cloud register
// --endpoint-resource-manager` reads (api-version 2015-01-01 shape): the authority is the
// identity plane's ADFS-style route, which MSAL uses without instance discovery
// (acr-protocol.md §8).
func (s *Service) metadataEndpoints(_ context.Context, c *call) (*reply, error) {
	base := "https://" + c.host + "/"
	return ok(map[string]any{
		"galleryEndpoint": base,
		"graphEndpoint":   base,
		"portalEndpoint":  base,
		"authentication": map[string]any{
			"loginEndpoint": base + "adfs",
			// audiences[0] becomes the CLI's activeDirectoryResourceId: the audience the
			// Azure CLI asks for, https://management.core.windows.net//.default.
			"audiences": []string{"https://management.core.windows.net/", "https://management.azure.com/"},
		},
	})
}
