package cliconn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// localData writes a server's data directory: a bootstrap file and a run file.
func localData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bootstrap.json", `{"tenantId":"boot-tenant","subscriptionId":"boot-sub","resourceGroup":"rg",
		"loginServer":"boot.example:8443","authorityHost":"https://boot.example:8443/","clientId":"boot-id","clientSecret":"boot-secret"}`)
	write("run/serve.json", `{"login_server":"run.example:9443"}`)
	return dir
}

func TestResolve(t *testing.T) {
	data := localData(t)
	for _, tc := range []struct {
		name string
		st   Settings
		env  map[string]string
		want Config
	}{
		{"data directory", Settings{Data: data}, nil, Config{Server: "https://run.example:9443", TenantID: "boot-tenant",
			ClientID: "boot-id", ClientSecret: "boot-secret", AuthorityHost: "https://boot.example:8443/", SubscriptionID: "boot-sub", ResourceGroup: "rg"}},
		{"flags win", Settings{Data: data, Server: "https://flag.example/", Subscription: "flag-sub", CAFile: "ca.pem"},
			map[string]string{"CERULEAN_SERVER": "https://env.example", "AZURE_SUBSCRIPTION_ID": "env-sub"},
			Config{Server: "https://flag.example", CAFile: "ca.pem", TenantID: "boot-tenant", ClientID: "boot-id", ClientSecret: "boot-secret",
				AuthorityHost: "https://boot.example:8443/", SubscriptionID: "flag-sub", ResourceGroup: "rg"}},
		{"environment principal", Settings{Data: data},
			map[string]string{"AZURE_CLIENT_ID": "env-id", "AZURE_CLIENT_SECRET": "env-secret"},
			Config{Server: "https://run.example:9443", TenantID: "boot-tenant", ClientID: "env-id", ClientSecret: "env-secret",
				AuthorityHost: "https://boot.example:8443/", SubscriptionID: "boot-sub", ResourceGroup: "rg"}},
		{"half-set environment keeps the bootstrap owner", Settings{Data: data},
			map[string]string{"AZURE_TENANT_ID": "env-tenant", "AZURE_CLIENT_ID": "env-id"},
			Config{Server: "https://run.example:9443", TenantID: "boot-tenant", ClientID: "boot-id", ClientSecret: "boot-secret",
				AuthorityHost: "https://boot.example:8443/", SubscriptionID: "boot-sub", ResourceGroup: "rg"}},
		{"no data directory", Settings{Data: t.TempDir(), Server: "https://remote.example"},
			map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "id", "AZURE_CLIENT_SECRET": "s"},
			Config{Server: "https://remote.example", TenantID: "t", ClientID: "id", ClientSecret: "s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.st.Resolve(func(k string) string { return tc.env[k] })
			if err != nil || got != tc.want {
				t.Errorf("Resolve = %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestResolveRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   Settings
	}{
		{"no server", Settings{Data: t.TempDir()}},
		{"no credentials", Settings{Data: t.TempDir(), Server: "https://remote.example"}},
		{"missing --bootstrap file", Settings{Bootstrap: filepath.Join(t.TempDir(), "absent.json")}},
	} {
		if _, err := tc.st.Resolve(func(string) string { return "" }); err == nil {
			t.Errorf("%s: Resolve succeeded", tc.name)
		}
	}
}

func TestCloud(t *testing.T) {
	c := Config{Server: "https://s.example:8443/"}.Cloud()
	if c.ActiveDirectoryAuthorityHost != "https://s.example:8443/" {
		t.Errorf("authority = %q", c.ActiveDirectoryAuthorityHost)
	}
	if c.Services[cloud.ResourceManager].Endpoint != "https://s.example:8443" {
		t.Errorf("services = %+v", c.Services)
	}
}
