package connector

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Cloud is where a connection signs in and finds registries: Azure's public, US
// Government or China cloud, or a custom cloud (Cerulean, Azure Stack) given by its
// endpoints. Only this changes between clouds.
type Cloud struct {
	// Name is "public", "usgov", "china", or the name of a custom cloud.
	Name string `json:"name"`
	// AuthorityHost is the Entra ID authority, azcore's
	// cloud.Configuration.ActiveDirectoryAuthorityHost (with a trailing slash).
	AuthorityHost string `json:"authorityHost"`
	// ResourceManager is the ARM endpoint (no trailing slash).
	ResourceManager string `json:"resourceManager"`
	// ARMAudience is the audience ARM tokens are asked for.
	ARMAudience string `json:"armAudience"`
	// ACRAudience is the audience of Entra tokens for the registry's token exchange
	// ("" means https://containerregistry.azure.net, the same in every Azure cloud).
	ACRAudience string `json:"acrAudience,omitempty"`
	// ACRSuffix is the DNS suffix of login servers, without a leading dot: a registry
	// NAME is NAME.ACRSuffix ("azurecr.io"; "localhost:5443" for a Cerulean server).
	ACRSuffix string `json:"acrSuffix"`
	// CAFile is a PEM file of extra roots to trust (a Cerulean server's local CA).
	CAFile string `json:"caFile,omitempty"`
}

// DefaultACRAudience is the audience azcontainerregistry asks Entra for, in every cloud.
const DefaultACRAudience = "https://containerregistry.azure.net"

// Clouds returns Azure's clouds by their short names: "public", "usgov", "china".
func Clouds() map[string]Cloud {
	return map[string]Cloud{
		"public": {Name: "public", AuthorityHost: "https://login.microsoftonline.com/",
			ResourceManager: "https://management.azure.com", ARMAudience: "https://management.core.windows.net/",
			ACRAudience: DefaultACRAudience, ACRSuffix: "azurecr.io"},
		"usgov": {Name: "usgov", AuthorityHost: "https://login.microsoftonline.us/",
			ResourceManager: "https://management.usgovcloudapi.net", ARMAudience: "https://management.core.usgovcloudapi.net/",
			ACRAudience: DefaultACRAudience, ACRSuffix: "azurecr.us"},
		"china": {Name: "china", AuthorityHost: "https://login.chinacloudapi.cn/",
			ResourceManager: "https://management.chinacloudapi.cn", ARMAudience: "https://management.core.chinacloudapi.cn/",
			ACRAudience: DefaultACRAudience, ACRSuffix: "azurecr.cn"},
	}
}

// LookupCloud returns the Azure cloud of a name, accepting the SDK's and the CLI's
// spellings too (AzureCloud, AzureUSGovernment, AzureChinaCloud, ...).
func LookupCloud(name string) (Cloud, bool) {
	switch strings.ToLower(name) {
	case "public", "azurecloud", "azurepubliccloud", "azurepublic":
		name = "public"
	case "usgov", "usgovernment", "azureusgovernment", "azureusgovernmentcloud", "azuregovernment":
		name = "usgov"
	case "china", "azurechinacloud", "azurechina":
		name = "china"
	}
	c, ok := Clouds()[name]
	return c, ok
}

// IsCustom reports whether c is not one of Azure's clouds (its authority is then not
// Microsoft's, and Entra instance discovery is turned off).
func (c Cloud) IsCustom() bool {
	known, ok := Clouds()[c.Name]
	return !ok || known.AuthorityHost != c.AuthorityHost
}

// Configuration is c as azcore's cloud configuration, with ARM and azcontainerregistry's
// service entries.
func (c Cloud) Configuration() cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: c.AuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: c.ARMAudience, Endpoint: c.ResourceManager},
			"azcontainerregistry": {Audience: c.acrAudience()},
		},
	}
}

func (c Cloud) acrAudience() string {
	if c.ACRAudience != "" {
		return c.ACRAudience
	}
	return DefaultACRAudience
}

// LoginServer is the login server of a registry name in c (lower case, as ACR emits it).
func (c Cloud) LoginServer(name string) string {
	return strings.ToLower(name) + "." + strings.TrimPrefix(c.ACRSuffix, ".")
}

// Validate checks that c names https endpoints.
func (c Cloud) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("cloud: no name")
	}
	for _, f := range []struct{ name, v string }{{"authority host", c.AuthorityHost}, {"resource manager", c.ResourceManager}} {
		u, err := url.Parse(f.v)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("cloud %s: %s %q is not an https URL", c.Name, f.name, f.v)
		}
	}
	if c.ARMAudience == "" {
		return fmt.Errorf("cloud %s: no ARM audience", c.Name)
	}
	if strings.Trim(c.ACRSuffix, ".") == "" {
		return fmt.Errorf("cloud %s: no ACR login server suffix", c.Name)
	}
	return nil
}

// CustomCloud describes a custom cloud by its endpoints. authority and arm are URLs;
// the ARM audience defaults to the public cloud's spelling, which Cerulean and Azure
// Stack accept.
func CustomCloud(name, authority, arm, armAudience, acrSuffix, caFile string) Cloud {
	if !strings.HasSuffix(authority, "/") {
		authority += "/"
	}
	if armAudience == "" {
		armAudience = "https://management.core.windows.net/"
	}
	return Cloud{Name: name, AuthorityHost: authority, ResourceManager: strings.TrimRight(arm, "/"),
		ARMAudience: armAudience, ACRAudience: DefaultACRAudience, ACRSuffix: strings.TrimPrefix(acrSuffix, "."), CAFile: caFile}
}
