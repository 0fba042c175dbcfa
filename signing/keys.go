// Package signing owns token-signing keys and JWT verification for every token issuer of
// the server (the identity plane now, the registry token service later).
//
// Keys are RSA-2048, created on first use and kept in the metadata store (meta.SigningKeys)
// so that every replica signs with and publishes the same ones. Their private halves are
// sealed with AES-256-GCM under the data directory's master key (MasterKey); the store
// never holds them in the clear.
//
// Rotation overlaps: a key signs for Rotation (30 days); Prepublish (2 days) before it
// stops, its successor is created and published in the JWKS document, so verifiers that
// cache the document know the new key before the first token it signs; a key stays
// published until MaxTokenLifetime after it stopped signing, when the last token it signed
// has expired. Keys are identified by kid, which is also their certificate's SHA-1
// thumbprint (x5t), as Entra ID does. Generations are unique per purpose in the store, so
// when two replicas rotate at once one insert fails and both use the winner's key.
//
// Tokens carry the headers Entra's do: typ JWT, alg RS256, kid, x5t. Verification accepts
// exactly RS256 for own keys; Parse refuses "none" and HMAC algorithms for any key, so a
// public key is never used as an HMAC secret.
package signing

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Defaults of Options.
const (
	DefaultRotation         = 30 * 24 * time.Hour
	DefaultPrepublish       = 2 * 24 * time.Hour
	DefaultMaxTokenLifetime = 24 * time.Hour
	DefaultRefresh          = time.Minute
	keyBits                 = 2048
	// minReload bounds how often a token with an unknown kid makes Verify reload the keys
	// (another replica may just have rotated), so such tokens cannot hammer the store.
	minReload = 10 * time.Second
)

// Options configure Keys.
type Options struct {
	Store     meta.SigningKeys
	MasterKey *MasterKey
	// Purpose names the key set (one per token issuer), e.g. "identity".
	Purpose string
	// Rotation is how long a key signs; DefaultRotation when 0.
	Rotation time.Duration
	// Prepublish is how long before it signs a key is published; DefaultPrepublish when 0.
	// It should exceed the time verifiers cache the JWKS document.
	Prepublish time.Duration
	// MaxTokenLifetime is the longest lifetime of a token signed (callers must keep to
	// it); keys stay published this long after they stop signing. Default 24h.
	MaxTokenLifetime time.Duration
	// Refresh is how often keys are re-read from the store (rotations by other replicas);
	// DefaultRefresh when 0.
	Refresh time.Duration
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Keys signs and verifies the tokens of one issuer. It is safe for concurrent use.
type Keys struct {
	opts Options
	mu   sync.Mutex // serialises loads and rotations
	cur  atomic.Pointer[state]
}

// state is an immutable snapshot of the keys, swapped whole on reload.
type state struct {
	activeID  string
	signer    jose.Signer
	signUntil time.Time
	published map[string]*jose.JSONWebKey // by kid
	jwks      jose.JSONWebKeySet
	loadedAt  time.Time
	refreshAt time.Time
}

// New returns Keys over a store. It touches the store on first use.
func New(opts Options) (*Keys, error) {
	if opts.Store == nil || opts.MasterKey == nil || opts.Purpose == "" {
		return nil, errors.New("signing: Store, MasterKey and Purpose are required")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&opts.Rotation, DefaultRotation}, {&opts.Prepublish, DefaultPrepublish},
		{&opts.MaxTokenLifetime, DefaultMaxTokenLifetime}, {&opts.Refresh, DefaultRefresh}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.Prepublish >= opts.Rotation {
		return nil, errors.New("signing: Prepublish must be shorter than Rotation")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Keys{opts: opts}, nil
}

// Sign signs claims (anything that marshals to a JSON object) as a compact JWS with the
// active key, creating or rotating keys when needed.
func (k *Keys) Sign(ctx context.Context, claims any) (string, error) {
	st, err := k.state(ctx, false)
	if err != nil {
		return "", err
	}
	raw, err := jwt.Signed(st.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return raw, nil
}

// SignPayload signs an already encoded JSON claims object byte for byte, for issuers whose
// clients read the payload themselves (the Azure SDK decodes ACR tokens with standard
// base64, so the exact bytes matter).
func (k *Keys) SignPayload(ctx context.Context, payload []byte) (string, error) {
	st, err := k.state(ctx, false)
	if err != nil {
		return "", err
	}
	obj, err := st.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return obj.CompactSerialize()
}

// JWKS returns the public keys verifiers should trust: the active key, its successor
// once created, and predecessors whose tokens may still be valid.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	st, err := k.state(ctx, false)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	return st.jwks, nil
}

// Verify parses raw (RS256 only), finds its key by kid among the published keys,
// verifies the signature and the registered claims against want, and decodes the claims
// into each of dest.
func (k *Keys) Verify(ctx context.Context, raw string, want Expect, dest ...any) error {
	t, err := Parse(raw, RS256)
	if err != nil {
		return err
	}
	st, err := k.state(ctx, false)
	if err != nil {
		return err
	}
	key, ok := st.published[t.KeyID()]
	if !ok {
		if st, err = k.state(ctx, true); err != nil {
			return err
		}
		if key, ok = st.published[t.KeyID()]; !ok {
			return fmt.Errorf("%w: kid %q", ErrUnknownKey, t.KeyID())
		}
	}
	if want.Time.IsZero() {
		want.Time = k.opts.Now()
	}
	return t.Verify(key, want, dest...)
}

// state returns the current snapshot, reloading it when due or, with force, when the
// last load is older than minReload.
func (k *Keys) state(ctx context.Context, force bool) (*state, error) {
	fresh := func(st *state, now time.Time) bool {
		if st == nil {
			return false
		}
		if force {
			return now.Sub(st.loadedAt) < minReload
		}
		return now.Before(st.refreshAt)
	}
	now := k.opts.Now()
	if st := k.cur.Load(); fresh(st, now) {
		return st, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.cur.Load()
	if fresh(old, now) {
		return old, nil
	}
	st, err := k.load(ctx, now, old)
	if err != nil {
		// A store that is briefly unreachable must not stop signing while the key in
		// hand is still good.
		if old != nil && now.Before(old.signUntil) {
			k.opts.Logger.WarnContext(ctx, "signing keys not reloaded", slog.String("purpose", k.opts.Purpose), slog.Any("err", err))
			return old, nil
		}
		return nil, err
	}
	k.cur.Store(st)
	return st, nil
}

// load reads the keys, creates the active key or its successor when the schedule says
// so, removes keys past their publication, and builds a snapshot.
func (k *Keys) load(ctx context.Context, now time.Time, old *state) (*state, error) {
	var keys []meta.SigningKey
	// Each pass creates at most one key; a fresh store needs one, a rotation one more.
	for range 3 {
		var err error
		if keys, err = k.opts.Store.SigningKeys(ctx, k.opts.Purpose); err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		next := k.plan(keys, now)
		if next == nil {
			break
		}
		if err := k.create(ctx, next, now); err != nil && !errors.Is(err, meta.ErrObjectExists) {
			return nil, err
		}
		// On ErrObjectExists another replica created this generation: read theirs.
	}
	if expired(keys, now) {
		if _, err := k.opts.Store.DeleteSigningKeys(ctx, k.opts.Purpose, now); err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
	}
	return k.build(keys, now, old)
}

// next describes a key to create.
type next struct {
	generation          int64
	signFrom, signUntil time.Time
}

// plan says which key to create, if any: an active key when none signs at now, or the
// successor of the active key once it is within Prepublish of its end.
func (k *Keys) plan(keys []meta.SigningKey, now time.Time) *next {
	active := activeKey(keys, now)
	var latest int64
	if len(keys) > 0 {
		latest = keys[len(keys)-1].Generation
	}
	switch {
	case active == nil:
		return &next{latest + 1, now, now.Add(k.opts.Rotation)}
	case active.Generation == latest && active.SignUntil.Sub(now) <= k.opts.Prepublish:
		return &next{latest + 1, active.SignUntil, active.SignUntil.Add(k.opts.Rotation)}
	}
	return nil
}

// activeKey is the newest key that signs at now.
func activeKey(keys []meta.SigningKey, now time.Time) *meta.SigningKey {
	for i := len(keys) - 1; i >= 0; i-- {
		if !now.Before(keys[i].SignFrom) && now.Before(keys[i].SignUntil) {
			return &keys[i]
		}
	}
	return nil
}

func expired(keys []meta.SigningKey, now time.Time) bool {
	for _, key := range keys {
		if key.PublishUntil.Before(now) {
			return true
		}
	}
	return false
}

// create generates and stores the key n describes.
func (k *Keys) create(ctx context.Context, n *next, now time.Time) error {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	publishUntil := n.signUntil.Add(k.opts.MaxTokenLifetime + DefaultLeeway)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(n.generation),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("cerulean %s signing key %d", k.opts.Purpose, n.generation)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     publishUntil,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	kid := thumbprint(der)
	err = k.opts.Store.AddSigningKey(ctx, &meta.SigningKey{
		ID: kid, Purpose: k.opts.Purpose, Generation: n.generation, Algorithm: string(jose.RS256),
		Certificate: der, PrivateKey: k.opts.MasterKey.Seal(pkcs8, sealContext(k.opts.Purpose, kid)),
		SignFrom: n.signFrom, SignUntil: n.signUntil, PublishUntil: publishUntil, CreatedAt: now,
	})
	if err == nil {
		k.opts.Logger.InfoContext(ctx, "signing key created", slog.String("purpose", k.opts.Purpose),
			slog.String("kid", kid), slog.Int64("generation", n.generation), slog.Time("sign_from", n.signFrom))
	}
	return err
}

// sealContext binds a sealed private key to its purpose and kid.
func sealContext(purpose, kid string) []byte {
	return []byte("cerulean signing key " + purpose + "/" + kid)
}

// thumbprint is the base64url SHA-1 of a certificate: Entra's x5t and kid.
func thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// build makes a snapshot of keys at now, reusing old's signer when the active key is the
// same (opening and parsing a private key on every refresh would be wasted work).
func (k *Keys) build(keys []meta.SigningKey, now time.Time, old *state) (*state, error) {
	active := activeKey(keys, now)
	if active == nil {
		return nil, errors.New("signing: no active key after rotation")
	}
	st := &state{activeID: active.ID, signUntil: active.SignUntil, published: map[string]*jose.JSONWebKey{}, loadedAt: now}
	for _, key := range keys {
		if key.PublishUntil.Before(now) {
			continue
		}
		cert, err := x509.ParseCertificate(key.Certificate)
		if err != nil {
			return nil, fmt.Errorf("signing: key %s: %w", key.ID, err)
		}
		sum := sha1.Sum(key.Certificate)
		jwk := jose.JSONWebKey{Key: cert.PublicKey, KeyID: key.ID, Algorithm: key.Algorithm, Use: "sig",
			Certificates: []*x509.Certificate{cert}, CertificateThumbprintSHA1: sum[:]}
		st.published[key.ID] = &jwk
		st.jwks.Keys = append(st.jwks.Keys, jwk)
	}
	if old != nil && old.activeID == active.ID {
		st.signer = old.signer
	} else {
		signer, err := k.signer(active)
		if err != nil {
			return nil, err
		}
		st.signer = signer
	}
	st.refreshAt = now.Add(k.opts.Refresh)
	for _, t := range []time.Time{active.SignUntil.Add(-k.opts.Prepublish), active.SignUntil} {
		if t.After(now) && t.Before(st.refreshAt) {
			st.refreshAt = t
		}
	}
	return st, nil
}

func (k *Keys) signer(key *meta.SigningKey) (jose.Signer, error) {
	pkcs8, err := k.opts.MasterKey.Open(key.PrivateKey, sealContext(key.Purpose, key.ID))
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", key.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", key.ID, err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t", key.ID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: key.ID}}, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", key.ID, err)
	}
	return signer, nil
}
