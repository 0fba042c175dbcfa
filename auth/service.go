package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Default token lifetimes, as ACR's (acr-protocol.md §1.5).
const (
	DefaultRefreshTTL = 3 * time.Hour
	DefaultAccessTTL  = 75 * time.Minute
)

// NullGUID is the username under which clients present an ACR refresh or access token as
// a password (`az acr login`, External Secrets Operator).
const NullGUID = "00000000-0000-0000-0000-000000000000"

// Errors of authentication. The edges map them: ErrUnauthorized to 401 with a challenge,
// ErrTooManyAttempts to 429.
var (
	ErrUnauthorized    = errors.New("authentication required")
	ErrTooManyAttempts = errors.New("too many failed sign-ins")
)

// Store is what the token service reads of the management records.
type Store interface {
	RegistryByLoginServer(ctx context.Context, loginServer string) (*meta.Registry, error)
	Token(ctx context.Context, registryID, name string) (*meta.Token, error)
	RoleAssignments(ctx context.Context, q meta.RoleAssignmentQuery) ([]meta.RoleAssignment, error)
	PrincipalGeneration(ctx context.Context, principalIDs ...string) (int64, error)
}

// Entra is what the token service needs of the identity plane.
type Entra interface {
	VerifyAccessToken(ctx context.Context, raw string, audiences ...string) (identity.Claims, error)
	VerifyClientSecret(ctx context.Context, appID, secret string) (*meta.Principal, error)
	PrincipalByObjectID(ctx context.Context, objectID string) (*meta.Principal, error)
}

// Options configure a Service.
type Options struct {
	Store Store
	Entra Entra
	// Keys sign the ACR tokens (a key set of their own, apart from the identity plane's).
	Keys       *signing.Keys
	RefreshTTL time.Duration // DefaultRefreshTTL when 0
	AccessTTL  time.Duration // DefaultAccessTTL when 0
	Limiter    *Limiter      // failed sign-ins; none when nil
	Audit      Auditor       // every allow and deny; none when nil
	Now        func() time.Time
	Logger     *slog.Logger
	// Epoch moves whenever a record the data plane authenticates with may have changed
	// (any management or directory write). With it, records are cached in memory between
	// changes; without it, every request reads them.
	Epoch func() uint64
}

// Service is the token service and the data plane's gate.
type Service struct {
	opts       Options
	store      Store // opts.Store, cached when opts.Epoch is set
	principals interface {
		PrincipalByObjectID(ctx context.Context, objectID string) (*meta.Principal, error)
		VerifyClientSecret(ctx context.Context, appID, secret string) (*meta.Principal, error)
	}
	verified verified
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.RefreshTTL == 0 {
		opts.RefreshTTL = DefaultRefreshTTL
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Audit == nil {
		opts.Audit = nopAuditor{}
	}
	s := &Service{opts: opts, store: opts.Store, principals: opts.Entra}
	if opts.Epoch != nil {
		recs := newRecords(opts.Store, opts.Entra, opts.Epoch)
		s.store, s.principals = recs, recs
	}
	return s
}

// LoginServer is the login server a request addresses: its Host in lower case, without
// the default HTTPS port.
func LoginServer(r *http.Request) string {
	return strings.TrimSuffix(strings.ToLower(r.Host), ":443")
}

// Registry returns the registry a request addresses, or ErrUnknownRegistry.
func (s *Service) Registry(ctx context.Context, loginServer string) (*meta.Registry, error) {
	reg, err := s.store.RegistryByLoginServer(ctx, loginServer)
	if errors.Is(err, meta.ErrResourceNotFound) {
		return nil, ErrUnknownRegistry
	}
	return reg, err
}

// ErrUnknownRegistry: no registry has the login server a request addresses.
var ErrUnknownRegistry = errors.New("no registry at this login server")

// Settings are the registry properties the decision reads.
func Settings(reg *meta.Registry) access.RegistrySettings {
	return access.RegistrySettings{
		AdminUserEnabled:     reg.Settings.AdminUserEnabled,
		AnonymousPullEnabled: reg.Settings.AnonymousPullEnabled,
		RoleAssignmentMode:   access.RoleAssignmentMode(reg.Settings.RoleAssignmentMode),
	}
}
