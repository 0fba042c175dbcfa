package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Caller is who a request comes from: a principal whose credentials were checked and are
// still good.
type Caller struct {
	Principal access.Principal
	// AppID and TenantID are an Entra principal's application and tenant (token claims).
	AppID, TenantID string
	binding         Binding
	// granted is what an access token allows; nil when the caller presented a credential
	// (a password, or a refresh token) and each request is decided afresh.
	granted []access.Scope
}

// Authenticate resolves the Authorization header of a request to reg into a Caller: no
// header is the anonymous caller; Basic carries a password of the admin user, a
// repository token or a service principal, or (under the null GUID) an ACR token; Bearer
// carries an ACR access token. client identifies the caller's address for the limiter.
func (s *Service) Authenticate(ctx context.Context, reg *meta.Registry, authorization, client string) (Caller, error) {
	scheme, cred, _ := strings.Cut(authorization, " ")
	switch {
	case authorization == "":
		return anonymousCaller(reg), nil
	case strings.EqualFold(scheme, "Bearer"):
		return s.fromToken(ctx, reg, strings.TrimSpace(cred), grantAccess)
	case strings.EqualFold(scheme, "Basic"):
		user, password, ok := decodeBasic(cred)
		if !ok {
			return Caller{}, fmt.Errorf("%w: malformed Basic credentials", ErrUnauthorized)
		}
		return s.password(ctx, reg, user, password, client)
	}
	return Caller{}, fmt.Errorf("%w: unsupported authorization scheme %q", ErrUnauthorized, scheme)
}

func decodeBasic(cred string) (user, password string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

func anonymousCaller(reg *meta.Registry) Caller {
	return Caller{
		Principal: access.Principal{Kind: access.Anonymous},
		binding:   Binding{Kind: access.Anonymous, RegistryGeneration: reg.Generation},
	}
}

// password checks a username and password, counting failures against the client and the
// username so that guessing is slowed down (429) without locking anyone out for good.
func (s *Service) password(ctx context.Context, reg *meta.Registry, user, password, client string) (Caller, error) {
	if err := s.opts.Limiter.Check(client, user); err != nil {
		return Caller{}, err
	}
	var c Caller
	var err error
	if user == NullGUID {
		// An ACR refresh token (az acr login) or access token as the password.
		c, err = s.fromToken(ctx, reg, password, "")
	} else {
		c, err = s.checkPassword(ctx, reg, user, password)
	}
	return c, s.counted(client, user, err)
}

// counted records a failed sign-in with the limiter.
func (s *Service) counted(client, user string, err error) error {
	if errors.Is(err, ErrUnauthorized) {
		s.opts.Limiter.Fail(client, user)
	}
	return err
}

// checkPassword tries the three kinds of password in ACR's order: the admin user (whose
// username is the registry name), a repository-scoped token, a service principal.
func (s *Service) checkPassword(ctx context.Context, reg *meta.Registry, user, password string) (Caller, error) {
	if strings.EqualFold(user, reg.Name) && reg.Settings.AdminUserEnabled && reg.AdminPasswordMatches(password) {
		return adminCaller(reg), nil
	}
	tok, err := s.store.Token(ctx, reg.ID, user)
	switch {
	case err == nil:
		now := s.opts.Now()
		if tok.Enabled && (tok.Passwords[0].Valid(password, now) || tok.Passwords[1].Valid(password, now)) {
			return tokenCaller(reg, tok)
		}
		return Caller{}, fmt.Errorf("%w: invalid password for token %q, or the token is disabled", ErrUnauthorized, user)
	case !errors.Is(err, meta.ErrResourceNotFound):
		return Caller{}, err
	}
	p, err := s.principals.VerifyClientSecret(ctx, user, password)
	if err != nil {
		return Caller{}, fmt.Errorf("%w: unknown user or invalid password: %v", ErrUnauthorized, err)
	}
	return s.entraCaller(ctx, reg, p.TenantID, p.ObjectID, p.AppID)
}

func adminCaller(reg *meta.Registry) Caller {
	return Caller{
		Principal: access.Principal{Kind: access.AdminUser, Name: reg.Name},
		binding:   Binding{Kind: access.AdminUser, Name: reg.Name, RegistryGeneration: reg.Generation},
	}
}

func tokenCaller(reg *meta.Registry, tok *meta.Token) (Caller, error) {
	actions, err := access.ParseScopeMapActions(tok.ScopeMapActions)
	if err != nil {
		return Caller{}, fmt.Errorf("token %q: scope map %q: %w", tok.Name, tok.ScopeMap, err)
	}
	return Caller{
		Principal: access.Principal{Kind: access.RepositoryToken, Name: tok.Name, ScopeMap: actions},
		binding: Binding{Kind: access.RepositoryToken, Name: tok.Name,
			RegistryGeneration: reg.Generation, TokenGeneration: tok.Generation},
	}, nil
}

// entraCaller builds an Entra principal with the role assignments that reach reg.
func (s *Service) entraCaller(ctx context.Context, reg *meta.Registry, tenantID, objectID, appID string) (Caller, error) {
	gen, err := s.store.PrincipalGeneration(ctx, objectID)
	if err != nil {
		return Caller{}, err
	}
	assigned, err := s.store.RoleAssignments(ctx, meta.RoleAssignmentQuery{
		AtScopes: reg.Scopes(), PrincipalIDs: []string{objectID},
	})
	if err != nil {
		return Caller{}, err
	}
	p := access.Principal{Kind: access.Entra, TenantID: tenantID, ObjectID: objectID}
	for _, a := range assigned {
		role, ok := access.BuiltInRole(a.RoleDefinitionID)
		if !ok {
			continue // custom role definitions are not stored yet: they grant nothing
		}
		// An unparsable condition comes back as deny-all, never as "no condition".
		cond, _ := access.ParseCondition(a.Condition)
		p.Assignments = append(p.Assignments, access.RoleAssignment{Role: role, Condition: cond})
	}
	return Caller{
		Principal: p, AppID: appID, TenantID: tenantID,
		binding: Binding{Kind: access.Entra, ObjectID: objectID,
			RegistryGeneration: reg.Generation, PrincipalGeneration: gen},
	}, nil
}

// tokenLeeway is the clock skew allowed on the server's own tokens: replicas share one
// clock source closely enough, and an expired token must stop working promptly.
const tokenLeeway = 2 * time.Second

// fromToken verifies an ACR token issued for reg (of the given grant type, or either when
// grant is "") and rebuilds its caller, refusing it if anything it was issued under has
// changed since.
func (s *Service) fromToken(ctx context.Context, reg *meta.Registry, raw, grant string) (Caller, error) {
	now := s.opts.Now()
	c, ok := s.verified.get(raw, now)
	if !ok || !c.Audience.Contains(reg.LoginServer) {
		want := signing.Expect{Issuers: []string{Issuer}, Audiences: []string{reg.LoginServer}, Time: now, Leeway: tokenLeeway}
		c = Claims{}
		if err := s.opts.Keys.Verify(ctx, raw, want, &c); err != nil {
			return Caller{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
		}
		s.verified.put(raw, c)
	}
	if c.RegistryID != reg.ID || (grant != "" && c.GrantType != grant) {
		return Caller{}, fmt.Errorf("%w: token is not a %s for this registry", ErrUnauthorized, grantName(grant))
	}
	caller, err := s.rebind(ctx, reg, c.Binding)
	if err != nil {
		return Caller{}, err
	}
	caller.AppID, caller.TenantID = c.AppID, c.Tenant
	if c.GrantType == grantAccess {
		caller.granted = c.Access
		if caller.granted == nil {
			caller.granted = []access.Scope{}
		}
	}
	return caller, nil
}

func grantName(grant string) string {
	if grant == "" {
		return "token"
	}
	return strings.ReplaceAll(grant, "_", " ")
}

// rebind resolves a token's binding against the current records: the caller it stands
// for, provided no generation moved.
func (s *Service) rebind(ctx context.Context, reg *meta.Registry, b Binding) (Caller, error) {
	stale := fmt.Errorf("%w: the credentials this token was issued for have changed; sign in again", ErrUnauthorized)
	if b.RegistryGeneration != reg.Generation {
		return Caller{}, stale
	}
	switch b.Kind {
	case access.Anonymous:
		return anonymousCaller(reg), nil
	case access.AdminUser:
		if !reg.Settings.AdminUserEnabled {
			return Caller{}, stale
		}
		return adminCaller(reg), nil
	case access.RepositoryToken:
		tok, err := s.store.Token(ctx, reg.ID, b.Name)
		if errors.Is(err, meta.ErrResourceNotFound) || err == nil && (!tok.Enabled || tok.Generation != b.TokenGeneration) {
			return Caller{}, stale
		}
		if err != nil {
			return Caller{}, err
		}
		return tokenCaller(reg, tok)
	case access.Entra:
		p, err := s.principals.PrincipalByObjectID(ctx, b.ObjectID)
		if err != nil || !p.Enabled {
			return Caller{}, stale
		}
		c, err := s.entraCaller(ctx, reg, p.TenantID, p.ObjectID, p.AppID)
		if err == nil && c.binding.PrincipalGeneration != b.PrincipalGeneration {
			return Caller{}, stale
		}
		return c, err
	}
	return Caller{}, stale
}
