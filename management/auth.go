package management

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Caller is who signed a management request, as the claims of its token say.
type Caller struct {
	TenantID string
	ObjectID string // oid: what role assignments name
	AppID    string // appid or azp: the client application
	Name     string // upn or display name, if the token carries one
	// Type is how ARM's systemData names the kind of caller: "User", "Application" or
	// "ManagedIdentity".
	Type string
}

// display is how error messages name the caller: ARM says the application id for
// applications, the user name for users.
func (c *Caller) display() string {
	switch {
	case c.Name != "" && c.Type == "User":
		return c.Name
	case c.AppID != "":
		return c.AppID
	}
	return c.ObjectID
}

func (c *Caller) change(at time.Time) meta.Change {
	return meta.Change{At: at, By: c.ObjectID, ByType: c.Type}
}

// Verifier checks a bearer token presented to the management plane (signature, issuer,
// lifetime, and an ARM audience) and says who signed in. Its errors are answered 401;
// an error wrapping ErrTokenExpired says so to the client.
type Verifier interface {
	VerifyCaller(ctx context.Context, token string) (Caller, error)
}

// ErrTokenExpired is what a Verifier wraps when a token's lifetime is over, so the answer
// names the reason as ARM does (ExpiredAuthenticationToken) and clients refresh.
var ErrTokenExpired = errors.New("the access token has expired")

// authenticate returns the caller of r, or a 401 error.
func (s *Service) authenticate(r *http.Request) (*Caller, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, unauthenticated("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, unauthenticated("AuthenticationFailedInvalidHeader",
			"Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	c, err := s.verifier.VerifyCaller(r.Context(), token)
	if errors.Is(err, ErrTokenExpired) {
		return nil, unauthenticated("ExpiredAuthenticationToken",
			"The access token expiry UTC time is earlier than current UTC time.")
	}
	if err != nil {
		s.log.DebugContext(r.Context(), "management token refused", "err", err)
		return nil, unauthenticated("InvalidAuthenticationToken", "The access token is invalid.")
	}
	if c.ObjectID == "" || c.TenantID == "" {
		return nil, unauthenticated("InvalidAuthenticationToken", "The access token has no object id or tenant id.")
	}
	return &c, nil
}

func unauthenticated(code, message string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: message}
}

// grant is one of the caller's role assignments, resolved to its role and condition.
type grant struct {
	scope     string
	role      access.RoleDefinition
	condition access.Condition
}

// grants loads the caller's role assignments. Assignments naming a role that does not
// exist (any more) or a condition that does not parse grant nothing.
func (s *Service) grants(ctx context.Context, c *Caller) ([]grant, error) {
	as, err := s.store.RoleAssignments(ctx, meta.RoleAssignmentQuery{PrincipalIDs: []string{c.ObjectID}})
	if err != nil {
		return nil, err
	}
	var gs []grant
	for _, a := range as {
		role, ok := access.BuiltInRole(a.RoleDefinitionID)
		if !ok {
			continue
		}
		cond, err := access.ParseCondition(a.Condition)
		if err != nil {
			continue
		}
		gs = append(gs, grant{scope: a.Scope, role: role, condition: cond})
	}
	return gs, nil
}

// allowed reports whether the grants permit operation on target (a resource id): Azure
// RBAC adds up the roles of every assignment whose scope covers the target, each counted
// only where its condition lets it cover the operation.
func allowed(gs []grant, operation, target string) bool {
	var roles []access.RoleDefinition
	for _, g := range gs {
		if covers(g.scope, target) && g.condition.Allows(operation, "") {
			roles = append(roles, g.role)
		}
	}
	return access.ControlAllowed(roles, operation)
}

// visible reports whether the grants reach anything at or below target, or cover it:
// what makes a subscription appear in the caller's list, as in Azure.
func visible(gs []grant, target string) bool {
	for _, g := range gs {
		if covers(g.scope, target) || covers(target, g.scope) {
			return true
		}
	}
	return false
}
