package identity_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

const (
	armScope = "https://management.azure.com/.default"
	armAud   = "https://management.azure.com"
	acrScope = "https://containerregistry.azure.net/.default"
	acrAud   = "https://containerregistry.azure.net"
)

// TestCredentials gets a token with every azidentity credential type and verifies it
// against the published JWKS. One server serves every case; cases that set environment
// variables run one at a time.
func TestCredentials(t *testing.T) {
	f := start(t)

	t.Run("ClientSecretCredential", func(t *testing.T) {
		cred, err := azidentity.NewClientSecretCredential(f.boot.TenantID, f.boot.ClientID, f.boot.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: f.clientOptions(), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ scope, aud string }{
			{armScope, armAud},
			{"https://management.core.windows.net//.default", "https://management.core.windows.net/"},
			{acrScope, acrAud},
		} {
			claims := f.verify(t, getToken(t, cred, tc.scope), tc.aud)
			if claims["appid"] != f.boot.ClientID || claims["oid"] != f.boot.OwnerObjectID || claims["idtyp"] != "app" ||
				claims["ver"] != "2.0" || claims["appidacr"] != "1" {
				t.Errorf("claims %v", claims)
			}
		}
	})

	t.Run("ClientCertificateCredential", func(t *testing.T) {
		sp := f.newSP(t, "cert-app")
		cert, key, certFile := newCertificate(t)
		f.cli(t, nil, "sp", "credential", "add", sp.AppID, "--cert", certFile)
		for _, sendChain := range []bool{false, true} {
			cred, err := azidentity.NewClientCertificateCredential(f.boot.TenantID, sp.AppID, []*x509.Certificate{cert}, key,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: f.clientOptions(), DisableInstanceDiscovery: true,
					SendCertificateChain: sendChain})
			if err != nil {
				t.Fatal(err)
			}
			claims := f.verify(t, getToken(t, cred, armScope), armAud)
			if claims["appid"] != sp.AppID || claims["oid"] != sp.ObjectID || claims["appidacr"] != "2" {
				t.Errorf("claims %v", claims)
			}
		}
	})

	wi := f.newSP(t, "workload")
	const subject = "system:serviceaccount:ns:app"
	f.cli(t, nil, "sp", "federated-credential", "add", wi.AppID, "--name", "k8s", "--issuer", f.issuer.url, "--subject", subject)

	t.Run("ClientAssertionCredential", func(t *testing.T) {
		cred, err := azidentity.NewClientAssertionCredential(f.boot.TenantID, wi.AppID, func(context.Context) (string, error) {
			return f.issuer.mint(t, subject, "api://AzureADTokenExchange", time.Now().Add(time.Hour)), nil
		}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: f.clientOptions(), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		claims := f.verify(t, getToken(t, cred, armScope), armAud)
		if claims["appid"] != wi.AppID || claims["oid"] != wi.ObjectID {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("WorkloadIdentityCredential", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "azure-identity-token")
		if err := os.WriteFile(file, []byte(f.issuer.mint(t, subject, "api://AzureADTokenExchange", time.Now().Add(time.Hour))), 0o600); err != nil {
			t.Fatal(err)
		}
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: f.clientOptions(), ClientID: wi.AppID, TenantID: f.boot.TenantID, TokenFilePath: file,
			DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		// ESO's workload identity asks for the ARM service-management audience.
		claims := f.verify(t, getToken(t, cred, "https://management.core.windows.net//.default"), "https://management.core.windows.net/")
		if claims["appid"] != wi.AppID {
			t.Errorf("claims %v", claims)
		}
		// The same projected token serves another request: federated assertions are not single-use.
		f.verify(t, getToken(t, cred, acrScope), acrAud)
	})

	t.Run("EnvironmentCredential", func(t *testing.T) {
		t.Setenv("AZURE_TENANT_ID", f.boot.TenantID)
		t.Setenv("AZURE_CLIENT_ID", f.boot.ClientID)
		t.Setenv("AZURE_CLIENT_SECRET", f.boot.ClientSecret)
		t.Setenv("AZURE_AUTHORITY_HOST", f.srv.URL+"/")
		cred, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{
			ClientOptions: transportOnly(f), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		f.verify(t, getToken(t, cred, armScope), armAud)
	})

	var ua graph.ManagedIdentity
	f.cli(t, &ua, "identity", "create", "app-id")
	var host graph.IdentityHost
	f.cli(t, &host, "identity", "host", "create", "edge1", "--assign", ua.ClientID)

	t.Run("ManagedIdentityCredential/AppService", func(t *testing.T) {
		t.Setenv("IDENTITY_ENDPOINT", f.srv.URL+"/metadata/identity/oauth2/token")
		t.Setenv("IDENTITY_HEADER", host.Secret)
		for _, tc := range []struct {
			name string
			id   azidentity.ManagedIDKind
			want *graph.ManagedIdentity
		}{
			{"system-assigned", nil, host.SystemAssigned},
			{"client id", azidentity.ClientID(ua.ClientID), &ua},
			{"object id", azidentity.ObjectID(ua.PrincipalID), &ua},
			{"resource id", azidentity.ResourceID(ua.ResourceID), &ua},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
					ClientOptions: transportOnly(f), ID: tc.id})
				if err != nil {
					t.Fatal(err)
				}
				claims := f.verify(t, getToken(t, cred, armScope), armAud)
				if claims["oid"] != tc.want.PrincipalID || claims["appid"] != tc.want.ClientID || claims["xms_mirid"] != tc.want.ResourceID {
					t.Errorf("claims %v, want %+v", claims, tc.want)
				}
			})
		}
	})

	t.Run("ManagedIdentityCredential/IMDS", func(t *testing.T) {
		for _, v := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
			t.Setenv(v, "")
		}
		opts := transportOnly(f)
		opts.Transport = &http.Client{Transport: testcloud.IMDSTransport(f.imds)}
		for _, tc := range []struct {
			name string
			id   azidentity.ManagedIDKind
			want *graph.ManagedIdentity
		}{
			{"system-assigned", nil, host.SystemAssigned},
			{"resource id", azidentity.ResourceID(ua.ResourceID), &ua},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts, ID: tc.id})
				if err != nil {
					t.Fatal(err)
				}
				claims := f.verify(t, getToken(t, cred, armScope), armAud)
				if claims["oid"] != tc.want.PrincipalID || claims["ver"] != "1.0" {
					t.Errorf("claims %v", claims)
				}
			})
		}
		// An identity not attached to the host is refused, as IMDS refuses it.
		other := graph.ManagedIdentity{}
		f.cli(t, &other, "identity", "create", "elsewhere")
		cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts,
			ID: azidentity.ClientID(other.ClientID)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cred.GetToken(ctxTimeout(t), policy.TokenRequestOptions{Scopes: []string{armScope}}); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("unassigned identity: %v, want a 400 refusal", err)
		}
	})
}

// transportOnly trusts the server's CA but names no authority: the credential takes it
// from the environment (AZURE_AUTHORITY_HOST) or needs none (managed identity).
func transportOnly(f *fixture) azcore.ClientOptions {
	return azcore.ClientOptions{Transport: f.srv.Client}
}
