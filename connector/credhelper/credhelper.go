// Package credhelper is the docker credential helper of saved connections
// (docker-credential-cerulean, the docker-credential-helpers protocol: get, store,
// erase, list). It answers `get` for the registries of saved connections with a refresh
// token (username "<token>", the identity-token convention docker, containerd and
// go-containerregistry follow) and "credentials not found" for any other host, so a
// client never sends a connection's credential elsewhere.
//
// Refreshes do not stampede: tokens are cached per registry in a file under the cache
// directory (sealed by the connector's vault key, mode 0600); a process that finds the
// cached token stale takes the registry's file lock, reads the cache again (another
// process may have refreshed it while it waited), and only then signs in. Many docker
// processes asking at once cause one sign-in.
package credhelper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/internal/filelock"
	"github.com/cerulean-registry/cerulean/connector/vault"
)

// TokenUsername is the username that marks a secret as an identity (refresh) token.
const TokenUsername = "<token>"

// Helper implements credentials.Helper over a connection store.
type Helper struct {
	Store *connector.Store
	// Key seals the token cache (the store's key source).
	Key connector.KeySource
	// CacheDir holds the token cache and its locks (default: STORE/credhelper).
	CacheDir string
	// Options are passed to connector.Open (a transport, a logger).
	Options []connector.Option
	// Now is the clock (default time.Now); Margin is how long before expiry a cached
	// token is refreshed (default 10 minutes).
	Now    func() time.Time
	Margin time.Duration
	// Timeout bounds one get (default 2 minutes).
	Timeout time.Duration
}

var _ credentials.Helper = (*Helper)(nil)

// New returns a helper for a store, its cache next to it.
func New(store *connector.Store, key connector.KeySource, opts ...connector.Option) *Helper {
	return &Helper{Store: store, Key: key, Options: opts}
}

func (h *Helper) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Helper) cacheDir() string {
	if h.CacheDir != "" {
		return h.CacheDir
	}
	return filepath.Join(h.Store.Dir(), "credhelper")
}

// Get returns the credential for a registry: username "<token>" and a refresh token, or
// (for Basic credentials whose registry issues no refresh token) the username and
// password. Any host no connection covers is "credentials not found".
func (h *Helper) Get(serverURL string) (string, string, error) {
	host, err := connector.NormalizeHost(serverURL)
	if err != nil {
		return "", "", credentials.NewErrCredentialsNotFound()
	}
	conn, err := h.connectionFor(host)
	if err != nil {
		return "", "", err
	}
	if conn == nil || conn.Credential.Kind == connector.Anonymous {
		return "", "", credentials.NewErrCredentialsNotFound()
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return h.get(ctx, conn, host)
}

// connectionFor finds the saved connection that covers host: one that lists it first,
// then an Entra connection whose cloud's ACR suffix covers it.
func (h *Helper) connectionFor(host string) (*connector.Connection, error) {
	conns, err := h.Store.List()
	if err != nil {
		return nil, err
	}
	var bySuffix *connector.Connection
	for i := range conns {
		c := &conns[i]
		for _, r := range c.Registries {
			if r == host {
				return c, nil
			}
		}
		if bySuffix == nil && c.Covers(host) {
			bySuffix = c
		}
	}
	return bySuffix, nil
}

// cached is one registry's cache file.
type cached struct {
	Connection string          `json:"connection"`
	Username   string          `json:"username"`
	ExpiresAt  time.Time       `json:"expiresAt"`
	Sealed     *vault.Envelope `json:"sealed"`
}

func (h *Helper) get(ctx context.Context, conn *connector.Connection, host string) (string, string, error) {
	if u, s, ok := h.fromCache(conn.Name, host); ok {
		return u, s, nil
	}
	if err := os.MkdirAll(h.cacheDir(), 0o700); err != nil {
		return "", "", err
	}
	lock, err := filelock.Acquire(ctx, h.cachePath(host)+".lock")
	if err != nil {
		return "", "", fmt.Errorf("credhelper: lock: %w", err)
	}
	defer lock.Unlock()
	// Another process may have refreshed while this one waited.
	if u, s, ok := h.fromCache(conn.Name, host); ok {
		return u, s, nil
	}
	c, sec, err := h.Store.Get(conn.Name)
	if err != nil {
		return "", "", err
	}
	sess, err := connector.Open(ctx, c, sec, h.Options...)
	if err != nil {
		return "", "", err
	}
	reg, err := sess.Registry(ctx, host)
	if err != nil {
		return "", "", err
	}
	tok, err := reg.RefreshToken(ctx)
	if errors.Is(err, connector.ErrNoRefreshToken) && sec.Password != "" {
		return c.Credential.Username, sec.Password, nil // the registry issues no refresh token for Basic credentials
	}
	if err != nil {
		return "", "", err
	}
	if err := h.toCache(conn.Name, host, TokenUsername, tok); err != nil {
		return "", "", err
	}
	return TokenUsername, tok.Value, nil
}

func (h *Helper) cachePath(host string) string {
	sum := sha256.Sum256([]byte(host))
	return filepath.Join(h.cacheDir(), "token-"+hex.EncodeToString(sum[:12])+".json")
}

func (h *Helper) margin() time.Duration {
	if h.Margin > 0 {
		return h.Margin
	}
	return 10 * time.Minute
}

// fromCache returns the cached token of host if it belongs to the connection and is
// fresh for the margin.
func (h *Helper) fromCache(conn, host string) (string, string, bool) {
	b, err := os.ReadFile(h.cachePath(host))
	if err != nil {
		return "", "", false
	}
	var c cached
	if json.Unmarshal(b, &c) != nil || c.Connection != conn || !h.now().Add(h.margin()).Before(c.ExpiresAt) {
		return "", "", false
	}
	kek, err := h.Key.Key()
	if err != nil {
		return "", "", false
	}
	secret, err := vault.Open(kek, "credhelper/"+host, c.Sealed)
	if err != nil {
		return "", "", false
	}
	return c.Username, string(secret), true
}

func (h *Helper) toCache(conn, host, username string, tok connector.Token) error {
	kek, err := h.Key.Key()
	if err != nil {
		return err
	}
	env, err := vault.Seal(kek, "credhelper/"+host, []byte(tok.Value))
	if err != nil {
		return err
	}
	b, err := json.Marshal(cached{Connection: conn, Username: username, ExpiresAt: tok.ExpiresAt, Sealed: env})
	if err != nil {
		return err
	}
	return writeAtomic(h.cachePath(host), b)
}

// Add refuses: credentials of covered registries come from saved connections
// (`cerulean connect add`), not from docker login.
func (h *Helper) Add(c *credentials.Credentials) error {
	return fmt.Errorf("docker-credential-cerulean: credentials for %s come from saved connections; use `cerulean connect add`", c.ServerURL)
}

// Delete forgets the cached token of a registry (docker logout); the connection stays.
func (h *Helper) Delete(serverURL string) error {
	host, err := connector.NormalizeHost(serverURL)
	if err != nil {
		return credentials.NewErrCredentialsNotFound()
	}
	if err := os.Remove(h.cachePath(host)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List names the registries of saved connections, with the username get answers.
func (h *Helper) List() (map[string]string, error) {
	conns, err := h.Store.List()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range conns {
		if c.Credential.Kind == connector.Anonymous {
			continue
		}
		for _, r := range c.Registries {
			if _, ok := out[r]; !ok {
				out[r] = TokenUsername
			}
		}
	}
	return out, nil
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
