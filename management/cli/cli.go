// Package cli owns the management verbs of the cerulean command, modelled on `az acr`:
// registry, credential, scope-map, token, role, group and activity-log. It is a real
// client of the management plane: every verb goes through the Azure SDK for Go
// (armcontainerregistry, armauthorization, azcore's ARM pipeline) pointed at the server
// with a custom cloud configuration, signed in with azidentity as a service principal.
//
// Who signs in, where (first that is set wins; package cliconn resolves it as it does
// for the directory verbs):
//   - flags --server, --subscription, --ca-file, --bootstrap;
//   - the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
//     AZURE_SUBSCRIPTION_ID, CERULEAN_SERVER, CERULEAN_CA_FILE;
//   - the server's data directory (--data, default ./data): DIR/bootstrap.json (the
//     bootstrap principal, its subscription and default resource group), DIR/tls/ca.pem
//     and DIR/run/serve.json (where the server listens).
//
// JSON output is the server's own JSON, as received (fields the SDK version does not
// model included); table output picks columns from it, as `az … -o table` does.
package cli

import (
	"errors"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/internal/cliconn"
)

// Commands returns the management verbs, to be added to the root command.
func Commands() []*cobra.Command {
	g := &globals{}
	cmds := []*cobra.Command{
		registryCmd(g), credentialCmd(g), scopeMapCmd(g), tokenCmd(g), roleCmd(g), groupCmd(g), activityLogCmd(g),
	}
	for _, c := range cmds {
		g.flags(c)
	}
	return cmds
}

// globals are the flags every management verb has: where the server is and who signs
// in (cliconn), the subscription and the output format.
type globals struct {
	cliconn.Settings
	output string
}

func (g *globals) flags(c *cobra.Command) {
	f := c.PersistentFlags()
	g.AddFlags(f)
	f.StringVar(&g.Subscription, "subscription", "", "subscription `id` (default: $AZURE_SUBSCRIPTION_ID, else the bootstrap one)")
	f.StringVarP(&g.output, "output", "o", "json", "output `format`: json or table")
}

// conn is a signed-in connection to the management plane.
type conn struct {
	out          *output
	endpoint     string
	subscription string
	group        string // the bootstrap resource group, the default of -g
	acr          *armcontainerregistry.ClientFactory
	authz        *armauthorization.ClientFactory
	raw          *arm.Client // for what the SDK versions do not model
}

// connect resolves the settings and signs in lazily (on the first call).
func (g *globals) connect(cmd *cobra.Command) (*conn, error) {
	out, err := newOutput(cmd.OutOrStdout(), g.output)
	if err != nil {
		return nil, err
	}
	cfg, err := g.Resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.SubscriptionID == "" {
		return nil, errors.New("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID")
	}
	httpClient, cred, err := cfg.Connect()
	if err != nil {
		return nil, err
	}
	c := &conn{out: out, endpoint: cfg.Server, subscription: cfg.SubscriptionID, group: cfg.ResourceGroup}
	opts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: cfg.Cloud(), Transport: httpClient}}
	if c.acr, err = armcontainerregistry.NewClientFactory(c.subscription, cred, opts); err != nil {
		return nil, err
	}
	if c.authz, err = armauthorization.NewClientFactory(c.subscription, cred, opts); err != nil {
		return nil, err
	}
	if c.raw, err = arm.NewClient("cerulean-cli", "v1.0.0", cred, opts); err != nil {
		return nil, err
	}
	return c, nil
}
