// Package graph owns the wire types and the client of Cerulean's directory API: a subset
// of Microsoft Graph v1.0 (applications with their password and key credentials and
// federated identity credentials, service principals, users) plus Cerulean's own managed
// identities and identity hosts under /cerulean/identity. Package identity serves it; the
// Cerulean CLI's sp, identity and user verbs call it through Client, signed in with a
// client secret (usually the bootstrap owner's, from DIR/bootstrap.json).
//
// Field names and shapes follow Graph, so that `az ad`-style tooling can follow later.
// Deviations: addKey takes the certificate without Graph's proof-of-possession JWT (only
// the tenant's owners may call it), and a service principal's id, appId and
// displayName are all a caller can rely on.
package graph

import (
	"time"

	"github.com/cerulean-registry/cerulean/internal/cliconn"
)

// Application is a Graph application (an app registration).
type Application struct {
	ID                  string               `json:"id,omitempty"` // object id
	AppID               string               `json:"appId,omitempty"`
	DisplayName         string               `json:"displayName"`
	CreatedDateTime     *time.Time           `json:"createdDateTime,omitempty"`
	PasswordCredentials []PasswordCredential `json:"passwordCredentials"`
	KeyCredentials      []KeyCredential      `json:"keyCredentials"`
}

// PasswordCredential is a client secret. SecretText is set only in the answer to
// addPassword: the secret is shown once.
type PasswordCredential struct {
	KeyID         string     `json:"keyId,omitempty"`
	DisplayName   string     `json:"displayName,omitempty"`
	Hint          string     `json:"hint,omitempty"`
	SecretText    string     `json:"secretText,omitempty"`
	StartDateTime *time.Time `json:"startDateTime,omitempty"`
	EndDateTime   *time.Time `json:"endDateTime,omitempty"`
}

// KeyCredential is a client certificate: Key is its DER encoding (base64 in JSON), Type
// "AsymmetricX509Cert", Usage "Verify". CustomKeyIdentifier is its SHA-1 thumbprint.
type KeyCredential struct {
	KeyID               string     `json:"keyId,omitempty"`
	DisplayName         string     `json:"displayName,omitempty"`
	Type                string     `json:"type,omitempty"`
	Usage               string     `json:"usage,omitempty"`
	Key                 []byte     `json:"key,omitempty"`
	CustomKeyIdentifier []byte     `json:"customKeyIdentifier,omitempty"`
	StartDateTime       *time.Time `json:"startDateTime,omitempty"`
	EndDateTime         *time.Time `json:"endDateTime,omitempty"`
}

// AddPasswordRequest is the body of POST /v1.0/applications/{id}/addPassword.
type AddPasswordRequest struct {
	PasswordCredential PasswordCredential `json:"passwordCredential"`
}

// AddKeyRequest is the body of POST /v1.0/applications/{id}/addKey.
type AddKeyRequest struct {
	KeyCredential KeyCredential `json:"keyCredential"`
}

// RemoveKeyRequest is the body of removePassword and removeKey.
type RemoveKeyRequest struct {
	KeyID string `json:"keyId"`
}

// FederatedIdentityCredential trusts tokens of an external issuer for one subject.
type FederatedIdentityCredential struct {
	ID          string   `json:"id,omitempty"`
	Name        string   `json:"name"`
	Issuer      string   `json:"issuer"`
	Subject     string   `json:"subject"`
	Audiences   []string `json:"audiences"`
	Description string   `json:"description,omitempty"`
}

// ServicePrincipal is a Graph service principal; managed identities are listed as service
// principals of type ManagedIdentity, as in Graph.
type ServicePrincipal struct {
	ID                     string   `json:"id,omitempty"`
	AppID                  string   `json:"appId"`
	DisplayName            string   `json:"displayName,omitempty"`
	AccountEnabled         *bool    `json:"accountEnabled,omitempty"`
	ServicePrincipalType   string   `json:"servicePrincipalType,omitempty"`
	AppOwnerOrganizationID string   `json:"appOwnerOrganizationId,omitempty"`
	AlternativeNames       []string `json:"alternativeNames,omitempty"`
}

// User is a Graph user. PasswordProfile is accepted on create, never returned.
type User struct {
	ID                string           `json:"id,omitempty"`
	UserPrincipalName string           `json:"userPrincipalName"`
	DisplayName       string           `json:"displayName,omitempty"`
	AccountEnabled    *bool            `json:"accountEnabled,omitempty"`
	PasswordProfile   *PasswordProfile `json:"passwordProfile,omitempty"`
}

// PasswordProfile carries a new user's password.
type PasswordProfile struct {
	Password string `json:"password"`
}

// ManagedIdentity is a user- or system-assigned managed identity (Cerulean extension,
// shaped like ARM's Microsoft.ManagedIdentity properties).
type ManagedIdentity struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"` // UserAssigned or SystemAssigned
	ClientID    string `json:"clientId,omitempty"`
	PrincipalID string `json:"principalId,omitempty"` // object id
	TenantID    string `json:"tenantId,omitempty"`
	ResourceID  string `json:"id,omitempty"`
}

// IdentityHost stands for the Azure resource managed identities are attached to
// (Cerulean extension). Identities names user-assigned identities by name, client id,
// object id or resource id on create, and lists their object ids. Secret is the App
// Service-style IDENTITY_HEADER, returned once, on create.
type IdentityHost struct {
	ID             string           `json:"id,omitempty"`
	Name           string           `json:"name"`
	Identities     []string         `json:"identities,omitempty"`
	SystemAssigned *ManagedIdentity `json:"systemAssignedIdentity,omitempty"`
	Secret         string           `json:"secret,omitempty"`
}

// List is Graph's collection envelope.
type List[T any] struct {
	Value []T `json:"value"`
}

// ErrorBody is Graph's error envelope.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error inside ErrorBody.
type ErrorDetail struct {
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	InnerError map[string]string `json:"innerError,omitempty"`
}

// Bootstrap is the content of DIR/bootstrap.json, which `cerulean serve` writes and the
// client verbs sign in with (cliconn.Bootstrap).
type Bootstrap = cliconn.Bootstrap
