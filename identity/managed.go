package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// miRequest is a managed-identity token request: the resource and, for a user-assigned
// identity, one of its ids (none: the host's system-assigned identity).
type miRequest struct {
	resource   string
	clientID   string
	objectID   string
	resourceID string
}

// hostBySecret finds the host whose secret an App Service-style caller presented
// (IDENTITY_HEADER).
func (s *Service) hostBySecret(ctx context.Context, secret string) (*meta.IdentityHost, error) {
	if secret == "" {
		return nil, fail(ErrHostUnauthorized, "The X-IDENTITY-HEADER header is missing.")
	}
	h, err := s.dir.IdentityHostBySecret(ctx, s.hashSecret(secret))
	return h, notFoundAs(err, func() error {
		return fail(ErrHostUnauthorized, "The X-IDENTITY-HEADER header does not identify a managed identity host.")
	})
}

// hostByName finds the host an IMDS listener is bound to, in any tenant.
func (s *Service) hostByName(ctx context.Context, name string) (*meta.IdentityHost, error) {
	tenants, err := s.dir.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		h, err := s.dir.IdentityHostByName(ctx, t.ID, name)
		switch {
		case err == nil:
			return h, nil
		case !errors.Is(err, meta.ErrObjectNotFound):
			return nil, err
		}
	}
	return nil, fail(ErrIdentityNotFound, "No managed identity host named '%s' exists; this IMDS endpoint serves no identity.", name)
}

// managedIdentityToken issues a token to one of host's identities: the selected
// user-assigned one, or the system-assigned one. An identity not attached to the host is
// refused as IMDS refuses it.
func (s *Service) managedIdentityToken(ctx context.Context, host *meta.IdentityHost, q miRequest) (*Issued, error) {
	if q.resource == "" {
		return nil, fail(ErrInvalidRequest, "Required query variable 'resource' is missing.")
	}
	p, err := s.selectIdentity(ctx, host, q)
	if err != nil {
		return nil, err
	}
	if p.HostID != host.ID && !containsFold(host.Identities, p.ObjectID) || p.Kind != meta.KindManagedIdentity {
		return nil, identityNotFound()
	}
	if !p.Enabled {
		return nil, fail(ErrAppDisabled, "Managed identity '%s' is disabled.", p.AppID)
	}
	scope, err := s.parseScope("", strings.TrimSuffix(q.resource, "/.default"), false)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, grant{principal: p, clientID: p.AppID, acr: acrCertificate, scope: scope, version: v1})
}

func identityNotFound() error {
	return fail(ErrIdentityNotFound, "Identity not found: the requested identity is not assigned to this resource.")
}

// selectIdentity finds the identity a request names, by client id, object id or
// resource id, or the host's system-assigned identity.
func (s *Service) selectIdentity(ctx context.Context, host *meta.IdentityHost, q miRequest) (*meta.Principal, error) {
	var p *meta.Principal
	var err error
	switch {
	case q.clientID != "":
		p, err = s.dir.PrincipalByAppID(ctx, strings.ToLower(q.clientID))
	case q.objectID != "":
		p, err = s.dir.Principal(ctx, strings.ToLower(q.objectID))
	case q.resourceID != "":
		var ps []meta.Principal
		if ps, err = s.dir.Principals(ctx, host.TenantID, meta.KindManagedIdentity); err == nil {
			err = meta.ErrObjectNotFound
			for i := range ps {
				if strings.EqualFold(ps[i].ResourceID, q.resourceID) {
					p, err = &ps[i], nil
				}
			}
		}
	case host.SystemIdentity != "":
		p, err = s.dir.Principal(ctx, host.SystemIdentity)
	default:
		err = meta.ErrObjectNotFound
	}
	return p, notFoundAs(err, identityNotFound)
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}
