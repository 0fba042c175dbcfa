package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/management"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// newManagement builds the management plane on the metadata store. Its verifier is the
// identity plane, which Run creates once the login server is known; requests arrive only
// after that.
func (s *Server) newManagement() error {
	store, ok := s.meta.(management.Store)
	dir, dok := s.meta.(meta.Directory)
	if !ok || !dok {
		return errors.New("management: the metadata store keeps no management records or directory")
	}
	var err error
	s.management, err = management.New(management.Options{
		Store: store, Verifier: armVerifier{s}, Sealer: s.masterKey, Principals: directoryPrincipals{dir}, Logger: s.log,
		RegistryDomain: s.cfg.RegistryDomain, Port: s.loginPort,
	})
	return err
}

// loginPort is the port of the server's login server: what clients reach, and so what a
// derived login server carries.
func (s *Server) loginPort() string {
	if s.identity == nil {
		return ""
	}
	u, err := url.Parse(s.identity.BaseURL())
	if err != nil {
		return ""
	}
	return u.Port()
}

// managementPlane sends ARM paths (management.Owns) to the management plane before next,
// a ServeMux, which would clean and redirect them.
func (s *Server) managementPlane(next http.Handler) http.Handler {
	h := s.handle("management", func(w http.ResponseWriter, r *http.Request) error {
		s.management.ServeHTTP(w, r)
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if management.Owns(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// armVerifier checks management-plane bearer tokens with the identity plane: issued by
// it, for an ARM audience.
type armVerifier struct{ s *Server }

func (v armVerifier) VerifyCaller(ctx context.Context, token string) (management.Caller, error) {
	if v.s.identity == nil {
		return management.Caller{}, errors.New("identity plane not started")
	}
	c, err := v.s.identity.VerifyAccessToken(ctx, token, identity.ARMAudiences...)
	if errors.Is(err, identity.ErrTokenExpired) {
		return management.Caller{}, fmt.Errorf("%w: %w", management.ErrTokenExpired, err)
	}
	if err != nil {
		return management.Caller{}, err
	}
	typ := "Application"
	switch {
	case c.Kind == meta.KindManagedIdentity:
		typ = "ManagedIdentity"
	case c.IDType == "user":
		typ = "User"
	}
	return management.Caller{TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID, Name: c.Name, Type: typ}, nil
}

// directoryPrincipals answers the management plane's principal checks from the identity
// plane's directory: managed identities are service principals to ARM.
type directoryPrincipals struct{ dir meta.Directory }

func (d directoryPrincipals) PrincipalType(ctx context.Context, tenantID, objectID string) (string, error) {
	p, err := d.dir.Principal(ctx, objectID)
	if errors.Is(err, meta.ErrObjectNotFound) || (err == nil && !strings.EqualFold(p.TenantID, tenantID)) {
		return "", fmt.Errorf("%w: %s", management.ErrPrincipalNotFound, objectID)
	}
	if err != nil {
		return "", err
	}
	if p.Kind == meta.KindUser {
		return "User", nil
	}
	return "ServicePrincipal", nil
}

// bootstrapRecords makes the management records of the bootstrap plan: subscription,
// resource group, the default registry at the server's own address, and the owner as
// Owner of the subscription.
func (s *Server) bootstrapRecords(ctx context.Context, b *graph.Bootstrap) error {
	return s.management.Bootstrap(ctx, management.Bootstrap{
		TenantID: b.TenantID, SubscriptionID: b.SubscriptionID, ResourceGroup: b.ResourceGroup,
		Registry: b.RegistryName, LoginServer: b.LoginServer, OwnerObjectID: b.OwnerObjectID,
	})
}
