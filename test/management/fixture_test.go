package management

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// fixture is a started server, its bootstrap file and the owner's credential.
type fixture struct {
	t     *testing.T
	srv   *testserver.Server
	boot  graph.Bootstrap
	owner azcore.TokenCredential
}

func start(t *testing.T, args ...string) *fixture {
	t.Helper()
	srv := testserver.Start(t, args...)
	f := &fixture{t: t, srv: srv}
	b, err := os.ReadFile(filepath.Join(srv.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatalf("bootstrap.json: %v", err)
	}
	if err := json.Unmarshal(b, &f.boot); err != nil {
		t.Fatal(err)
	}
	f.owner = f.credential(f.boot.ClientID, f.boot.ClientSecret)
	return f
}

// clientOptions point an Azure SDK client at the server: it is the authority and ARM.
func (f *fixture) clientOptions() policy.ClientOptions {
	return policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: f.srv.URL + "/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: f.srv.URL},
		}},
		Transport: &http.Client{Transport: f.srv.Transport()},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

func (f *fixture) credential(clientID, secret string) azcore.TokenCredential {
	f.t.Helper()
	cred, err := azidentity.NewClientSecretCredential(f.boot.TenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: f.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return cred
}

func (f *fixture) acr(cred azcore.TokenCredential) *armcontainerregistry.ClientFactory {
	f.t.Helper()
	c, err := armcontainerregistry.NewClientFactory(f.boot.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: f.clientOptions()})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) authz(cred azcore.TokenCredential) *armauthorization.ClientFactory {
	f.t.Helper()
	c, err := armauthorization.NewClientFactory(f.boot.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: f.clientOptions()})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// raw sends an ARM request through the SDK's pipeline (signed in as cred) for what no SDK
// module here covers: resource groups, subscriptions, the activity log.
func (f *fixture) raw(t *testing.T, cred azcore.TokenCredential, method, path string, body any) (int, []byte) {
	t.Helper()
	client, err := arm.NewClient("cerulean-test", "v1.0.0", cred, &arm.ClientOptions{ClientOptions: f.clientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	req, err := runtime.NewRequest(t.Context(), method, f.srv.URL+path)
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

// principal is a service principal created through the directory API.
type principal struct {
	objectID, clientID, secret string
	cred                       azcore.TokenCredential
}

func (f *fixture) newPrincipal(name string) principal {
	f.t.Helper()
	ctx := f.t.Context()
	dir, err := graph.Connect(graph.Config{Server: f.srv.URL, TenantID: f.boot.TenantID, ClientID: f.boot.ClientID,
		ClientSecret: f.boot.ClientSecret, CAFile: f.srv.CAFile})
	if err != nil {
		f.t.Fatal(err)
	}
	app, err := dir.CreateApplication(ctx, name)
	if err != nil {
		f.t.Fatalf("create application: %v", err)
	}
	sp, err := dir.CreateServicePrincipal(ctx, app.AppID)
	if err != nil {
		f.t.Fatalf("create service principal: %v", err)
	}
	pw, err := dir.AddPassword(ctx, app.ID, graph.PasswordCredential{DisplayName: "test"})
	if err != nil {
		f.t.Fatalf("add password: %v", err)
	}
	return principal{objectID: sp.ID, clientID: app.AppID, secret: pw.SecretText, cred: f.credential(app.AppID, pw.SecretText)}
}

func (f *fixture) registryID(name string) string {
	return "/subscriptions/" + f.boot.SubscriptionID + "/resourceGroups/" + f.boot.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + name
}

// wantARMError fails unless err is an ARM error answer with status and code.
func wantARMError(t *testing.T, op string, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("%s: error %v, want %d %s", op, err, status, code)
		return
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Errorf("%s: %d %s, want %d %s", op, re.StatusCode, re.ErrorCode, status, code)
	}
}

// cli runs the cerulean CLI against the fixture's server, signed in from its data
// directory, and returns its standard output.
func (f *fixture) cli(args ...string) (string, error) {
	f.t.Helper()
	return f.srv.Run(f.t, append(args, "--data", f.srv.DataDir)...)
}

func (f *fixture) mustCLI(args ...string) string {
	f.t.Helper()
	out, err := f.cli(args...)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}
