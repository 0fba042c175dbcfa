package accessmatrix

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// victimRepo is the repository the refusal cases try to read and delete from.
const victimRepo = "sec/app"

// answer is a fully read HTTP answer.
type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) String() string { return fmt.Sprintf("%d %s %s", a.status, a.header, a.body) }

// code is the first error code of a distribution error envelope, "" if there is none.
func (a answer) code() string {
	var env struct{ Errors []struct{ Code string } }
	if json.Unmarshal([]byte(a.body), &env) != nil || len(env.Errors) == 0 {
		return ""
	}
	return env.Errors[0].Code
}

// send makes one request to r with an Authorization header ("" for none).
func send(t testing.TB, r *registry, method, path, authorization string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "https://"+r.host+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := (&http.Client{Transport: r.tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func basic(c credential) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password))
}

func bearer(token string) string { return "Bearer " + token }

// nullGUID is the username under which clients present an ACR token as a password.
const nullGUID = "00000000-0000-0000-0000-000000000000"

// tokens is what the token endpoint hands out.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// mint gets tokens of r for scopes with Basic credentials, as docker does (GET with
// offline_token, which also returns a refresh token).
func mint(t testing.TB, r *registry, c credential, scopes ...string) tokens {
	t.Helper()
	q := url.Values{"service": {r.host}, "scope": scopes, "offline_token": {"true"}, "client_id": {"docker"}}
	a := send(t, r, http.MethodGet, "/oauth2/token?"+q.Encode(), basic(c), nil)
	var tok tokens
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &tok) != nil || tok.Access == "" {
		t.Fatalf("token for %s: %s", c.user, a)
	}
	return tok
}

// victims counts the images wantRefused seeds, so that each is its own.
var victims atomic.Int64

// wantAllowed checks that authorization (a token or credentials granting pull) reads the
// victim repository: the control that makes a later refusal mean something.
func wantAllowed(t testing.TB, r *registry, authorization string) {
	t.Helper()
	if a := send(t, r, http.MethodGet, "/v2/"+victimRepo+"/manifests/v1", authorization, nil); a.status != http.StatusOK {
		t.Fatalf("before the change, the credential must work: GET manifest: %s", a)
	}
}

// wantRefused checks that a request with authorization is refused as ACR refuses a
// credential: 401 UNAUTHORIZED with the challenge naming the scope, and that nothing was
// done: it tries to delete a manifest, which must still be there after. A bearer token is
// also tried on a read. (A password or a token presented with Basic is tried once: each
// refusal counts against the client's sign-in limit, 10 at once, which a test's cases
// share.)
func wantRefused(t testing.TB, r *registry, authorization string) {
	t.Helper()
	tag := fmt.Sprintf("victim-%d", victims.Add(1))
	d, err := r.seeder.pushImage(t, victimRepo, tag, newImage(t))
	if err != nil {
		t.Fatal(err)
	}
	tries := []struct{ method, ref, action string }{{http.MethodDelete, d.String(), "delete"}}
	if strings.HasPrefix(authorization, "Bearer ") {
		tries = append(tries, struct{ method, ref, action string }{http.MethodGet, tag, "pull"})
	}
	for _, req := range tries {
		a := send(t, r, req.method, "/v2/"+victimRepo+"/manifests/"+req.ref, authorization, nil)
		challenge := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="repository:%s:%s"`, r.host, r.host, victimRepo, req.action)
		if a.status != http.StatusUnauthorized || a.code() != "UNAUTHORIZED" || a.header.Get("Www-Authenticate") != challenge {
			t.Errorf("%s manifest: %s\nwant 401 UNAUTHORIZED with %s", req.method, a, challenge)
		}
	}
	if !r.seeder.exists(t, victimRepo, d.String()) {
		t.Errorf("the refused delete removed %s@%s", victimRepo, d)
	}
}

// jwtParts splits a compact JWT and decodes its header and payload.
func jwtParts(t testing.TB, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", raw)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err == nil {
			err = json.Unmarshal(b, dst)
		}
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
	}
	return header, payload
}

func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// escalate returns the claims of an access token widened to every action on the victim
// repository and the catalog, valid for another hour: what a forger wants.
func escalate(payload map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range payload {
		out[k] = v
	}
	out["access"] = []map[string]any{
		{"type": "repository", "name": victimRepo, "actions": []string{"pull", "push", "delete", "metadata_read", "metadata_write"}},
		{"type": "registry", "name": "catalog", "actions": []string{"*"}},
	}
	out["exp"] = time.Now().Add(time.Hour).Unix()
	return out
}

// signWith signs claims with key and alg, with the kid given.
func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// jwksPublicKeyPEM fetches the identity plane's published signing key (the only public
// key the server publishes) in PEM, what a key-confusion forger uses as an HMAC secret.
func jwksPublicKeyPEM(t testing.TB, c *testcloud.Cloud) []byte {
	t.Helper()
	resp, err := (&http.Client{Transport: c.Srv.Transport()}).Get(c.Srv.URL + "/" + c.Boot.TenantID + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v (%d keys)", err, len(set.Keys))
	}
	der, err := x509.MarshalPKIXPublicKey(set.Keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// pullDelete is the scope the refusal cases' tokens are minted for.
const pullDelete = "repository:" + victimRepo + ":pull,delete"

// seeded returns registries of c, each with victimRepo:v1 pushed by the owner.
func seeded(t testing.TB, c *testcloud.Cloud, names ...string) []*registry {
	t.Helper()
	var out []*registry
	for _, name := range names {
		host := c.Srv.Host
		if name != c.Boot.RegistryName {
			// Created before anything is issued: a change of settings revokes every token.
			host = c.CreateRegistry(t, name, "Standard", map[string]any{"adminUserEnabled": true})
		}
		r := newRegistry(c, name, host, owner(c))
		if _, err := r.seeder.pushImage(t, victimRepo, "v1", newImage(t)); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestForgedTokens presents tokens a registry must not honour: one it issued for another
// login server, and its own access token tampered with, re-signed with alg none, with
// HMAC keyed by the published public key, or by a foreign RSA key. A wildcard in a
// requested scope gets no token at all.
func TestForgedTokens(t *testing.T) {
	t.Parallel()
	c := testcloud.Start(t)
	regs := seeded(t, c, c.Boot.RegistryName, "othersec1")
	main, other := regs[0], regs[1]
	ownerTokens := mint(t, main, owner(c), "repository:"+victimRepo+":pull")

	t.Run("token of another login server", func(t *testing.T) {
		t.Parallel()
		foreign := mint(t, other, owner(c), pullDelete)
		wantAllowed(t, other, bearer(foreign.Access))
		wantRefused(t, main, bearer(foreign.Access))
		wantRefused(t, main, basic(credential{user: nullGUID, password: foreign.Refresh}))
		a := send(t, main, http.MethodPost, "/oauth2/token", "", url.Values{"grant_type": {"refresh_token"},
			"service": {main.host}, "scope": {pullDelete}, "refresh_token": {foreign.Refresh}})
		if a.status != http.StatusUnauthorized || strings.Contains(a.body, "access_token") {
			t.Errorf("another registry's refresh token at /oauth2/token: %s, want 401", a)
		}
	})

	header, payload := jwtParts(t, ownerTokens.Access)
	kid, _ := header["kid"].(string)
	forged := escalate(payload)
	foreignKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(ownerTokens.Access, ".")
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"tampered payload (actions widened, signature kept)", parts[0] + "." + segment(t, forged) + "." + parts[2]},
		{"alg none", segment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + segment(t, forged) + "."},
		{"HS256 keyed with the published JWKS public key", signWith(t, jose.HS256, jwksPublicKeyPEM(t, c), kid, forged)},
		{"RS256 signed by a foreign key under the registry's kid", signWith(t, jose.RS256, foreignKey, kid, forged)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantAllowed(t, main, bearer(ownerTokens.Access))
			wantRefused(t, main, bearer(tc.token))
		})
	}

	t.Run("wildcard in a requested scope", func(t *testing.T) {
		t.Parallel()
		for _, scope := range []string{"repository:*:pull", "repository:sec/*:pull,delete"} {
			q := url.Values{"service": {main.host}, "scope": {scope}}
			get := send(t, main, http.MethodGet, "/oauth2/token?"+q.Encode(), basic(owner(c)), nil)
			post := send(t, main, http.MethodPost, "/oauth2/token", "", url.Values{"grant_type": {"password"}, "service": {main.host},
				"scope": {scope}, "username": {c.Boot.ClientID}, "password": {c.Boot.ClientSecret}})
			for _, a := range []answer{get, post} {
				if a.status != http.StatusBadRequest || strings.Contains(a.body, "access_token") {
					t.Errorf("scope %s: %s, want 400 and no token", scope, a)
				}
			}
		}
	})

}

// TestRevokedCredentials revokes credentials through the management and identity planes
// after their tokens were issued: each old token must be refused on the next request.
// The cases present 7 refused passwords or tokens with Basic between them, within the 10
// failed sign-ins a client address may make at once.
func TestRevokedCredentials(t *testing.T) {
	t.Parallel()
	c := testcloud.Start(t)
	ctx := t.Context()
	acr := c.ACR(t, c.Owner)
	rg := c.Boot.ResourceGroup
	regs := seeded(t, c, c.Boot.RegistryName, "adminsec1")
	main, adminReg := regs[0], regs[1]
	registryID := c.RegistryID(main.name)

	t.Run("token whose scope map lost the repository", func(t *testing.T) {
		t.Parallel()
		newScopeMap(t, c, main.name, "lostmap", "repositories/"+victimRepo+"/content/read", "repositories/"+victimRepo+"/content/delete")
		tok := mint(t, main, newToken(t, c, main.name, "losttoken", "lostmap"), pullDelete)
		wantAllowed(t, main, bearer(tok.Access))
		p, err := acr.NewScopeMapsClient().BeginUpdate(ctx, rg, main.name, "lostmap", armcontainerregistry.ScopeMapUpdateParameters{
			Properties: &armcontainerregistry.ScopeMapPropertiesUpdateParameters{Actions: to.SliceOfPtrs("repositories/elsewhere/content/read")}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, main, bearer(tok.Access))
	})

	t.Run("disabled token", func(t *testing.T) {
		t.Parallel()
		cred := newToken(t, c, main.name, "distoken", "_repositories_admin")
		tok := mint(t, main, cred, pullDelete)
		wantAllowed(t, main, bearer(tok.Access))
		p, err := acr.NewTokensClient().BeginUpdate(ctx, rg, main.name, "distoken", armcontainerregistry.TokenUpdateParameters{
			Properties: &armcontainerregistry.TokenUpdateProperties{Status: to.Ptr(armcontainerregistry.TokenStatusDisabled)}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, main, bearer(tok.Access))
		wantRefused(t, main, basic(cred))
	})

	t.Run("regenerated token password", func(t *testing.T) {
		t.Parallel()
		cred := newToken(t, c, main.name, "regentoken", "_repositories_admin")
		tok := mint(t, main, cred, pullDelete)
		wantAllowed(t, main, bearer(tok.Access))
		p, err := acr.NewRegistriesClient().BeginGenerateCredentials(ctx, rg, main.name, armcontainerregistry.GenerateCredentialsParameters{
			TokenID: to.Ptr(registryID + "/tokens/regentoken"), Name: to.Ptr(armcontainerregistry.TokenPasswordNamePassword1)}, nil)
		var res armcontainerregistry.RegistriesClientGenerateCredentialsResponse
		if err == nil {
			res, err = p.PollUntilDone(ctx, nil)
		}
		if err != nil || len(res.Passwords) != 1 || res.Passwords[0].Value == nil {
			t.Fatalf("generateCredentials: %+v, %v", res, err)
		}
		wantRefused(t, main, bearer(tok.Access))
		wantRefused(t, main, basic(credential{user: nullGUID, password: tok.Refresh}))
		wantRefused(t, main, basic(cred))
		wantAllowed(t, main, basic(credential{user: cred.user, password: *res.Passwords[0].Value}))
	})

	t.Run("removed role assignment", func(t *testing.T) {
		t.Parallel()
		sp := c.NewPrincipal(t, "sec-contributor")
		assignment := c.Assign(t, registryID, access.RoleContributor, sp.ObjectID, "")
		tok := mint(t, main, credential{user: sp.ClientID, password: sp.Secret}, pullDelete)
		entra, err := sp.Cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrScope}})
		if err != nil {
			t.Fatal(err)
		}
		refresh := exchange(t, main, entra.Token)
		wantAllowed(t, main, bearer(tok.Access))
		wantAllowed(t, main, basic(credential{user: nullGUID, password: refresh}))
		c.Unassign(t, registryID, assignment)
		wantRefused(t, main, bearer(tok.Access))
		wantRefused(t, main, basic(credential{user: nullGUID, password: refresh}))
		a := send(t, main, http.MethodPost, "/oauth2/token", "", url.Values{"grant_type": {"refresh_token"},
			"service": {main.host}, "scope": {pullDelete}, "refresh_token": {refresh}})
		if a.status != http.StatusUnauthorized {
			t.Errorf("refresh token of a removed assignment at /oauth2/token: %s, want 401", a)
		}
	})

	t.Run("disabled service principal", func(t *testing.T) {
		t.Parallel()
		sp := c.NewPrincipal(t, "sec-disabled")
		c.Assign(t, registryID, access.RoleContributor, sp.ObjectID, "")
		tok := mint(t, main, credential{user: sp.ClientID, password: sp.Secret}, pullDelete)
		wantAllowed(t, main, bearer(tok.Access))
		if err := c.Graph.SetAccountEnabled(ctx, sp.ObjectID, false); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, main, bearer(tok.Access))
		wantRefused(t, main, basic(credential{user: nullGUID, password: tok.Refresh}))
	})

	t.Run("admin user disabled", func(t *testing.T) {
		t.Parallel()
		admin := adminCredentials(t, c, adminReg.name)[0]
		tok := mint(t, adminReg, admin, pullDelete)
		wantAllowed(t, adminReg, bearer(tok.Access))
		wantAllowed(t, adminReg, basic(admin))
		c.UpdateRegistry(t, adminReg.name, map[string]any{"adminUserEnabled": false})
		wantRefused(t, adminReg, bearer(tok.Access))
		wantRefused(t, adminReg, basic(admin))
	})
}

// TestNetworkRules denies a Premium registry to every address but a documentation range,
// which the test's 127.0.0.1 is not: /v2/ and the token endpoint answer 403 DENIED
// before looking at credentials, good or bad. An allow rule for 127.0.0.1 lets the same
// credentials in.
func TestNetworkRules(t *testing.T) {
	t.Parallel()
	c := testcloud.Start(t)
	host := c.CreateRegistry(t, "netrules1", "Premium", map[string]any{"adminUserEnabled": true})
	r := newRegistry(c, "netrules1", host, owner(c))
	if _, err := r.seeder.pushImage(t, victimRepo, "v1", newImage(t)); err != nil {
		t.Fatal(err)
	}
	admin := adminCredentials(t, c, r.name)[0]
	rules := func(ips ...string) {
		t.Helper()
		set := &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny)}
		for _, ip := range ips {
			set.IPRules = append(set.IPRules, &armcontainerregistry.IPRule{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr(ip)})
		}
		p, err := c.ACR(t, c.Owner).NewRegistriesClient().BeginUpdate(t.Context(), c.Boot.ResourceGroup, r.name, armcontainerregistry.RegistryUpdateParameters{
			Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{NetworkRuleSet: set}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(t.Context(), nil)
		}
		if err != nil {
			t.Fatalf("network rules %q: %v", ips, err)
		}
	}

	rules("192.0.2.0/24")
	for _, tc := range []struct{ name, authorization string }{
		{"no credentials", ""},
		{"the admin user", basic(admin)},
		{"a wrong password", basic(credential{user: admin.user, password: "wrong"})},
	} {
		for _, path := range []string{"/v2/", "/v2/" + victimRepo + "/manifests/v1", "/oauth2/token?service=" + host + "&scope=repository:" + victimRepo + ":pull"} {
			if a := send(t, r, http.MethodGet, path, tc.authorization, nil); a.status != http.StatusForbidden || a.code() != "DENIED" {
				t.Errorf("%s, GET %s: %s, want 403 DENIED", tc.name, path, a)
			}
		}
	}
	if err := newGGCR(r, admin).pull(t, victimRepo, "v1"); err == nil {
		t.Error("go-containerregistry pulled through a Deny rule")
	}

	rules("192.0.2.0/24", "127.0.0.1")
	if a := send(t, r, http.MethodGet, "/v2/", "", nil); a.status != http.StatusUnauthorized || a.header.Get("Www-Authenticate") == "" {
		t.Errorf("GET /v2/ without credentials once 127.0.0.1 is allowed: %s, want the 401 challenge", a)
	}
	if err := newGGCR(r, admin).pull(t, victimRepo, "v1"); err != nil {
		t.Errorf("pull once 127.0.0.1 is allowed: %v", err)
	}
}

// TestExpiredToken waits, with a bounded poll, for a 2-second access token to expire and
// then wants it refused. The server verifies its own tokens with signing's clock-skew
// leeway (RFC 7519 §4.1.4 allows a small one), so the poll allows for it; the test logs
// how long past exp the token was still accepted.
//
// The token is issued before the test turns parallel, so that its lifetime runs while the
// other tests wait for the parallel phase; only the poll waits with them.
func TestExpiredToken(t *testing.T) {
	c := testcloud.Start(t, "--access-token-ttl", "2s")
	r := newRegistry(c, c.Boot.RegistryName, c.Srv.Host, owner(c))
	if _, err := r.seeder.pushImage(t, victimRepo, "v1", newImage(t)); err != nil {
		t.Fatal(err)
	}
	tok := mint(t, r, owner(c), "repository:"+victimRepo+":pull,delete")
	_, payload := jwtParts(t, tok.Access)
	exp := time.Unix(int64(payload["exp"].(float64)), 0)
	if iat := time.Unix(int64(payload["iat"].(float64)), 0); exp.Sub(iat) != 2*time.Second {
		t.Fatalf("token lives %s, want 2s", exp.Sub(iat))
	}
	wantAllowed(t, r, bearer(tok.Access))
	t.Parallel()

	const leeway = time.Minute // signing.DefaultLeeway
	deadline := exp.Add(leeway + 15*time.Second)
	for {
		a := send(t, r, http.MethodGet, "/v2/"+victimRepo+"/manifests/v1", bearer(tok.Access), nil)
		if a.status == http.StatusUnauthorized {
			break
		}
		if a.status != http.StatusOK {
			t.Fatalf("polling with the expiring token: %s", a)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token is still accepted %s after its exp", time.Since(exp).Round(time.Second))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the token was accepted until about %s after its exp", time.Since(exp).Round(time.Second))
	wantRefused(t, r, bearer(tok.Access))
}

// TestPasswordGuessing guesses the owner's password until the limiter answers 429 with
// Retry-After; then the right password is refused the same way, on the token endpoint and
// on the registry, until the wait has passed (a bounded poll), and works after it. As in
// TestExpiredToken, only the wait runs in the parallel phase.
func TestPasswordGuessing(t *testing.T) {
	c := testcloud.Start(t)
	r := newRegistry(c, c.Boot.RegistryName, c.Srv.Host, owner(c))
	tokenPath := "/oauth2/token?" + url.Values{"service": {r.host}, "scope": {"repository:" + victimRepo + ":pull"}}.Encode()
	wrong := basic(credential{user: c.Boot.ClientID, password: "not-the-secret"})
	right := basic(owner(c))

	failures := 0
	var limited answer
	for range 20 {
		a := send(t, r, http.MethodGet, tokenPath, wrong, nil)
		if a.status != http.StatusUnauthorized {
			limited = a
			break
		}
		failures++
	}
	// One attempt is freed every 6 seconds: Retry-After is at most that.
	if wait, err := strconv.Atoi(limited.header.Get("Retry-After")); limited.status != http.StatusTooManyRequests ||
		limited.code() != "TOOMANYREQUESTS" || err != nil || wait < 1 || wait > 6 {
		t.Fatalf("after %d wrong passwords: %s, want 429 TOOMANYREQUESTS with Retry-After of 1 to 6 seconds", failures, limited)
	}
	if failures < 10 {
		t.Errorf("limited after %d failures, want 10 allowed at once", failures)
	}
	for _, path := range []string{tokenPath, "/v2/"} {
		if a := send(t, r, http.MethodGet, path, right, nil); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Errorf("the right password while limited, GET %s: %s, want 429 with Retry-After", path, a)
		}
	}

	t.Parallel()

	// The limiter frees one attempt every 6 seconds; Retry-After says when.
	deadline := time.Now().Add(6*time.Second + 15*time.Second)
	for {
		a := send(t, r, http.MethodGet, tokenPath, right, nil)
		if a.status == http.StatusOK {
			break
		}
		if a.status != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("the right password after the wait: %s", a)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if a := send(t, r, http.MethodGet, "/v2/", right, nil); a.status != http.StatusOK {
		t.Errorf("GET /v2/ with the right password after the wait: %s", a)
	}
}
