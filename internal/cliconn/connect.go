package cliconn

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// armAudience is the audience Azure clients ask ARM tokens for; the server's management
// plane accepts it as its own.
const armAudience = "https://management.core.windows.net/"

// Cloud is the cloud configuration of cfg's server: it is its own authority (unless the
// bootstrap file names another) and serves ARM at its own address.
func (cfg Config) Cloud() cloud.Configuration {
	server := strings.TrimRight(cfg.Server, "/")
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: cmp.Or(cfg.AuthorityHost, server+"/"),
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: armAudience, Endpoint: server},
		},
	}
}

// Connect returns an HTTP client that trusts cfg's CA, and a credential that signs in
// through it with cfg's client secret. Instance discovery is off: the authority is not
// Microsoft's, and azidentity would ask Microsoft about it.
func (cfg Config) Connect() (*http.Client, azcore.TokenCredential, error) {
	httpClient, err := HTTPClient(cfg.CAFile, time.Minute)
	if err != nil {
		return nil, nil, err
	}
	cred, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cfg.Cloud(), Transport: httpClient},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		return nil, nil, err
	}
	return httpClient, cred, nil
}

// HTTPClient returns a client that trusts the system roots and, if caFile is set, the
// certificates in it: what a Cerulean process needs to reach a server behind its local
// CA, be it a client verb or the server fetching a federated issuer's documents.
func HTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}
