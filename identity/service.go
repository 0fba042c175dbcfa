package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Lifetimes of what the service issues. Refresh tokens are the longest-lived tokens
// signed with the identity keys: SigningKeyLifetime must cover them.
const (
	AccessTokenLifetime  = time.Hour
	RefreshTokenLifetime = 14 * 24 * time.Hour
	DeviceCodeLifetime   = 15 * time.Minute
	// SigningKeyLifetime is the MaxTokenLifetime to give the identity plane's signing.Keys.
	SigningKeyLifetime = RefreshTokenLifetime
	// SigningPurpose names the identity plane's key set in the store.
	SigningPurpose = "identity"
)

// Options configure a Service.
type Options struct {
	Directory meta.Directory
	// Keys sign and verify the tokens; purpose SigningPurpose, MaxTokenLifetime at
	// least SigningKeyLifetime.
	Keys *signing.Keys
	// SecretKey keys the hash of client and host secrets (HMAC-SHA256), so that a copy of
	// the store alone does not allow offline guessing of weak preset secrets. Replicas
	// must share it; the server derives it from the master key.
	SecretKey []byte
	// BaseURL is the server's public address, https://<login server>: the authority
	// clients are given and the issuer of every token.
	BaseURL string
	// ResourceScope is the ARM scope (/subscriptions/{id}/resourceGroups/{name}) under
	// which new managed identities and hosts get their resource ids; the server passes
	// the bootstrap subscription and resource group. When "", a scope named after the
	// tenant.
	ResourceScope string
	// FederationClient fetches the discovery documents and keys of external OIDC issuers;
	// it should trust the issuers' CAs. http.DefaultClient's transport when nil.
	FederationClient *http.Client
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the identity plane: directory rules, sign-in, token issuance and
// verification. It is safe for concurrent use.
type Service struct {
	dir       meta.Directory
	keys      *signing.Keys
	secretKey []byte
	base      string // https://host[:port], no trailing slash
	host      string // host[:port]
	scope     string // Options.ResourceScope
	now       func() time.Time
	log       *slog.Logger
	fed       *federation
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Directory == nil || opts.Keys == nil || len(opts.SecretKey) < 16 {
		return nil, errors.New("identity: Directory, Keys and a SecretKey are required")
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("identity: base URL %q: want https://host[:port]", opts.BaseURL)
	}
	s := &Service{dir: opts.Directory, keys: opts.Keys, secretKey: opts.SecretKey,
		base: "https://" + strings.ToLower(u.Host), host: strings.ToLower(u.Host), scope: opts.ResourceScope, now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	client := opts.FederationClient
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport}
	}
	s.fed = newFederation(client, s.now)
	return s, nil
}

// BaseURL is the authority host clients use: azidentity's cloud.Configuration
// ActiveDirectoryAuthorityHost, with a trailing slash as azcore writes it.
func (s *Service) BaseURL() string { return s.base + "/" }

// newSecret returns a random 256-bit secret, base64url: 43 characters that survive
// Basic authentication, URLs and shells unquoted. It never starts with '-', which command
// lines (`az login -p SECRET`, `docker login -p`) would read as an option.
func newSecret() string {
	for {
		var b [32]byte
		_, _ = rand.Read(b[:])
		if s := base64.RawURLEncoding.EncodeToString(b[:]); s[0] != '-' {
			return s
		}
	}
}

// MinPresetSecretLength is the shortest client secret an operator may choose (the
// bootstrap presets): secrets are stored with a fast keyed hash, made for random values.
const MinPresetSecretLength = 32

// hashSecret is the stored form of a client or host secret: HMAC-SHA256 under the
// service's secret key. Secrets are random 256-bit values, so a slow password hash would
// buy nothing but cost every sign-in; the key keeps weak preset secrets out of reach of
// whoever holds only a copy of the store.
func (s *Service) hashSecret(secret string) []byte {
	mac := hmac.New(sha256.New, s.secretKey)
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// secretMatches compares in constant time.
func (s *Service) secretMatches(hash []byte, secret string) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(hash, s.hashSecret(secret)) == 1
}

// Users' passwords are human-chosen: argon2id with OWASP's minimum parameters (19 MiB,
// 2 passes, 1 lane), in PHC string form.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

func hashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// passwordMatches verifies a PHC argon2id hash with the parameters it records. An empty
// hash is checked against a dummy one, so that an unknown user costs the same time.
func passwordMatches(hash, password string) bool {
	if hash == "" {
		hash = dummyPasswordHash
	}
	var version int
	var memory, passes uint32
	var threads uint8
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && hash != dummyPasswordHash
}

// dummyPasswordHash has the parameters of real hashes, so checking a password against it
// costs the same; no password matches it. It is a constant rather than a hash computed at
// start-up, which would hold argon2's memory for nothing.
var dummyPasswordHash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
	base64.RawStdEncoding.EncodeToString(make([]byte, 16)), base64.RawStdEncoding.EncodeToString(make([]byte, argonKeyLen)))

// MinPasswordLength is the shortest user password accepted.
const MinPasswordLength = 8

// notFoundAs maps the store's not-found to notFound (a client-facing *Error, built only
// when needed) and wraps other store errors as internal.
func notFoundAs(err error, notFound func() error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, meta.ErrObjectNotFound):
		return notFound()
	}
	return fmt.Errorf("identity: %w", err)
}

// tenantExists returns ErrTenantNotFound for an unknown tenant id.
func (s *Service) tenantExists(ctx context.Context, id string) error {
	_, err := s.dir.Tenant(ctx, id)
	return notFoundAs(err, func() error { return tenantNotFound(id) })
}

func tenantNotFound(id string) error {
	return fail(ErrTenantNotFound, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", id)
}
