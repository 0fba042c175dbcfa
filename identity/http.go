package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/observe"
)

// handler serves one route; its error is rendered by the route's error writer.
type handler func(s *Service, w http.ResponseWriter, r *http.Request) error

// errorWriter renders a handler's error in a protocol's shape.
type errorWriter func(s *Service, w http.ResponseWriter, r *http.Request, err error)

// route is one entry of the identity plane's HTTP API.
type route struct {
	pattern string // net/http.ServeMux pattern
	label   string // route label for logs and metrics
	handle  handler
	errs    errorWriter
}

// routes is the identity plane's one route table: the paths real clients call
// (acr-protocol.md §3, §8). "adfs" is a tenant segment like any other: the ADFS-style
// authority the Azure CLI can use offline (§8) is served by the v1 routes.
var routes = []route{
	// OpenID Connect discovery and keys: MSAL, azidentity, the Azure CLI.
	{"GET /{tenant}/v2.0/.well-known/openid-configuration", "openid_configuration", (*Service).openIDConfigurationV2, writeAAD},
	{"GET /{tenant}/.well-known/openid-configuration", "openid_configuration", (*Service).openIDConfigurationV1, writeAAD},
	{"GET /{authority}/{tenant}/.well-known/openid-configuration", "openid_configuration", (*Service).openIDConfigurationADFSTenant, writeAAD},
	{"GET /{tenant}/discovery/v2.0/keys", "jwks", (*Service).jwks, writeAAD},
	{"GET /{tenant}/discovery/keys", "jwks", (*Service).jwks, writeAAD},
	{"GET /common/discovery/instance", "instance_discovery", (*Service).instanceDiscovery, writeAAD},
	{"GET /common/userrealm/{user}", "user_realm", (*Service).userRealm, writeAAD},
	{"GET /common/UserRealm/{user}", "user_realm", (*Service).userRealm, writeAAD},

	// Sign-in. Every token request passes tokenEndpoint: the place for a rate limiter.
	{"POST /{tenant}/oauth2/v2.0/token", "token", (*Service).tokenV2, writeAAD},
	{"POST /{tenant}/oauth2/token", "token", (*Service).tokenV1, writeAAD},
	{"POST /{tenant}/oauth2/v2.0/devicecode", "devicecode", (*Service).deviceCode, writeAAD},
	{"POST /{tenant}/oauth2/devicecode", "devicecode", (*Service).deviceCode, writeAAD},
	{"GET /devicelogin", "devicelogin", (*Service).deviceLoginPage, writeDeviceLogin},
	{"POST /devicelogin", "devicelogin", (*Service).deviceLogin, writeDeviceLogin},

	// Managed identity, App Service style (IDENTITY_ENDPOINT + IDENTITY_HEADER). The
	// IMDS style is served on a dedicated listener (IMDSHandler).
	{"GET /metadata/identity/oauth2/token", "managed_identity", (*Service).appServiceToken, writeAAD},

	// The Graph-shaped directory API (package graph has the wire types).
	{"GET /v1.0/applications", "graph", owner((*Service).listApplications), writeGraph},
	{"POST /v1.0/applications", "graph", owner((*Service).createApplication), writeGraph},
	{"GET /v1.0/applications/{id}", "graph", owner((*Service).getApplication), writeGraph},
	{"DELETE /v1.0/applications/{id}", "graph", owner((*Service).deleteApplication), writeGraph},
	{"POST /v1.0/applications/{id}/addPassword", "graph", owner((*Service).addPassword), writeGraph},
	{"POST /v1.0/applications/{id}/removePassword", "graph", owner((*Service).removeCredential), writeGraph},
	{"POST /v1.0/applications/{id}/addKey", "graph", owner((*Service).addKey), writeGraph},
	{"POST /v1.0/applications/{id}/removeKey", "graph", owner((*Service).removeCredential), writeGraph},
	{"GET /v1.0/applications/{id}/federatedIdentityCredentials", "graph", owner((*Service).listFederatedCredentials), writeGraph},
	{"POST /v1.0/applications/{id}/federatedIdentityCredentials", "graph", owner((*Service).addFederatedCredential), writeGraph},
	{"DELETE /v1.0/applications/{id}/federatedIdentityCredentials/{fic}", "graph", owner((*Service).removeFederatedCredential), writeGraph},
	{"GET /v1.0/servicePrincipals", "graph", owner((*Service).listServicePrincipals), writeGraph},
	{"POST /v1.0/servicePrincipals", "graph", owner((*Service).createServicePrincipal), writeGraph},
	{"GET /v1.0/servicePrincipals/{id}", "graph", owner((*Service).getServicePrincipal), writeGraph},
	{"PATCH /v1.0/servicePrincipals/{id}", "graph", owner((*Service).updateServicePrincipal), writeGraph},
	{"GET /v1.0/users", "graph", owner((*Service).listUsers), writeGraph},
	{"POST /v1.0/users", "graph", owner((*Service).createUser), writeGraph},
	{"GET /cerulean/identity/managedIdentities", "graph", owner((*Service).listManagedIdentities), writeGraph},
	{"POST /cerulean/identity/managedIdentities", "graph", owner((*Service).createManagedIdentity), writeGraph},
	{"GET /cerulean/identity/hosts", "graph", owner((*Service).listHosts), writeGraph},
	{"POST /cerulean/identity/hosts", "graph", owner((*Service).createHost), writeGraph},
	{"DELETE /cerulean/identity/hosts/{id}", "graph", owner((*Service).deleteHost), writeGraph},
}

// Handler returns the identity plane's HTTP API, with notFound for every other path.
// Its patterns start with a {tenant} wildcard, which would conflict with other planes'
// prefixes on one ServeMux: the server mounts this handler as its fallback.
func (s *Service) Handler(notFound http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern, s.adapt(rt))
	}
	mux.Handle("/", notFound)
	return mux
}

// IMDSHandler serves the IMDS-style managed-identity endpoint for one host, on a
// listener dedicated to it: real IMDS knows the calling VM by its network, so here the
// listener stands for the host (see the package documentation). notFound serves other
// paths.
func (s *Service) IMDSHandler(hostName string, notFound http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metadata/identity/oauth2/token", s.adapt(route{label: "imds", errs: writeAAD,
		handle: func(s *Service, w http.ResponseWriter, r *http.Request) error { return s.imdsToken(w, r, hostName) }}))
	mux.Handle("/", notFound)
	return mux
}

// adapt turns a route into an http.Handler: it labels the request and renders errors.
func (s *Service) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		observe.SetRoute(r.Context(), rt.label)
		// Sign-in forms and Graph bodies are small; anything larger is not a client of ours.
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := rt.handle(s, w, r); err != nil {
			rt.errs(s, w, r, err)
		}
	})
}

// aadErrors is the one table from sign-in error to HTTP status, OAuth error code and
// AADSTS code. Codes are Entra's where known.
var aadErrors = []struct {
	kind   error
	status int
	oauth  string
	code   int
}{
	{ErrInvalidRequest, http.StatusBadRequest, "invalid_request", 900144},
	{ErrUnsupportedGrant, http.StatusBadRequest, "unsupported_grant_type", 70003},
	{ErrTenantNotFound, http.StatusBadRequest, "invalid_tenant", 90002},
	{ErrInvalidInstance, http.StatusBadRequest, "invalid_instance", 50049},
	{ErrAppNotFound, http.StatusBadRequest, "unauthorized_client", 700016},
	{ErrAppDisabled, http.StatusBadRequest, "unauthorized_client", 7000112},
	{ErrNoClientCredential, http.StatusUnauthorized, "invalid_client", 7000218},
	{ErrInvalidSecret, http.StatusUnauthorized, "invalid_client", 7000215},
	{ErrSecretExpired, http.StatusUnauthorized, "invalid_client", 7000222},
	{ErrInvalidAssertion, http.StatusUnauthorized, "invalid_client", 50027},
	{ErrAssertionSignature, http.StatusUnauthorized, "invalid_client", 700027},
	{ErrAssertionExpired, http.StatusUnauthorized, "invalid_client", 700024},
	{ErrAssertionClient, http.StatusUnauthorized, "invalid_client", 700021},
	{ErrNoFederatedCredential, http.StatusUnauthorized, "invalid_client", 70021},
	{ErrFederatedIssuer, http.StatusUnauthorized, "invalid_client", 700211},
	{ErrFederatedAudience, http.StatusUnauthorized, "invalid_client", 700212},
	{ErrFederatedSubject, http.StatusUnauthorized, "invalid_client", 700213},
	{ErrExternalIssuer, http.StatusUnauthorized, "invalid_client", 50166},
	{ErrInvalidScope, http.StatusBadRequest, "invalid_scope", 70011},
	{ErrResourceNotFound, http.StatusBadRequest, "invalid_resource", 500011},
	{ErrInvalidUserCredential, http.StatusBadRequest, "invalid_grant", 50126},
	{ErrUserDisabled, http.StatusBadRequest, "invalid_grant", 50057},
	{ErrInvalidGrant, http.StatusBadRequest, "invalid_grant", 70000},
	{ErrAuthorizationPending, http.StatusBadRequest, "authorization_pending", 70016},
	{ErrExpiredToken, http.StatusBadRequest, "expired_token", 70019},
	// Managed identity: IMDS answers these without AADSTS codes.
	{ErrIdentityNotFound, http.StatusBadRequest, "invalid_request", 0},
	{ErrHostUnauthorized, http.StatusUnauthorized, "unauthorized_client", 0},
}

// aadError is Entra's error JSON.
type aadError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes,omitempty"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri,omitempty"`
}

// writeAAD renders err as Entra does: the OAuth error, "AADSTS<code>: <description>"
// with trace and correlation ids and a timestamp, and the code again in error_codes.
// Errors outside the table are internal: logged with their detail, told as AADSTS50000.
func writeAAD(s *Service, w http.ResponseWriter, r *http.Request, err error) {
	status, oauth, code, desc := http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token."
	var e *Error
	if errors.As(err, &e) {
		for _, t := range aadErrors {
			if errors.Is(err, t.kind) {
				status, oauth, code, desc = t.status, t.oauth, t.code, e.Description
				break
			}
		}
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "identity request failed", slog.String("route", observe.Route(r.Context())), slog.Any("err", err))
	}
	now := s.now().UTC().Format("2006-01-02 15:04:05Z")
	body := aadError{Error: oauth, Timestamp: now, TraceID: guid.New(), CorrelationID: correlationID(r)}
	if code != 0 {
		body.Codes = []int{code}
		body.ErrorURI = fmt.Sprintf("%s/error?code=%d", s.base, code)
		desc = fmt.Sprintf("AADSTS%d: %s", code, desc)
	}
	body.Description = fmt.Sprintf("%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", desc, body.TraceID, body.CorrelationID, now)
	writeJSON(w, status, body)
}

// correlationID is the client's client-request-id (MSAL sends one) or the request id.
func correlationID(r *http.Request) string {
	if id := r.Header.Get("client-request-id"); guid.Valid(id) {
		return id
	}
	return observe.RequestID(r.Context())
}

// graphErrors is the one table from directory error to Graph's status and code.
var graphErrors = []struct {
	kind   error
	status int
	code   string
}{
	{ErrInvalidToken, http.StatusUnauthorized, "InvalidAuthenticationToken"},
	{ErrTokenExpired, http.StatusUnauthorized, "InvalidAuthenticationToken"},
	{ErrForbidden, http.StatusForbidden, "Authorization_RequestDenied"},
	{ErrNotFound, http.StatusNotFound, "Request_ResourceNotFound"},
	{ErrConflict, http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue"},
	{ErrBadRequest, http.StatusBadRequest, "Request_BadRequest"},
}

// writeGraph renders err in Graph's error envelope. Token errors say only what Graph
// says; their detail goes to the debug log.
func writeGraph(s *Service, w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusInternalServerError, "generalException", "An internal server error occurred."
	for _, t := range graphErrors {
		if errors.Is(err, t.kind) {
			status, code, msg = t.status, t.code, err.Error()
			var e *Error
			if errors.As(err, &e) {
				msg = e.Description
			}
			break
		}
	}
	switch {
	case status >= 500:
		s.log.ErrorContext(r.Context(), "identity request failed", slog.String("route", "graph"), slog.Any("err", err))
	case status == http.StatusUnauthorized:
		s.log.DebugContext(r.Context(), "graph token refused", slog.Any("err", err))
		msg = "Access token validation failure."
		if errors.Is(err, ErrTokenExpired) {
			msg = "Lifetime validation failed, the token is expired."
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.base+`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	}
	writeJSON(w, status, graph.ErrorBody{Error: graph.ErrorDetail{Code: code, Message: msg,
		InnerError: map[string]string{"request-id": observe.RequestID(r.Context()), "date": s.now().UTC().Format(time.RFC3339)}}})
}

// writeJSON answers with v as JSON. Token responses must not be cached (RFC 6749 §5.1);
// neither should anything else of this plane except the key set, which sets its own.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a write error means the client left
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(tok), ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}
