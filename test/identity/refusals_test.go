package identity_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/cerulean-registry/cerulean/identity/graph"
)

// TestRefusals sends what must not get a token: each is refused with the AADSTS error
// JSON (status, OAuth error, code) and no token. (An expired client secret needs a
// controlled clock: identity's TestSecretLifecycle covers it in process.)
func TestRefusals(t *testing.T) {
	f := start(t)
	tid := f.boot.TenantID
	tokenPath := "/" + tid + "/oauth2/v2.0/token"
	endpoint := f.srv.URL + tokenPath

	// A service principal with a certificate and a federated credential.
	sp := f.newSP(t, "target")
	cert, key, certFile := newCertificate(t)
	f.cli(t, nil, "sp", "credential", "add", sp.AppID, "--cert", certFile)
	const subject = "repo:contoso/app:ref:refs/heads/main"
	f.cli(t, nil, "sp", "federated-credential", "add", sp.AppID, "--name", "gha", "--issuer", f.issuer.url, "--subject", subject)
	disabled := f.newSP(t, "disabled")
	f.cli(t, nil, "sp", "update", disabled.AppID, "--enabled=false")

	// certAssertion is what MSAL sends for a certificate: PS256, x5t#S256, iss = sub =
	// client id, aud = the token endpoint, a fresh jti.
	x5t := sha256.Sum256(cert.Raw)
	certAssertion := func(alg jose.SignatureAlgorithm, signKey any, aud string, exp time.Time) string {
		return signJWT(t, alg, signKey, map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(x5t[:])}, map[string]any{
			"iss": sp.AppID, "sub": sp.AppID, "aud": aud, "jti": newJTI(t), "nbf": time.Now().Unix(), "exp": exp.Unix()})
	}
	assertionForm := func(assertion string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {sp.AppID}, "scope": {armScope},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	}
	secretForm := func(clientID, secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {armScope}}
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	untrusted := newOIDCIssuer(t) // not named by any federated credential
	replayed := certAssertion(jose.PS256, key, endpoint, time.Now().Add(5*time.Minute))
	if status, body := f.postToken(t, tokenPath, assertionForm(replayed)); status != 200 {
		t.Fatalf("the valid certificate assertion was refused: %d %v", status, body)
	}
	forgedFederated := signJWT(t, jose.RS256, otherKey, map[string]any{"kid": f.issuer.kid}, map[string]any{
		"iss": f.issuer.url, "sub": subject, "aud": "api://AzureADTokenExchange", "exp": time.Now().Add(time.Hour).Unix()})

	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		code   int
	}{
		{"wrong secret", tokenPath, secretForm(sp.AppID, "not-the-secret"), 401, 7000215},
		{"disabled application", tokenPath, secretForm(disabled.AppID, disabled.Password), 400, 7000112},
		{"unknown tenant", "/" + newJTI(t) + "/oauth2/v2.0/token", secretForm(sp.AppID, sp.Password), 400, 90002},
		{"assertion for another audience", tokenPath, assertionForm(certAssertion(jose.PS256, key, "https://login.microsoftonline.com/x/oauth2/v2.0/token", time.Now().Add(5*time.Minute))), 401, 50027},
		{"expired assertion", tokenPath, assertionForm(certAssertion(jose.PS256, key, endpoint, time.Now().Add(-10*time.Minute))), 401, 700024},
		{"replayed assertion", tokenPath, assertionForm(replayed), 401, 50027},
		{"assertion signed by an unregistered key", tokenPath, assertionForm(certAssertion(jose.PS256, otherKey, endpoint, time.Now().Add(5*time.Minute))), 401, 700027},
		{"alg none", tokenPath, assertionForm(unsignedJWT(map[string]any{"iss": sp.AppID, "sub": sp.AppID, "aud": endpoint,
			"jti": newJTI(t), "exp": time.Now().Add(time.Minute).Unix()})), 401, 50027},
		{"HS256 keyed with the certificate's public key", tokenPath, assertionForm(certAssertion(jose.HS256, pubDER, endpoint, time.Now().Add(5*time.Minute))), 401, 50027},
		{"federated token of an untrusted issuer", tokenPath, assertionForm(untrusted.mint(t, subject, "api://AzureADTokenExchange", time.Now().Add(time.Hour))), 401, 700211},
		{"federated token of another subject", tokenPath, assertionForm(f.issuer.mint(t, "repo:contoso/app:pull_request", "api://AzureADTokenExchange", time.Now().Add(time.Hour))), 401, 700213},
		{"federated token for another audience", tokenPath, assertionForm(f.issuer.mint(t, subject, "api://SomethingElse", time.Now().Add(time.Hour))), 401, 700212},
		{"expired federated token", tokenPath, assertionForm(f.issuer.mint(t, subject, "api://AzureADTokenExchange", time.Now().Add(-time.Hour))), 401, 700024},
		{"federated token signed by another key", tokenPath, assertionForm(forgedFederated), 401, 700027},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.postToken(t, tc.path, tc.form)
			codes, _ := body["error_codes"].([]any)
			desc, _ := body["error_description"].(string)
			if status != tc.status || len(codes) != 1 || int(codes[0].(float64)) != tc.code || body["access_token"] != nil ||
				!strings.HasPrefix(desc, "AADSTS") || body["correlation_id"] == nil {
				t.Errorf("answer %d %v, want %d with AADSTS%d and no token", status, body, tc.status, tc.code)
			}
		})
	}

	// azidentity surfaces the AADSTS error.
	cred, err := azidentity.NewClientSecretCredential(tid, sp.AppID, "wrong", &azidentity.ClientSecretCredentialOptions{
		ClientOptions: f.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(ctxTimeout(t), policy.TokenRequestOptions{Scopes: []string{armScope}}); err == nil ||
		!strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("azidentity with a wrong secret: %v", err)
	}

	// The directory API answers only the tenant's owner.
	c, err := graph.Connect(graph.Config{Server: f.srv.URL, TenantID: tid, ClientID: sp.AppID, ClientSecret: sp.Password, CAFile: f.srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	var ge *graph.Error
	if _, err := c.Applications(t.Context()); !errors.As(err, &ge) || ge.Status != 403 || ge.Code != "Authorization_RequestDenied" {
		t.Errorf("directory API as a non-owner: %v", err)
	}
}

// newJTI returns a random GUID.
func newJTI(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// unsignedJWT builds an "alg":"none" token by hand.
func unsignedJWT(claims any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(b) + "."
}
