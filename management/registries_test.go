package management_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/management"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

func TestRegistryLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	regs := e.acr(owner).NewRegistriesClient()

	poller, err := regs.BeginCreate(ctx, group, "myRegistry01", armcontainerregistry.Registry{
		Location: to.Ptr("westus"), Tags: map[string]*string{"team": to.Ptr("a")},
		SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameStandard)},
	}, nil)
	if err != nil {
		t.Fatalf("BeginCreate: %v", err)
	}
	if !poller.Done() {
		t.Error("the create poller is not done after a synchronous 201")
	}
	created, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("PollUntilDone: %v", err)
	}
	p := created.Properties
	if *p.LoginServer != "myregistry01.localhost:5443" || *p.ProvisioningState != armcontainerregistry.ProvisioningStateSucceeded ||
		*p.AdminUserEnabled || *created.SKU.Tier != armcontainerregistry.SKUTierStandard || *created.Tags["team"] != "a" ||
		*created.ID != registryID("myRegistry01") || *created.SystemData.CreatedBy != owner {
		t.Errorf("created registry = %+v, properties %+v", created.Registry, *p)
	}

	got, err := regs.Get(ctx, group, "MYREGISTRY01", nil)
	if err != nil || *got.Name != "myRegistry01" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	var names []string
	for pager := regs.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Value {
			names = append(names, *r.Name)
		}
	}
	if !slices.Equal(names, []string{"cerulean", "myRegistry01"}) {
		t.Errorf("List = %q", names)
	}

	updated := update(t, regs, "myRegistry01", armcontainerregistry.RegistryUpdateParameters{
		Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{AdminUserEnabled: to.Ptr(true)}})
	if !*updated.Properties.AdminUserEnabled {
		t.Error("adminUserEnabled still false after the update")
	}
	creds, err := regs.ListCredentials(ctx, group, "myRegistry01", nil)
	if err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	if *creds.Username != "myRegistry01" || len(creds.Passwords) != 2 || *creds.Passwords[0].Name != "password" ||
		*creds.Passwords[1].Name != "password2" || len(*creds.Passwords[0].Value) != 52 || *creds.Passwords[0].Value == *creds.Passwords[1].Value {
		t.Errorf("ListCredentials = %+v", creds)
	}
	regen, err := regs.RegenerateCredential(ctx, group, "myRegistry01", armcontainerregistry.RegenerateCredentialParameters{
		Name: to.Ptr(armcontainerregistry.PasswordNamePassword2)}, nil)
	if err != nil {
		t.Fatalf("RegenerateCredential: %v", err)
	}
	if *regen.Passwords[0].Value != *creds.Passwords[0].Value || *regen.Passwords[1].Value == *creds.Passwords[1].Value {
		t.Error("regenerating password2 must keep password and replace password2")
	}
	stored, err := e.store.Registry(ctx, subID, group, "myRegistry01")
	if err != nil || !stored.AdminPasswordMatches(*regen.Passwords[1].Value) || stored.AdminPasswordMatches(*creds.Passwords[1].Value) {
		t.Errorf("the data plane's view of the admin passwords after rotation is wrong (%v)", err)
	}

	update(t, regs, "myRegistry01", armcontainerregistry.RegistryUpdateParameters{
		Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{AdminUserEnabled: to.Ptr(false)}})
	_, err = regs.ListCredentials(ctx, group, "myRegistry01", nil)
	wantARMError(t, "ListCredentials with the admin user disabled", err, http.StatusBadRequest, "AdminUserDisabled")

	del, err := regs.BeginDelete(ctx, group, "myRegistry01", nil)
	if err == nil {
		_, err = del.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = regs.Get(ctx, group, "myRegistry01", nil)
	wantARMError(t, "Get after delete", err, http.StatusNotFound, "ResourceNotFound")
}

func update(t *testing.T, regs *armcontainerregistry.RegistriesClient, name string, u armcontainerregistry.RegistryUpdateParameters) armcontainerregistry.Registry {
	t.Helper()
	poller, err := regs.BeginUpdate(t.Context(), group, name, u, nil)
	if err != nil {
		t.Fatalf("BeginUpdate: %v", err)
	}
	res, err := poller.PollUntilDone(t.Context(), nil)
	if err != nil {
		t.Fatalf("BeginUpdate: %v", err)
	}
	return res.Registry
}

func TestRegistryErrors(t *testing.T) {
	e := newEnv(t)
	if resp := e.do("PUT", "/subscriptions/"+subID+"/resourcegroups/other?api-version=2021-04-01", tenant+"/"+owner,
		`{"location":"local"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT resource group: %s", resp.Status)
	}
	standard := armcontainerregistry.Registry{Location: to.Ptr("local"),
		SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameStandard)}}
	for _, tc := range []struct {
		name, principal, group, registry string
		body                             armcontainerregistry.Registry
		status                           int
		code                             string
	}{
		{"name taken in another group", owner, "other", "CERULEAN", standard, http.StatusConflict, "AlreadyInUse"},
		{"name too short", owner, group, "abc", standard, http.StatusBadRequest, "InvalidResourceName"},
		{"name with a dash", owner, group, "my-registry", standard, http.StatusBadRequest, "InvalidResourceName"},
		{"no such group", owner, "nogroup", "registry2", standard, http.StatusNotFound, "ResourceGroupNotFound"},
		{"no location", owner, group, "registry2", armcontainerregistry.Registry{SKU: standard.SKU}, http.StatusBadRequest, "LocationRequired"},
		{"no role", puller, group, "registry2", standard, http.StatusForbidden, "AuthorizationFailed"},
	} {
		_, err := e.acr(tc.principal).NewRegistriesClient().BeginCreate(t.Context(), tc.group, tc.registry, tc.body, nil)
		wantARMError(t, tc.name, err, tc.status, tc.code)
	}

	regs := e.acr(owner).NewRegistriesClient()
	_, err := regs.Get(t.Context(), group, "nothere1", nil)
	wantARMError(t, "Get of a missing registry", err, http.StatusNotFound, "ResourceNotFound")
	_, err = e.acr(puller).NewRegistriesClient().Get(t.Context(), group, "cerulean", nil)
	wantARMError(t, "Get without a role", err, http.StatusForbidden, "AuthorizationFailed")

	path := "/subscriptions/" + subID + "/resourceGroups/" + group + "/providers/Microsoft.ContainerRegistry/registries/cerulean?api-version=2025-11-01"
	for _, tc := range []struct {
		name, method, token, body string
		status                    int
		code                      string
	}{
		{"malformed JSON", "PATCH", tenant + "/" + owner, `{"properties":`, http.StatusBadRequest, "InvalidRequestContent"},
		{"wrong type", "PATCH", tenant + "/" + owner, `{"properties":{"adminUserEnabled":"yes"}}`, http.StatusBadRequest, "InvalidRequestContent"},
		{"bad enum", "PATCH", tenant + "/" + owner, `{"properties":{"publicNetworkAccess":"Sometimes"}}`, http.StatusBadRequest, "InvalidParameter"},
		{"bad IP rule", "PATCH", tenant + "/" + owner, `{"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"value":"10.0.0.300"}]}}}`, http.StatusBadRequest, "InvalidParameter"},
		{"unsupported policy", "PATCH", tenant + "/" + owner, `{"properties":{"policies":{"quarantinePolicy":{"status":"enabled"}}}}`, http.StatusBadRequest, "FeatureNotSupported"},
		{"location change", "PUT", tenant + "/" + owner, `{"location":"mars","sku":{"name":"Basic"}}`, http.StatusBadRequest, "InvalidParameter"},
		{"no token", "GET", "", "", http.StatusUnauthorized, "AuthenticationFailed"},
		{"bad token", "GET", "garbage", "", http.StatusUnauthorized, "InvalidAuthenticationToken"},
		{"expired token", "GET", "expired", "", http.StatusUnauthorized, "ExpiredAuthenticationToken"},
		{"other tenant", "GET", "aaaaaaaa-0000-4000-8000-000000000000/" + owner, "", http.StatusUnauthorized, "InvalidAuthenticationTokenTenant"},
	} {
		resp := e.do(tc.method, path, tc.token, tc.body)
		var body struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != tc.status || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, resp.StatusCode, body.Error, tc.status, tc.code)
		}
		if resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-correlation-request-id") == "" {
			t.Errorf("%s: no x-ms-request-id or x-ms-correlation-request-id", tc.name)
		}
	}
}

func TestRegistrySettings(t *testing.T) {
	e := newEnv(t)
	regs := e.acr(owner).NewRegistriesClient()
	// Settings that armcontainerregistry v1.2.0 does not model go as raw JSON, as the
	// Azure CLI's newer api-versions send them.
	path := "/subscriptions/" + subID + "/resourceGroups/" + group + "/providers/Microsoft.ContainerRegistry/registries/cerulean?api-version=2025-11-01"
	resp := e.do("PATCH", path, tenant+"/"+owner, `{"properties":{"anonymousPullEnabled":true,"roleAssignmentMode":"AbacRepositoryPermissions",
		"publicNetworkAccess":"Disabled","networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"10.1.0.0/16"}]},
		"policies":{"azureADAuthenticationAsArmPolicy":{"status":"disabled"}}},"tags":{"k":"v"}}`)
	var got struct {
		Tags       map[string]string
		Properties struct {
			AnonymousPullEnabled bool
			RoleAssignmentMode   string
			PublicNetworkAccess  string
			NetworkRuleSet       struct {
				DefaultAction string
				IPRules       []struct{ Action, Value string }
			}
			Policies struct {
				AzureADAuthenticationAsArmPolicy struct{ Status string }
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %s, %v", resp.Status, err)
	}
	p := got.Properties
	if !p.AnonymousPullEnabled || p.RoleAssignmentMode != "AbacRepositoryPermissions" || p.PublicNetworkAccess != "Disabled" ||
		p.NetworkRuleSet.DefaultAction != "Deny" || len(p.NetworkRuleSet.IPRules) != 1 || p.NetworkRuleSet.IPRules[0].Value != "10.1.0.0/16" ||
		p.Policies.AzureADAuthenticationAsArmPolicy.Status != "disabled" || got.Tags["k"] != "v" {
		t.Errorf("after PATCH: %+v", got)
	}
	stored, err := e.store.Registry(t.Context(), subID, group, "cerulean")
	if err != nil {
		t.Fatal(err)
	}
	st := stored.Settings
	if !st.AnonymousPullEnabled || st.PublicNetworkAccess || st.AADAuthAsARMPolicy || st.NetworkDefaultAction != "Deny" || stored.Generation < 2 {
		t.Errorf("stored settings = %+v, generation %d", st, stored.Generation)
	}
	// The SDK reads the registry back without those fields, and keeps working.
	if _, err := regs.Get(t.Context(), group, "cerulean", nil); err != nil {
		t.Errorf("Get: %v", err)
	}
	_, err = regs.BeginUpdate(t.Context(), group, "cerulean", armcontainerregistry.RegistryUpdateParameters{
		SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameBasic)}}, nil)
	wantARMError(t, "downgrade to Basic with anonymous pull and network rules", err, http.StatusBadRequest, "InvalidParameter")
}

func TestBootstrapAgain(t *testing.T) {
	e := newEnv(t)
	b := management.Bootstrap{TenantID: tenant, SubscriptionID: subID, ResourceGroup: group, Registry: "cerulean",
		LoginServer: "127.0.0.1:5443", OwnerObjectID: owner}
	before, err := e.store.RoleAssignments(t.Context(), meta.RoleAssignmentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Bootstrap(t.Context(), b); err != nil {
		t.Fatalf("Bootstrap again: %v", err)
	}
	after, err := e.store.RoleAssignments(t.Context(), meta.RoleAssignmentQuery{})
	if err != nil || len(after) != len(before) || len(after) != 1 {
		t.Errorf("role assignments after a second bootstrap: %d, before %d (%v)", len(after), len(before), err)
	}
	// The server moved: the default registry follows it.
	b.LoginServer = "Registry.Example:8443"
	if err := e.svc.Bootstrap(t.Context(), b); err != nil {
		t.Fatalf("Bootstrap after a move: %v", err)
	}
	if r, err := e.store.RegistryByLoginServer(t.Context(), "registry.example:8443"); err != nil || r.Name != "cerulean" {
		t.Errorf("RegistryByLoginServer after the move = %+v, %v", r, err)
	}
}
