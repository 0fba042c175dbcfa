package connector

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// Built-in role ids (acr-protocol.md §5).
const (
	roleAcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	roleReader  = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

// fixture is a started server seen as a cloud, with an external OIDC issuer it trusts
// and an IMDS listener for host "edge1".
type fixture struct {
	*testcloud.Cloud
	cloud  connector.Cloud
	issuer *oidcIssuer
	host   string // the bootstrap registry's login server
}

func start(t *testing.T, args ...string) *fixture {
	t.Helper()
	issuer := newOIDCIssuer(t)
	c := testcloud.StartWithIMDS(t, "edge1", append([]string{"--federation-ca", issuer.caFile}, args...)...)
	_, port, _ := strings.Cut(strings.TrimPrefix(c.Srv.URL, "https://"), ":")
	f := &fixture{Cloud: c, issuer: issuer, host: c.Srv.Host,
		cloud: connector.CustomCloud("cerulean", c.Srv.URL, c.Srv.URL, "", "localhost:"+port, c.Srv.CAFile)}
	return f
}

// transport reaches the server's registries (testcloud.Transport) and sends requests for
// 169.254.169.254 to the IMDS listener.
func (f *fixture) transport() http.RoundTripper {
	return imdsRewrite{addr: f.IMDSAddr, imds: http.DefaultTransport, next: f.Transport()}
}

type imdsRewrite struct {
	addr       string
	imds, next http.RoundTripper
}

func (r imdsRewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "169.254.169.254" {
		req = req.Clone(req.Context())
		req.URL.Host, req.Host = r.addr, r.addr
		return r.imds.RoundTrip(req)
	}
	return r.next.RoundTrip(req)
}

// conn is a connection of the fixture's cloud.
func (f *fixture) conn(name string, cred connector.Credential, registries ...string) *connector.Connection {
	if cred.TenantID == "" && cred.Kind != connector.AzureCLI && cred.Kind != connector.ManagedIdentity && cred.Kind.Entra() {
		cred.TenantID = f.Boot.TenantID
	}
	return &connector.Connection{Name: name, Cloud: f.cloud, Credential: cred, Registries: registries}
}

// open opens a session of a connection through the fixture's transport.
func (f *fixture) open(t *testing.T, c *connector.Connection, sec connector.Secrets, opts ...connector.Option) *connector.Session {
	t.Helper()
	opts = append([]connector.Option{connector.WithHTTPClient(&http.Client{Transport: f.transport(), Timeout: time.Minute}),
		connector.WithRetry(2, 10*time.Second)}, opts...)
	s, err := connector.Open(t.Context(), c, sec, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", c.Name, err)
	}
	return s
}

// ownerSession is the bootstrap owner's session, which can read everything through ARM.
func (f *fixture) ownerSession(t *testing.T) *connector.Session {
	t.Helper()
	c := f.conn("owner", connector.Credential{Kind: connector.ServicePrincipalSecret, ClientID: f.Boot.ClientID})
	c.Subscriptions = []string{f.Boot.SubscriptionID}
	return f.open(t, c, connector.Secrets{ClientSecret: f.Boot.ClientSecret})
}

// push writes a random image to host/repo:tag as the bootstrap owner.
func (f *fixture) push(t *testing.T, host, repo, tag string) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: f.Boot.ClientID, Password: f.Boot.ClientSecret}),
		remote.WithTransport(f.Transport())); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// pull reads host/repo:tag with auth and returns its digest.
func (f *fixture) pull(t *testing.T, ref string, opts ...remote.Option) error {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, append([]remote.Option{remote.WithTransport(f.Transport())}, opts...)...)
	if err != nil {
		return err
	}
	_, err = img.ConfigFile()
	return err
}

// armRaw sends an ARM request as the owner and decodes the answer, failing on an error
// status.
func (f *fixture) armRaw(t *testing.T, method, path string, body, out any) {
	t.Helper()
	if !strings.Contains(path, "api-version") {
		path += "?api-version=2025-11-01"
	}
	status, b := f.Raw(t, f.Owner, method, path, body)
	if status >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// repositoryToken creates a scope map and a token of registry reg with password1
// generated, and returns password1.
func (f *fixture) repositoryToken(t *testing.T, reg, token string, actions ...string) string {
	t.Helper()
	id := f.RegistryID(reg)
	f.armRaw(t, http.MethodPut, id+"/scopeMaps/"+token+"-map", map[string]any{"properties": map[string]any{"actions": actions}}, nil)
	f.armRaw(t, http.MethodPut, id+"/tokens/"+token, map[string]any{"properties": map[string]any{
		"scopeMapId": id + "/scopeMaps/" + token + "-map", "status": "enabled"}}, nil)
	return f.generatePassword(t, reg, token, "password1", nil)
}

// generatePassword generates one password of a token, with an optional expiry.
func (f *fixture) generatePassword(t *testing.T, reg, token, pw string, expiry *time.Time) string {
	t.Helper()
	body := map[string]any{"tokenId": f.RegistryID(reg) + "/tokens/" + token, "name": pw}
	if expiry != nil {
		body["expiry"] = expiry.UTC().Format(time.RFC3339)
	}
	var out struct {
		Passwords []struct{ Name, Value string }
	}
	f.armRaw(t, http.MethodPost, f.RegistryID(reg)+"/generateCredentials", body, &out)
	for _, p := range out.Passwords {
		if p.Name == pw {
			return p.Value
		}
	}
	t.Fatalf("generateCredentials: no %s in %+v", pw, out)
	return ""
}

// adminPassword enables the admin user of reg and returns its username and password.
func (f *fixture) adminPassword(t *testing.T, reg string) (string, string) {
	t.Helper()
	f.UpdateRegistry(t, reg, map[string]any{"adminUserEnabled": true})
	var out struct {
		Username  string
		Passwords []struct{ Name, Value string }
	}
	f.armRaw(t, http.MethodPost, f.RegistryID(reg)+"/listCredentials", nil, &out)
	return out.Username, out.Passwords[0].Value
}

// exchanges reads how many /oauth2/exchange requests the server has answered.
func (f *fixture) exchanges(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(f.Srv.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	total := 0
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "cerulean_http_requests_total{") && strings.Contains(line, `route="oauth2-exchange"`) {
			var n float64
			fields := strings.Fields(line)
			fmt.Sscan(fields[len(fields)-1], &n)
			total += int(n)
		}
	}
	return total
}

// cli runs the cerulean binary with a connection store and key of its own, plus env,
// and returns standard output and error.
type cliEnv struct {
	store, key string
	env        []string
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &cliEnv{store: filepath.Join(t.TempDir(), "store"), key: base64.StdEncoding.EncodeToString(k)}
}

func (e *cliEnv) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERULEAN_") && !strings.HasPrefix(kv, "AZURE_") && !strings.HasPrefix(kv, "IDENTITY_") {
			env = append(env, kv)
		}
	}
	env = append(env, "CERULEAN_CONNECTOR_DIR="+e.store, "CERULEAN_CONNECTOR_KEY="+e.key)
	return append(env, e.env...)
}

func (e *cliEnv) run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testserver.Binary(t), args...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func (e *cliEnv) mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("cerulean %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// oidcIssuer is an external OIDC issuer over TLS, as a Kubernetes service-account
// issuer is for workload identity.
type oidcIssuer struct {
	url, caFile string
	key         *rsa.PrivateKey
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{key: key}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	iss.url = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.url, "jwks_uri": iss.url + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	iss.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(iss.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return iss
}

// tokenFile writes a service-account token for subject to a file.
func (iss *oidcIssuer) tokenFile(t *testing.T, subject string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: iss.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := jwt.Signed(s).Claims(map[string]any{"iss": iss.url, "sub": subject, "aud": []string{"api://AzureADTokenExchange"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// certificatePEM makes a self-signed client certificate and returns its DER and the PEM
// of certificate and key together (what a connection stores).
func certificatePEM(t *testing.T) ([]byte, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "connector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	return der, out
}

// logBuffer is a concurrency-safe buffer for a slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func readAll(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
