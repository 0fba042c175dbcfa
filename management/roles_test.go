package management_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/access"
)

func roleID(id string) *string {
	return to.Ptr("/subscriptions/" + subID + "/providers/Microsoft.Authorization/roleDefinitions/" + id)
}

func assign(t *testing.T, e *env, as, scope, name, role, principal, condition string) (armauthorization.RoleAssignment, error) {
	t.Helper()
	props := &armauthorization.RoleAssignmentProperties{RoleDefinitionID: roleID(role), PrincipalID: to.Ptr(principal),
		PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}
	if condition != "" {
		props.Condition, props.ConditionVersion = to.Ptr(condition), to.Ptr("2.0")
	}
	res, err := e.authz(as).NewRoleAssignmentsClient().Create(t.Context(), scope, name,
		armauthorization.RoleAssignmentCreateParameters{Properties: props}, nil)
	return res.RoleAssignment, err
}

func TestRoleAssignments(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	reg := registryID("cerulean")
	groupScope := "/subscriptions/" + subID + "/resourceGroups/" + group
	pullerRegs := e.acr(puller).NewRegistriesClient()

	a, err := assign(t, e, owner, reg, "6f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPull, puller, "")
	if err != nil {
		t.Fatalf("assign AcrPull: %v", err)
	}
	if *a.Properties.Scope != reg || *a.Properties.RoleDefinitionID != *roleID(access.RoleAcrPull) || *a.Properties.PrincipalID != puller ||
		*a.ID != reg+"/providers/Microsoft.Authorization/roleAssignments/6f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f" {
		t.Errorf("created assignment = %+v, properties %+v", a, *a.Properties)
	}
	before, err := e.store.PrincipalGeneration(ctx, puller)
	if err != nil || before == 0 {
		t.Errorf("puller's generation after an assignment = %d, %v", before, err)
	}

	// AcrPull is a data-plane role: no ARM read, no writes, no role assignments.
	_, err = pullerRegs.Get(ctx, group, "cerulean", nil)
	wantARMError(t, "AcrPull: get registry", err, http.StatusForbidden, "AuthorizationFailed")
	_, err = pullerRegs.BeginUpdate(ctx, group, "cerulean", armcontainerregistry.RegistryUpdateParameters{
		Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{AdminUserEnabled: to.Ptr(true)}}, nil)
	wantARMError(t, "AcrPull: update registry", err, http.StatusForbidden, "AuthorizationFailed")
	_, err = assign(t, e, puller, reg, "7f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPush, puller, "")
	wantARMError(t, "AcrPull: assign a role", err, http.StatusForbidden, "AuthorizationFailed")
	if page, err := pullerRegs.NewListPager(nil).NextPage(ctx); err != nil || len(page.Value) != 0 {
		t.Errorf("AcrPull: list registries = %d, %v; want none (filtered)", len(page.Value), err)
	}

	// Reader at the resource group: reads, but no writes.
	if _, err := assign(t, e, owner, groupScope, "8f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleReader, puller, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := pullerRegs.Get(ctx, group, "cerulean", nil); err != nil {
		t.Errorf("Reader: get registry: %v", err)
	}
	_, err = pullerRegs.ListCredentials(ctx, group, "cerulean", nil)
	wantARMError(t, "Reader: list credentials", err, http.StatusForbidden, "AuthorizationFailed")

	// Contributor at the subscription: writes, but still no role assignments.
	if _, err := assign(t, e, owner, "/subscriptions/"+subID, "9f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleContributor, puller, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := pullerRegs.BeginUpdate(ctx, group, "cerulean", armcontainerregistry.RegistryUpdateParameters{
		Tags: map[string]*string{"by": to.Ptr("contributor")}}, nil); err != nil {
		t.Errorf("Contributor: update registry: %v", err)
	}
	_, err = assign(t, e, puller, reg, "af0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPush, puller, "")
	wantARMError(t, "Contributor: assign a role", err, http.StatusForbidden, "AuthorizationFailed")

	for _, tc := range []struct {
		name, scope, assignment, role, principal, condition string
		status                                              int
		code                                                string
	}{
		{"duplicate", reg, "bf0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPull, puller, "", http.StatusConflict, "RoleAssignmentExists"},
		{"name taken", reg, "6f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPush, puller, "", http.StatusConflict, "RoleAssignmentUpdateNotPermitted"},
		{"name not a GUID", reg, "not-a-guid", access.RoleAcrPull, outside, "", http.StatusBadRequest, "InvalidRoleAssignmentId"},
		{"unknown role", reg, "cf0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", "00000000-0000-4000-8000-00000000dead", outside, "", http.StatusBadRequest, "RoleDefinitionDoesNotExist"},
		{"malformed condition", reg, "df0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleRepositoryReader, outside, "@Request[x] StringEquals", http.StatusBadRequest, "InvalidCondition"},
		{"missing registry", registryID("nothere1"), "ef0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPull, outside, "", http.StatusNotFound, "ResourceNotFound"},
		{"missing group", "/subscriptions/" + subID + "/resourceGroups/nogroup", "ef0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPull, outside, "", http.StatusNotFound, "ResourceGroupNotFound"},
		{"unknown scope", "/subscriptions/" + subID + "/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/x", "ef0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleAcrPull, outside, "", http.StatusBadRequest, "InvalidScope"},
	} {
		_, err := assign(t, e, owner, tc.scope, tc.assignment, tc.role, tc.principal, tc.condition)
		wantARMError(t, "assign, "+tc.name, err, tc.status, tc.code)
	}

	// An ABAC repository role with a repository-name condition.
	cond := "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR " +
		"(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'samples/'))"
	abac, err := assign(t, e, owner, reg, "0a0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", access.RoleRepositoryReader, outside, cond)
	if err != nil || *abac.Properties.Condition != cond || *abac.Properties.ConditionVersion != "2.0" {
		t.Errorf("assign with a condition = %+v, %v", abac.Properties, err)
	}

	// Listing at the registry shows what applies there: the subscription's, the group's
	// and the registry's own assignments.
	ras := e.authz(owner).NewRoleAssignmentsClient()
	var principals []string
	for pager := ras.NewListForScopePager(reg, &armauthorization.RoleAssignmentsClientListForScopeOptions{
		Filter: to.Ptr("assignedTo('" + puller + "')")}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			principals = append(principals, lastSegment(*a.Properties.RoleDefinitionID))
		}
	}
	if strings.Join(principals, ",") != strings.Join([]string{access.RoleContributor, access.RoleReader, access.RoleAcrPull}, ",") {
		t.Errorf("assignments of puller applying to the registry = %q", principals)
	}

	del, err := ras.Delete(ctx, reg, "6f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", nil)
	if err != nil || *del.Properties.PrincipalID != puller {
		t.Errorf("Delete = %+v, %v", del, err)
	}
	if after, _ := e.store.PrincipalGeneration(ctx, puller); after <= before {
		t.Errorf("puller's generation after losing a role = %d, was %d", after, before)
	}
	_, err = ras.Get(ctx, reg, "6f0b0e3d-8d64-4b5a-9c39-1a2b3c4d5e6f", nil)
	wantARMError(t, "Get a deleted assignment", err, http.StatusNotFound, "RoleAssignmentNotFound")
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }

func TestRoleDefinitions(t *testing.T) {
	e := newEnv(t)
	defs := e.authz(owner).NewRoleDefinitionsClient()
	scope := "/subscriptions/" + subID
	page, err := defs.NewListPager(scope, &armauthorization.RoleDefinitionsClientListOptions{
		Filter: to.Ptr("roleName eq 'AcrPull'")}).NextPage(t.Context())
	if err != nil || len(page.Value) != 1 {
		t.Fatalf("list roleName eq 'AcrPull' = %d, %v", len(page.Value), err)
	}
	d := page.Value[0]
	if *d.Name != access.RoleAcrPull || *d.ID != *roleID(access.RoleAcrPull) || *d.Properties.RoleType != "BuiltInRole" ||
		*d.Properties.Permissions[0].Actions[0] != "Microsoft.ContainerRegistry/registries/pull/read" {
		t.Errorf("AcrPull = %+v", *d.Properties)
	}
	all, err := defs.NewListPager(scope, nil).NextPage(t.Context())
	if err != nil || len(all.Value) != len(access.BuiltInRoles()) {
		t.Errorf("list = %d roles, %v; want %d", len(all.Value), err, len(access.BuiltInRoles()))
	}
	got, err := defs.Get(t.Context(), registryID("cerulean"), access.RoleOwner, nil)
	if err != nil || *got.Properties.RoleName != "Owner" {
		t.Errorf("Get Owner = %+v, %v", got, err)
	}
	_, err = defs.Get(t.Context(), scope, "00000000-0000-4000-8000-00000000dead", nil)
	wantARMError(t, "Get an unknown role", err, http.StatusNotFound, "RoleDefinitionDoesNotExist")
}

func TestActivityLog(t *testing.T) {
	e := newEnv(t)
	regs := e.acr(owner).NewRegistriesClient()
	if _, err := regs.BeginUpdate(t.Context(), group, "cerulean", armcontainerregistry.RegistryUpdateParameters{
		Tags: map[string]*string{"a": to.Ptr("b")}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.acr(puller).NewRegistriesClient().BeginUpdate(t.Context(), group, "cerulean", armcontainerregistry.RegistryUpdateParameters{}, nil)
	wantARMError(t, "update without a role", err, http.StatusForbidden, "AuthorizationFailed")

	path := "/subscriptions/" + subID + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=" +
		"eventTimestamp%20ge%20'2020-01-01T00:00:00Z'%20and%20resourceUri%20eq%20'" + registryID("cerulean") + "'"
	resp := e.do("GET", path, tenant+"/"+owner, "")
	var body struct {
		Value []struct {
			Caller        string
			OperationName struct{ Value string }
			Status        struct{ Value string }
			SubStatus     struct{ Value string }
			ResourceID    string
			CorrelationID string
			Level         string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("list events: %s, %v", resp.Status, err)
	}
	if len(body.Value) != 2 {
		t.Fatalf("events = %+v, want the update and the refused update", body.Value)
	}
	denied, done := body.Value[0], body.Value[1]
	if denied.Caller != puller || denied.Status.Value != "Failed" || denied.SubStatus.Value != "Forbidden" || denied.Level != "Error" ||
		done.Caller != owner || done.Status.Value != "Succeeded" || done.OperationName.Value != "Microsoft.ContainerRegistry/registries/write" ||
		!strings.EqualFold(done.ResourceID, registryID("cerulean")) || done.CorrelationID == "" {
		t.Errorf("events = %+v", body.Value)
	}
	resp = e.do("GET", path, tenant+"/"+puller, "")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("list events without a role: %s", resp.Status)
	}
}
