package management

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Store is what the management plane keeps its records in: the management records, and
// the content deletion that a registry's deletion needs.
type Store interface {
	meta.Management
	// Tenant returns a tenant, for GET /tenants (meta.Tenants).
	Tenant(ctx context.Context, id string) (*meta.Tenant, error)
	// DeleteRegistry removes every repository of a registry (meta.Store).
	DeleteRegistry(ctx context.Context, registry string) error
}

// Sealer encrypts secrets that must be shown again (admin passwords) with a key only the
// server holds (signing.MasterKey). The context binds a sealed value to its record, so a
// value copied into another record does not open there.
type Sealer interface {
	Seal(plaintext, context []byte) []byte
	Open(sealed, context []byte) ([]byte, error)
}

// Principals looks up the principals that role assignments name, as ARM checks them
// against the directory.
type Principals interface {
	// PrincipalType returns the ARM principal type of an object of the tenant
	// ("ServicePrincipal", "User" or "Group"), or an error wrapping ErrPrincipalNotFound.
	PrincipalType(ctx context.Context, tenantID, objectID string) (string, error)
}

// ErrPrincipalNotFound is what Principals wraps for an object the tenant does not have.
var ErrPrincipalNotFound = errors.New("principal not found")

// Options configure a Service.
type Options struct {
	Store    Store
	Verifier Verifier
	Sealer   Sealer
	// Principals checks role assignments' principals; nil accepts any GUID, with the
	// principal type the request gives (ServicePrincipal by default).
	Principals Principals
	Logger     *slog.Logger
	// RegistryDomain is the DNS suffix of derived login servers: a registry named
	// MyRegistry gets myregistry.<RegistryDomain>, with ":port" unless the port is 443.
	RegistryDomain string
	// Port returns the HTTPS port clients reach the server on; nil or "" leaves the port
	// out. It is a function because the server learns the port once it listens.
	Port func() string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the management plane: an http.Handler for the paths Owns accepts, and the
// operations the server calls at start-up (Bootstrap).
type Service struct {
	store    Store
	verifier Verifier
	sealer   Sealer
	dir      Principals
	log      *slog.Logger
	domain   string
	port     func() string
	now      func() time.Time
	table    []*route
}

// New returns a management plane on o's store.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Verifier == nil || o.Sealer == nil {
		return nil, errors.New("management: a store, a verifier and a sealer are required")
	}
	if o.RegistryDomain == "" || strings.ContainsAny(o.RegistryDomain, "/:@ ") {
		return nil, fmt.Errorf("management: registry domain %q: want a DNS name such as localhost", o.RegistryDomain)
	}
	s := &Service{store: o.Store, verifier: o.Verifier, sealer: o.Sealer, dir: o.Principals, log: o.Logger,
		domain: strings.ToLower(strings.Trim(o.RegistryDomain, ".")), port: o.Port, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.port == nil {
		s.port = func() string { return "" }
	}
	s.table = s.routes()
	return s, nil
}

// loginServer derives the login server of a new registry from its name.
func (s *Service) loginServer(name string) string {
	host := strings.ToLower(name) + "." + s.domain
	if p := s.port(); p != "" && p != "443" {
		return net.JoinHostPort(host, p)
	}
	return host
}

func isNotFound(err error) bool { return errors.Is(err, meta.ErrResourceNotFound) }

// timestamp formats t as ARM does (RFC 3339, UTC, fractional seconds); zero is omitted.
func timestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func isExists(err error) bool { return errors.Is(err, meta.ErrResourceExists) }

func isInUse(err error) bool { return errors.Is(err, meta.ErrResourceInUse) }
