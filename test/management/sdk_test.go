package management

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/access"
)

// TestSDK drives every management operation with the Azure SDK for Go, signed in with
// azidentity through the server's own identity plane, over TLS, as the bootstrap owner
// and as a service principal that only has AcrPull.
func TestSDK(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	sub := "/subscriptions/" + f.boot.SubscriptionID
	regs := f.acr(f.owner).NewRegistriesClient()

	t.Run("subscriptions and resource groups", func(t *testing.T) {
		status, body := f.raw(t, f.owner, "GET", "/subscriptions?api-version=2019-11-01", nil)
		if status != http.StatusOK || !strings.Contains(string(body), f.boot.SubscriptionID) || !strings.Contains(string(body), f.boot.TenantID) {
			t.Errorf("GET /subscriptions: %d %s", status, body)
		}
		for _, tc := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"PUT", sub + "/resourcegroups/team-a?api-version=2021-04-01", map[string]any{"location": "local"}, http.StatusCreated},
			{"GET", sub + "/resourceGroups/TEAM-A?api-version=2021-04-01", nil, http.StatusOK},
			{"GET", sub + "/resourcegroups?api-version=2021-04-01", nil, http.StatusOK},
			{"DELETE", sub + "/resourcegroups/team-a?api-version=2021-04-01", nil, http.StatusOK},
			{"GET", sub + "/resourcegroups/team-a?api-version=2021-04-01", nil, http.StatusNotFound},
		} {
			if status, body := f.raw(t, f.owner, tc.method, tc.path, tc.body); status != tc.status {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, status, body, tc.status)
			}
		}
		status, body = f.raw(t, f.owner, "GET", sub+"/resources?api-version=2021-04-01&$filter=resourceType%20eq%20'Microsoft.ContainerRegistry/registries'", nil)
		if status != http.StatusOK || !strings.Contains(string(body), f.boot.RegistryName) {
			t.Errorf("resources of type registries: %d %s", status, body)
		}
	})

	t.Run("bootstrap registry", func(t *testing.T) {
		r, err := regs.Get(ctx, f.boot.ResourceGroup, f.boot.RegistryName, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *r.Properties.LoginServer != f.srv.Host || *r.Properties.AdminUserEnabled {
			t.Errorf("bootstrap registry: login server %s (want %s), admin enabled %v", *r.Properties.LoginServer, f.srv.Host, *r.Properties.AdminUserEnabled)
		}
	})

	name := "teamRegistry1"
	t.Run("registry lifecycle", func(t *testing.T) {
		p, err := regs.BeginCreate(ctx, f.boot.ResourceGroup, name, armcontainerregistry.Registry{Location: to.Ptr("local"),
			SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNamePremium)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		created, err := p.PollUntilDone(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := strings.Cut(f.srv.Host, ":")
		if want := "teamregistry1.localhost:" + port; *created.Properties.LoginServer != want {
			t.Errorf("login server %s, want %s", *created.Properties.LoginServer, want)
		}
		if status, body := f.raw(t, f.owner, "PUT", sub+"/resourcegroups/other?api-version=2021-04-01", map[string]any{"location": "local"}); status != http.StatusCreated {
			t.Fatalf("create resource group: %d %s", status, body)
		}
		_, err = regs.BeginCreate(ctx, "other", strings.ToUpper(name), armcontainerregistry.Registry{Location: to.Ptr("local"),
			SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameBasic)}}, nil)
		wantARMError(t, "create the same name in another group", err, http.StatusConflict, "AlreadyInUse")
		up, err := regs.BeginUpdate(ctx, f.boot.ResourceGroup, name, armcontainerregistry.RegistryUpdateParameters{
			Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{AdminUserEnabled: to.Ptr(true)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := up.PollUntilDone(ctx, nil); err != nil || !*res.Properties.AdminUserEnabled {
			t.Fatalf("enable admin: %v", err)
		}
		creds, err := regs.ListCredentials(ctx, f.boot.ResourceGroup, name, nil)
		if err != nil || len(creds.Passwords) != 2 || *creds.Username != name {
			t.Fatalf("ListCredentials = %+v, %v", creds, err)
		}
		renewed, err := regs.RegenerateCredential(ctx, f.boot.ResourceGroup, name, armcontainerregistry.RegenerateCredentialParameters{
			Name: to.Ptr(armcontainerregistry.PasswordNamePassword)}, nil)
		if err != nil || *renewed.Passwords[0].Value == *creds.Passwords[0].Value || *renewed.Passwords[1].Value != *creds.Passwords[1].Value {
			t.Errorf("RegenerateCredential password: %v", err)
		}
		var names []string
		for pager := regs.NewListByResourceGroupPager(f.boot.ResourceGroup, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Value {
				names = append(names, *r.Name)
			}
		}
		if !slices.Contains(names, name) || !slices.Contains(names, f.boot.RegistryName) {
			t.Errorf("ListByResourceGroup = %q", names)
		}
		_, err = regs.Get(ctx, f.boot.ResourceGroup, "nosuchregistry", nil)
		wantARMError(t, "get a missing registry", err, http.StatusNotFound, "ResourceNotFound")
	})

	t.Run("scope maps and tokens", func(t *testing.T) {
		maps, tokens := f.acr(f.owner).NewScopeMapsClient(), f.acr(f.owner).NewTokensClient()
		_, err := maps.BeginCreate(ctx, f.boot.ResourceGroup, name, "badMap1", armcontainerregistry.ScopeMap{Properties: &armcontainerregistry.ScopeMapProperties{
			Actions: to.SliceOfPtrs("repositories/samples/content/pull")}}, nil)
		wantARMError(t, "malformed scope-map action", err, http.StatusBadRequest, "InvalidParameter")
		p, err := maps.BeginCreate(ctx, f.boot.ResourceGroup, name, "samplesPush", armcontainerregistry.ScopeMap{Properties: &armcontainerregistry.ScopeMapProperties{
			Actions: to.SliceOfPtrs("repositories/samples/*/content/read", "repositories/samples/*/content/write")}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		tp, err := tokens.BeginCreate(ctx, f.boot.ResourceGroup, name, "ciToken", armcontainerregistry.Token{Properties: &armcontainerregistry.TokenProperties{
			ScopeMapID: to.Ptr(f.registryID(name) + "/scopeMaps/samplesPush")}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := tp.PollUntilDone(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		gp, err := regs.BeginGenerateCredentials(ctx, f.boot.ResourceGroup, name, armcontainerregistry.GenerateCredentialsParameters{
			TokenID: tok.ID, Expiry: &expiry}, nil)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := gp.PollUntilDone(ctx, nil)
		if err != nil || len(gen.Passwords) != 2 || gen.Passwords[0].Value == nil {
			t.Fatalf("generateCredentials = %+v, %v", gen, err)
		}
		got, err := tokens.Get(ctx, f.boot.ResourceGroup, name, "ciToken", nil)
		if err != nil || len(got.Properties.Credentials.Passwords) != 2 || got.Properties.Credentials.Passwords[0].Value != nil {
			t.Errorf("GET token must list passwords without values: %+v, %v", got.Properties, err)
		}
		dp, err := tokens.BeginUpdate(ctx, f.boot.ResourceGroup, name, "ciToken", armcontainerregistry.TokenUpdateParameters{
			Properties: &armcontainerregistry.TokenUpdateProperties{Status: to.Ptr(armcontainerregistry.TokenStatusDisabled)}}, nil)
		if err == nil {
			_, err = dp.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for pager := tokens.NewListPager(f.boot.ResourceGroup, name, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range page.Value {
				listed = append(listed, *tk.Name+":"+string(*tk.Properties.Status))
			}
		}
		if !slices.Equal(listed, []string{"ciToken:disabled"}) {
			t.Errorf("tokens = %q", listed)
		}
	})

	puller := f.newPrincipal("puller")
	t.Run("AcrPull-only principal is forbidden", func(t *testing.T) {
		assignments := f.authz(f.owner).NewRoleAssignmentsClient()
		scope := f.registryID(name)
		if _, err := assignments.Create(ctx, scope, "3e1c3a54-0f6c-4c43-9c8f-b1d5f6a9e001", armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(sub + "/providers/Microsoft.Authorization/roleDefinitions/" + access.RoleAcrPull),
				PrincipalID:      &puller.objectID, PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil); err != nil {
			t.Fatalf("assign AcrPull: %v", err)
		}
		pullerRegs := f.acr(puller.cred).NewRegistriesClient()
		_, err := pullerRegs.Get(ctx, f.boot.ResourceGroup, name, nil)
		wantARMError(t, "AcrPull: GET registry", err, http.StatusForbidden, "AuthorizationFailed")
		_, err = pullerRegs.BeginUpdate(ctx, f.boot.ResourceGroup, name, armcontainerregistry.RegistryUpdateParameters{
			Tags: map[string]*string{"x": to.Ptr("y")}}, nil)
		wantARMError(t, "AcrPull: PATCH registry", err, http.StatusForbidden, "AuthorizationFailed")
		_, err = f.authz(puller.cred).NewRoleAssignmentsClient().Create(ctx, scope, "3e1c3a54-0f6c-4c43-9c8f-b1d5f6a9e002",
			armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(sub + "/providers/Microsoft.Authorization/roleDefinitions/" + access.RoleOwner), PrincipalID: &puller.objectID}}, nil)
		wantARMError(t, "AcrPull: assign Owner to itself", err, http.StatusForbidden, "AuthorizationFailed")
		_, err = assignments.Create(ctx, scope, "3e1c3a54-0f6c-4c43-9c8f-b1d5f6a9e003", armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(sub + "/providers/Microsoft.Authorization/roleDefinitions/" + access.RoleAcrPull), PrincipalID: &puller.objectID}}, nil)
		wantARMError(t, "assign AcrPull again", err, http.StatusConflict, "RoleAssignmentExists")
		_, err = assignments.Create(ctx, scope, "3e1c3a54-0f6c-4c43-9c8f-b1d5f6a9e004", armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(sub + "/providers/Microsoft.Authorization/roleDefinitions/" + access.RoleAcrPull),
				PrincipalID:      to.Ptr("0c0c0c0c-0000-4000-8000-000000000000")}}, nil)
		wantARMError(t, "assign a role to a principal the directory does not have", err, http.StatusBadRequest, "PrincipalNotFound")
		if _, err := assignments.Delete(ctx, scope, "3e1c3a54-0f6c-4c43-9c8f-b1d5f6a9e001", nil); err != nil {
			t.Errorf("delete assignment: %v", err)
		}
	})

	t.Run("activity log", func(t *testing.T) {
		status, body := f.raw(t, f.owner, "GET", sub+"/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter="+
			"eventTimestamp%20ge%20'2020-01-01T00:00:00Z'", nil)
		var events struct {
			Value []struct {
				Caller        string
				OperationName struct{ Value string }
				Status        struct{ Value string }
			}
		}
		if err := json.Unmarshal(body, &events); err != nil || status != http.StatusOK {
			t.Fatalf("activity log: %d %s", status, body)
		}
		var denied, written bool
		for _, e := range events.Value {
			denied = denied || (e.Caller == puller.objectID && e.Status.Value == "Failed" && e.OperationName.Value == "Microsoft.ContainerRegistry/registries/write")
			written = written || (e.Caller == f.boot.OwnerObjectID && e.Status.Value == "Succeeded" && e.OperationName.Value == "Microsoft.ContainerRegistry/registries/write")
		}
		if !denied || !written {
			t.Errorf("activity log lacks the owner's write (%v) or the refused write (%v): %s", written, denied, body)
		}
	})

	t.Run("delete registry", func(t *testing.T) {
		p, err := regs.BeginDelete(ctx, f.boot.ResourceGroup, name, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.acr(f.owner).NewTokensClient().Get(ctx, f.boot.ResourceGroup, name, "ciToken", nil)
		wantARMError(t, "token of a deleted registry", err, http.StatusNotFound, "ResourceNotFound")
	})
}
