package identity

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// tokenV2 is POST /{tenant}/oauth2/v2.0/token.
func (s *Service) tokenV2(w http.ResponseWriter, r *http.Request) error {
	return s.tokenEndpoint(w, r, v2)
}

// tokenV1 is POST /{tenant}/oauth2/token: Entra's v1 endpoint, and ADFS's for tenant adfs.
func (s *Service) tokenV1(w http.ResponseWriter, r *http.Request) error {
	return s.tokenEndpoint(w, r, v1Version(r))
}

// v1Version is the version a v1 path serves: ADFS's for tenant adfs (the Azure CLI's
// ADFS authority is the server with tenant adfs), Entra's v1 for any other tenant.
func v1Version(r *http.Request) version {
	if strings.EqualFold(r.PathValue("tenant"), "adfs") {
		return adfs
	}
	return v1
}

// tokenEndpoint reads a token request (form fields; a client secret may also come as
// HTTP Basic, client_secret_basic), runs it and answers in the endpoint's shape.
func (s *Service) tokenEndpoint(w http.ResponseWriter, r *http.Request, v version) error {
	if err := r.ParseForm(); err != nil {
		return fail(ErrInvalidRequest, "The request body must be application/x-www-form-urlencoded: %v", err)
	}
	f := r.PostForm
	req := tokenRequest{
		tenant: r.PathValue("tenant"), version: v, endpoint: s.base + r.URL.Path,
		grantType: f.Get("grant_type"), clientID: f.Get("client_id"), clientSecret: f.Get("client_secret"),
		clientAssertionType: f.Get("client_assertion_type"), clientAssertion: f.Get("client_assertion"),
		scope: f.Get("scope"), resource: f.Get("resource"), username: f.Get("username"), password: f.Get("password"),
		deviceCode: first(f.Get("device_code"), f.Get("code")), refreshToken: f.Get("refresh_token"),
		clientInfo: f.Get("client_info") == "1",
	}
	if id, secret, ok := r.BasicAuth(); ok && req.clientSecret == "" && (req.clientID == "" || req.clientID == id) {
		req.clientID, req.clientSecret = id, secret
	}
	issued, err := s.token(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenResponse(issued, v))
	return nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// tokenResponse is the JSON of a successful token request. v2 (and ADFS) send numbers;
// v1 sends every number as a string, with expires_on, not_before and resource, as Entra
// and the managed-identity endpoints do.
func tokenResponse(t *Issued, v version) map[string]any {
	lifetime := int64(t.ExpiresAt.Sub(t.IssuedAt).Seconds())
	m := map[string]any{"token_type": "Bearer", "scope": t.Scope, "access_token": t.AccessToken,
		"expires_in": lifetime, "ext_expires_in": lifetime}
	if v == v1 {
		m["expires_in"] = strconv.FormatInt(lifetime, 10)
		m["ext_expires_in"] = m["expires_in"]
		m["expires_on"] = strconv.FormatInt(t.ExpiresAt.Unix(), 10)
		m["not_before"] = strconv.FormatInt(t.IssuedAt.Unix(), 10)
		m["resource"] = t.Resource
	}
	for k, val := range map[string]string{"refresh_token": t.RefreshToken, "id_token": t.IDToken, "client_info": t.ClientInfo} {
		if val != "" {
			m[k] = val
		}
	}
	return m
}

// deviceCode is POST /{tenant}/oauth2[/v2.0]/devicecode (RFC 8628 §3.1). v1 clients name
// a resource instead of a scope.
func (s *Service) deviceCode(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fail(ErrInvalidRequest, "The request body must be application/x-www-form-urlencoded: %v", err)
	}
	scope := r.PostForm.Get("scope")
	if res := r.PostForm.Get("resource"); scope == "" && res != "" {
		scope = res + "/.default"
	}
	a, err := s.startDeviceCode(r.Context(), r.PathValue("tenant"), r.PostForm.Get("client_id"), scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": a.DeviceCode, "user_code": a.UserCode,
		"verification_uri": a.VerificationURI, "verification_url": a.VerificationURI, // v2 and v1/ADFS spellings
		"expires_in": int(a.ExpiresIn.Seconds()), "interval": int(a.Interval.Seconds()), "message": a.Message,
	})
	return nil
}

// openIDConfigurationV2 is GET /{tenant}/v2.0/.well-known/openid-configuration.
func (s *Service) openIDConfigurationV2(w http.ResponseWriter, r *http.Request) error {
	return s.openIDConfiguration(w, r, v2)
}

// openIDConfigurationV1 is GET /{tenant}/.well-known/openid-configuration: Entra's v1
// document, and the ADFS one for tenant adfs.
func (s *Service) openIDConfigurationV1(w http.ResponseWriter, r *http.Request) error {
	return s.openIDConfiguration(w, r, v1Version(r))
}

// openIDConfigurationADFSTenant is GET /adfs/adfs/.well-known/openid-configuration: the
// Azure CLI resolves a tenant that is not a GUID ("adfs") by fetching its document under
// the authority and taking the tenant from the issuer's path.
func (s *Service) openIDConfigurationADFSTenant(w http.ResponseWriter, r *http.Request) error {
	if !strings.EqualFold(r.PathValue("authority"), "adfs") || !strings.EqualFold(r.PathValue("tenant"), "adfs") {
		return tenantNotFound(r.PathValue("tenant"))
	}
	return s.openIDConfiguration(w, r, adfs)
}

// openIDConfiguration answers the discovery document. Its issuer has the scheme and
// host of the authority, as MSAL checks; for organizations and common it holds the
// {tenantid} placeholder, as Entra's does.
func (s *Service) openIDConfiguration(w http.ResponseWriter, r *http.Request, v version) error {
	tenant := r.PathValue("tenant")
	id, err := s.pathTenant(r.Context(), tenant)
	if err != nil {
		return err
	}
	if id == "" {
		id = "{tenantid}"
	}
	base := s.base + "/" + tenant
	doc := map[string]any{
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"grant_types_supported":                 []string{grantClientCredentials, grantPassword, grantRefreshToken, grantDeviceCode},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "upn", "preferred_username", "name", "ver"},
		"request_uri_parameter_supported":       false,
		"cloud_instance_name":                   s.host,
		"cloud_graph_host_name":                 s.host,
		"msgraph_host":                          s.host,
	}
	switch v {
	case v2:
		doc["issuer"] = s.issuer(id, v2)
		doc["authorization_endpoint"] = base + "/oauth2/v2.0/authorize"
		doc["token_endpoint"] = base + "/oauth2/v2.0/token"
		doc["device_authorization_endpoint"] = base + "/oauth2/v2.0/devicecode"
		doc["jwks_uri"] = base + "/discovery/v2.0/keys"
	case v1:
		doc["issuer"] = s.issuer(id, v1)
		doc["authorization_endpoint"] = base + "/oauth2/authorize"
		doc["token_endpoint"] = base + "/oauth2/token"
		doc["device_authorization_endpoint"] = base + "/oauth2/devicecode"
		doc["jwks_uri"] = base + "/discovery/keys"
	case adfs:
		doc["issuer"] = s.adfsIssuer()
		doc["authorization_endpoint"] = s.base + "/adfs/oauth2/authorize"
		doc["token_endpoint"] = s.base + "/adfs/oauth2/token"
		doc["device_authorization_endpoint"] = s.base + "/adfs/oauth2/devicecode"
		doc["jwks_uri"] = s.base + "/adfs/discovery/keys"
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// jwks is GET /{tenant}/discovery[/v2.0]/keys: the published signing keys, the same for
// every tenant. Verifiers may cache them for an hour; new keys are published days
// before they sign.
func (s *Service) jwks(w http.ResponseWriter, r *http.Request) error {
	set, err := s.keys.JWKS(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, set)
	return nil
}

// instanceDiscovery is GET /common/discovery/instance, which MSAL asks before trusting
// an authority it does not know (azidentity can skip it with DisableInstanceDiscovery):
// it vouches only for this server's own host.
func (s *Service) instanceDiscovery(w http.ResponseWriter, r *http.Request) error {
	u, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || !strings.EqualFold(u.Host, s.host) {
		return fail(ErrInvalidInstance, "Unknown or invalid instance: this server vouches only for %s.", s.host)
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if tenant == "" {
		tenant = "common"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": s.base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": s.host, "preferred_cache": s.host, "aliases": []string{s.host}}},
	})
	return nil
}

// userRealm is GET /common/userrealm/{user}: every user here is "Managed" (signs in with
// a password held by this server, no federation), which sends MSAL to the plain
// password grant.
func (s *Service) userRealm(w http.ResponseWriter, r *http.Request) error {
	_, domain, _ := strings.Cut(r.PathValue("user"), "@")
	writeJSON(w, http.StatusOK, map[string]string{
		"ver": "1.0", "account_type": "Managed", "domain_name": strings.ToLower(domain),
		"cloud_instance_name": s.host, "cloud_audience_urn": "urn:federation:MicrosoftOnline",
	})
	return nil
}

// appServiceToken is the App Service-style managed-identity endpoint: the
// X-IDENTITY-HEADER secret says which host is calling.
func (s *Service) appServiceToken(w http.ResponseWriter, r *http.Request) error {
	host, err := s.hostBySecret(r.Context(), r.Header.Get("X-IDENTITY-HEADER"))
	if err != nil {
		return err
	}
	return s.managedIdentityEndpoint(w, r, host)
}

// imdsToken is the IMDS-style endpoint of a listener bound to a host. Like IMDS it
// requires "Metadata: true" and refuses proxied requests, so that a server-side request
// forgery through a proxy on the host cannot reach it.
func (s *Service) imdsToken(w http.ResponseWriter, r *http.Request, hostName string) error {
	if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
		return fail(ErrInvalidRequest, "Required metadata header not specified.")
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		return fail(ErrInvalidRequest, "Requests through a proxy are refused.")
	}
	host, err := s.hostByName(r.Context(), hostName)
	if err != nil {
		return err
	}
	return s.managedIdentityEndpoint(w, r, host)
}

// managedIdentityEndpoint answers a managed-identity token request of a host in the
// shape IMDS and App Service use: every number a string.
func (s *Service) managedIdentityEndpoint(w http.ResponseWriter, r *http.Request, host *meta.IdentityHost) error {
	q := r.URL.Query()
	t, err := s.managedIdentityToken(r.Context(), host, miRequest{
		resource: q.Get("resource"), clientID: first(q.Get("client_id"), q.Get("clientid")),
		objectID:   first(q.Get("object_id"), q.Get("principal_id")),
		resourceID: first(q.Get("msi_res_id"), q.Get("mi_res_id")),
	})
	if err != nil {
		return err
	}
	lifetime := strconv.FormatInt(int64(t.ExpiresAt.Sub(t.IssuedAt).Seconds()), 10)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": t.AccessToken, "client_id": t.ClientID, "expires_in": lifetime, "ext_expires_in": lifetime,
		"expires_on": strconv.FormatInt(t.ExpiresAt.Unix(), 10), "not_before": strconv.FormatInt(t.IssuedAt.Unix(), 10),
		"resource": t.Resource, "token_type": "Bearer",
	})
	return nil
}
