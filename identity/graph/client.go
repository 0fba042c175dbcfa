package graph

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/cerulean-registry/cerulean/internal/cliconn"
)

// Scope is what the client asks a token for: Microsoft Graph, which the directory API
// accepts as its audience.
const Scope = "https://graph.microsoft.com/.default"

// Client calls the directory API of one server. It is safe for concurrent use.
type Client struct {
	base string // https://host[:port]
	http *http.Client
	cred azcore.TokenCredential
}

// New returns a client of the server at baseURL, whose requests carry tokens from cred.
func New(baseURL string, cred azcore.TokenCredential, httpClient *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), http: httpClient, cred: cred}
}

// Config says how to reach and sign in to a server (cliconn.Config: the directory verbs
// resolve it from their flags, the environment and the bootstrap file).
type Config = cliconn.Config

// Connect returns a client that signs in with cfg's client secret through azidentity,
// the server being its own authority (cliconn.Config.Connect).
func Connect(cfg Config) (*Client, error) {
	if cfg.Server == "" || cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("graph: server, tenant, client id and client secret are required")
	}
	httpClient, cred, err := cfg.Connect()
	if err != nil {
		return nil, err
	}
	return New(cfg.Server, cred, httpClient), nil
}

// Error is an error answer of the directory API.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

// do sends a request with a bearer token and decodes the JSON answer into out (nil for
// none).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
		}
		return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

func list[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var l List[T]
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l.Value, err
}

func create[T any](ctx context.Context, c *Client, path string, in any) (*T, error) {
	var out T
	if err := c.do(ctx, http.MethodPost, path, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func esc(s string) string { return url.PathEscape(s) }

// Applications lists the tenant's applications.
func (c *Client) Applications(ctx context.Context) ([]Application, error) {
	return list[Application](ctx, c, "/v1.0/applications")
}

// Application returns an application by object id.
func (c *Client) Application(ctx context.Context, id string) (*Application, error) {
	var a Application
	if err := c.do(ctx, http.MethodGet, "/v1.0/applications/"+esc(id), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateApplication registers an application.
func (c *Client) CreateApplication(ctx context.Context, displayName string) (*Application, error) {
	return create[Application](ctx, c, "/v1.0/applications", Application{DisplayName: displayName})
}

// DeleteApplication deletes an application with its credentials and service principal.
func (c *Client) DeleteApplication(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1.0/applications/"+esc(id), nil, nil)
}

// AddPassword adds a client secret; the answer's SecretText is its only appearance.
func (c *Client) AddPassword(ctx context.Context, appObjectID string, p PasswordCredential) (*PasswordCredential, error) {
	return create[PasswordCredential](ctx, c, "/v1.0/applications/"+esc(appObjectID)+"/addPassword", AddPasswordRequest{p})
}

// RemovePassword removes a client secret.
func (c *Client) RemovePassword(ctx context.Context, appObjectID, keyID string) error {
	return c.do(ctx, http.MethodPost, "/v1.0/applications/"+esc(appObjectID)+"/removePassword", RemoveKeyRequest{keyID}, nil)
}

// AddKey registers a client certificate.
func (c *Client) AddKey(ctx context.Context, appObjectID string, k KeyCredential) (*KeyCredential, error) {
	return create[KeyCredential](ctx, c, "/v1.0/applications/"+esc(appObjectID)+"/addKey", AddKeyRequest{k})
}

// RemoveKey removes a client certificate.
func (c *Client) RemoveKey(ctx context.Context, appObjectID, keyID string) error {
	return c.do(ctx, http.MethodPost, "/v1.0/applications/"+esc(appObjectID)+"/removeKey", RemoveKeyRequest{keyID}, nil)
}

// FederatedCredentials lists an application's federated identity credentials.
func (c *Client) FederatedCredentials(ctx context.Context, appObjectID string) ([]FederatedIdentityCredential, error) {
	return list[FederatedIdentityCredential](ctx, c, "/v1.0/applications/"+esc(appObjectID)+"/federatedIdentityCredentials")
}

// AddFederatedCredential adds a federated identity credential.
func (c *Client) AddFederatedCredential(ctx context.Context, appObjectID string, f FederatedIdentityCredential) (*FederatedIdentityCredential, error) {
	return create[FederatedIdentityCredential](ctx, c, "/v1.0/applications/"+esc(appObjectID)+"/federatedIdentityCredentials", f)
}

// DeleteFederatedCredential removes a federated identity credential by id or name.
func (c *Client) DeleteFederatedCredential(ctx context.Context, appObjectID, idOrName string) error {
	return c.do(ctx, http.MethodDelete, "/v1.0/applications/"+esc(appObjectID)+"/federatedIdentityCredentials/"+esc(idOrName), nil, nil)
}

// ServicePrincipals lists the tenant's service principals, managed identities included.
func (c *Client) ServicePrincipals(ctx context.Context) ([]ServicePrincipal, error) {
	return list[ServicePrincipal](ctx, c, "/v1.0/servicePrincipals")
}

// CreateServicePrincipal creates the service principal of an application.
func (c *Client) CreateServicePrincipal(ctx context.Context, appID string) (*ServicePrincipal, error) {
	return create[ServicePrincipal](ctx, c, "/v1.0/servicePrincipals", ServicePrincipal{AppID: appID})
}

// SetAccountEnabled enables or disables sign-in of a service principal (by object id).
func (c *Client) SetAccountEnabled(ctx context.Context, id string, enabled bool) error {
	return c.do(ctx, http.MethodPatch, "/v1.0/servicePrincipals/"+esc(id), ServicePrincipal{AccountEnabled: &enabled}, nil)
}

// Users lists the tenant's users.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	return list[User](ctx, c, "/v1.0/users")
}

// CreateUser creates a user with a password.
func (c *Client) CreateUser(ctx context.Context, upn, displayName, password string) (*User, error) {
	return create[User](ctx, c, "/v1.0/users", User{UserPrincipalName: upn, DisplayName: displayName,
		PasswordProfile: &PasswordProfile{Password: password}})
}

// ManagedIdentities lists the tenant's managed identities.
func (c *Client) ManagedIdentities(ctx context.Context) ([]ManagedIdentity, error) {
	return list[ManagedIdentity](ctx, c, "/cerulean/identity/managedIdentities")
}

// CreateManagedIdentity creates a user-assigned managed identity.
func (c *Client) CreateManagedIdentity(ctx context.Context, name string) (*ManagedIdentity, error) {
	return create[ManagedIdentity](ctx, c, "/cerulean/identity/managedIdentities", ManagedIdentity{Name: name})
}

// IdentityHosts lists the tenant's identity hosts.
func (c *Client) IdentityHosts(ctx context.Context) ([]IdentityHost, error) {
	return list[IdentityHost](ctx, c, "/cerulean/identity/hosts")
}

// CreateIdentityHost creates a host with its system-assigned identity and the given
// user-assigned identities; the answer's Secret is its only appearance.
func (c *Client) CreateIdentityHost(ctx context.Context, name string, identities []string) (*IdentityHost, error) {
	return create[IdentityHost](ctx, c, "/cerulean/identity/hosts", IdentityHost{Name: name, Identities: identities})
}

// DeleteIdentityHost deletes a host (by id or name) with its system-assigned identity.
func (c *Client) DeleteIdentityHost(ctx context.Context, idOrName string) error {
	return c.do(ctx, http.MethodDelete, "/cerulean/identity/hosts/"+esc(idOrName), nil, nil)
}

// ResolveApplication finds an application by object id, client id or display name.
func (c *Client) ResolveApplication(ctx context.Context, ref string) (*Application, error) {
	apps, err := c.Applications(ctx)
	if err != nil {
		return nil, err
	}
	var found []Application
	for _, a := range apps {
		if strings.EqualFold(a.ID, ref) || strings.EqualFold(a.AppID, ref) || a.DisplayName == ref {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no application %q", ref)
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("%d applications match %q: name it by appId", len(found), ref)
}

// NewServicePrincipal is what CreateServicePrincipalWithSecret returns: the shape of
// `az ad sp create-for-rbac`'s answer, plus the object ids.
type NewServicePrincipal struct {
	AppID               string    `json:"appId"`
	DisplayName         string    `json:"displayName"`
	Password            string    `json:"password"`
	Tenant              string    `json:"tenant"`
	ObjectID            string    `json:"objectId"`
	ApplicationObjectID string    `json:"applicationObjectId"`
	PasswordKeyID       string    `json:"passwordKeyId"`
	PasswordExpires     time.Time `json:"passwordExpires"`
}

// CreateServicePrincipalWithSecret registers an application, creates its service
// principal and adds a client secret valid until end (zero: the server's default).
func (c *Client) CreateServicePrincipalWithSecret(ctx context.Context, name string, end time.Time) (*NewServicePrincipal, error) {
	app, err := c.CreateApplication(ctx, name)
	if err != nil {
		return nil, err
	}
	sp, err := c.CreateServicePrincipal(ctx, app.AppID)
	if err != nil {
		return nil, err
	}
	pw := PasswordCredential{DisplayName: "cerulean sp create"}
	if !end.IsZero() {
		pw.EndDateTime = &end
	}
	secret, err := c.AddPassword(ctx, app.ID, pw)
	if err != nil {
		return nil, err
	}
	out := &NewServicePrincipal{AppID: app.AppID, DisplayName: app.DisplayName, Password: secret.SecretText,
		Tenant: sp.AppOwnerOrganizationID, ObjectID: sp.ID, ApplicationObjectID: app.ID, PasswordKeyID: secret.KeyID}
	if secret.EndDateTime != nil {
		out.PasswordExpires = *secret.EndDateTime
	}
	return out, nil
}

// ServicePrincipalOf returns the service principal of an application.
func (c *Client) ServicePrincipalOf(ctx context.Context, appID string) (*ServicePrincipal, error) {
	sps, err := c.ServicePrincipals(ctx)
	if err != nil {
		return nil, err
	}
	for i := range sps {
		if strings.EqualFold(sps[i].AppID, appID) {
			return &sps[i], nil
		}
	}
	return nil, fmt.Errorf("application %s has no service principal", appID)
}

// ReadCertificate reads a certificate file, PEM (the first CERTIFICATE block) or DER,
// and returns its DER bytes.
func ReadCertificate(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			b = block.Bytes
			break
		}
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return nil, fmt.Errorf("%s: not a certificate: %w", path, err)
	}
	return b, nil
}
