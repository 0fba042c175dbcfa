package access

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestControlAllowed(t *testing.T) {
	t.Parallel()
	const (
		regRead     = "Microsoft.ContainerRegistry/registries/read"
		regWrite    = "Microsoft.ContainerRegistry/registries/write"
		regDelete   = "Microsoft.ContainerRegistry/registries/delete"
		listCreds   = "Microsoft.ContainerRegistry/registries/listCredentials/action"
		scopeMapW   = "Microsoft.ContainerRegistry/registries/scopeMaps/write"
		raWrite     = "Microsoft.Authorization/roleAssignments/write"
		raDelete    = "Microsoft.Authorization/roleAssignments/delete"
		raRead      = "Microsoft.Authorization/roleAssignments/read"
		elevate     = "Microsoft.Authorization/elevateAccess/Action"
		supportTkt  = "Microsoft.Support/supportTickets/write"
		pullRead    = actionPullRead
		subsCancel  = "Microsoft.Subscription/cancel/action"
		roleDefRead = "Microsoft.Authorization/roleDefinitions/read"
	)
	ops := []string{regRead, regWrite, regDelete, listCreds, scopeMapW, raWrite, raDelete, raRead, elevate, supportTkt, pullRead, subsCancel, roleDefRead}
	for _, tc := range []struct {
		role    string
		allowed []string
	}{
		{"Owner", ops},
		{"Contributor", []string{regRead, regWrite, regDelete, listCreds, scopeMapW, raRead, supportTkt, pullRead, roleDefRead}},
		{"Reader", []string{regRead, raRead, pullRead, roleDefRead}},
		{"User Access Administrator", []string{regRead, raWrite, raDelete, raRead, elevate, supportTkt, pullRead, roleDefRead}},
		{"AcrPull", []string{pullRead}},
		{"AcrPush", []string{pullRead}},
		{"AcrDelete", nil},
		{"Container Registry Repository Contributor", nil},
	} {
		t.Run(tc.role, func(t *testing.T) {
			var got []string
			for _, op := range ops {
				if ControlAllowed([]RoleDefinition{role(t, tc.role)}, op) {
					got = append(got, op)
				}
			}
			if d := cmp.Diff(tc.allowed, got); d != "" {
				t.Errorf("allowed operations (-want +got):\n%s", d)
			}
		})
	}
}

// TestControlAllowedAddsUp checks that NotActions subtract only from their own role:
// Contributor plus User Access Administrator may write role assignments.
func TestControlAllowedAddsUp(t *testing.T) {
	t.Parallel()
	roles := []RoleDefinition{role(t, "Contributor"), role(t, "User Access Administrator")}
	if !ControlAllowed(roles, "Microsoft.Authorization/roleAssignments/write") {
		t.Error("Contributor + UAA cannot write role assignments")
	}
	if ControlAllowed(nil, "Microsoft.ContainerRegistry/registries/read") {
		t.Error("no roles allow")
	}
	if ControlAllowed([]RoleDefinition{role(t, "Owner")}, "microsoft.authorization/ROLEASSIGNMENTS/write") != true {
		t.Error("operations compare case-insensitively")
	}
}

func TestBuiltInRoles(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"AcrPull":                              RoleAcrPull,
		"AcrPush":                              RoleAcrPush,
		"AcrDelete":                            RoleAcrDelete,
		"AcrImageSigner":                       RoleAcrImageSigner,
		"AcrQuarantineReader":                  RoleAcrQuarantineReader,
		"AcrQuarantineWriter":                  RoleAcrQuarantineWriter,
		"Reader":                               RoleReader,
		"Contributor":                          RoleContributor,
		"Owner":                                RoleOwner,
		"User Access Administrator":            RoleUserAccessAdministrator,
		"Container Registry Repository Reader": RoleRepositoryReader,
		"Container Registry Repository Writer": RoleRepositoryWriter,
		"Container Registry Repository Contributor":    RoleRepositoryContributor,
		"Container Registry Repository Catalog Lister": RoleRepositoryCatalogLister,
	}
	got := map[string]string{}
	for _, r := range BuiltInRoles() {
		if r.Description == "" || len(r.Actions)+len(r.DataActions) == 0 {
			t.Errorf("%s lacks a description or permissions", r.Name)
		}
		got[r.Name] = r.ID
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("built-in roles (-want +got):\n%s", d)
	}
	for name, id := range want {
		for _, key := range []string{name, id} {
			if r, ok := BuiltInRole(key); !ok || r.ID != id {
				t.Errorf("BuiltInRole(%q) = %v, %v", key, r.ID, ok)
			}
		}
	}
	if r, ok := BuiltInRole("acrpull"); !ok || r.ID != RoleAcrPull {
		t.Error("names match case-insensitively")
	}
	if r, ok := BuiltInRole("7F951DDA-4ED3-4680-A7CA-43FE172D538D"); !ok || r.Name != "AcrPull" {
		t.Error("ids match case-insensitively")
	}
	if _, ok := BuiltInRole("Nope"); ok {
		t.Error("BuiltInRole(Nope) found a role")
	}
	r, _ := BuiltInRole("Contributor")
	r.NotActions[0] = "changed"
	roles := BuiltInRoles()
	roles[0].Actions[0] = "changed"
	if again, _ := BuiltInRole("Contributor"); again.NotActions[0] == "changed" || BuiltInRoles()[0].Actions[0] == "changed" {
		t.Error("built-in roles share their slices")
	}
}
