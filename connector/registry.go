package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// RegistryClient speaks /v2 and /acr/v1 of one registry for a session. It is safe for
// concurrent use.
type RegistryClient struct {
	s    *Session
	host string // login server, host[:port]

	mu       sync.Mutex
	checked  bool              // the /v2/ challenge passed the host check
	refresh  *Token            // Entra kinds: the exchanged refresh token
	access   map[string]*Token // by canonical scope set
	pauseTil time.Time         // adaptive back-off: no request before this
	flight   singleflight.Group
	stats    counters
}

func newRegistryClient(s *Session, host string) *RegistryClient {
	return &RegistryClient{s: s, host: host, access: map[string]*Token{}}
}

// LoginServer is the registry's login server (host[:port]).
func (c *RegistryClient) LoginServer() string { return c.host }

// Stats returns the client's counters.
func (c *RegistryClient) Stats() Stats { return c.stats.snapshot() }

// URL is https://<login server><path>.
func (c *RegistryClient) URL(path string) string { return "https://" + c.host + path }

// Do sends req to the registry with an access token for scopes (Docker scope strings,
// e.g. "repository:library/alpine:pull"; none for /v2/ itself). req.URL may be a bare
// path ("/v2/_catalog"); an absolute URL must name the login server. A 401 whose
// challenge names a scope the token does not hold (or refuses a held one) fetches one
// fresh token and retries once; 429 and 503 are retried (see WithRetry). Requests with a
// body are retried only when req.GetBody is set.
func (c *RegistryClient) Do(ctx context.Context, req *http.Request, scopes ...string) (*http.Response, error) {
	req, err := c.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := c.Check(ctx); err != nil {
		return nil, err
	}
	set := canonicalScopes(scopes)
	tok, err := c.AccessToken(ctx, set...)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, req, "Bearer "+tok.Value)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// One fresh token: for the union of what we asked and what the challenge names.
	ch := ParseChallenge(resp.Header.Get("Www-Authenticate"))
	if !strings.EqualFold(ch.Scheme, "Bearer") || !replayable(req) {
		return resp, nil
	}
	renewed := canonicalScopes(append(append([]string(nil), set...), ch.Scope...))
	c.forget(renewed)
	drain(resp)
	c.stats.renewals.Add(1)
	tok, err = c.AccessToken(ctx, renewed...)
	if err != nil {
		return nil, err
	}
	if req, err = rewind(req); err != nil {
		return nil, err
	}
	return c.send(ctx, req, "Bearer "+tok.Value)
}

// prepare resolves a bare path against the login server and refuses other hosts.
func (c *RegistryClient) prepare(ctx context.Context, req *http.Request) (*http.Request, error) {
	req = req.Clone(ctx)
	if req.URL.Host == "" {
		u, err := url.Parse(c.URL(req.URL.RequestURI()))
		if err != nil {
			return nil, err
		}
		req.URL, req.Host = u, ""
	}
	if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, c.host) {
		return nil, fmt.Errorf("%w: request to %s://%s on the client of %s", ErrHostNotAllowed, req.URL.Scheme, req.URL.Host, c.host)
	}
	req.Header.Del("Authorization")
	return req, nil
}

// Check verifies, once, that GET /v2/ answers with a Bearer challenge whose realm is
// https://<login server>/oauth2/token and whose service is the login server: an exact
// host comparison (anchored, case-insensitive, default port folded), so that no token
// or password is sent where the registry does not send it. Every credential kind runs it
// before its first token request.
func (c *RegistryClient) Check(ctx context.Context) error {
	c.mu.Lock()
	done := c.checked
	c.mu.Unlock()
	if done {
		return nil
	}
	_, err, _ := c.flight.Do("check", func() (any, error) {
		ch, err := c.Challenge(ctx)
		if err != nil {
			return nil, err
		}
		if err := c.VerifyChallenge(ch); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.checked = true
		c.mu.Unlock()
		return nil, nil
	})
	return err
}

// Challenge sends GET /v2/ without credentials and returns its challenge. A 200 (a
// registry that needs no sign-in) returns a zero Challenge.
func (c *RegistryClient) Challenge(ctx context.Context) (Challenge, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL("/v2/"), nil)
	if err != nil {
		return Challenge{}, err
	}
	resp, err := c.send(ctx, req, "")
	if err != nil {
		return Challenge{}, err
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK:
		return Challenge{}, nil
	case http.StatusUnauthorized:
		ch := ParseChallenge(resp.Header.Get("Www-Authenticate"))
		if !strings.EqualFold(ch.Scheme, "Bearer") {
			return ch, fmt.Errorf("%w (WWW-Authenticate %q)", ErrNoChallenge, resp.Header.Get("Www-Authenticate"))
		}
		return ch, nil
	}
	return Challenge{}, responseError("/v2/", resp)
}

// VerifyChallenge applies the host check of Check to a challenge.
func (c *RegistryClient) VerifyChallenge(ch Challenge) error {
	if ch.Scheme == "" { // 200 on /v2/: nothing to check against
		return nil
	}
	realm, err := url.Parse(ch.Realm)
	if err != nil || realm.Scheme != "https" || !sameHost(realm.Host, c.host) || !sameHost(ch.Service, c.host) {
		return &ChallengeError{LoginServer: c.host, Realm: ch.Realm, Service: ch.Service}
	}
	return nil
}

// sameHost compares host[:port] exactly, case-insensitively, with :443 folded away.
func sameHost(a, b string) bool {
	norm := func(h string) string { return strings.TrimSuffix(strings.ToLower(h), ":443") }
	return a != "" && norm(a) == norm(b)
}

// AccessToken returns an access token for the scope set, from the cache while it is
// fresh. Concurrent callers for the same set share one token request.
func (c *RegistryClient) AccessToken(ctx context.Context, scopes ...string) (Token, error) {
	set := canonicalScopes(scopes)
	key := strings.Join(set, " ")
	now := c.s.cfg.now()
	if t, ok := c.cached(key, set, now); ok {
		return t, nil
	}
	v, err, _ := c.flight.Do("access "+key, func() (any, error) {
		if err := c.Check(ctx); err != nil {
			return nil, err
		}
		t, err := c.fetchAccess(ctx, set)
		if err != nil {
			return nil, err
		}
		c.store(key, &t)
		return t, nil
	})
	if err != nil {
		return Token{}, err
	}
	return v.(Token), nil
}

// maxCachedTokens bounds the access-token cache of one registry client.
const maxCachedTokens = 256

// cached finds a fresh token for the scope set: the set's own, else any token asked for
// a superset of it (a prefetched batch, or a union after a challenge).
func (c *RegistryClient) cached(key string, set []string, now time.Time) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.access[key]; t.valid(now) {
		return *t, true
	}
	for _, t := range c.access {
		if !t.valid(now) {
			continue
		}
		all := true
		for _, sc := range set {
			if !holds(t.Scopes, sc) {
				all = false
				break
			}
		}
		if all {
			return *t, true
		}
	}
	return Token{}, false
}

// store caches a token, dropping expired ones and, past maxCachedTokens, the one that
// expires first.
func (c *RegistryClient) store(key string, t *Token) {
	now := c.s.cfg.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, old := range c.access {
		if !old.valid(now) {
			delete(c.access, k)
		}
	}
	for len(c.access) >= maxCachedTokens {
		first := ""
		for k, old := range c.access {
			if first == "" || old.ExpiresAt.Before(c.access[first].ExpiresAt) {
				first = k
			}
		}
		delete(c.access, first)
	}
	c.access[key] = t
}

// forget drops the cached token of a scope set (and, for a renewal after a refusal of
// held scopes, lets the next call fetch afresh).
func (c *RegistryClient) forget(set []string) {
	c.mu.Lock()
	delete(c.access, strings.Join(set, " "))
	c.mu.Unlock()
}

// RefreshToken returns a refresh token for the registry: the exchanged one for Entra
// kinds (cached until shortly before it expires), or one the token service issues for
// Basic credentials (GET /oauth2/token with offline_token=true). Anonymous connections
// have none.
func (c *RegistryClient) RefreshToken(ctx context.Context) (Token, error) {
	if err := c.Check(ctx); err != nil {
		return Token{}, err
	}
	switch c.s.conn.Credential.Kind {
	case Anonymous:
		return Token{}, ErrNoRefreshToken
	case AdminUser, RepositoryToken:
		_, refresh, err := c.basicToken(ctx, nil, true)
		if err != nil {
			return Token{}, err
		}
		if refresh == nil {
			return Token{}, ErrNoRefreshToken
		}
		return *refresh, nil
	}
	return c.entraRefresh(ctx)
}

func (c *RegistryClient) entraRefresh(ctx context.Context) (Token, error) {
	now := c.s.cfg.now()
	c.mu.Lock()
	if c.refresh.valid(now) {
		t := *c.refresh
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()
	v, err, _ := c.flight.Do("refresh", func() (any, error) {
		t, err := c.Exchange(ctx, "")
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.refresh = &t
		c.mu.Unlock()
		return t, nil
	})
	if err != nil {
		return Token{}, err
	}
	return v.(Token), nil
}

// Exchange signs in to Entra for audience ("" for the session's) and trades the token
// for an ACR refresh token at POST /oauth2/exchange. It does not use or fill the cache.
func (c *RegistryClient) Exchange(ctx context.Context, audience string) (Token, error) {
	if err := c.Check(ctx); err != nil {
		return Token{}, err
	}
	entra, err := c.s.entraToken(ctx, audience, &c.stats)
	if err != nil {
		return Token{}, err
	}
	form := url.Values{"grant_type": {"access_token"}, "service": {c.host}, "access_token": {entra.Token}}
	if cl, err := DecodeClaims(entra.Token); err == nil && cl.TenantID != "" {
		form.Set("tenant", cl.TenantID)
	}
	c.stats.exchanges.Add(1)
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := c.postForm(ctx, "/oauth2/exchange", "exchange", form, &body); err != nil {
		return Token{}, err
	}
	if body.RefreshToken == "" {
		return Token{}, fmt.Errorf("%w: the exchange answered without one", ErrNoRefreshToken)
	}
	return newToken(body.RefreshToken, nil, c.s.cfg.now(), 0), nil
}

// fetchAccess gets a new access token for a canonical scope set.
func (c *RegistryClient) fetchAccess(ctx context.Context, set []string) (Token, error) {
	if !c.s.conn.Credential.Kind.Entra() {
		t, _, err := c.basicToken(ctx, set, false)
		return t, err
	}
	for attempt := 0; ; attempt++ {
		refresh, err := c.entraRefresh(ctx)
		if err != nil {
			return Token{}, err
		}
		form := url.Values{"grant_type": {"refresh_token"}, "service": {c.host}, "refresh_token": {refresh.Value}}
		if len(set) > 0 {
			form.Set("scope", strings.Join(set, " "))
		}
		c.stats.tokenRequests.Add(1)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		err = c.postForm(ctx, "/oauth2/token", "token", form, &body)
		var te *TokenError
		if errors.As(err, &te) && te.Status == http.StatusUnauthorized && attempt == 0 {
			// The refresh token was refused (revoked, or issued before a change): exchange
			// once more.
			c.mu.Lock()
			c.refresh = nil
			c.mu.Unlock()
			continue
		}
		if err != nil {
			return Token{}, err
		}
		return newToken(body.AccessToken, set, c.s.cfg.now(), 0), nil
	}
}

// basicToken is the Docker token flow: GET /oauth2/token with Basic credentials (admin
// user, repository token) or none (anonymous), one scope parameter per scope; offline
// asks for a refresh token as well.
func (c *RegistryClient) basicToken(ctx context.Context, set []string, offline bool) (Token, *Token, error) {
	q := url.Values{"service": {c.host}}
	for _, s := range set {
		q.Add("scope", s)
	}
	cr := c.s.conn.Credential
	if offline {
		q.Set("offline_token", "true")
		q.Set("client_id", "cerulean-connector")
		if cr.Username != "" {
			q.Set("account", cr.Username)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL("/oauth2/token?"+q.Encode()), nil)
	if err != nil {
		return Token{}, nil, err
	}
	auth := ""
	if cr.Kind != Anonymous {
		req.SetBasicAuth(cr.Username, c.s.secrets.Password)
		auth = req.Header.Get("Authorization")
	}
	c.stats.tokenRequests.Add(1)
	resp, err := c.sendToken(ctx, req, auth)
	if err != nil {
		return Token{}, nil, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return Token{}, nil, responseError("token", resp)
	}
	var body struct {
		Token        string `json:"token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return Token{}, nil, fmt.Errorf("token: %w", err)
	}
	raw := body.AccessToken
	if raw == "" {
		raw = body.Token
	}
	now := c.s.cfg.now()
	t := newToken(raw, set, now, body.ExpiresIn)
	var refresh *Token
	if body.RefreshToken != "" {
		r := newToken(body.RefreshToken, nil, now, 0)
		refresh = &r
	}
	return t, refresh, nil
}

// postForm posts a form to the token service and decodes a 200 answer into out.
func (c *RegistryClient) postForm(ctx context.Context, path, endpoint string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(path), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.sendToken(ctx, req, "")
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return responseError(endpoint, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: %w", endpoint, err)
	}
	return nil
}

// sendToken sends a token-service request (retrying 429/503 like any other), counted
// apart from registry requests.
func (c *RegistryClient) sendToken(ctx context.Context, req *http.Request, auth string) (*http.Response, error) {
	return c.roundTrip(ctx, req, auth, false)
}

// send sends a registry request with authorization auth ("" for none).
func (c *RegistryClient) send(ctx context.Context, req *http.Request, auth string) (*http.Response, error) {
	return c.roundTrip(ctx, req, auth, true)
}

// roundTrip sends req, retrying 429 and 503 answers up to maxRetries times: it waits
// for Retry-After when given (capped at maxWait), else for an exponential back-off; and
// it makes every other request of the client wait too (pauseTil), so that a throttled
// registry sees the client slow down as a whole rather than each request on its own.
func (c *RegistryClient) roundTrip(ctx context.Context, req *http.Request, auth string, registry bool) (*http.Response, error) {
	cfg := c.s.cfg
	for attempt := 0; ; attempt++ {
		if err := c.waitPause(ctx); err != nil {
			return nil, err
		}
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if r.Header.Get("User-Agent") == "" {
			r.Header.Set("User-Agent", cfg.userAgent)
		}
		if registry {
			c.stats.requests.Add(1)
		}
		resp, err := cfg.http.Do(r)
		if err != nil {
			return nil, err
		}
		cfg.logger.Debug("registry request", "method", r.Method, "host", c.host, "path", r.URL.Path, "status", resp.StatusCode)
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
			return resp, nil
		}
		c.stats.throttled.Add(1)
		if attempt >= cfg.maxRetries || !replayable(req) {
			return resp, nil
		}
		wait := retryAfter(resp.Header.Get("Retry-After"), cfg.now())
		if wait <= 0 {
			wait = time.Duration(1<<attempt) * 500 * time.Millisecond
		}
		wait = min(wait, cfg.maxWait)
		c.mu.Lock()
		if until := cfg.now().Add(wait); until.After(c.pauseTil) {
			c.pauseTil = until
		}
		c.mu.Unlock()
		cfg.logger.Info("registry throttled; waiting", "host", c.host, "status", resp.StatusCode, "wait", wait)
		drain(resp)
		c.stats.retries.Add(1)
	}
}

// waitPause sleeps until the client's shared pause is over.
func (c *RegistryClient) waitPause(ctx context.Context) error {
	c.mu.Lock()
	d := c.pauseTil.Sub(c.s.cfg.now())
	c.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return c.s.cfg.sleep(ctx, d)
}

// retryAfter reads Retry-After: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// rewind returns a copy of req with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// responseError reads a distribution error envelope ({"errors":[{code,message}]}).
func responseError(endpoint string, resp *http.Response) *TokenError {
	e := &TokenError{Endpoint: endpoint, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
		e.Code, e.Message = body.Errors[0].Code, body.Errors[0].Message
	}
	return e
}

// ResponseError reads a registry error answer (for callers of Do).
func ResponseError(path string, resp *http.Response) error { return responseError(path, resp) }
