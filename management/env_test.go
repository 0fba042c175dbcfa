package management_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/management"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

// Fixed identities of the tests. Tokens are "tenant/object" strings that fakeVerifier
// accepts: the identity plane is not under test here.
const (
	tenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	subID   = "00000000-1111-4222-8333-444444444444"
	group   = "cerulean"
	owner   = "0000000a-0000-4000-8000-000000000001"
	puller  = "0000000b-0000-4000-8000-000000000002"
	outside = "0000000c-0000-4000-8000-000000000003"
)

type fakeVerifier struct{}

func (fakeVerifier) VerifyCaller(_ context.Context, token string) (management.Caller, error) {
	switch tid, oid, ok := strings.Cut(token, "/"); {
	case token == "expired":
		return management.Caller{}, management.ErrTokenExpired
	case !ok:
		return management.Caller{}, errors.New("malformed token")
	default:
		return management.Caller{TenantID: tid, ObjectID: oid, AppID: oid, Type: "Application"}, nil
	}
}

type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// env is a management plane on a fresh SQLite store behind an httptest TLS server,
// bootstrapped with a subscription, resource group "cerulean", registry "cerulean" and
// owner as its Owner.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *sqlite.Store
	svc   *management.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key, err := signing.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store}
	e.svc, err = management.New(management.Options{Store: store, Verifier: fakeVerifier{}, Sealer: key,
		RegistryDomain: "localhost", Port: func() string { return "5443" }})
	if err != nil {
		t.Fatal(err)
	}
	// The identity plane's bootstrap creates the tenant; the management plane lists it.
	if err := store.CreateTenant(t.Context(), &meta.Tenant{ID: tenant, DisplayName: "Cerulean", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Bootstrap(t.Context(), management.Bootstrap{TenantID: tenant, SubscriptionID: subID,
		ResourceGroup: group, Registry: "cerulean", LoginServer: "127.0.0.1:5443", OwnerObjectID: owner}); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewTLSServer(e.svc)
	t.Cleanup(e.srv.Close)
	return e
}

// options are the ARM client options of the SDKs pointed at the test server.
func (e *env) options() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.srv.URL + "/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: e.srv.URL},
		}},
		Transport: e.srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
}

// acr returns armcontainerregistry clients signed in as principal.
func (e *env) acr(principal string) *armcontainerregistry.ClientFactory {
	e.t.Helper()
	f, err := armcontainerregistry.NewClientFactory(subID, staticToken(tenant+"/"+principal), e.options())
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// authz returns armauthorization clients signed in as principal.
func (e *env) authz(principal string) *armauthorization.ClientFactory {
	e.t.Helper()
	f, err := armauthorization.NewClientFactory(subID, staticToken(tenant+"/"+principal), e.options())
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// do sends a raw request as principal ("" for none) and returns the response.
func (e *env) do(method, path, principal, body string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if principal != "" {
		req.Header.Set("Authorization", "Bearer "+principal)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// wantARMError fails unless err is an ARM response error with status and code.
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

func registryID(name string) string {
	return "/subscriptions/" + subID + "/resourceGroups/" + group + "/providers/Microsoft.ContainerRegistry/registries/" + name
}
