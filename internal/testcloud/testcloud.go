// Package testcloud makes a started `cerulean serve` process (internal/testserver) look
// like a small Azure cloud to integration tests: the bootstrap owner signed in through
// azidentity, Azure SDK clients of the management plane (armcontainerregistry,
// armauthorization, raw ARM requests through the SDK's pipeline) and of the directory
// (identity/graph) pointed at it over TLS, service principals and role assignments made
// through those APIs, the IMDS listener for managed identities, a transport that reaches
// the server's other registries (<name>.localhost:port) without DNS, and the Azure CLI
// configured for the server as a custom cloud.
//
// It holds test support only; no server code imports it.
package testcloud

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// ARMAudience is the audience the Azure CLI and older SDKs ask ARM tokens for.
const ARMAudience = "https://management.core.windows.net/"

// Cloud is a started server seen as an Azure cloud.
type Cloud struct {
	Srv  *testserver.Server
	Boot graph.Bootstrap
	// Owner is the bootstrap owner's credential: Owner of the subscription.
	Owner azcore.TokenCredential
	// Graph is the directory API, signed in as the owner.
	Graph *graph.Client
	// IMDSAddr is the host:port of the IMDS listener (StartWithIMDS), "" without one.
	IMDSAddr string
}

// Start starts a server with args and reads its bootstrap file.
func Start(t testing.TB, args ...string) *Cloud {
	t.Helper()
	return start(t, "", args)
}

// StartWithIMDS starts a server whose IMDS-style managed-identity listener serves the
// identity host named host (serve --imds-addr --imds-host).
func StartWithIMDS(t testing.TB, host string, args ...string) *Cloud {
	t.Helper()
	addr := FreeAddr(t)
	return start(t, addr, append([]string{"--imds-addr", addr, "--imds-host", host}, args...))
}

func start(t testing.TB, imds string, args []string) *Cloud {
	t.Helper()
	c := &Cloud{Srv: testserver.Start(t, args...), IMDSAddr: imds}
	b, err := os.ReadFile(filepath.Join(c.Srv.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatalf("testcloud: bootstrap.json: %v", err)
	}
	if err := json.Unmarshal(b, &c.Boot); err != nil {
		t.Fatalf("testcloud: bootstrap.json: %v", err)
	}
	c.Owner = c.Credential(t, c.Boot.ClientID, c.Boot.ClientSecret)
	c.Graph = graph.New(c.Srv.URL, c.Owner, &http.Client{Transport: c.Srv.Transport()})
	return c
}

// FreeAddr returns a loopback address nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ClientOptions point an Azure SDK client at the server, which is both the authority and
// ARM, over TLS with its CA and without retries (a failure shows at once).
func (c *Cloud) ClientOptions() policy.ClientOptions {
	return policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: c.Srv.URL + "/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: ARMAudience, Endpoint: c.Srv.URL},
		}},
		Transport: &http.Client{Transport: c.Srv.Transport()},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// Credential is a client-secret credential of the server's tenant.
func (c *Cloud) Credential(t testing.TB, clientID, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(c.Boot.TenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: c.ClientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// ACR returns armcontainerregistry clients signed in as cred.
func (c *Cloud) ACR(t testing.TB, cred azcore.TokenCredential) *armcontainerregistry.ClientFactory {
	t.Helper()
	f, err := armcontainerregistry.NewClientFactory(c.Boot.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: c.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Authz returns armauthorization clients signed in as cred.
func (c *Cloud) Authz(t testing.TB, cred azcore.TokenCredential) *armauthorization.ClientFactory {
	t.Helper()
	f, err := armauthorization.NewClientFactory(c.Boot.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: c.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Raw sends an ARM request through the SDK's pipeline, signed in as cred, for what the
// SDK modules here do not cover (resource groups, newer registry properties such as
// anonymousPullEnabled and roleAssignmentMode). path includes the query.
func (c *Cloud) Raw(t testing.TB, cred azcore.TokenCredential, method, path string, body any) (int, []byte) {
	t.Helper()
	client, err := arm.NewClient("cerulean-test", "v1.0.0", cred, &arm.ClientOptions{ClientOptions: c.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	req, err := runtime.NewRequest(t.Context(), method, c.Srv.URL+path)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := runtime.Payload(resp)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// RegistryID is the ARM id of a registry of the bootstrap resource group.
func (c *Cloud) RegistryID(name string) string {
	return c.ResourceGroupID() + "/providers/Microsoft.ContainerRegistry/registries/" + name
}

// ResourceGroupID is the ARM id of the bootstrap resource group.
func (c *Cloud) ResourceGroupID() string {
	return "/subscriptions/" + c.Boot.SubscriptionID + "/resourceGroups/" + c.Boot.ResourceGroup
}

// RoleDefinitionID is the subscription-scoped id of a built-in role definition.
func (c *Cloud) RoleDefinitionID(roleID string) string {
	return "/subscriptions/" + c.Boot.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID
}

// CreateRegistry creates a registry in the bootstrap resource group with one ARM PUT
// (api-version 2025-11-01, which has anonymousPullEnabled and roleAssignmentMode) and
// returns its login server. properties may be nil.
func (c *Cloud) CreateRegistry(t testing.TB, name, sku string, properties map[string]any) string {
	t.Helper()
	if properties == nil {
		properties = map[string]any{}
	}
	status, body := c.Raw(t, c.Owner, http.MethodPut, c.RegistryID(name)+"?api-version=2025-11-01",
		map[string]any{"location": "local", "sku": map[string]string{"name": sku}, "properties": properties})
	var reg struct {
		Properties struct{ LoginServer string }
	}
	if status != http.StatusCreated && status != http.StatusOK || json.Unmarshal(body, &reg) != nil || reg.Properties.LoginServer == "" {
		t.Fatalf("create registry %s: %d %s", name, status, body)
	}
	return reg.Properties.LoginServer
}

// UpdateRegistry changes registry properties with an ARM PATCH.
func (c *Cloud) UpdateRegistry(t testing.TB, name string, properties map[string]any) {
	t.Helper()
	status, body := c.Raw(t, c.Owner, http.MethodPatch, c.RegistryID(name)+"?api-version=2025-11-01",
		map[string]any{"properties": properties})
	if status != http.StatusOK {
		t.Fatalf("update registry %s: %d %s", name, status, body)
	}
}

// CreateToken creates repository-scoped token name in registry on the scope map with id
// scopeMapID, with its password1, through tokens, and returns that password (shown once).
// It takes the client rather than a Cloud so that tests with ARM clients of their own
// (another cloud configuration, another replica) share it.
func CreateToken(t testing.TB, tokens *armcontainerregistry.TokensClient, resourceGroup, registry, name, scopeMapID string) string {
	t.Helper()
	p, err := tokens.BeginCreate(t.Context(), resourceGroup, registry, name,
		armcontainerregistry.Token{Properties: &armcontainerregistry.TokenProperties{
			ScopeMapID: &scopeMapID,
			Credentials: &armcontainerregistry.TokenCredentialsProperties{Passwords: []*armcontainerregistry.TokenPassword{
				{Name: to.Ptr(armcontainerregistry.TokenPasswordNamePassword1)}}},
		}}, nil)
	var tok armcontainerregistry.TokensClientCreateResponse
	if err == nil {
		tok, err = p.PollUntilDone(t.Context(), nil)
	}
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	for _, pw := range tok.Properties.Credentials.Passwords {
		if pw.Value != nil && *pw.Name == armcontainerregistry.TokenPasswordNamePassword1 {
			return *pw.Value
		}
	}
	t.Fatalf("token %s created without its password1", name)
	return ""
}

// Principal is a service principal created through the directory API.
type Principal struct {
	ObjectID, ClientID, Secret string
	Cred                       azcore.TokenCredential
}

// NewPrincipal registers an application with a secret and its service principal.
func (c *Cloud) NewPrincipal(t testing.TB, name string) Principal {
	t.Helper()
	sp, err := c.Graph.CreateServicePrincipalWithSecret(t.Context(), name, time.Time{})
	if err != nil {
		t.Fatalf("create service principal %s: %v", name, err)
	}
	return Principal{ObjectID: sp.ObjectID, ClientID: sp.AppID, Secret: sp.Password, Cred: c.Credential(t, sp.AppID, sp.Password)}
}

// Assign assigns a built-in role (by id) to a principal at scope, with an optional ABAC
// condition (conditionVersion 2.0), and returns the assignment's name.
func (c *Cloud) Assign(t testing.TB, scope, roleID, principalID, condition string) string {
	t.Helper()
	name := newGUID(t)
	props := &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(c.RoleDefinitionID(roleID)),
		PrincipalID:      &principalID,
		PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
	}
	if condition != "" {
		props.Condition, props.ConditionVersion = &condition, to.Ptr("2.0")
	}
	if _, err := c.Authz(t, c.Owner).NewRoleAssignmentsClient().Create(t.Context(), scope, name,
		armauthorization.RoleAssignmentCreateParameters{Properties: props}, nil); err != nil {
		t.Fatalf("assign role %s to %s at %s: %v", roleID, principalID, scope, err)
	}
	return name
}

// Unassign removes a role assignment made by Assign.
func (c *Cloud) Unassign(t testing.TB, scope, name string) {
	t.Helper()
	if _, err := c.Authz(t, c.Owner).NewRoleAssignmentsClient().Delete(t.Context(), scope, name, nil); err != nil {
		t.Fatalf("delete role assignment %s: %v", name, err)
	}
}

// Transport trusts the server's CA and reaches every login server of the server: the
// bootstrap registry's (its listen address) and the <name>.<domain>:port of registries
// created through ARM, which no DNS resolves here, by dialling the listener, as an
// /etc/hosts line would. The certificate is verified for "localhost", which the server's
// certificate covers with 127.0.0.1 (it is not issued for each registry's name).
func (c *Cloud) Transport() *http.Transport {
	tr := c.Srv.Transport()
	listener := strings.TrimPrefix(c.Srv.URL, "https://")
	_, port, _ := net.SplitHostPort(listener)
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, p, err := net.SplitHostPort(addr); err == nil && p == port && strings.HasSuffix(host, ".localhost") {
			addr = listener
		}
		return d.DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "localhost"
	return tr
}

// IMDSTransport sends requests for 169.254.169.254, where azidentity and MSAL look for
// IMDS, to the server's IMDS listener.
func (c *Cloud) IMDSTransport() http.RoundTripper { return IMDSTransport(c.IMDSAddr) }

// IMDSTransport sends requests for 169.254.169.254 to addr, an IMDS listener started with
// serve --imds-addr, and every other request on as http.DefaultTransport does.
func IMDSTransport(addr string) http.RoundTripper {
	return rewriteIMDS{addr: addr, next: http.DefaultTransport}
}

type rewriteIMDS struct {
	addr string
	next http.RoundTripper
}

func (r rewriteIMDS) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "169.254.169.254" {
		req = req.Clone(req.Context())
		req.URL.Host, req.Host = r.addr, r.addr
	}
	return r.next.RoundTrip(req)
}

// newGUID returns a random GUID, the form role assignment names take.
func newGUID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
