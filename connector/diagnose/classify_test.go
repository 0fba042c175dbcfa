package diagnose

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cerulean-registry/cerulean/connector"
)

// TestSignInTable maps Entra's answers (AADSTS codes, as Entra and Cerulean's identity
// plane send them) and the credentials' own failures to codes.
func TestSignInTable(t *testing.T) {
	sp := connector.Connection{Credential: connector.Credential{Kind: connector.ServicePrincipalSecret, TenantID: "t1", ClientID: "c1"}}
	cert := connector.Connection{Credential: connector.Credential{Kind: connector.ServicePrincipalCertificate, TenantID: "t1", ClientID: "c1"}}
	wi := connector.Connection{Credential: connector.Credential{Kind: connector.WorkloadIdentity, TenantID: "t1", ClientID: "c1"}}
	mi := connector.Connection{Credential: connector.Credential{Kind: connector.ManagedIdentity}}
	az := connector.Connection{Credential: connector.Credential{Kind: connector.AzureCLI}}
	aad := func(code int) error {
		return fmt.Errorf("ClientSecretCredential authentication failed\n{\"error_description\":\"AADSTS%d: something\"}", code)
	}
	for _, tc := range []struct {
		conn   connector.Connection
		err    error
		code   string
		reason string
	}{
		{sp, aad(7000215), SignInInvalidSecret, "secret of client c1 in tenant t1"},
		{sp, aad(7000222), SignInSecretExpired, "expired"},
		{sp, aad(700016), SignInUnknownClient, "tenant t1 has no application c1"},
		{sp, aad(7000112), SignInAppDisabled, "disabled"},
		{sp, aad(90002), SignInTenantNotFound, "tenant t1 does not exist"},
		{cert, aad(700027), SignInCertRejected, "certificate"},
		{wi, aad(700024), SignInAssertion, "assertion"},
		{wi, aad(70021), SignInNoFederation, "federated"},
		{wi, aad(700213), SignInNoFederation, "(subject)"},
		{wi, aad(700211), SignInNoFederation, "(issuer)"},
		{wi, aad(50166), SignInIssuer, "issuer"},
		{sp, aad(50000), SignInFailed, "AADSTS50000"},
		{wi, &os.PathError{Op: "open", Path: "/var/run/token", Err: syscall.ENOENT}, SignInTokenFile, "token file"},
		{mi, errors.New("ManagedIdentityCredential: 400 Bad Request: managed identity not found"), ManagedIdentityUnknown, ""},
		{mi, errors.New("ManagedIdentityCredential: no response from the IMDS endpoint"), ManagedIdentityAbsent, "no managed identity endpoint"},
		{az, errors.New("AzureCLICredential: Please run 'az login' to set up an account"), AzureCLINotSignedIn, "az login"},
		{az, errors.New("AzureCLICredential: Azure CLI not found on path"), AzureCLIMissing, "not installed"},
		{sp, errors.New("something else"), SignInFailed, "something else"},
	} {
		code, reason := classifySignIn(tc.conn, tc.err)
		if code != tc.code || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s %v: %s %q, want %s %q", tc.conn.Credential.Kind, tc.err, code, reason, tc.code, tc.reason)
		}
	}
}

// TestNetTable maps transport failures to codes.
func TestNetTable(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "https://r/v2/", Err: err} }
	for _, tc := range []struct {
		err  error
		code string
	}{
		{wrap(&net.DNSError{Err: "no such host", Name: "r"}), EndpointDNS},
		{wrap(x509.UnknownAuthorityError{Cert: &x509.Certificate{}}), TLSUntrusted},
		{wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "r"}), TLSNameMismatch},
		{wrap(x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}), TLSExpired},
		{wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), EndpointUnreachable},
		{wrap(context.DeadlineExceeded), EndpointUnreachable},
		{wrap(errors.New("tls: first record does not look like a TLS handshake")), TLSHandshake},
	} {
		if code, _ := classifyNetError("r", tc.err); code != tc.code {
			t.Errorf("%v: %s, want %s", tc.err, code, tc.code)
		}
	}
}
