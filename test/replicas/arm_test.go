package replicas

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// management is the management plane of one replica, through the Azure SDK, signed in as
// the bootstrap owner at that replica's identity plane.
type management struct {
	boot graph.Bootstrap
	acr  *armcontainerregistry.ClientFactory
}

func (c *cluster) management(t testing.TB, i int) *management {
	t.Helper()
	m := &management{}
	b, err := os.ReadFile(filepath.Join(c.replicas[i].DataDir, "bootstrap.json"))
	if err == nil {
		err = json.Unmarshal(b, &m.boot)
	}
	if err != nil {
		t.Fatalf("bootstrap file: %v", err)
	}
	opts := policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: "https://" + loginServer + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: testcloud.ARMAudience, Endpoint: "https://" + loginServer},
			}},
		Transport: &http.Client{Transport: c.transport(i)},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
	cred, err := azidentity.NewClientSecretCredential(m.boot.TenantID, m.boot.ClientID, m.boot.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.acr, err = armcontainerregistry.NewClientFactory(m.boot.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: opts}); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *management) registryID() string {
	return "/subscriptions/" + m.boot.SubscriptionID + "/resourceGroups/" + m.boot.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + m.boot.RegistryName
}

// newToken creates a repository-scoped token on a scope map and returns its password1.
func (m *management) newToken(t testing.TB, name, scopeMap string) string {
	t.Helper()
	return testcloud.CreateToken(t, m.acr.NewTokensClient(), m.boot.ResourceGroup, m.boot.RegistryName, name,
		m.registryID()+"/scopeMaps/"+scopeMap)
}

// setTokenStatus enables or disables a token.
func (m *management) setTokenStatus(t testing.TB, name string, status armcontainerregistry.TokenStatus) {
	t.Helper()
	p, err := m.acr.NewTokensClient().BeginUpdate(t.Context(), m.boot.ResourceGroup, m.boot.RegistryName, name,
		armcontainerregistry.TokenUpdateParameters{Properties: &armcontainerregistry.TokenUpdateProperties{Status: to.Ptr(status)}}, nil)
	if err == nil {
		_, err = p.PollUntilDone(t.Context(), nil)
	}
	if err != nil {
		t.Fatalf("set token %s %s: %v", name, status, err)
	}
}
