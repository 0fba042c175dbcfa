package management_test

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// decodeNames decodes an ARM list and returns the names of its items.
func decodeNames(t *testing.T, resp *http.Response) []string {
	t.Helper()
	var body struct {
		Value []struct{ Name, ID, SubscriptionID, TenantID string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var names []string
	for _, v := range body.Value {
		n := v.Name
		if n == "" {
			n = cmp.Or(v.SubscriptionID, v.TenantID)
		}
		names = append(names, n)
	}
	return names
}

func TestResourcesPlane(t *testing.T) {
	e := newEnv(t)
	as := func(p string) string { return tenant + "/" + p }
	sub := "/subscriptions/" + subID
	regPath := sub + "/resourceGroups/" + group + "/providers/Microsoft.ContainerRegistry/registries/cerulean"
	filter := "?api-version=2021-04-01&$filter=" + url.QueryEscape("resourceType eq 'Microsoft.ContainerRegistry/registries'")
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		list                            bool     // the answer is an ARM list
		names                           []string // of its items
	}{
		{"home tenant (az login without --tenant)", "GET", "/tenants?api-version=2019-11-01", as(puller), "", 200, true, []string{tenant}},
		{"tenants need a token", "GET", "/tenants?api-version=2019-11-01", "", "", 401, false, nil},
		{"subscriptions (az login)", "GET", "/subscriptions?api-version=2019-11-01", as(owner), "", 200, true, []string{subID}},
		{"no subscriptions without a role", "GET", "/subscriptions?api-version=2019-11-01", as(puller), "", 200, true, nil},
		{"subscription", "GET", sub + "?api-version=2022-12-01", as(owner), "", 200, false, nil},
		{"unknown subscription", "GET", "/subscriptions/00000000-0000-4000-8000-000000000000?api-version=1", as(owner), "", 404, false, nil},
		{"resources of a type (az acr)", "GET", sub + "/resources" + filter, as(owner), "", 200, true, []string{"cerulean"}},
		{"resources of another type", "GET", sub + "/resources?$filter=" + url.QueryEscape("resourceType eq 'Microsoft.Storage/storageAccounts'"), as(owner), "", 200, true, nil},
		{"resources by name", "GET", sub + "/resourceGroups/cerulean/resources?$filter=" + url.QueryEscape("name eq 'CERULEAN'"), as(owner), "", 200, true, []string{"cerulean"}},
		{"unsupported filter", "GET", sub + "/resources?$filter=" + url.QueryEscape("location eq 'x'"), as(owner), "", 400, false, nil},
		{"fixed segments are case-insensitive", "GET", "/SUBSCRIPTIONS/" + subID + "/resourcegroups/CERULEAN/PROVIDERS/microsoft.containerregistry/REGISTRIES/Cerulean?api-version=1999-01-01", as(owner), "", 200, false, nil},
		{"double slashes", "GET", "//subscriptions/" + subID + "//resourceGroups/cerulean", as(owner), "", 200, false, nil},
		{"escaped segments", "GET", "/subscriptions/" + subID + "/resourceGroups/%63erulean", as(owner), "", 200, false, nil},
		{"unknown resource type", "GET", sub + "/providers/Microsoft.Storage/storageAccounts", as(owner), "", 404, false, nil},
		{"method not allowed", "POST", regPath, as(owner), "", 405, false, nil},
		{"create group", "PUT", sub + "/resourcegroups/Team-A?api-version=2021-04-01", as(owner), `{"location":"local","tags":{"a":"b"}}`, 201, false, nil},
		{"update group", "PUT", sub + "/resourcegroups/team-a", as(owner), `{"location":"local"}`, 200, false, nil},
		{"group location is fixed", "PUT", sub + "/resourcegroups/team-a", as(owner), `{"location":"mars"}`, 400, false, nil},
		{"invalid group name", "PUT", sub + "/resourcegroups/bad.", as(owner), `{"location":"local"}`, 400, false, nil},
		{"group exists", "HEAD", sub + "/resourcegroups/team-a", as(owner), "", 204, false, nil},
		{"groups", "GET", sub + "/resourcegroups", as(owner), "", 200, true, []string{"cerulean", "Team-A"}},
		{"registry in the new group", "PUT", sub + "/resourceGroups/team-a/providers/Microsoft.ContainerRegistry/registries/teamreg1?api-version=2025-11-01",
			as(owner), `{"location":"local","sku":{"name":"Premium"}}`, 201, false, nil},
		{"name check: taken", "POST", sub + "/providers/Microsoft.ContainerRegistry/checkNameAvailability", as(owner),
			`{"name":"TeamReg1","type":"Microsoft.ContainerRegistry/registries"}`, 200, false, nil},
		{"delete group with its registry", "DELETE", sub + "/resourcegroups/team-a", as(owner), "", 200, false, nil},
		{"group gone", "HEAD", sub + "/resourcegroups/team-a", as(owner), "", 404, false, nil},
		{"registry gone with it", "GET", sub + "/resources" + filter, as(owner), "", 200, true, []string{"cerulean"}},
		{"groups need a role", "PUT", sub + "/resourcegroups/x", as(puller), `{"location":"local"}`, 403, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.method, tc.path, tc.token, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.status)
			}
			if got := []string(nil); tc.list {
				if got = decodeNames(t, resp); !slices.Equal(got, tc.names) {
					t.Errorf("names = %q, want %q", got, tc.names)
				}
			}
		})
	}
}

func TestMetadataEndpoints(t *testing.T) {
	e := newEnv(t)
	resp := e.do("GET", "/metadata/endpoints?api-version=2015-01-01", "", "")
	var doc struct {
		Authentication struct {
			LoginEndpoint string
			Audiences     []string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata: %s, %v", resp.Status, err)
	}
	host := e.srv.Listener.Addr().String()
	if doc.Authentication.LoginEndpoint != "https://"+host+"/adfs" || len(doc.Authentication.Audiences) == 0 ||
		doc.Authentication.Audiences[0] != "https://management.core.windows.net/" {
		t.Errorf("metadata = %+v", doc)
	}
}
