package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cerulean-registry/cerulean/signing"
)

// Caching of external issuers' keys. Only issuers named by a federated credential are
// ever fetched (the caller checks first), so a token cannot make the server fetch from an
// address of its choosing, and the cache is bounded by the configuration.
const (
	issuerCacheTTL   = time.Hour        // keys are re-read at least this often
	issuerRefetchMin = 30 * time.Second // an unknown kid refetches at most this often
	issuerFetchLimit = 1 << 20          // bytes of a discovery or JWKS document
	issuerTimeout    = 10 * time.Second
)

// federation fetches and caches the OIDC discovery documents and JWKS of external
// issuers (Kubernetes service-account issuers, GitHub Actions, ...).
type federation struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

// issuerKeys are the cached keys of one issuer; mu serialises its fetches.
type issuerKeys struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time
}

func newFederation(client *http.Client, now func() time.Time) *federation {
	return &federation{client: client, now: now, issuers: map[string]*issuerKeys{}}
}

// key returns the issuer's signing key with kid (the only key, when kid is ""), fetching
// the keys when they are not cached, stale, or lack kid.
func (f *federation) key(ctx context.Context, issuer, kid string) (*jose.JSONWebKey, error) {
	f.mu.Lock()
	e := f.issuers[issuer]
	if e == nil {
		e = &issuerKeys{}
		f.issuers[issuer] = e
	}
	f.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	k := findKey(e.keys, kid)
	age := now.Sub(e.fetched)
	if k != nil && age < issuerCacheTTL || k == nil && age < issuerRefetchMin {
		if k == nil {
			return nil, fmt.Errorf("%w: kid %q", signing.ErrUnknownKey, kid)
		}
		return k, nil
	}
	keys, err := f.fetch(ctx, issuer)
	if err != nil {
		if k != nil {
			return k, nil // a stale key beats none while the issuer is unreachable
		}
		return nil, err
	}
	e.keys, e.fetched = keys, now
	if k = findKey(keys, kid); k == nil {
		return nil, fmt.Errorf("%w: kid %q", signing.ErrUnknownKey, kid)
	}
	return k, nil
}

// findKey returns the signature key with kid, or the single signature key when kid is
// empty. Only RSA and ECDSA public keys qualify.
func findKey(keys []jose.JSONWebKey, kid string) *jose.JSONWebKey {
	var found []*jose.JSONWebKey
	for i, k := range keys {
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if kid == "" || k.KeyID == kid {
			found = append(found, &keys[i])
		}
	}
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// fetch reads the issuer's discovery document, which must name the issuer exactly (OIDC
// Discovery §4.3), and the JWKS it points to. Only https is spoken.
func (f *federation) fetch(ctx context.Context, issuer string) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, issuerTimeout)
	defer cancel()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := f.getJSON(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		return nil, err
	}
	if doc.Issuer != issuer {
		return nil, fmt.Errorf("discovery document of %s names issuer %q", issuer, doc.Issuer)
	}
	var set jose.JSONWebKeySet
	if err := f.getJSON(ctx, doc.JWKSURI, &set); err != nil {
		return nil, err
	}
	return set.Keys, nil
}

func (f *federation) getJSON(ctx context.Context, rawURL string, v any) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https URL", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, issuerFetchLimit+1))
	if err != nil {
		return err
	}
	if len(body) > issuerFetchLimit {
		return errors.New("document too large")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	return nil
}
