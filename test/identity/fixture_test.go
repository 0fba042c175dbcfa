// Package identity_test drives Cerulean's identity plane with real clients: azidentity's
// credentials over TLS against a `cerulean serve` process (internal/testserver), the
// Cerulean CLI's directory verbs, and the Azure CLI through the ADFS-style authority.
package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// fixture is a running server with its bootstrap owner, an external OIDC issuer it
// trusts (--federation-ca) and an IMDS listener bound to host "edge1".
type fixture struct {
	srv    *testserver.Server
	boot   graph.Bootstrap
	cloud  cloud.Configuration
	issuer *oidcIssuer
	imds   string // host:port of the IMDS listener
}

func start(t *testing.T, extra ...string) *fixture {
	t.Helper()
	issuer := newOIDCIssuer(t)
	imds := testcloud.FreeAddr(t)
	args := append([]string{"--federation-ca", issuer.caFile, "--imds-addr", imds, "--imds-host", "edge1"}, extra...)
	f := &fixture{srv: testserver.Start(t, args...), issuer: issuer, imds: imds}
	b, err := os.ReadFile(filepath.Join(f.srv.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f.boot); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(f.srv.DataDir, "bootstrap.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.json mode %v, %v; want 0600", fi.Mode(), err)
	}
	f.cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: f.srv.URL + "/"}
	return f
}

// clientOptions point azidentity at the server, over TLS with its CA.
func (f *fixture) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: f.cloud, Transport: f.srv.Client}
}

// cli runs the cerulean binary's directory verbs as the bootstrap owner and decodes
// their JSON output into out (nil: discard).
func (f *fixture) cli(t *testing.T, out any, args ...string) {
	t.Helper()
	stdout, err := f.srv.Run(t, append(args, "--data", f.srv.DataDir)...)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("cerulean %s: %v: %s", strings.Join(args, " "), err, stdout)
		}
	}
}

// newSP creates a service principal with a secret through the CLI.
func (f *fixture) newSP(t *testing.T, name string) graph.NewServicePrincipal {
	t.Helper()
	var sp graph.NewServicePrincipal
	f.cli(t, &sp, "sp", "create", name)
	return sp
}

// getToken asks cred for a token of scope.
func getToken(t *testing.T, cred azcore.TokenCredential, scope string) string {
	t.Helper()
	tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if time.Until(tok.ExpiresOn) < 50*time.Minute {
		t.Errorf("token expires on %v", tok.ExpiresOn)
	}
	return tok.Token
}

// verify checks a token against the published JWKS with go-jose alone (not the server's
// own verifier): RS256, a published kid, the tenant's issuer for its version, aud, expiry.
// It returns the claims.
func (f *fixture) verify(t *testing.T, raw, wantAud string) map[string]any {
	t.Helper()
	resp, err := f.srv.Client.Get(f.srv.URL + "/" + f.boot.TenantID + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &std, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	iss := f.srv.URL + "/" + f.boot.TenantID + "/"
	if claims["ver"] == "2.0" {
		iss += "v2.0"
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: iss, AnyAudience: jwt.Audience{wantAud}, Time: time.Now()}, time.Minute); err != nil {
		t.Fatalf("claims %v: %v", claims, err)
	}
	if claims["tid"] != f.boot.TenantID || claims["oid"] == "" || claims["oid"] != claims["sub"] {
		t.Errorf("claims %v", claims)
	}
	return claims
}

// postToken posts a token request and returns the status and decoded answer.
func (f *fixture) postToken(t *testing.T, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := f.srv.Client.PostForm(f.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// oidcIssuer is an external OIDC issuer on 127.0.0.1 over TLS, like a Kubernetes
// service-account issuer: discovery document, JWKS, and tokens it mints.
type oidcIssuer struct {
	url    string
	caFile string
	key    *rsa.PrivateKey
	kid    string
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{key: key, kid: "k8s-key-1"}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	iss.url = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.url, "jwks_uri": iss.url + "/openid/v1/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: iss.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	iss.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(iss.caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return iss
}

// mint signs a service-account-like token.
func (iss *oidcIssuer) mint(t *testing.T, subject, audience string, exp time.Time) string {
	t.Helper()
	return signJWT(t, jose.RS256, iss.key, map[string]any{"kid": iss.kid}, map[string]any{
		"iss": iss.url, "sub": subject, "aud": []string{audience}, "iat": time.Now().Unix(), "nbf": time.Now().Unix(), "exp": exp.Unix(),
		"kubernetes.io": map[string]any{"namespace": "ns"},
	})
}

// signJWT signs claims with key and alg, with extra protected headers.
func signJWT(t *testing.T, alg jose.SignatureAlgorithm, key any, headers map[string]any, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range headers {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
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

// newCertificate makes a self-signed client certificate and writes it as PEM.
func newCertificate(t *testing.T) (*x509.Certificate, *rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ci"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key, path
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
