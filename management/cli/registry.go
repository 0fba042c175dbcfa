package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/spf13/cobra"
)

// apiVersion is what raw requests (settings the SDK versions do not model) send.
const apiVersion = "2025-11-01"

var registryColumns = []column{
	{"NAME", "name"}, {"RESOURCE GROUP", "id"}, {"LOCATION", "location"}, {"SKU", "sku.name"},
	{"LOGIN SERVER", "properties.loginServer"}, {"CREATION DATE", "properties.creationDate"},
	{"ADMIN ENABLED", "properties.adminUserEnabled"},
}

func registryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Manage container registries (az acr create|list|show|update|delete)"}
	cmd.AddCommand(registryCreateCmd(g), registryListCmd(g), registryShowCmd(g), registryUpdateCmd(g),
		registryDeleteCmd(g), networkRuleCmd(g))
	return cmd
}

// target names a registry: -n and optionally -g (found by name when not given, as the
// Azure CLI does).
type target struct {
	name, group string
}

func (t *target) flags(cmd *cobra.Command, nameFlag string) {
	cmd.Flags().StringVarP(&t.name, nameFlag, string(nameFlag[0]), "", "registry `name`")
	cmd.Flags().StringVarP(&t.group, "resource-group", "g", "", "resource `group` (default: found by the registry's name)")
	_ = cmd.MarkFlagRequired(nameFlag)
}

// resolve fills in the resource group of the registry from the subscription's resource
// list, as `az acr` does (acr-protocol.md §4.5).
func (c *conn) resolve(ctx context.Context, t *target) error {
	if t.group != "" {
		return nil
	}
	filter := "resourceType eq 'Microsoft.ContainerRegistry/registries'"
	body, err := c.send(ctx, http.MethodGet, "/subscriptions/"+c.subscription+"/resources?$filter="+url.QueryEscape(filter), nil)
	if err != nil {
		return err
	}
	items, err := values(body)
	if err != nil {
		return err
	}
	for _, it := range items {
		var r struct{ ID, Name string }
		if json.Unmarshal(it, &r) == nil && strings.EqualFold(r.Name, t.name) {
			t.name = r.Name
			t.group = segmentAfter(r.ID, "resourceGroups")
			return nil
		}
	}
	return fmt.Errorf("registry %q not found in subscription %s", t.name, c.subscription)
}

// segmentAfter returns the segment of an ARM id after the (case-insensitive) key.
func segmentAfter(id, key string) string {
	segs := strings.Split(id, "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], key) {
			return segs[i+1]
		}
	}
	return ""
}

// send makes a raw ARM request through the SDK's pipeline (authentication, retries),
// for what the SDK versions do not model.
func (c *conn) send(ctx context.Context, method, path string, body any) (json.RawMessage, error) {
	req, err := runtime.NewRequest(ctx, method, c.endpoint+path)
	if err != nil {
		return nil, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", apiVersion)
	req.Raw().URL.RawQuery = q.Encode()
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, err
		}
	}
	resp, err := c.raw.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusCreated, http.StatusNoContent) {
		return nil, runtime.NewResponseError(resp)
	}
	return runtime.Payload(resp)
}

func registryCreateCmd(g *globals) *cobra.Command {
	var (
		t             target
		sku, location string
		admin         bool
		tags          map[string]string
	)
	cmd := &cobra.Command{
		Use:   "create -n NAME -g GROUP --sku Basic|Standard|Premium",
		Short: "Create a registry; its login server is <name>.<registry domain>",
		Args:  cobra.NoArgs,
		RunE: g.show(nil, registryColumns, func(ctx context.Context, cmd *cobra.Command, c *conn) error {
			t.group = cmp.Or(t.group, c.group)
			if location == "" {
				var err error
				if location, err = c.groupLocation(cmd.Context(), t.group); err != nil {
					return err
				}
			}
			p, err := c.acr.NewRegistriesClient().BeginCreate(ctx, t.group, t.name, armcontainerregistry.Registry{
				Location: &location, Tags: ptrMap(tags), SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUName(sku))},
				Properties: &armcontainerregistry.RegistryProperties{AdminUserEnabled: &admin}}, nil)
			return done(ctx, p, err)
		}),
	}
	cmd.Flags().StringVarP(&t.name, "name", "n", "", "registry `name` (5-50 letters and digits)")
	cmd.Flags().StringVarP(&t.group, "resource-group", "g", "", "resource `group` (default: the bootstrap one)")
	cmd.Flags().StringVar(&sku, "sku", "Standard", "`tier`: Basic, Standard or Premium")
	cmd.Flags().StringVarP(&location, "location", "l", "", "`location` (default: the resource group's)")
	cmd.Flags().BoolVar(&admin, "admin-enabled", false, "enable the admin user")
	cmd.Flags().StringToStringVar(&tags, "tags", nil, "`key=value` tags")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// groupLocation returns a resource group's location, the default of new resources.
func (c *conn) groupLocation(ctx context.Context, group string) (string, error) {
	body, err := c.send(ctx, http.MethodGet, "/subscriptions/"+c.subscription+"/resourceGroups/"+url.PathEscape(group), nil)
	if err != nil {
		return "", err
	}
	var g struct{ Location string }
	return g.Location, json.Unmarshal(body, &g)
}

func registryListCmd(g *globals) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "list [-g GROUP]",
		Short: "List the registries you may read",
		Args:  cobra.NoArgs,
		RunE: g.verb(nil, func(cmd *cobra.Command, c *conn) error {
			regs := c.acr.NewRegistriesClient()
			var (
				items []json.RawMessage
				err   error
			)
			if group != "" {
				items, err = collect(cmd.Context(), regs.NewListByResourceGroupPager(group, nil))
			} else {
				items, err = collect(cmd.Context(), regs.NewListPager(nil))
			}
			if err != nil {
				return err
			}
			return c.out.list(items, registryColumns)
		}),
	}
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "only this resource `group`")
	return cmd
}

func registryShowCmd(g *globals) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "show -n NAME",
		Short: "Show a registry",
		Args:  cobra.NoArgs,
		RunE: g.show(&t, registryColumns, func(ctx context.Context, _ *cobra.Command, c *conn) error {
			_, err := c.acr.NewRegistriesClient().Get(ctx, t.group, t.name, nil)
			return err
		}),
	}
	t.flags(cmd, "name")
	return cmd
}

// boolFlag is an optional true/false flag: set only when given.
type boolFlag struct{ v *bool }

func (b *boolFlag) String() string {
	if b.v == nil {
		return ""
	}
	return fmt.Sprint(*b.v)
}

func (b *boolFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "true", "yes", "1":
		b.v = to.Ptr(true)
	case "false", "no", "0":
		b.v = to.Ptr(false)
	default:
		return fmt.Errorf("want true or false")
	}
	return nil
}

func (b *boolFlag) Type() string { return "true|false" }

// roleModes maps the Azure CLI's --role-assignment-mode values to ARM's.
var roleModes = map[string]string{
	"rbac": "LegacyRegistryPermissions", "rbac-abac": "AbacRepositoryPermissions",
	"legacyregistrypermissions": "LegacyRegistryPermissions", "abacrepositorypermissions": "AbacRepositoryPermissions",
}

func registryUpdateCmd(g *globals) *cobra.Command {
	var (
		t                                         target
		admin, anonymous, public                  boolFlag
		sku, defaultAction, roleMode, aadAsArmPol string
		tags                                      map[string]string
	)
	cmd := &cobra.Command{
		Use:   "update -n NAME [--admin-enabled true|false] [--anonymous-pull-enabled …] [--sku …] …",
		Short: "Change a registry's settings",
		Args:  cobra.NoArgs,
		RunE: g.verb(&t, func(cmd *cobra.Command, c *conn) error {
			ctx := cmd.Context()
			// What armcontainerregistry models goes through it; the newer settings
			// (anonymous pull, role-assignment mode, AAD-as-ARM policy) go as raw JSON.
			var u armcontainerregistry.RegistryUpdateParameters
			props := &armcontainerregistry.RegistryPropertiesUpdateParameters{AdminUserEnabled: admin.v}
			if public.v != nil {
				props.PublicNetworkAccess = to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)
				if *public.v {
					props.PublicNetworkAccess = to.Ptr(armcontainerregistry.PublicNetworkAccessEnabled)
				}
			}
			if defaultAction != "" {
				current, err := c.acr.NewRegistriesClient().Get(ctx, t.group, t.name, nil)
				if err != nil {
					return err
				}
				rules := current.Properties.NetworkRuleSet
				props.NetworkRuleSet = &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultAction(defaultAction))}
				if rules != nil {
					props.NetworkRuleSet.IPRules = rules.IPRules
				}
			}
			if *props != (armcontainerregistry.RegistryPropertiesUpdateParameters{}) {
				u.Properties = props
			}
			if sku != "" {
				u.SKU = &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUName(sku))}
			}
			if tags != nil {
				u.Tags = ptrMap(tags)
			}
			extra := map[string]any{}
			if anonymous.v != nil {
				extra["anonymousPullEnabled"] = *anonymous.v
			}
			if roleMode != "" {
				mode, ok := roleModes[strings.ToLower(roleMode)]
				if !ok {
					return fmt.Errorf("--role-assignment-mode %q: want rbac or rbac-abac", roleMode)
				}
				extra["roleAssignmentMode"] = mode
			}
			if aadAsArmPol != "" {
				extra["policies"] = map[string]any{"azureADAuthenticationAsArmPolicy": map[string]string{"status": strings.ToLower(aadAsArmPol)}}
			}
			if u.Properties == nil && u.SKU == nil && u.Tags == nil && len(extra) == 0 {
				return fmt.Errorf("nothing to update: give at least one setting")
			}
			var (
				body json.RawMessage
				err  error
			)
			if u.Properties != nil || u.SKU != nil || u.Tags != nil {
				if body, err = answer(ctx, func(ctx context.Context) error {
					p, err := c.acr.NewRegistriesClient().BeginUpdate(ctx, t.group, t.name, u, nil)
					return done(ctx, p, err)
				}); err != nil {
					return err
				}
			}
			if len(extra) > 0 {
				if body, err = c.send(ctx, http.MethodPatch, registryPath(c.subscription, t), map[string]any{"properties": extra}); err != nil {
					return err
				}
			}
			return c.out.item(body, registryColumns)
		}),
	}
	t.flags(cmd, "name")
	f := cmd.Flags()
	f.Var(&admin, "admin-enabled", "enable or disable the admin user")
	f.Var(&anonymous, "anonymous-pull-enabled", "allow pulls without credentials (Standard and Premium)")
	f.Var(&public, "public-network-enabled", "allow data-plane access at all")
	f.StringVar(&sku, "sku", "", "`tier`: Basic, Standard or Premium")
	f.StringVar(&defaultAction, "default-action", "", "network rules' default `action`: Allow or Deny (Premium)")
	f.StringVar(&roleMode, "role-assignment-mode", "", "`mode`: rbac (legacy registry permissions) or rbac-abac (repository permissions)")
	f.StringVar(&aadAsArmPol, "aad-auth-as-arm", "", "`status` of the azureADAuthenticationAsArmPolicy: enabled or disabled")
	f.StringToStringVar(&tags, "tags", nil, "`key=value` tags (replace all)")
	return cmd
}

func registryPath(sub string, t target) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + url.PathEscape(t.group) +
		"/providers/Microsoft.ContainerRegistry/registries/" + url.PathEscape(t.name)
}

func registryDeleteCmd(g *globals) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "delete -n NAME",
		Short: "Delete a registry with its repositories, scope maps, tokens and role assignments",
		Args:  cobra.NoArgs,
		RunE: g.verb(&t, func(cmd *cobra.Command, c *conn) error {
			p, err := c.acr.NewRegistriesClient().BeginDelete(cmd.Context(), t.group, t.name, nil)
			return done(cmd.Context(), p, err)
		}),
	}
	t.flags(cmd, "name")
	return cmd
}

// ptrMap is tags in the SDK's form; nil stays nil.
func ptrMap(m map[string]string) map[string]*string {
	if m == nil {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}
