package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Connection is a saved way to reach registries: a cloud, one credential, and what to
// cover. It holds no secret; secrets live in the vault (Store) and travel as Secrets.
type Connection struct {
	Name       string     `json:"name"`
	Cloud      Cloud      `json:"cloud"`
	Credential Credential `json:"credential"`
	// Subscriptions to discover registries in through ARM (Entra credentials only);
	// empty with no Registries means every subscription the credential can list.
	Subscriptions []string `json:"subscriptions,omitempty"`
	// Registries are login servers to cover. When set, they are the connection's
	// registries and ARM discovery is not needed.
	Registries []string `json:"registries,omitempty"`
}

// CredentialKind names how a connection signs in.
type CredentialKind string

// The credential kinds. The first five sign in to Entra ID (through azidentity) and
// exchange the Entra token for an ACR refresh token; the others present Basic
// credentials, or none, to the registry's token service.
const (
	ServicePrincipalSecret      CredentialKind = "service-principal-secret"
	ServicePrincipalCertificate CredentialKind = "service-principal-certificate"
	ManagedIdentity             CredentialKind = "managed-identity"
	WorkloadIdentity            CredentialKind = "workload-identity"
	AzureCLI                    CredentialKind = "azure-cli"
	AdminUser                   CredentialKind = "admin-user"
	RepositoryToken             CredentialKind = "repository-token"
	Anonymous                   CredentialKind = "anonymous"
)

// Kinds lists every credential kind.
func Kinds() []CredentialKind {
	return []CredentialKind{ServicePrincipalSecret, ServicePrincipalCertificate, ManagedIdentity, WorkloadIdentity,
		AzureCLI, AdminUser, RepositoryToken, Anonymous}
}

// Entra reports whether k signs in to Entra ID.
func (k CredentialKind) Entra() bool {
	switch k {
	case ServicePrincipalSecret, ServicePrincipalCertificate, ManagedIdentity, WorkloadIdentity, AzureCLI:
		return true
	}
	return false
}

// Audience choices for Entra tokens presented to a registry's /oauth2/exchange.
const (
	// AudienceACR asks for https://containerregistry.azure.net tokens (the default),
	// which every registry accepts.
	AudienceACR = "acr"
	// AudienceARM asks for the cloud's ARM audience, which a registry refuses when its
	// azureADAuthenticationAsArmPolicy is disabled.
	AudienceARM = "arm"
)

// Credential is the non-secret part of a connection's credential.
type Credential struct {
	Kind CredentialKind `json:"kind"`
	// TenantID is the Entra tenant (service principal, workload identity; optional for
	// the Azure CLI).
	TenantID string `json:"tenantId,omitempty"`
	// ClientID is a service principal's or workload identity's application id, or a
	// user-assigned managed identity's client id.
	ClientID string `json:"clientId,omitempty"`
	// ObjectID and ResourceID name a user-assigned managed identity by object
	// (principal) id or ARM resource id instead of client id. None of the three: the
	// system-assigned identity.
	ObjectID   string `json:"objectId,omitempty"`
	ResourceID string `json:"resourceId,omitempty"`
	// TokenFile is the workload identity's federated token file ("" for
	// $AZURE_FEDERATED_TOKEN_FILE).
	TokenFile string `json:"tokenFile,omitempty"`
	// Username is the admin user's name (the registry's name) or the repository-scoped
	// token's name.
	Username string `json:"username,omitempty"`
	// PasswordName is which password the secret is ("password"/"password2" of the admin
	// user, "password1"/"password2" of a token), when known: the diagnosis then says
	// exactly which one expired.
	PasswordName string `json:"passwordName,omitempty"`
	// Audience is AudienceACR ("" too) or AudienceARM.
	Audience string `json:"audience,omitempty"`
}

// Secrets are a connection's secret values. They are never printed or logged: String,
// GoString, LogValue and MarshalJSON all redact them.
type Secrets struct {
	ClientSecret string // service principal secret
	// Certificate is PEM: the certificate (chain) and its private key.
	Certificate         []byte
	CertificatePassword string // for an encrypted PKCS#12 certificate
	Password            string // admin user or repository token password
}

// Empty reports whether s holds no secret.
func (s Secrets) Empty() bool {
	return s.ClientSecret == "" && len(s.Certificate) == 0 && s.CertificatePassword == "" && s.Password == ""
}

func (s Secrets) String() string               { return "[secrets redacted]" }
func (s Secrets) GoString() string             { return "connector.Secrets{[redacted]}" }
func (s Secrets) LogValue() slog.Value         { return slog.StringValue("[secrets redacted]") }
func (s Secrets) MarshalJSON() ([]byte, error) { return []byte(`"[secrets redacted]"`), nil }

// Format redacts s under every verb (%v, %+v, %#v, %s, %q).
func (s Secrets) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[secrets redacted]")) }

// secretsWire is how the vault stores Secrets.
type secretsWire struct {
	ClientSecret        string `json:"clientSecret,omitempty"`
	Certificate         []byte `json:"certificate,omitempty"`
	CertificatePassword string `json:"certificatePassword,omitempty"`
	Password            string `json:"password,omitempty"`
}

func (s Secrets) encode() ([]byte, error) { return json.Marshal(secretsWire(s)) }

func decodeSecrets(b []byte) (Secrets, error) {
	var w secretsWire
	err := json.Unmarshal(b, &w)
	return Secrets(w), err
}

var connectionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Validate checks that c is complete for its kind, and s (when check is set) carries the
// secret the kind needs.
func (c *Connection) Validate() error {
	if !connectionName.MatchString(c.Name) {
		return fmt.Errorf("connection name %q: use 1-63 letters, digits, '.', '_' or '-'", c.Name)
	}
	if err := c.Cloud.Validate(); err != nil {
		return err
	}
	cr := c.Credential
	switch cr.Kind {
	case ServicePrincipalSecret, ServicePrincipalCertificate:
		if cr.TenantID == "" || cr.ClientID == "" {
			return fmt.Errorf("%s needs a tenant id and a client id", cr.Kind)
		}
	case WorkloadIdentity:
		// tenant, client id and token file may come from the environment (AKS webhook)
	case ManagedIdentity, AzureCLI:
	case AdminUser, RepositoryToken:
		if cr.Username == "" {
			return fmt.Errorf("%s needs a username", cr.Kind)
		}
		if len(c.Registries) == 0 {
			return fmt.Errorf("%s credentials belong to one registry: give its login server", cr.Kind)
		}
	case Anonymous:
		if len(c.Registries) == 0 {
			return errors.New("anonymous connections need the login servers of the registries to cover")
		}
	default:
		return fmt.Errorf("unknown credential kind %q (one of %v)", cr.Kind, Kinds())
	}
	if !cr.Kind.Entra() && len(c.Subscriptions) > 0 {
		return fmt.Errorf("%s credentials cannot discover registries through ARM: drop the subscriptions", cr.Kind)
	}
	switch cr.Audience {
	case "", AudienceACR, AudienceARM:
	default:
		return fmt.Errorf("audience %q: use %q or %q", cr.Audience, AudienceACR, AudienceARM)
	}
	for i, r := range c.Registries {
		host, err := normalizeHost(r)
		if err != nil {
			return err
		}
		c.Registries[i] = host
	}
	return nil
}

// CheckSecrets reports a secret the credential kind needs but s lacks.
func (c *Connection) CheckSecrets(s Secrets) error {
	switch c.Credential.Kind {
	case ServicePrincipalSecret:
		if s.ClientSecret == "" {
			return errors.New("a service principal secret is required")
		}
	case ServicePrincipalCertificate:
		if len(s.Certificate) == 0 {
			return errors.New("a certificate (PEM with its private key) is required")
		}
	case AdminUser, RepositoryToken:
		if s.Password == "" {
			return errors.New("a password is required")
		}
	}
	return nil
}

// normalizeHost accepts a login server, with or without https:// and a trailing slash,
// and returns it as host[:port] in lower case.
func normalizeHost(s string) (string, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "https://"), "/")
	h = strings.ToLower(h)
	if h == "" || strings.ContainsAny(h, "/?#@ \\") || strings.HasPrefix(h, "http://") {
		return "", fmt.Errorf("login server %q: want a host name, as in myregistry.azurecr.io", s)
	}
	return h, nil
}

// Covers reports whether the connection, without asking ARM, covers a login server: one
// of its registries, or for Entra kinds NAME.<the cloud's ACR suffix>.
func (c *Connection) Covers(loginServer string) bool {
	host, err := normalizeHost(loginServer)
	if err != nil {
		return false
	}
	for _, r := range c.Registries {
		if r == host {
			return true
		}
	}
	return c.Credential.Kind.Entra() && underSuffix(host, c.Cloud.ACRSuffix)
}

// NormalizeHost turns a login server, a registry URL or a docker server address
// (https://host/v1/, host:port) into host[:port] in lower case.
func NormalizeHost(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return normalizeHost(s)
}
