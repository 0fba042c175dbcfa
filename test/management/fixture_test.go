package management

import (
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// fixture is a started server, its bootstrap file and the owner's credential, seen
// through internal/testcloud.
type fixture struct {
	t     *testing.T
	cloud *testcloud.Cloud
	srv   *testserver.Server
	boot  graph.Bootstrap
	owner azcore.TokenCredential
}

func start(t *testing.T, args ...string) *fixture {
	t.Helper()
	c := testcloud.Start(t, args...)
	return &fixture{t: t, cloud: c, srv: c.Srv, boot: c.Boot, owner: c.Owner}
}

func (f *fixture) acr(cred azcore.TokenCredential) *armcontainerregistry.ClientFactory {
	f.t.Helper()
	return f.cloud.ACR(f.t, cred)
}

func (f *fixture) authz(cred azcore.TokenCredential) *armauthorization.ClientFactory {
	f.t.Helper()
	return f.cloud.Authz(f.t, cred)
}

// raw sends an ARM request through the SDK's pipeline (signed in as cred) for what no SDK
// module here covers: resource groups, subscriptions, the activity log.
func (f *fixture) raw(t *testing.T, cred azcore.TokenCredential, method, path string, body any) (int, []byte) {
	t.Helper()
	return f.cloud.Raw(t, cred, method, path, body)
}

// principal is a service principal created through the directory API.
type principal struct {
	objectID, clientID, secret string
	cred                       azcore.TokenCredential
}

func (f *fixture) newPrincipal(name string) principal {
	f.t.Helper()
	p := f.cloud.NewPrincipal(f.t, name)
	return principal{objectID: p.ObjectID, clientID: p.ClientID, secret: p.Secret, cred: p.Cred}
}

func (f *fixture) registryID(name string) string { return f.cloud.RegistryID(name) }

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
