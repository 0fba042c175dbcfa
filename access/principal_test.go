package access

import "testing"

func TestARMScopeCovers(t *testing.T) {
	t.Parallel()
	const reg = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myreg"
	for _, tc := range []struct {
		scope, registry string
		want            bool
	}{
		{"/subscriptions/sub1", reg, true},
		{"/SUBSCRIPTIONS/SUB1", reg, true},
		{"/subscriptions/sub1/resourceGroups/rg1", reg, true},
		{"/subscriptions/sub1/resourcegroups/RG1", reg, true},
		{reg, reg, true},
		{"/subscriptions/SUB1/resourcegroups/rg1/providers/microsoft.containerregistry/registries/MYREG", reg, true},
		{"/subscriptions/sub2", reg, false},
		{"/subscriptions/sub1/resourceGroups/rg2", reg, false},
		{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/other", reg, false},
		{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/myreg", reg, false},
		{"/subscriptions/sub1/resourceGroups/rg1/providers", reg, false},
		{reg + "/scopeMaps/x", reg, false},
		{"/", reg, false},
		{"/providers/Microsoft.Management/managementGroups/mg", reg, false},
		{"subscriptions/sub1", reg, false},
		{"/subscriptions/sub1/", reg, false},
		{"", reg, false},
		{"/subscriptions/sub1", "/subscriptions/sub1", false},
		{"/subscriptions/sub1", "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/x", false},
		{"/subscriptions/sub1", "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/", false},
		{"/subscriptions/sub1", "/subscriptions/sub1/resource/rg1/providers/Microsoft.ContainerRegistry/registries/x", false},
		{"/subscriptions/sub1", "/subs/sub1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/x", false},
		{"/subscriptions/sub1", "/subscriptions/sub1/resourceGroups/rg1/provider/Microsoft.ContainerRegistry/registries/x", false},
		{"/subscriptions/sub1", "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registry/x", false},
	} {
		if got := ARMScopeCovers(tc.scope, tc.registry); got != tc.want {
			t.Errorf("ARMScopeCovers(%q, %q) = %v, want %v", tc.scope, tc.registry, got, tc.want)
		}
	}
}

func TestPrincipalString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    Principal
		want string
	}{
		{Principal{}, "unknown"},
		{Principal{Kind: Anonymous}, "anonymous"},
		{Principal{Kind: AdminUser, Name: "myreg"}, "admin:myreg"},
		{Principal{Kind: RepositoryToken, Name: "MyToken"}, "token:MyToken"},
		{Principal{Kind: Entra, TenantID: "t1", ObjectID: "o1", Name: "app"}, "entra:t1/o1"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestRoleAssignmentModeValid(t *testing.T) {
	t.Parallel()
	for m, want := range map[RoleAssignmentMode]bool{
		"":                          true,
		LegacyRegistryPermissions:   true,
		AbacRepositoryPermissions:   true,
		"abacRepositoryPermissions": false,
		"rbac-abac":                 false,
	} {
		if got := m.Valid(); got != want {
			t.Errorf("%q.Valid() = %v, want %v", m, got, want)
		}
	}
}
