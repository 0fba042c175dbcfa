package management

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestWireJSON pins the JSON of each resource against golden files, which were checked
// field by field against the 2025-11-01 spec examples (RegistryGet.json, ScopeMapGet.json,
// TokenGet.json, RegistryGenerateCredentials.json), Microsoft.Authorization 2022-04-01 and
// Microsoft.Resources' TenantIdDescription (GET /tenants, 2019-11-01 and later).
func TestWireJSON(t *testing.T) {
	at := time.Date(2026, 11, 21, 21, 38, 26, 153786100, time.UTC)
	ch := meta.Change{At: at, By: "0000000a-0000-4000-8000-000000000001", ByType: "Application"}
	reg := "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myResourceGroup/providers/Microsoft.ContainerRegistry/registries/myRegistry"
	r := &meta.Registry{ID: "0123456789abcdef0123456789abcdef", Subscription: "00000000-0000-0000-0000-000000000000",
		ResourceGroup: "myResourceGroup", Name: "myRegistry", LoginServer: "myregistry.localhost:5443", Location: "westus",
		SKU: "Standard", Tags: map[string]string{"key": "value"}, Created: ch, Updated: ch,
		Settings: meta.RegistrySettings{PublicNetworkAccess: true, NetworkDefaultAction: "Allow", AADAuthAsARMPolicy: true,
			RoleAssignmentMode: "LegacyRegistryPermissions"}}
	tok := &meta.Token{Name: "myToken", ScopeMap: "myScopeMap", Enabled: true, Created: ch, Updated: ch,
		Passwords: [2]meta.TokenPassword{{Hash: []byte("h"), CreatedAt: at, Expiry: at.Add(24 * time.Hour)}}}
	owner, _ := access.BuiltInRole(access.RoleAcrPull)
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"registry", toRegistryJSON(r)},
		{"tenant", toTenantJSON(&meta.Tenant{ID: "72f988bf-86f1-41af-91ab-2d7cd011db47", DisplayName: "Contoso"})},
		{"scopemap", toScopeMapJSON(reg, &meta.ScopeMap{Name: "myScopeMap", Description: "Developer Scopes",
			Actions: []string{"repositories/myrepository/content/write", "repositories/myrepository/content/delete"}, Created: ch, Updated: ch})},
		{"token", toTokenJSON(reg, tok, nil)},
		{"token-created", toTokenJSON(reg, tok, &[2]string{"generatedvalue"})},
		{"roleassignment", toRoleAssignmentJSON(&meta.RoleAssignment{Name: "b0f43c54-e787-4862-89b1-a653fa9cf747", Scope: reg,
			RoleDefinitionID: access.RoleAcrPull, PrincipalID: "ce2ce14e-85d7-4629-bdbc-454d0519d987", PrincipalType: "ServicePrincipal",
			Created: ch, Updated: ch})},
		{"roledefinition", toRoleDefinitionJSON(scope{Sub: "00000000-0000-0000-0000-000000000000"}, owner)},
		{"event", toEventJSON(&meta.Event{ID: "e0e0e0e0-0000-4000-8000-000000000000", Time: at, TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
			Subscription: "00000000-0000-0000-0000-000000000000", ResourceGroup: "myResourceGroup", ResourceID: reg,
			Operation: "Microsoft.ContainerRegistry/registries/write", Caller: ch.By, CallerAppID: ch.By, Status: "Failed",
			SubStatus: "AuthorizationFailed", HTTPStatus: 403, Method: "PATCH", CorrelationID: "c0c0c0c0-0000-4000-8000-000000000000", ClientIP: "127.0.0.1"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (go test -update to accept):\n%s", tc.name, path, got)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		in, want  string
		ancestors int
		err       bool
	}{
		{"", "/", 1, false},
		{"/", "/", 1, false},
		{"/subscriptions/s1/", "/subscriptions/s1", 2, false},
		{"/SUBSCRIPTIONS/s1/resourcegroups/G", "/subscriptions/s1/resourceGroups/G", 3, false},
		{"/subscriptions/s1/resourceGroups/g/providers/microsoft.containerregistry/REGISTRIES/r", "/subscriptions/s1/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r", 4, false},
		{"/subscriptions", "", 0, true},
		{"/subscriptions/s1/resourceGroups", "", 0, true},
		{"/subscriptions/s1/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a", "", 0, true},
		{"/subscriptions/s1/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/scopeMaps/m", "", 0, true},
		{"/providers/Microsoft.Management/managementGroups/m", "", 0, true},
	} {
		sc, err := parseScope(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseScope(%q) error %v", tc.in, err)
			continue
		}
		if err == nil && (sc.String() != tc.want || len(sc.ancestors()) != tc.ancestors) {
			t.Errorf("parseScope(%q) = %s, ancestors %q", tc.in, sc, sc.ancestors())
		}
	}
}

func TestCovers(t *testing.T) {
	reg := "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
	for _, tc := range []struct {
		assignment, target string
		want               bool
	}{
		{"/", reg, true},
		{"/subscriptions/S", reg, true},
		{"/subscriptions/s/resourcegroups/G/", reg, true},
		{reg, reg + "/scopeMaps/m", true},
		{reg, reg, true},
		{reg + "1", reg, false},
		{"/subscriptions/s/resourceGroups/g2", reg, false},
		{reg, "/subscriptions/s", false},
	} {
		if got := covers(tc.assignment, tc.target); got != tc.want {
			t.Errorf("covers(%q, %q) = %v", tc.assignment, tc.target, got)
		}
	}
}

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", access.ErrInvalidScopeMapAction), http.StatusBadRequest, "InvalidParameter"},
		{access.ErrInvalidCondition, http.StatusBadRequest, "InvalidCondition"},
		{fmt.Errorf("sqlite: %w", meta.ErrResourceNotFound), http.StatusNotFound, "ResourceNotFound"},
		{meta.ErrResourceExists, http.StatusConflict, "Conflict"},
		{meta.ErrResourceInUse, http.StatusConflict, "Conflict"},
		{fmt.Errorf("wrapped: %w", groupNotFound("g")), http.StatusNotFound, "ResourceGroupNotFound"},
		{errors.New("disk on fire"), http.StatusInternalServerError, "InternalServerError"},
	} {
		e := armError(tc.err)
		if e.Status != tc.status || e.Code != tc.code {
			t.Errorf("armError(%v) = %d %s, want %d %s", tc.err, e.Status, e.Code, tc.status, tc.code)
		}
	}
	if e := armError(errors.New("secret detail")); bytes.Contains([]byte(e.Message), []byte("secret")) {
		t.Errorf("a 500 shows the error's detail: %q", e.Message)
	}
}

func TestPasswords(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := newPassword()
		if len(p) != passwordLength || seen[p] {
			t.Fatalf("newPassword = %q (seen before: %v)", p, seen[p])
		}
		for _, c := range p {
			if !bytes.ContainsRune([]byte(passwordAlphabet), c) {
				t.Fatalf("newPassword = %q: %q is not a letter or digit", p, c)
			}
		}
		seen[p] = true
	}
}
