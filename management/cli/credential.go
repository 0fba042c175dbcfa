package cli

import (
	"context"
	"encoding/json"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/spf13/cobra"
)

func networkRuleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "network-rule", Short: "Manage a registry's IP allow rules (az acr network-rule)"}
	change := func(use, short string, add bool) *cobra.Command {
		var (
			t  target
			ip string
		)
		c := &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: g.verb(&t, func(cmd *cobra.Command, c *conn) error {
				body, err := c.changeIPRule(cmd.Context(), t, ip, add)
				if err != nil {
					return err
				}
				var r struct {
					Properties struct {
						NetworkRuleSet json.RawMessage `json:"networkRuleSet"`
					} `json:"properties"`
				}
				if err := json.Unmarshal(body, &r); err != nil {
					return err
				}
				return c.out.item(r.Properties.NetworkRuleSet, []column{{"DEFAULT ACTION", "defaultAction"}, {"IP RULES", "ipRules"}})
			}),
		}
		t.flags(c, "name")
		c.Flags().StringVar(&ip, "ip-address", "", "IPv4 `address` or CIDR range")
		_ = c.MarkFlagRequired("ip-address")
		return c
	}
	cmd.AddCommand(change("add -n NAME --ip-address CIDR", "Allow an address or range", true),
		change("remove -n NAME --ip-address CIDR", "Remove an allow rule", false))
	return cmd
}

// changeIPRule adds (add) or removes the allow rule of ip in the registry's network rule
// set and returns the server's answer: the registry.
func (c *conn) changeIPRule(ctx context.Context, t target, ip string, add bool) (json.RawMessage, error) {
	regs := c.acr.NewRegistriesClient()
	current, err := regs.Get(ctx, t.group, t.name, nil)
	if err != nil {
		return nil, err
	}
	rules := &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionAllow)}
	if current.Properties.NetworkRuleSet != nil {
		rules = current.Properties.NetworkRuleSet
	}
	var kept []*armcontainerregistry.IPRule
	for _, r := range rules.IPRules {
		if r.IPAddressOrRange != nil && *r.IPAddressOrRange != ip {
			kept = append(kept, r)
		}
	}
	if add {
		kept = append(kept, &armcontainerregistry.IPRule{IPAddressOrRange: &ip, Action: to.Ptr(armcontainerregistry.ActionAllow)})
	}
	rules.IPRules = kept
	return answer(ctx, func(ctx context.Context) error {
		p, err := regs.BeginUpdate(ctx, t.group, t.name, armcontainerregistry.RegistryUpdateParameters{
			Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{NetworkRuleSet: rules}}, nil)
		return done(ctx, p, err)
	})
}

func credentialCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Show and renew the admin user's passwords (az acr credential)"}
	cols := []column{{"USERNAME", "username"}, {"PASSWORD", "passwords.0.value"}, {"PASSWORD2", "passwords.1.value"}}
	var st target
	show := &cobra.Command{
		Use: "show -n NAME", Short: "Show the admin user name and both passwords", Args: cobra.NoArgs,
		RunE: g.show(&st, cols, func(ctx context.Context, _ *cobra.Command, c *conn) error {
			_, err := c.acr.NewRegistriesClient().ListCredentials(ctx, st.group, st.name, nil)
			return err
		}),
	}
	st.flags(show, "name")
	var (
		rt   target
		name string
	)
	renew := &cobra.Command{
		Use: "renew -n NAME --password-name password|password2", Short: "Regenerate one admin password; the other keeps working", Args: cobra.NoArgs,
		RunE: g.show(&rt, cols, func(ctx context.Context, _ *cobra.Command, c *conn) error {
			_, err := c.acr.NewRegistriesClient().RegenerateCredential(ctx, rt.group, rt.name,
				armcontainerregistry.RegenerateCredentialParameters{Name: to.Ptr(armcontainerregistry.PasswordName(name))}, nil)
			return err
		}),
	}
	rt.flags(renew, "name")
	renew.Flags().StringVar(&name, "password-name", "", "which `password`: password or password2")
	_ = renew.MarkFlagRequired("password-name")
	cmd.AddCommand(show, renew)
	return cmd
}
