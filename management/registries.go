package management

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Registry settings values, in ARM's casing.
const (
	enabled  = "Enabled"
	disabled = "Disabled"
	allow    = "Allow"
	deny     = "Deny"
)

// registryJSON is a Microsoft.ContainerRegistry/registries resource (2025-11-01
// RegistryGet.json). Properties Cerulean does not model are reported with the values a
// registry without those features has.
type registryJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        skuJSON           `json:"sku"`
	SystemData *systemData       `json:"systemData,omitempty"`
	Properties registryProps     `json:"properties"`
}

type skuJSON struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

type registryProps struct {
	LoginServer                      string         `json:"loginServer"`
	CreationDate                     *string        `json:"creationDate"`
	ProvisioningState                string         `json:"provisioningState"`
	AdminUserEnabled                 bool           `json:"adminUserEnabled"`
	NetworkRuleSet                   networkRuleSet `json:"networkRuleSet"`
	Policies                         policies       `json:"policies"`
	Encryption                       statusJSON     `json:"encryption"`
	Status                           *struct{}      `json:"status"`
	DataEndpointEnabled              bool           `json:"dataEndpointEnabled"`
	DataEndpointHostNames            []string       `json:"dataEndpointHostNames"`
	PrivateEndpointConnections       []struct{}     `json:"privateEndpointConnections"`
	PublicNetworkAccess              string         `json:"publicNetworkAccess"`
	NetworkRuleBypassOptions         string         `json:"networkRuleBypassOptions"`
	NetworkRuleBypassAllowedForTasks bool           `json:"networkRuleBypassAllowedForTasks"`
	ZoneRedundancy                   string         `json:"zoneRedundancy"`
	AnonymousPullEnabled             bool           `json:"anonymousPullEnabled"`
	RoleAssignmentMode               string         `json:"roleAssignmentMode"`
}

type networkRuleSet struct {
	DefaultAction string   `json:"defaultAction"`
	IPRules       []ipRule `json:"ipRules"`
}

type ipRule struct {
	Action string `json:"action"`
	Value  string `json:"value"`
}

type statusJSON struct {
	Status string `json:"status"`
}

type policies struct {
	QuarantinePolicy statusJSON `json:"quarantinePolicy"`
	TrustPolicy      struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	} `json:"trustPolicy"`
	RetentionPolicy struct {
		Days            int     `json:"days"`
		LastUpdatedTime *string `json:"lastUpdatedTime"`
		Status          string  `json:"status"`
	} `json:"retentionPolicy"`
	ExportPolicy                     statusJSON `json:"exportPolicy"`
	AzureADAuthenticationAsArmPolicy statusJSON `json:"azureADAuthenticationAsArmPolicy"`
}

// systemData says who created and last changed a resource (ARM common types).
type systemData struct {
	CreatedBy          string  `json:"createdBy,omitempty"`
	CreatedByType      string  `json:"createdByType,omitempty"`
	CreatedAt          *string `json:"createdAt,omitempty"`
	LastModifiedBy     string  `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string  `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     *string `json:"lastModifiedAt,omitempty"`
}

func newSystemData(created, updated meta.Change) *systemData {
	return &systemData{CreatedBy: created.By, CreatedByType: created.ByType, CreatedAt: timestamp(created.At),
		LastModifiedBy: updated.By, LastModifiedByType: updated.ByType, LastModifiedAt: timestamp(updated.At)}
}

func policyStatus(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

func toRegistryJSON(r *meta.Registry) registryJSON {
	st := r.Settings
	j := registryJSON{
		ID: r.ResourceID(), Name: r.Name, Type: typeRegistries,
		Location: r.Location, Tags: r.Tags, SKU: skuJSON{Name: r.SKU, Tier: r.SKU},
		SystemData: newSystemData(r.Created, r.Updated),
	}
	if j.Tags == nil {
		j.Tags = map[string]string{}
	}
	p := &j.Properties
	p.LoginServer, p.CreationDate, p.ProvisioningState = r.LoginServer, timestamp(r.Created.At), "Succeeded"
	p.AdminUserEnabled, p.AnonymousPullEnabled = st.AdminUserEnabled, st.AnonymousPullEnabled
	p.NetworkRuleSet = networkRuleSet{DefaultAction: st.NetworkDefaultAction, IPRules: []ipRule{}}
	for _, v := range st.IPRules {
		p.NetworkRuleSet.IPRules = append(p.NetworkRuleSet.IPRules, ipRule{Action: allow, Value: v})
	}
	pol := &p.Policies
	pol.QuarantinePolicy.Status = "disabled"
	pol.TrustPolicy.Type, pol.TrustPolicy.Status = "Notary", "disabled"
	pol.RetentionPolicy.Days, pol.RetentionPolicy.LastUpdatedTime, pol.RetentionPolicy.Status = 7, timestamp(r.Created.At), "disabled"
	pol.ExportPolicy.Status = "enabled"
	pol.AzureADAuthenticationAsArmPolicy.Status = policyStatus(st.AADAuthAsARMPolicy)
	p.Encryption.Status = "disabled"
	p.DataEndpointHostNames, p.PrivateEndpointConnections = []string{}, []struct{}{}
	p.PublicNetworkAccess = disabled
	if st.PublicNetworkAccess {
		p.PublicNetworkAccess = enabled
	}
	p.NetworkRuleBypassOptions, p.ZoneRedundancy = "AzureServices", disabled
	p.RoleAssignmentMode = st.RoleAssignmentMode
	return j
}

// registryName is ACR's rule for registry names.
var registryName = regexp.MustCompile(`^[a-zA-Z0-9]{5,50}$`)

// loadRegistry returns the registry a request names: 404 naming the resource group when
// that is what is missing, as ARM does.
func (s *Service) loadRegistry(ctx context.Context, p *params) (*meta.Registry, error) {
	r, err := s.store.Registry(ctx, p.sub, p.group, p.registry)
	if isNotFound(err) {
		if _, gerr := s.store.ResourceGroup(ctx, p.sub, p.group); isNotFound(gerr) {
			return nil, groupNotFound(p.group)
		}
		return nil, resourceNotFound(typeRegistries, p.registry, p.group)
	}
	return r, err
}

func (s *Service) getRegistry(ctx context.Context, c *call) (*reply, error) {
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	return ok(toRegistryJSON(r))
}

// listRegistries lists the registries of a subscription or resource group that the
// caller may read, as ARM filters lists.
func (s *Service) listRegistries(ctx context.Context, c *call) (*reply, error) {
	if c.p.group != "" {
		if _, err := s.store.ResourceGroup(ctx, c.p.sub, c.p.group); err != nil {
			return nil, s.notFound(err, groupNotFound(c.p.group))
		}
	}
	regs, err := s.store.Registries(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, err
	}
	return ok(list(readable(c, "Microsoft.ContainerRegistry/registries/read", regs, toRegistryJSON)))
}

// list is ARM's list envelope; everything fits one page.
func list[T any](items []T) map[string]any { return map[string]any{"value": items} }

// readable converts records to their JSON and keeps those the caller may read: as in
// ARM, a list shows only what a GET of each (operation on its id) would.
func readable[R any, J interface{ resourceID() string }](c *call, operation string, recs []R, toJSON func(*R) J) []J {
	out := []J{}
	for i := range recs {
		if j := toJSON(&recs[i]); c.allowed(operation, j.resourceID()) {
			out = append(out, j)
		}
	}
	return out
}

func (j registryJSON) resourceID() string { return j.ID }

// putRegistry creates a registry, or updates it when it exists in the same resource
// group (ARM's PUT is create-or-replace).
func (s *Service) putRegistry(ctx context.Context, c *call) (*reply, error) {
	var in registryInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.resourceID = c.p.target()
	if _, err := s.store.Registry(ctx, c.p.sub, c.p.group, c.p.registry); err == nil {
		return s.updateRegistry(ctx, c, &in)
	} else if !isNotFound(err) {
		return nil, err
	}
	if !registryName.MatchString(c.p.registry) {
		return nil, badRequest("InvalidResourceName", fmt.Sprintf("The registry name '%s' is not valid: "+
			"resource names may contain alpha numeric characters only and must be between 5 and 50 characters.", c.p.registry))
	}
	g, err := s.store.ResourceGroup(ctx, c.p.sub, c.p.group)
	if err != nil {
		return nil, s.notFound(err, groupNotFound(c.p.group))
	}
	if in.Location == nil || *in.Location == "" {
		return nil, badRequest("LocationRequired", "The location property is required for this definition.")
	}
	if in.SKU == nil {
		return nil, badRequest("InvalidParameter", "The sku property is required for a registry.")
	}
	r := s.newRegistry(c.caller.change(c.now), g, c.p.registry, *in.Location, s.loginServer(c.p.registry))
	if err := in.apply(r); err != nil {
		return nil, err
	}
	if err := s.store.CreateRegistry(ctx, r, systemScopeMaps(r.Created)); err != nil {
		if isExists(err) {
			return nil, nameInUse(r)
		}
		return nil, err
	}
	created, err := s.store.RegistryByID(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusCreated, body: toRegistryJSON(created)}, nil
}

func nameInUse(r *meta.Registry) *Error {
	return &Error{Status: http.StatusConflict, Code: "AlreadyInUse",
		Message: fmt.Sprintf("The registry DNS name %s is already in use. You can check if the name is already "+
			"claimed using following API: checkNameAvailability", r.LoginServer)}
}

// newRegistry returns a registry with ACR's defaults (admin user off, public access on,
// network default Allow, AAD-as-ARM on, legacy role mode) and fresh admin passwords.
func (s *Service) newRegistry(ch meta.Change, g *meta.ResourceGroup, name, location, loginServer string) *meta.Registry {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	r := &meta.Registry{
		ID: hex.EncodeToString(id[:]), Subscription: g.Subscription, ResourceGroup: g.Name, Name: name,
		LoginServer: strings.ToLower(loginServer), Location: location, SKU: "Standard", Tags: map[string]string{},
		Settings: meta.RegistrySettings{PublicNetworkAccess: true, NetworkDefaultAction: allow, IPRules: []string{},
			AADAuthAsARMPolicy: true, RoleAssignmentMode: string(access.LegacyRegistryPermissions)},
		Created: ch, Updated: ch,
	}
	for i := range r.Admin {
		r.Admin[i] = s.adminPassword(r.ID, i)
	}
	return r
}

// systemScopeMaps are the built-in scope maps every registry gets at creation.
func systemScopeMaps(ch meta.Change) []meta.ScopeMap {
	var out []meta.ScopeMap
	for _, m := range access.SystemScopeMaps() {
		out = append(out, meta.ScopeMap{Name: m.Name, Description: m.Description, Actions: m.Actions, System: true,
			Created: ch, Updated: ch})
	}
	return out
}

func (s *Service) patchRegistry(ctx context.Context, c *call) (*reply, error) {
	var in registryInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.resourceID = c.p.target()
	return s.updateRegistry(ctx, c, &in)
}

func (s *Service) updateRegistry(ctx context.Context, c *call, in *registryInput) (*reply, error) {
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	if in.Location != nil && !strings.EqualFold(*in.Location, r.Location) {
		return nil, badRequest("InvalidParameter", fmt.Sprintf("The location of registry '%s' cannot be changed from '%s'.",
			r.Name, r.Location))
	}
	r, err = s.store.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error {
		r.Updated = c.caller.change(c.now)
		return in.apply(r)
	})
	if err != nil {
		return nil, err
	}
	return ok(toRegistryJSON(r))
}

// deleteRegistry deletes a registry's content, then its records: were the second step
// to fail, the registry would still exist and a retry would finish the job.
func (s *Service) deleteRegistry(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = c.p.target()
	r, err := s.store.Registry(ctx, c.p.sub, c.p.group, c.p.registry)
	if isNotFound(err) {
		return &reply{status: http.StatusNoContent}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := s.removeRegistry(ctx, r.ID); err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK}, nil
}

func (s *Service) removeRegistry(ctx context.Context, id string) error {
	if err := s.store.DeleteRegistry(ctx, id); err != nil {
		return err
	}
	return s.store.RemoveRegistry(ctx, id)
}

// checkName answers checkNameAvailability (2025-11-01 RegistryCheckNameAvailable.json).
func (s *Service) checkName(ctx context.Context, c *call) (*reply, error) {
	var in struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !strings.EqualFold(in.Type, typeRegistries) {
		return nil, invalidValue("type", in.Type, typeRegistries)
	}
	switch taken, err := s.nameTaken(ctx, in.Name); {
	case !registryName.MatchString(in.Name):
		return ok(map[string]any{"nameAvailable": false, "reason": "Invalid",
			"message": "The specified resource name is invalid: resource names may contain alpha numeric characters only and must be between 5 and 50 characters."})
	case err != nil:
		return nil, err
	case taken:
		return ok(map[string]any{"nameAvailable": false, "reason": "AlreadyExists",
			"message": fmt.Sprintf("The registry %s is already in use.", in.Name)})
	}
	return ok(map[string]any{"nameAvailable": true})
}

// nameTaken reports whether any registry of the server has the name: names are unique
// across the server, whatever their login servers.
func (s *Service) nameTaken(ctx context.Context, name string) (bool, error) {
	regs, err := s.store.Registries(ctx, "", "")
	return slices.ContainsFunc(regs, func(r meta.Registry) bool { return strings.EqualFold(r.Name, name) }), err
}
