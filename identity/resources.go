package identity

import (
	"strings"
)

// Audiences of the resources the service issues tokens for, as clients request them
// (acr-protocol.md §3.3, §3.4). A token's aud is the resource as the client spelled it,
// with or without a trailing slash, so each list holds both spellings: other planes pass
// a list to VerifyAccessToken as it is.
var (
	// ARMAudiences: Azure Resource Manager, public and sovereign clouds, in both the
	// management.azure.com and the management.core.windows.net spellings.
	ARMAudiences = bothSpellings(
		"https://management.azure.com/", "https://management.core.windows.net/",
		"https://management.usgovcloudapi.net/", "https://management.core.usgovcloudapi.net/",
		"https://management.chinacloudapi.cn/", "https://management.core.chinacloudapi.cn/",
	)
	// ACRAudiences: the container registry data plane (azcontainerregistry's default).
	ACRAudiences = bothSpellings("https://containerregistry.azure.net")
	// GraphAudiences: Microsoft Graph (the Graph-shaped directory API), by URL and app id.
	GraphAudiences = append(bothSpellings("https://graph.microsoft.com", "https://graph.microsoft.us",
		"https://microsoftgraph.chinacloudapi.cn"), "00000003-0000-0000-c000-000000000000")
	// TokenExchangeAudience is what a federated credential expects by default; Cerulean
	// issues tokens for it too, so that its own tokens can be federated.
	TokenExchangeAudience = "api://AzureADTokenExchange"
)

// bothSpellings returns each URL without and with a trailing slash.
func bothSpellings(urls ...string) []string {
	out := make([]string, 0, 2*len(urls))
	for _, u := range urls {
		u = strings.TrimRight(u, "/")
		out = append(out, u, u+"/")
	}
	return out
}

// oidcScopes are the scopes that ask for sign-in artefacts rather than a resource.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// canonical is the form in which resource identifiers compare: lower case, no trailing
// slash (clients send https://management.core.windows.net/ and ...windows.net alike).
func canonical(id string) string { return strings.TrimRight(strings.ToLower(id), "/") }

// knownResource reports whether tokens may be issued for resource id: the lists above,
// the token exchange audience, and the server itself.
func (s *Service) knownResource(id string) bool {
	c := canonical(id)
	if c == canonical(s.base) || c == canonical(TokenExchangeAudience) {
		return true
	}
	for _, list := range [][]string{ARMAudiences, ACRAudiences, GraphAudiences} {
		for _, a := range list {
			if canonical(a) == c {
				return true
			}
		}
	}
	return false
}

// scopeRequest is a parsed v2 scope parameter.
type scopeRequest struct {
	resource string // the audience, as the client spelled it
	openID   bool   // an ID token is wanted
	offline  bool   // a refresh token is wanted
	scopes   string // the resource scopes, space-separated, as granted back
}

// parseScope reads a v2 "scope" (or, when resource is set, a v1 "resource" parameter).
// Client credentials need exactly one "<resource>/.default"; user sign-ins may ask for
// "<resource>/<permission>" too, and default to Microsoft Graph, as Entra does.
func (s *Service) parseScope(scope, resource string, clientCredentials bool) (scopeRequest, error) {
	var req scopeRequest
	var resources []string
	for f := range strings.FieldsSeq(scope) {
		if oidcScopes[strings.ToLower(f)] {
			req.openID = req.openID || strings.EqualFold(f, "openid")
			req.offline = req.offline || strings.EqualFold(f, "offline_access")
			continue
		}
		i := strings.LastIndex(f, "/")
		if i <= 0 || clientCredentials && f[i:] != "/.default" {
			return req, fail(ErrInvalidScope, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", f)
		}
		resources = append(resources, f[:i])
		req.scopes = strings.TrimSpace(req.scopes + " " + f)
	}
	switch {
	case resource != "":
		req.resource = resource
		if req.scopes == "" {
			req.scopes = strings.TrimRight(resource, "/") + "/.default"
		}
	case len(resources) > 0:
		req.resource = resources[0]
		for _, r := range resources[1:] {
			if canonical(r) != canonical(req.resource) {
				return req, fail(ErrInvalidScope, "The provided value for the input parameter 'scope' is not valid because it contains more than one resource. The scope %s is not valid.", scope)
			}
		}
	case clientCredentials:
		return req, fail(ErrInvalidRequest, "The request body must contain the following parameter: 'scope'.")
	default:
		req.resource = GraphAudiences[0]
		req.scopes = GraphAudiences[0] + "/.default"
	}
	if !s.knownResource(req.resource) {
		return req, fail(ErrResourceNotFound, "The resource principal named %s was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant.", req.resource)
	}
	return req, nil
}
