package connector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Session is a connection opened for use: its credential built, its HTTP client ready.
// It is safe for concurrent use; its registry clients share its credential and are kept
// (one per login server), so their token caches outlive a single call.
type Session struct {
	conn    Connection
	secrets Secrets
	cfg     config
	cred    azcore.TokenCredential // nil for Basic and anonymous kinds

	mu         sync.Mutex
	registries map[string]*RegistryClient
	discovered map[string]bool // login servers ARM named for this session
	entra      counters
}

// Option configures Open.
type Option func(*config)

type config struct {
	http       *http.Client
	logger     *slog.Logger
	now        func() time.Time
	sleep      func(context.Context, time.Duration) error
	maxRetries int
	maxWait    time.Duration
	userAgent  string
	cred       azcore.TokenCredential
}

// WithHTTPClient makes every request (Entra, ARM, registries) go through c.
func WithHTTPClient(c *http.Client) Option { return func(o *config) { o.http = c } }

// WithTransport uses rt under a client of the session's own (a custom CA, a dialer).
func WithTransport(rt http.RoundTripper) Option {
	return func(o *config) { o.http = &http.Client{Transport: rt, Timeout: 5 * time.Minute} }
}

// WithLogger logs requests (never secrets or tokens) to l.
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.logger = l } }

// WithClock replaces time.Now and the sleeps of retries (tests).
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(o *config) { o.now, o.sleep = now, sleep }
}

// WithRetry bounds retries of throttled (429) and unavailable (503) registry answers: at
// most maxRetries more attempts, waiting at most maxWait each. Entra and ARM requests
// (azcore's retry policy) retry at most min(maxRetries, 3) times; 0 turns retries off.
func WithRetry(maxRetries int, maxWait time.Duration) Option {
	return func(o *config) { o.maxRetries, o.maxWait = maxRetries, maxWait }
}

// WithCredential uses cred instead of building the Entra kind's credential from the
// connection (a caller's own azidentity chain, or a fake in tests).
func WithCredential(cred azcore.TokenCredential) Option { return func(o *config) { o.cred = cred } }

// WithUserAgent sets the User-Agent of registry requests.
func WithUserAgent(ua string) Option { return func(o *config) { o.userAgent = ua } }

// Open builds a session for conn with its secrets. It does not contact anything yet:
// sign-in happens on the first request that needs it.
func Open(ctx context.Context, conn *Connection, secrets Secrets, opts ...Option) (*Session, error) {
	if conn == nil {
		return nil, errors.New("connector: nil connection")
	}
	c := *conn
	c.Registries = append([]string(nil), conn.Registries...)
	c.Subscriptions = append([]string(nil), conn.Subscriptions...)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.CheckSecrets(secrets); err != nil {
		return nil, err
	}
	cfg := config{logger: slog.New(slog.DiscardHandler), now: time.Now, sleep: sleepCtx, maxRetries: 4,
		maxWait: 60 * time.Second, userAgent: "cerulean-connector/1"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.http == nil {
		hc, err := HTTPClient(c.Cloud.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.http = hc
	}
	s := &Session{conn: c, secrets: secrets, cfg: cfg, registries: map[string]*RegistryClient{}, discovered: map[string]bool{}}
	if c.Credential.Kind.Entra() && cfg.cred != nil {
		s.cred = cfg.cred
	} else if c.Credential.Kind.Entra() {
		cred, err := s.newCredential()
		if err != nil {
			return nil, fmt.Errorf("connector: %s credential: %w", c.Credential.Kind, err)
		}
		s.cred = cred
	}
	return s, nil
}

// HTTPClient returns a client that trusts the system roots and, if caFile is set, the
// certificates in it too.
func HTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("connector: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("connector: no certificate in %s", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Connection returns the session's connection.
func (s *Session) Connection() Connection { return s.conn }

// Credential is the session's azidentity credential, nil for Basic and anonymous kinds.
func (s *Session) Credential() azcore.TokenCredential { return s.cred }

// HTTP is the session's HTTP client.
func (s *Session) HTTP() *http.Client { return s.cfg.http }

// Logger is the session's logger.
func (s *Session) Logger() *slog.Logger { return s.cfg.logger }

// clientOptions are azcore's options for the session's cloud and transport.
func (s *Session) clientOptions() policy.ClientOptions {
	retries := int32(min(s.cfg.maxRetries, 3))
	if retries == 0 {
		retries = -1 // azcore: 0 means its default; -1 means none
	}
	return policy.ClientOptions{
		Cloud:     s.conn.Cloud.Configuration(),
		Transport: s.cfg.http,
		Retry:     policy.RetryOptions{MaxRetries: retries, MaxRetryDelay: s.cfg.maxWait},
	}
}

// ARMOptions are the options of ARM clients for this session (armcontainerregistry,
// armsubscriptions, arm.NewClient).
func (s *Session) ARMOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: s.clientOptions()}
}

// EntraAudience is the audience of Entra tokens this session exchanges at registries.
func (s *Session) EntraAudience() string {
	if s.conn.Credential.Audience == AudienceARM {
		return s.conn.Cloud.ARMAudience
	}
	return s.conn.Cloud.acrAudience()
}

// EntraToken signs in for audience ("" for EntraAudience), for the diagnosis and for the
// exchange. It fails for kinds that do not sign in to Entra.
func (s *Session) EntraToken(ctx context.Context, audience string) (azcore.AccessToken, error) {
	return s.entraToken(ctx, audience, &s.entra)
}

func (s *Session) entraToken(ctx context.Context, audience string, count *counters) (azcore.AccessToken, error) {
	if s.cred == nil {
		return azcore.AccessToken{}, fmt.Errorf("connector: %s credentials do not sign in to Entra ID", s.conn.Credential.Kind)
	}
	if audience == "" {
		audience = s.EntraAudience()
	}
	count.entraTokens.Add(1)
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ScopeFor(audience)}})
	if err != nil {
		return tok, &SignInError{Kind: s.conn.Credential.Kind, Err: err}
	}
	return tok, nil
}

// ScopeFor is the Entra scope of an audience: AUDIENCE/.default, without doubling the
// slash of audiences that end in one.
func ScopeFor(audience string) string { return strings.TrimSuffix(audience, "/") + "/.default" }

// newCredential builds the azidentity credential of an Entra kind.
func (s *Session) newCredential() (azcore.TokenCredential, error) {
	cr, co := s.conn.Credential, s.clientOptions()
	custom := s.conn.Cloud.IsCustom()
	switch cr.Kind {
	case ServicePrincipalSecret:
		return azidentity.NewClientSecretCredential(cr.TenantID, cr.ClientID, s.secrets.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: custom})
	case ServicePrincipalCertificate:
		var pw []byte
		if s.secrets.CertificatePassword != "" {
			pw = []byte(s.secrets.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(s.secrets.Certificate, pw)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		return azidentity.NewClientCertificateCredential(cr.TenantID, cr.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: custom})
	case ManagedIdentity:
		var id azidentity.ManagedIDKind
		switch {
		case cr.ClientID != "":
			id = azidentity.ClientID(cr.ClientID)
		case cr.ObjectID != "":
			id = azidentity.ObjectID(cr.ObjectID)
		case cr.ResourceID != "":
			id = azidentity.ResourceID(cr.ResourceID)
		}
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: co, ID: id})
	case WorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: cr.ClientID, TenantID: cr.TenantID, TokenFilePath: cr.TokenFile,
			DisableInstanceDiscovery: custom})
	case AzureCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: cr.TenantID})
	}
	return nil, fmt.Errorf("not an Entra credential kind: %s", cr.Kind)
}

// Registry returns the client of one registry of the connection, by login server. The
// host must be one the connection covers: listed in the connection, discovered through
// ARM by this session, or (Entra kinds) NAME.<the cloud's ACR suffix>. Nothing is sent
// until the first request.
func (s *Session) Registry(ctx context.Context, loginServer string) (*RegistryClient, error) {
	host, err := normalizeHost(loginServer)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.registries[host]; ok {
		return c, nil
	}
	if !s.covers(host) {
		return nil, fmt.Errorf("%w: %s (connection %s covers %s)", ErrHostNotAllowed, host, s.conn.Name, s.coverage())
	}
	c := newRegistryClient(s, host)
	s.registries[host] = c
	return c, nil
}

// Covers reports whether the connection covers a login server (see Registry).
func (s *Session) Covers(loginServer string) bool {
	host, err := normalizeHost(loginServer)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.covers(host)
}

func (s *Session) covers(host string) bool {
	for _, r := range s.conn.Registries {
		if r == host {
			return true
		}
	}
	if s.discovered[host] {
		return true
	}
	if s.conn.Credential.Kind.Entra() {
		return underSuffix(host, s.conn.Cloud.ACRSuffix)
	}
	return false
}

func (s *Session) coverage() string {
	parts := append([]string(nil), s.conn.Registries...)
	if s.conn.Credential.Kind.Entra() {
		parts = append(parts, "*."+strings.TrimPrefix(s.conn.Cloud.ACRSuffix, "."), "registries found through ARM")
	}
	return strings.Join(parts, ", ")
}

// underSuffix reports whether host is exactly one DNS label followed by "."+suffix:
// "myreg.azurecr.io" is under "azurecr.io"; "myreg.azurecr.io.evil.com",
// "evilazurecr.io" and "a.b.azurecr.io" are not.
func underSuffix(host, suffix string) bool {
	suffix = strings.ToLower(strings.TrimPrefix(suffix, "."))
	if suffix == "" || !strings.HasSuffix(host, "."+suffix) {
		return false
	}
	label := strings.TrimSuffix(host, "."+suffix)
	if label == "" || len(label) > 63 {
		return false
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Stats adds up the counters of the session's registry clients and its Entra sign-ins.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	clients := make([]*RegistryClient, 0, len(s.registries))
	for _, c := range s.registries {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	total := s.entra.snapshot()
	for _, c := range clients {
		total = total.add(c.stats.snapshot())
	}
	return total
}
