package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// ErrDenied: the registry's network rules refuse the client's address (ACR answers 403
// before looking at credentials).
var ErrDenied = errors.New("client address not allowed by the registry's network rules")

// CheckNetwork applies reg's network rules to the client address (host, without port).
func CheckNetwork(reg *meta.Registry, client string) error {
	st := reg.Settings
	if !st.PublicNetworkAccess {
		return fmt.Errorf("%w: public network access is disabled", ErrDenied)
	}
	if !strings.EqualFold(st.NetworkDefaultAction, "Deny") {
		return nil
	}
	addr, err := netip.ParseAddr(client)
	if err != nil {
		return fmt.Errorf("%w: unreadable client address %q", ErrDenied, client)
	}
	addr = addr.Unmap()
	for _, rule := range st.IPRules {
		if allows(rule, addr) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrDenied, addr)
}

// allows reports whether an IP rule (an address or a CIDR range) covers addr.
func allows(rule string, addr netip.Addr) bool {
	if p, err := netip.ParsePrefix(rule); err == nil {
		return p.Contains(addr)
	}
	a, err := netip.ParseAddr(rule)
	return err == nil && a.Unmap() == addr
}

// Authorize decides whether caller may have want in reg and records the decision. A
// caller holding an access token gets what the token grants (its generations were checked
// when it was resolved); any other caller is decided afresh.
func (s *Service) Authorize(ctx context.Context, reg *meta.Registry, caller Caller, want access.Scope, client string) bool {
	var ok bool
	if caller.granted != nil {
		ok = access.Includes(caller.granted, want)
	} else {
		ok = access.Allowed(caller.Principal, Settings(reg), want)
	}
	s.record(ctx, reg, caller.Principal.String(), &want, ok, client)
	return ok
}

// Challenge is the WWW-Authenticate value of a 401 from loginServer, in ACR's exact form:
// key="value" pairs joined by a bare comma (the Azure SDK splits on `",`), with scope on
// every endpoint but /v2/ itself and error="invalid_token" on /acr/v1.
func Challenge(loginServer string, scope *access.Scope, invalidToken bool) string {
	v := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, loginServer, loginServer)
	if scope != nil {
		v += fmt.Sprintf(`,scope="%s"`, scope)
	}
	if invalidToken {
		v += `,error="invalid_token"`
	}
	return v
}

// Admit is the data plane's gate for one request to reg: network rules first (as ACR,
// before credentials), then the request's credentials, then the decision on want. A nil
// want (the API base, GET /v2/) asks only that the caller presented a valid credential:
// an anonymous caller without a token is challenged, one holding an anonymous-pull token
// is let in. Refusals of the network rules and of credentials are recorded as denials, by
// the username the credentials claimed (see claimed); the anonymous challenge of the API
// base is not a decision and is not recorded.
func (s *Service) Admit(r *http.Request, reg *meta.Registry, want *access.Scope) error {
	ctx, client := r.Context(), ClientAddr(r)
	if err := CheckNetwork(reg, client); err != nil {
		s.record(ctx, reg, claimed(r.Header.Get("Authorization")), want, false, client)
		return err
	}
	caller, err := s.Authenticate(ctx, reg, r.Header.Get("Authorization"), client)
	if err != nil {
		s.record(ctx, reg, claimed(r.Header.Get("Authorization")), want, false, client)
		return err
	}
	if want == nil {
		if caller.Principal.Kind == access.Anonymous && caller.granted == nil {
			return fmt.Errorf("%w: no credentials", ErrUnauthorized)
		}
		return nil
	}
	if !s.Authorize(ctx, reg, caller, *want, client) {
		return fmt.Errorf("%w: %s may not %s", ErrUnauthorized, caller.Principal, want)
	}
	return nil
}
