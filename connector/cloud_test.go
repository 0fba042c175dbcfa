package connector

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	_ "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry" // registers ARM's cloud entries (azcore/arm/runtime)
)

// TestCloudsMatchSDK checks the cloud table against the Azure SDK's own values: azcore's
// authority hosts, ARM endpoints and audiences (set by azcore's arm runtime, which
// armcontainerregistry loads) and azcontainerregistry's audience.
func TestCloudsMatchSDK(t *testing.T) {
	for name, sdk := range map[string]cloud.Configuration{
		"public": cloud.AzurePublic, "usgov": cloud.AzureGovernment, "china": cloud.AzureChina,
	} {
		c, ok := Clouds()[name]
		if !ok {
			t.Fatalf("no cloud %q", name)
		}
		if c.AuthorityHost != sdk.ActiveDirectoryAuthorityHost {
			t.Errorf("%s authority %q, SDK %q", name, c.AuthorityHost, sdk.ActiveDirectoryAuthorityHost)
		}
		armSvc := sdk.Services[cloud.ResourceManager]
		if armSvc.Endpoint == "" || c.ResourceManager != armSvc.Endpoint || c.ARMAudience != armSvc.Audience {
			t.Errorf("%s ARM %q/%q, SDK %q/%q", name, c.ResourceManager, c.ARMAudience, armSvc.Endpoint, armSvc.Audience)
		}
		acr := sdk.Services[azcontainerregistry.ServiceName]
		if acr.Audience == "" || c.ACRAudience != acr.Audience {
			t.Errorf("%s ACR audience %q, SDK %q", name, c.ACRAudience, acr.Audience)
		}
		got := c.Configuration()
		if got.ActiveDirectoryAuthorityHost != sdk.ActiveDirectoryAuthorityHost ||
			got.Services[cloud.ResourceManager] != armSvc || got.Services[azcontainerregistry.ServiceName].Audience != acr.Audience {
			t.Errorf("%s configuration %+v, SDK %+v", name, got, sdk)
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if c.IsCustom() {
			t.Errorf("%s is reported custom", name)
		}
	}
	// ACR's DNS suffixes (acr-protocol.md §3.4; the SDK has no constant for them).
	for name, want := range map[string]string{"public": "myreg.azurecr.io", "usgov": "myreg.azurecr.us", "china": "myreg.azurecr.cn"} {
		if got := Clouds()[name].LoginServer("MyReg"); got != want {
			t.Errorf("%s login server %q, want %q", name, got, want)
		}
	}
}

func TestLookupCloud(t *testing.T) {
	for in, want := range map[string]string{"AzureCloud": "public", "AzureUSGovernment": "usgov", "AzureChinaCloud": "china", "china": "china"} {
		c, ok := LookupCloud(in)
		if !ok || c.Name != want {
			t.Errorf("LookupCloud(%q) = %q, %v", in, c.Name, ok)
		}
	}
	if _, ok := LookupCloud("AzureGermanCloud"); ok {
		t.Error("the retired German cloud has no ACR")
	}
	custom := CustomCloud("cerulean", "https://127.0.0.1:5443", "https://127.0.0.1:5443/", "", ".localhost:5443", "")
	if !custom.IsCustom() || custom.AuthorityHost != "https://127.0.0.1:5443/" || custom.ResourceManager != "https://127.0.0.1:5443" ||
		custom.LoginServer("team1") != "team1.localhost:5443" {
		t.Errorf("custom cloud %+v", custom)
	}
}

func TestUnderSuffix(t *testing.T) {
	for _, tc := range []struct {
		host, suffix string
		want         bool
	}{
		{"myreg.azurecr.io", "azurecr.io", true},
		{"myreg.azurecr.io", ".azurecr.io", true},
		{"my-reg1.azurecr.io", "azurecr.io", true},
		{"azurecr.io", "azurecr.io", false},
		{"evilazurecr.io", "azurecr.io", false},
		{"a.b.azurecr.io", "azurecr.io", false},
		{"myreg.azurecr.io.evil.com", "azurecr.io", false},
		{"myreg.azurecr.io:443", "azurecr.io", false},
		{"team1.localhost:5443", "localhost:5443", true},
		{"team1.localhost:5444", "localhost:5443", false},
	} {
		if got := underSuffix(tc.host, tc.suffix); got != tc.want {
			t.Errorf("underSuffix(%q, %q) = %v", tc.host, tc.suffix, got)
		}
	}
}
