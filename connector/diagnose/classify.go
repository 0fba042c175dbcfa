package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/cerulean-registry/cerulean/connector"
)

// classifyNetError names a failure to reach host over TLS.
func classifyNetError(host string, err error) (string, string) {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	if host == "" {
		host = "the registry"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return EndpointUnreachable, fmt.Sprintf("%s did not answer in time", host)
	case errors.As(err, &dnsErr):
		return EndpointDNS, fmt.Sprintf("the name of %s does not resolve (%s)", host, dnsErr.Err)
	case errors.As(err, &unknownCA):
		return TLSUntrusted, fmt.Sprintf("%s presents a certificate from an authority this machine does not trust "+
			"(issuer %q): add its CA (the connection's CA file)", host, unknownCA.Cert.Issuer.String())
	case errors.As(err, &hostErr):
		return TLSNameMismatch, fmt.Sprintf("the certificate of %s is not issued for that name (%v)", host, hostErr)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return TLSExpired, fmt.Sprintf("the certificate of %s has expired or is not valid yet (%s)", host, invalid.Detail)
	case errors.As(err, &verify):
		return TLSUntrusted, fmt.Sprintf("the certificate of %s does not verify: %v", host, verify.Err)
	case errors.As(err, &recordErr):
		return TLSHandshake, fmt.Sprintf("%s does not speak TLS on this port", host)
	case errors.Is(err, syscall.ECONNREFUSED):
		return EndpointUnreachable, fmt.Sprintf("%s refuses connections (nothing listens on that port)", host)
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return EndpointUnreachable, fmt.Sprintf("%s is unreachable from this network", host)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return EndpointUnreachable, fmt.Sprintf("%s did not answer in time", host)
	}
	if strings.Contains(err.Error(), "tls:") {
		return TLSHandshake, fmt.Sprintf("the TLS handshake with %s failed: %v", host, err)
	}
	return EndpointUnreachable, fmt.Sprintf("%s cannot be reached: %v", host, err)
}

var aadstsCode = regexp.MustCompile(`AADSTS(\d+)`)

// classifySignIn names a failed Entra sign-in from the AADSTS code Entra answered (or
// the managed-identity endpoint's, or the Azure CLI's message).
func classifySignIn(conn connector.Connection, err error) (string, string) {
	cr := conn.Credential
	msg := err.Error()
	code := 0
	if m := aadstsCode.FindStringSubmatch(msg); m != nil {
		code, _ = strconv.Atoi(m[1])
	}
	who := fmt.Sprintf("client %s in tenant %s", cr.ClientID, cr.TenantID)
	switch code {
	case 7000215:
		return SignInInvalidSecret, fmt.Sprintf("Entra ID refused the secret of %s: it is wrong (rotate the connection's secret)", who)
	case 7000222:
		return SignInSecretExpired, fmt.Sprintf("the secret of %s has expired: add a new one and rotate the connection", who)
	case 700016:
		return SignInUnknownClient, fmt.Sprintf("tenant %s has no application %s", cr.TenantID, cr.ClientID)
	case 7000112:
		return SignInAppDisabled, fmt.Sprintf("application %s is disabled in tenant %s", cr.ClientID, cr.TenantID)
	case 90002:
		return SignInTenantNotFound, fmt.Sprintf("tenant %s does not exist at %s", cr.TenantID, conn.Cloud.AuthorityHost)
	case 700027, 50027, 700024, 700021:
		if cr.Kind == connector.ServicePrincipalCertificate {
			return SignInCertRejected, fmt.Sprintf("Entra ID refused the certificate of %s (AADSTS%d): it is not one of the "+
				"application's certificates, or it expired", who, code)
		}
		return SignInAssertion, fmt.Sprintf("Entra ID refused the client assertion of %s (AADSTS%d): expired or not for this client", who, code)
	case 70021, 700211, 700212, 700213:
		part := map[int]string{70021: "", 700211: " (issuer)", 700212: " (audience)", 700213: " (subject)"}[code]
		return SignInNoFederation, fmt.Sprintf("no federated credential of %s matches the federated token%s: check the "+
			"application's federated credentials against the token file's iss, sub and aud", who, part)
	case 50166:
		return SignInIssuer, fmt.Sprintf("Entra ID cannot reach the issuer of the federated token for %s", who)
	case 0:
	default:
		return SignInFailed, fmt.Sprintf("Entra ID refused the sign-in of %s (AADSTS%d)", who, code)
	}
	var pathErr *fs.PathError
	switch cr.Kind {
	case connector.WorkloadIdentity:
		if errors.As(err, &pathErr) || strings.Contains(msg, "no such file") || strings.Contains(msg, "token file") {
			return SignInTokenFile, fmt.Sprintf("the federated token file cannot be read: %v", err)
		}
	case connector.ManagedIdentity:
		if strings.Contains(msg, "managed identity not found") || strings.Contains(msg, "identity not found") ||
			strings.Contains(msg, "not assigned") || strings.Contains(msg, "400") {
			return ManagedIdentityUnknown, fmt.Sprintf("the managed identity endpoint knows no such identity for this host: %v", short(msg))
		}
		if strings.Contains(msg, "unavailable") || strings.Contains(msg, "no response") || strings.Contains(msg, "connect") {
			return ManagedIdentityAbsent, fmt.Sprintf("no managed identity endpoint answers here (IMDS, or IDENTITY_ENDPOINT): %v", short(msg))
		}
	case connector.AzureCLI:
		var execErr *exec.Error
		if errors.As(err, &execErr) || strings.Contains(msg, "Azure CLI not found") || strings.Contains(msg, "executable file not found") {
			return AzureCLIMissing, "the Azure CLI (az) is not installed on this machine"
		}
		if strings.Contains(msg, "az login") || strings.Contains(msg, "not logged in") || strings.Contains(msg, "Please run") {
			return AzureCLINotSignedIn, "the Azure CLI is not signed in: run az login"
		}
	}
	return SignInFailed, fmt.Sprintf("sign-in failed: %s", short(msg))
}

// short keeps the first line of an error, without azidentity's troubleshooting links.
func short(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.Index(msg, "\n"); i > 0 {
		first := msg[:i]
		if m := aadstsCode.FindString(msg); m != "" && !strings.Contains(first, m) {
			return first + " (" + m + ")"
		}
		return first
	}
	return msg
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLS 1.3"
	case tls.VersionTLS12:
		return "TLS 1.2"
	}
	return fmt.Sprintf("0x%04x", v)
}
