package identity

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The Graph-shaped directory API. Only the tenant's owners (the bootstrap owner, marked
// Owner in the store) may call it, with a token for Microsoft Graph or for this server;
// role assignments of the management plane may widen that later.

// graphHandler serves a directory route for an authorized owner of tenantID.
type graphHandler func(s *Service, w http.ResponseWriter, r *http.Request, tenantID string) error

// owner authorizes the caller before h runs.
func owner(h graphHandler) handler {
	return func(s *Service, w http.ResponseWriter, r *http.Request) error {
		tenantID, err := s.authorizeOwner(r)
		if err != nil {
			return err
		}
		return h(s, w, r, tenantID)
	}
}

// authorizeOwner verifies the bearer token and that its principal owns its tenant.
func (s *Service) authorizeOwner(r *http.Request) (string, error) {
	tok, ok := bearer(r)
	if !ok {
		return "", fmt.Errorf("%w: no bearer token", ErrInvalidToken)
	}
	c, err := s.VerifyAccessToken(r.Context(), tok, append([]string{s.base, s.base + "/"}, GraphAudiences...)...)
	if err != nil {
		return "", err
	}
	p, err := s.dir.Principal(r.Context(), c.ObjectID)
	if err := notFoundAs(err, func() error { return fmt.Errorf("%w: unknown principal", ErrInvalidToken) }); err != nil {
		return "", err
	}
	if !p.Enabled || !p.Owner {
		return "", fail(ErrForbidden, "Insufficient privileges to complete the operation.")
	}
	return c.TenantID, nil
}

// decode reads a JSON request body into v.
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return badRequest("The request body is not valid JSON: %v", err)
	}
	return nil
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func graphApplication(a *meta.Application, creds []meta.ClientCredential) graph.Application {
	g := graph.Application{ID: a.ObjectID, AppID: a.AppID, DisplayName: a.DisplayName, CreatedDateTime: timePtr(a.CreatedAt),
		PasswordCredentials: []graph.PasswordCredential{}, KeyCredentials: []graph.KeyCredential{}}
	for _, c := range creds {
		if c.Kind == meta.CredentialSecret {
			g.PasswordCredentials = append(g.PasswordCredentials, graphPassword(c))
		} else {
			g.KeyCredentials = append(g.KeyCredentials, graphKey(c))
		}
	}
	return g
}

func graphPassword(c meta.ClientCredential) graph.PasswordCredential {
	return graph.PasswordCredential{KeyID: c.KeyID, DisplayName: c.DisplayName, Hint: c.Hint,
		StartDateTime: timePtr(c.StartAt), EndDateTime: timePtr(c.EndAt)}
}

func graphKey(c meta.ClientCredential) graph.KeyCredential {
	sum := sha1.Sum(c.Certificate)
	return graph.KeyCredential{KeyID: c.KeyID, DisplayName: c.DisplayName, Type: string(meta.CredentialCertificate),
		Usage: "Verify", CustomKeyIdentifier: sum[:], StartDateTime: timePtr(c.StartAt), EndDateTime: timePtr(c.EndAt)}
}

func graphPrincipal(p *meta.Principal) graph.ServicePrincipal {
	g := graph.ServicePrincipal{ID: p.ObjectID, AppID: p.AppID, DisplayName: p.DisplayName, AccountEnabled: &p.Enabled,
		ServicePrincipalType: "Application", AppOwnerOrganizationID: p.TenantID}
	if p.Kind == meta.KindManagedIdentity {
		g.ServicePrincipalType, g.AlternativeNames = "ManagedIdentity", []string{p.ResourceID}
	}
	return g
}

func graphManagedIdentity(p *meta.Principal) *graph.ManagedIdentity {
	typ := "UserAssigned"
	if p.HostID != "" {
		typ = "SystemAssigned"
	}
	return &graph.ManagedIdentity{Name: p.DisplayName, Type: typ, ClientID: p.AppID, PrincipalID: p.ObjectID,
		TenantID: p.TenantID, ResourceID: p.ResourceID}
}

func graphHost(h *meta.IdentityHost) graph.IdentityHost {
	return graph.IdentityHost{ID: h.ID, Name: h.Name, Identities: h.Identities,
		SystemAssigned: &graph.ManagedIdentity{Type: "SystemAssigned", PrincipalID: h.SystemIdentity}}
}

func (s *Service) listApplications(w http.ResponseWriter, r *http.Request, tenantID string) error {
	apps, err := s.dir.Applications(r.Context(), tenantID)
	if err != nil {
		return err
	}
	out := make([]graph.Application, 0, len(apps))
	for i := range apps {
		creds, err := s.dir.ClientCredentials(r.Context(), apps[i].AppID)
		if err != nil {
			return err
		}
		out = append(out, graphApplication(&apps[i], creds))
	}
	writeJSON(w, http.StatusOK, graph.List[graph.Application]{Value: out})
	return nil
}

func (s *Service) getApplication(w http.ResponseWriter, r *http.Request, tenantID string) error {
	a, err := s.Application(r.Context(), tenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	creds, err := s.dir.ClientCredentials(r.Context(), a.AppID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, graphApplication(a, creds))
	return nil
}

func (s *Service) createApplication(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.Application
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.CreateApplication(r.Context(), tenantID, in.DisplayName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, graphApplication(a, nil))
	return nil
}

func (s *Service) deleteApplication(w http.ResponseWriter, r *http.Request, tenantID string) error {
	if err := s.DeleteApplication(r.Context(), tenantID, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Service) addPassword(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.AddPasswordRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	var end time.Time
	if in.PasswordCredential.EndDateTime != nil {
		end = *in.PasswordCredential.EndDateTime
	}
	c, secret, err := s.AddSecret(r.Context(), tenantID, r.PathValue("id"), in.PasswordCredential.DisplayName, end)
	if err != nil {
		return err
	}
	out := graphPassword(*c)
	out.SecretText = secret
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) addKey(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.AddKeyRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if t := in.KeyCredential.Type; t != "" && t != string(meta.CredentialCertificate) {
		return badRequest("keyCredential.type must be %s.", meta.CredentialCertificate)
	}
	c, err := s.AddCertificate(r.Context(), tenantID, r.PathValue("id"), in.KeyCredential.DisplayName, in.KeyCredential.Key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, graphKey(*c))
	return nil
}

// removeCredential serves removePassword and removeKey: key ids are unique either way.
func (s *Service) removeCredential(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.RemoveKeyRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.RemoveCredential(r.Context(), tenantID, r.PathValue("id"), in.KeyID); err != nil {
		return err
	}
	return noContent(w)
}

func graphFederated(f *meta.FederatedCredential) graph.FederatedIdentityCredential {
	return graph.FederatedIdentityCredential{ID: f.ID, Name: f.Name, Issuer: f.Issuer, Subject: f.Subject,
		Audiences: f.Audiences, Description: f.Description}
}

func (s *Service) listFederatedCredentials(w http.ResponseWriter, r *http.Request, tenantID string) error {
	fics, err := s.FederatedCredentials(r.Context(), tenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]graph.FederatedIdentityCredential, 0, len(fics))
	for i := range fics {
		out = append(out, graphFederated(&fics[i]))
	}
	writeJSON(w, http.StatusOK, graph.List[graph.FederatedIdentityCredential]{Value: out})
	return nil
}

func (s *Service) addFederatedCredential(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.FederatedIdentityCredential
	if err := decode(r, &in); err != nil {
		return err
	}
	f := &meta.FederatedCredential{Name: in.Name, Issuer: in.Issuer, Subject: in.Subject, Audiences: in.Audiences, Description: in.Description}
	if err := s.AddFederatedCredential(r.Context(), tenantID, r.PathValue("id"), f); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, graphFederated(f))
	return nil
}

func (s *Service) removeFederatedCredential(w http.ResponseWriter, r *http.Request, tenantID string) error {
	if err := s.RemoveFederatedCredential(r.Context(), tenantID, r.PathValue("id"), r.PathValue("fic")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Service) listServicePrincipals(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var out []graph.ServicePrincipal
	for _, kind := range []meta.PrincipalKind{meta.KindServicePrincipal, meta.KindManagedIdentity} {
		ps, err := s.dir.Principals(r.Context(), tenantID, kind)
		if err != nil {
			return err
		}
		for i := range ps {
			out = append(out, graphPrincipal(&ps[i]))
		}
	}
	writeJSON(w, http.StatusOK, graph.List[graph.ServicePrincipal]{Value: out})
	return nil
}

func (s *Service) createServicePrincipal(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.ServicePrincipal
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.CreateServicePrincipal(r.Context(), tenantID, in.AppID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, graphPrincipal(p))
	return nil
}

// servicePrincipal returns a service principal or managed identity of the tenant.
func (s *Service) servicePrincipal(r *http.Request, tenantID string) (*meta.Principal, error) {
	p, err := s.Principal(r.Context(), tenantID, r.PathValue("id"))
	if err == nil && p.Kind == meta.KindUser {
		err = fail(ErrNotFound, "Resource '%s' is not a service principal.", r.PathValue("id"))
	}
	return p, err
}

func (s *Service) getServicePrincipal(w http.ResponseWriter, r *http.Request, tenantID string) error {
	p, err := s.servicePrincipal(r, tenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, graphPrincipal(p))
	return nil
}

func (s *Service) updateServicePrincipal(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.ServicePrincipal
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.servicePrincipal(r, tenantID)
	if err != nil {
		return err
	}
	if in.AccountEnabled != nil {
		if _, err := s.SetPrincipalEnabled(r.Context(), tenantID, p.ObjectID, *in.AccountEnabled); err != nil {
			return err
		}
	}
	return noContent(w)
}

func (s *Service) listUsers(w http.ResponseWriter, r *http.Request, tenantID string) error {
	ps, err := s.dir.Principals(r.Context(), tenantID, meta.KindUser)
	if err != nil {
		return err
	}
	out := make([]graph.User, 0, len(ps))
	for i := range ps {
		out = append(out, graph.User{ID: ps[i].ObjectID, UserPrincipalName: ps[i].UserPrincipalName,
			DisplayName: ps[i].DisplayName, AccountEnabled: &ps[i].Enabled})
	}
	writeJSON(w, http.StatusOK, graph.List[graph.User]{Value: out})
	return nil
}

func (s *Service) createUser(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.User
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.PasswordProfile == nil {
		return badRequest("passwordProfile.password is required.")
	}
	u, err := s.CreateUser(r.Context(), tenantID, in.UserPrincipalName, in.DisplayName, in.PasswordProfile.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, graph.User{ID: u.ObjectID, UserPrincipalName: u.UserPrincipalName,
		DisplayName: u.DisplayName, AccountEnabled: &u.Enabled})
	return nil
}

func (s *Service) listManagedIdentities(w http.ResponseWriter, r *http.Request, tenantID string) error {
	ps, err := s.dir.Principals(r.Context(), tenantID, meta.KindManagedIdentity)
	if err != nil {
		return err
	}
	out := make([]graph.ManagedIdentity, 0, len(ps))
	for i := range ps {
		out = append(out, *graphManagedIdentity(&ps[i]))
	}
	writeJSON(w, http.StatusOK, graph.List[graph.ManagedIdentity]{Value: out})
	return nil
}

func (s *Service) createManagedIdentity(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.ManagedIdentity
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.CreateManagedIdentity(r.Context(), tenantID, in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, graphManagedIdentity(p))
	return nil
}

func (s *Service) listHosts(w http.ResponseWriter, r *http.Request, tenantID string) error {
	hs, err := s.dir.IdentityHosts(r.Context(), tenantID)
	if err != nil {
		return err
	}
	out := make([]graph.IdentityHost, 0, len(hs))
	for i := range hs {
		out = append(out, graphHost(&hs[i]))
	}
	writeJSON(w, http.StatusOK, graph.List[graph.IdentityHost]{Value: out})
	return nil
}

func (s *Service) createHost(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var in graph.IdentityHost
	if err := decode(r, &in); err != nil {
		return err
	}
	h, system, secret, err := s.CreateIdentityHost(r.Context(), tenantID, in.Name, in.Identities)
	if err != nil {
		return err
	}
	out := graphHost(h)
	out.SystemAssigned, out.Secret = graphManagedIdentity(system), secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Service) deleteHost(w http.ResponseWriter, r *http.Request, tenantID string) error {
	if err := s.DeleteIdentityHost(r.Context(), tenantID, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}
