// Package cli owns the management verbs of the cerulean command, modelled on `az acr`:
// registry, credential, scope-map, token, role, group and activity-log. It is a real
// client of the management plane: every verb goes through the Azure SDK for Go
// (armcontainerregistry, armauthorization, azcore's ARM pipeline) pointed at the server
// with a custom cloud configuration, signed in with azidentity as a service principal.
//
// Who signs in, where (first that is set wins):
//   - flags --server, --subscription, --ca-file;
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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/identity/graph"
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

// globals are the flags every management verb has.
type globals struct {
	data, server, subscription, caFile, output string
}

func (g *globals) flags(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&g.data, "data", "./data", "data `dir`ectory of a local server: bootstrap.json, tls/ca.pem, run/serve.json")
	f.StringVar(&g.server, "server", "", "management endpoint `URL` (default: $CERULEAN_SERVER, else the local server's address)")
	f.StringVar(&g.subscription, "subscription", "", "subscription `id` (default: $AZURE_SUBSCRIPTION_ID, else the bootstrap one)")
	f.StringVar(&g.caFile, "ca-file", "", "PEM `file` of the CA to trust (default: $CERULEAN_CA_FILE, else DIR/tls/ca.pem if present)")
	f.StringVarP(&g.output, "output", "o", "json", "output `format`: json or table")
}

// conn is a signed-in connection to the management plane.
type conn struct {
	out          *output
	endpoint     string
	subscription string
	group        string // the bootstrap resource group, the default of -g
	cred         azcore.TokenCredential
	opts         *arm.ClientOptions
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
	var boot graph.Bootstrap
	if b, err := os.ReadFile(filepath.Join(g.data, "bootstrap.json")); err == nil {
		if err := json.Unmarshal(b, &boot); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(g.data, "bootstrap.json"), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	endpoint := first(g.server, os.Getenv("CERULEAN_SERVER"), serverFromRunFile(g.data), prefixed("https://", boot.LoginServer))
	if endpoint == "" {
		return nil, errors.New("no server: pass --server, set CERULEAN_SERVER, or run next to a server's data directory (--data)")
	}
	endpoint = strings.TrimRight(endpoint, "/")
	tenant := first(os.Getenv("AZURE_TENANT_ID"), boot.TenantID)
	clientID, secret := os.Getenv("AZURE_CLIENT_ID"), os.Getenv("AZURE_CLIENT_SECRET")
	if clientID == "" || secret == "" {
		clientID, secret = boot.ClientID, boot.ClientSecret
	}
	if tenant == "" || clientID == "" || secret == "" {
		return nil, errors.New("no credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or run next to a server's data directory (--data) for its bootstrap principal")
	}
	c := &conn{out: out, endpoint: endpoint, group: boot.ResourceGroup,
		subscription: first(g.subscription, os.Getenv("AZURE_SUBSCRIPTION_ID"), boot.SubscriptionID)}
	if c.subscription == "" {
		return nil, errors.New("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID")
	}
	transport, err := graph.HTTPClient(first(g.caFile, os.Getenv("CERULEAN_CA_FILE"), localCA(g.data), boot.CAFile))
	if err != nil {
		return nil, err
	}
	// The server is both the authority and ARM; its audience is ARM's, as Azure clients
	// ask for it.
	cfg := cloud.Configuration{ActiveDirectoryAuthorityHost: first(boot.AuthorityHost, endpoint+"/"), Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
		cloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: endpoint},
	}}
	client := policy.ClientOptions{Cloud: cfg, Transport: transport}
	if c.cred, err = azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: client, DisableInstanceDiscovery: true}); err != nil {
		return nil, err
	}
	c.opts = &arm.ClientOptions{ClientOptions: client}
	if c.acr, err = armcontainerregistry.NewClientFactory(c.subscription, c.cred, c.opts); err != nil {
		return nil, err
	}
	if c.authz, err = armauthorization.NewClientFactory(c.subscription, c.cred, c.opts); err != nil {
		return nil, err
	}
	if c.raw, err = arm.NewClient("cerulean-cli", "v1.0.0", c.cred, c.opts); err != nil {
		return nil, err
	}
	return c, nil
}

// localCA is the local CA of a server's data directory, if there is one.
func localCA(dir string) string {
	p := filepath.Join(dir, "tls", "ca.pem")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// serverFromRunFile reads the address a local server announced in DIR/run/serve.json.
func serverFromRunFile(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "run", "serve.json"))
	if err != nil {
		return ""
	}
	var info struct {
		LoginServer string `json:"login_server"`
	}
	if json.Unmarshal(b, &info) != nil {
		return ""
	}
	return prefixed("https://", info.LoginServer)
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func prefixed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

// capture returns a context whose SDK call keeps its response, for printing the server's
// JSON as received.
func capture(ctx context.Context) (context.Context, **http.Response) {
	var resp *http.Response
	return policy.WithCaptureResponse(ctx, &resp), &resp
}
