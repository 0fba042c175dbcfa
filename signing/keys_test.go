package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// memStore is a meta.SigningKeys in memory, with the store's uniqueness rules.
type memStore struct {
	mu   sync.Mutex
	keys []meta.SigningKey
	adds int
}

func (m *memStore) AddSigningKey(_ context.Context, k *meta.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.ID == k.ID || o.Purpose == k.Purpose && o.Generation == k.Generation {
			return meta.ErrObjectExists
		}
	}
	m.adds++
	m.keys = append(m.keys, *k)
	slices.SortFunc(m.keys, func(a, b meta.SigningKey) int { return int(a.Generation - b.Generation) })
	return nil
}

func (m *memStore) SigningKeys(_ context.Context, purpose string) ([]meta.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []meta.SigningKey
	for _, k := range m.keys {
		if k.Purpose == purpose {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m *memStore) DeleteSigningKeys(_ context.Context, purpose string, t time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.keys)
	m.keys = slices.DeleteFunc(m.keys, func(k meta.SigningKey) bool { return k.Purpose == purpose && k.PublishUntil.Before(t) })
	return n - len(m.keys), nil
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func testMasterKey(t *testing.T) *MasterKey {
	t.Helper()
	mk, err := NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

func newKeys(t *testing.T, store meta.SigningKeys, c *clock) *Keys {
	t.Helper()
	k, err := New(Options{Store: store, MasterKey: testMasterKey(t), Purpose: "identity", Now: c.Now,
		Rotation: 30 * 24 * time.Hour, Prepublish: 2 * 24 * time.Hour, MaxTokenLifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const iss, aud = "https://login.example/tenant/v2.0", "https://management.azure.com/"

func claimsAt(now time.Time, lifetime time.Duration) jwt.Claims {
	return jwt.Claims{Issuer: iss, Audience: jwt.Audience{aud}, Subject: "s",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(lifetime))}
}

func sign(t *testing.T, k *Keys, c jwt.Claims) string {
	t.Helper()
	raw, err := k.Sign(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func expect() Expect { return Expect{Issuers: []string{iss}, Audiences: []string{aud}} }

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	tok, err := Parse(raw, RS256)
	if err != nil {
		t.Fatal(err)
	}
	return tok.KeyID()
}

func jwksKids(t *testing.T, k *Keys) []string {
	t.Helper()
	set, err := k.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, key := range set.Keys {
		kids = append(kids, key.KeyID)
	}
	return kids
}

func TestSignAndVerify(t *testing.T) {
	c := &clock{t: t0}
	k := newKeys(t, &memStore{}, c)
	raw := sign(t, k, claimsAt(t0, time.Hour))

	tok, err := Parse(raw, RS256)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Header("x5t"); got != tok.KeyID() || tok.KeyID() == "" {
		t.Errorf("x5t %v, kid %q: want equal and set", got, tok.KeyID())
	}
	if typ := tok.header.ExtraHeaders[jose.HeaderType]; typ != "JWT" || tok.header.Algorithm != "RS256" {
		t.Errorf("typ %v alg %s, want JWT RS256", typ, tok.header.Algorithm)
	}
	var got jwt.Claims
	if err := k.Verify(t.Context(), raw, expect(), &got); err != nil || got.Subject != "s" {
		t.Fatalf("Verify = %v, subject %q", err, got.Subject)
	}
	if kids := jwksKids(t, k); !slices.Equal(kids, []string{tok.KeyID()}) {
		t.Errorf("JWKS kids %v, want [%s]", kids, tok.KeyID())
	}
	// The JWKS document carries the certificate and its thumbprint, as Entra's does.
	set, _ := k.JWKS(t.Context())
	b, _ := json.Marshal(set)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(b, &doc)
	for _, field := range []string{"kty", "use", "kid", "x5t", "n", "e", "x5c", "alg"} {
		if _, ok := doc.Keys[0][field]; !ok {
			t.Errorf("JWKS key lacks %q: %s", field, b)
		}
	}
}

func TestRotationOverlaps(t *testing.T) {
	c := &clock{t: t0}
	store := &memStore{}
	k := newKeys(t, store, c)
	first := kidOf(t, sign(t, k, claimsAt(t0, time.Hour)))

	// Within Prepublish of the end: the successor is published, the first key still signs.
	c.Add(29*24*time.Hour + 23*time.Hour)
	late := sign(t, k, claimsAt(c.Now(), 24*time.Hour))
	if kidOf(t, late) != first {
		t.Errorf("signed with a new key before the first one's end")
	}
	kids := jwksKids(t, k)
	if len(kids) != 2 || kids[0] != first {
		t.Fatalf("JWKS %v: want the first key and its successor", kids)
	}
	second := kids[1]

	// Past the end: the successor signs; the first key's tokens still verify.
	c.Add(2 * time.Hour)
	if kid := kidOf(t, sign(t, k, claimsAt(c.Now(), time.Hour))); kid != second {
		t.Errorf("signed with %s after rotation, want %s", kid, second)
	}
	if err := k.Verify(t.Context(), late, expect()); err != nil {
		t.Errorf("token of the previous key refused during overlap: %v", err)
	}

	// Once the last token of the first key has expired, it is unpublished and removed.
	c.Add(25 * time.Hour)
	if kids := jwksKids(t, k); slices.Contains(kids, first) {
		t.Errorf("JWKS %v still publishes the retired key", kids)
	}
	if keys, _ := store.SigningKeys(t.Context(), "identity"); len(keys) != 1 || keys[0].ID != second {
		t.Errorf("store keeps %d keys after retirement", len(keys))
	}
}

func TestReplicasAgree(t *testing.T) {
	c := &clock{t: t0}
	store := &memStore{}
	a, b := newKeys(t, store, c), newKeys(t, store, c)
	var wg sync.WaitGroup
	kids := make([]string, 8)
	for i := range kids {
		k := a
		if i%2 == 1 {
			k = b
		}
		wg.Go(func() {
			raw, err := k.Sign(context.Background(), claimsAt(t0, time.Hour))
			if err != nil {
				t.Error(err)
				return
			}
			tok, _ := Parse(raw, RS256)
			kids[i] = tok.KeyID()
		})
	}
	wg.Wait()
	for _, kid := range kids {
		if kid != kids[0] {
			t.Fatalf("replicas signed with different keys: %v", kids)
		}
	}
	// A rotation by one replica is picked up by the other when it meets an unknown kid.
	c.Add(30 * 24 * time.Hour)
	raw := sign(t, a, claimsAt(c.Now(), time.Hour))
	if err := b.Verify(t.Context(), raw, expect()); err != nil {
		t.Errorf("replica did not learn the rotated key: %v", err)
	}
}

func TestKeysSealedAtRest(t *testing.T) {
	c := &clock{t: t0}
	store := &memStore{}
	sign(t, newKeys(t, store, c), claimsAt(t0, time.Hour))
	keys, _ := store.SigningKeys(t.Context(), "identity")
	if _, err := x509.ParsePKCS8PrivateKey(keys[0].PrivateKey); err == nil {
		t.Fatal("the stored private key parses without the master key")
	}
	other, _ := NewMasterKey(slices.Repeat([]byte{1}, 32))
	k, _ := New(Options{Store: store, MasterKey: other, Purpose: "identity", Now: c.Now})
	if _, err := k.Sign(t.Context(), claimsAt(t0, time.Hour)); err == nil {
		t.Error("signed with a key sealed under another master key")
	}
}

// forge signs claims with an arbitrary algorithm and key, setting kid.
func forge(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestVerifyRefuses(t *testing.T) {
	c := &clock{t: t0}
	k := newKeys(t, &memStore{}, c)
	good := sign(t, k, claimsAt(t0, time.Hour))
	kid := kidOf(t, good)
	set, _ := k.JWKS(t.Context())
	pubDER, _ := x509.MarshalPKIXPublicKey(set.Keys[0].Key)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noExp := claimsAt(t0, time.Hour)
	noExp.Expiry = nil
	wrongIss, wrongAud := claimsAt(t0, time.Hour), claimsAt(t0, time.Hour)
	wrongIss.Issuer, wrongAud.Audience = "https://evil.example/", jwt.Audience{"https://other/"}

	for _, tc := range []struct {
		name string
		raw  string
		want error
	}{
		{"alg none", unsigned(t, claimsAt(t0, time.Hour)), ErrAlgorithm},
		{"HS256 with the public key as secret", forge(t, jose.HS256, pubDER, kid, claimsAt(t0, time.Hour)), ErrAlgorithm},
		{"RS384", forge(t, jose.RS384, otherRSA, kid, claimsAt(t0, time.Hour)), ErrAlgorithm},
		{"ES256", forge(t, jose.ES256, ec, kid, claimsAt(t0, time.Hour)), ErrAlgorithm},
		{"another key under our kid", forge(t, jose.RS256, otherRSA, kid, claimsAt(t0, time.Hour)), ErrSignature},
		{"unknown kid", forge(t, jose.RS256, otherRSA, "nope", claimsAt(t0, time.Hour)), ErrUnknownKey},
		{"tampered payload", tamper(good), ErrSignature},
		{"wrong issuer", sign(t, k, wrongIss), ErrIssuer},
		{"wrong audience", sign(t, k, wrongAud), ErrAudience},
		{"expired", sign(t, k, claimsAt(t0.Add(-2*time.Hour), time.Hour)), ErrExpired},
		{"not yet valid", sign(t, k, claimsAt(t0.Add(time.Hour), time.Hour)), ErrNotYetValid},
		{"no expiry", sign(t, k, noExp), ErrMalformed},
		{"garbage", "not.a.jwt", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := k.Verify(t.Context(), tc.raw, expect()); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// Within the leeway an expired token still passes; beyond it, it does not.
	c.Add(time.Hour + 30*time.Second)
	if err := k.Verify(t.Context(), good, expect()); err != nil {
		t.Errorf("token 30s past exp refused within the leeway: %v", err)
	}
}

// unsigned builds an "alg":"none" token by hand: go-jose will not make one.
func unsigned(t *testing.T, claims any) string {
	t.Helper()
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(b) + "."
}

// tamper changes one character of the payload.
func tamper(raw string) string {
	b := []byte(raw)
	i := len(raw) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestParseVerifiesWithGivenKey(t *testing.T) {
	// The client-assertion path: a key found by the caller (e.g. by certificate thumbprint),
	// an allow-list of RS256 and PS256.
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	raw := forge(t, jose.PS256, priv, "", claimsAt(time.Now(), time.Minute))
	tok, err := Parse(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(&priv.PublicKey, expect()); err != nil {
		t.Errorf("Verify with the signer's public key: %v", err)
	}
	if err := tok.Verify([]byte("secret"), expect()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify with an HMAC secret = %v, want ErrUnknownKey", err)
	}
	if err := tok.Verify(priv, expect()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify with a private key = %v, want ErrUnknownKey", err)
	}
}

func TestMasterKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	a, err := LoadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	b, err := LoadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed := a.Seal([]byte("private"), []byte("kid-1"))
	if plain, err := b.Open(sealed, []byte("kid-1")); err != nil || string(plain) != "private" {
		t.Errorf("Open after reload = %q, %v", plain, err)
	}
	if _, err := b.Open(sealed, []byte("kid-2")); err == nil {
		t.Error("a sealed value opened under another context")
	}
	if string(a.Derive("x")) != string(b.Derive("x")) || string(a.Derive("x")) == string(a.Derive("y")) {
		t.Error("Derive is not a stable per-purpose key")
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(path); err == nil {
		t.Error("a master key file of the wrong size was accepted")
	}
}
