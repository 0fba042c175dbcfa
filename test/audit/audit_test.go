package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// bootstrap holds the fields of DIR/bootstrap.json the tests use.
type bootstrap struct {
	TenantID      string `json:"tenantId"`
	RegistryName  string `json:"registryName"`
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	OwnerObjectID string `json:"ownerObjectId"`
}

func readBootstrap(t *testing.T, s *testserver.Server) bootstrap {
	t.Helper()
	var b bootstrap
	raw, err := os.ReadFile(filepath.Join(s.DataDir, "bootstrap.json"))
	if err == nil {
		err = json.Unmarshal(raw, &b)
	}
	if err != nil {
		t.Fatalf("bootstrap.json: %v", err)
	}
	return b
}

// event is an entry of `cerulean audit list -o json`.
type event struct {
	Time         time.Time `json:"time"`
	Registry     string    `json:"registry"`
	RegistryName string    `json:"registryName"`
	Principal    string    `json:"principal"`
	Repository   string    `json:"repository"`
	Action       string    `json:"action"`
	Allowed      bool      `json:"allowed"`
	Client       string    `json:"client"`
	RequestID    string    `json:"requestId"`
}

// auditList runs `cerulean audit list` on the server's data directory.
func auditList(t *testing.T, s *testserver.Server, args ...string) []event {
	t.Helper()
	out, err := s.Run(t, append([]string{"audit", "list", "--data", s.DataDir, "-o", "json", "--limit", "0"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var events []event
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("audit list output is not a JSON array: %v\n%s", err, out)
	}
	return events
}

// awaitEvents polls `audit list` (events are written in the background, within about a
// second) until every predicate matches some event, and returns the events of the last
// poll.
func awaitEvents(t *testing.T, s *testserver.Server, want map[string]func(event) bool) []event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		events := auditList(t, s)
		var missing []string
		for name, match := range want {
			found := false
			for _, e := range events {
				found = found || match(e)
			}
			if !found {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit events never appeared: %s\nlog:\n%s", strings.Join(missing, ", "), dump(events))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func dump(events []event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "  %+v\n", e)
	}
	return b.String()
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, u string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// push uploads a one-layer image to repo:tag with c.
func push(t *testing.T, s *testserver.Server, c *http.Client, repo, tag string) {
	t.Helper()
	config, layer := []byte(`{}`), []byte("audit layer "+repo)
	for _, blob := range [][]byte{config, layer} {
		resp, _ := do(t, c, http.MethodPost, s.URL+"/v2/"+repo+"/blobs/uploads/", nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("start upload: %s", resp.Status)
		}
		loc, err := resp.Location()
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		q.Set("digest", digest.FromBytes(blob).String())
		loc.RawQuery = q.Encode()
		if resp, b := do(t, c, http.MethodPut, loc.String(), blob, "Content-Type", "application/octet-stream"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("finish upload: %s %s", resp.Status, b)
		}
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer))
	resp, b := do(t, c, http.MethodPut, s.URL+"/v2/"+repo+"/manifests/"+tag, []byte(manifest),
		"Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest: %s %s", resp.Status, b)
	}
}

func pullManifest(t *testing.T, s *testserver.Server, c *http.Client, repo, tag string, header ...string) *http.Response {
	t.Helper()
	header = append(header, "Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, _ := do(t, c, http.MethodGet, s.URL+"/v2/"+repo+"/manifests/"+tag, nil, header...)
	return resp
}

func basic(user, password string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

// TestAuditTrail: a pull with the owner's credentials, a wrong password and an anonymous
// request to a private repository all reach the audit log, which `cerulean audit list`
// reads and filters while the server runs.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	boot := readBootstrap(t, s)
	const repo = "team/app"
	owner := "entra:" + boot.TenantID + "/" + boot.OwnerObjectID
	start := time.Now()

	push(t, s, s.Client, repo, "v1")
	pulled := pullManifest(t, s, s.Client, repo, "v1")
	if pulled.StatusCode != http.StatusOK {
		t.Fatalf("pull as the owner: %s", pulled.Status)
	}
	pullID := pulled.Header.Get("X-Request-Id")
	const wrongPassword = "wrong-password-for-the-audit-test"
	if resp := pullManifest(t, s, s.Anonymous, repo, "v1", "Authorization", basic(boot.ClientID, wrongPassword)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pull with a wrong password: %s", resp.Status)
	}
	if resp := pullManifest(t, s, s.Anonymous, repo, "v1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous pull of a private repository: %s", resp.Status)
	}

	common := func(e event) bool {
		return e.Repository == repo && e.Action == "pull" && e.Client == "127.0.0.1" &&
			e.RegistryName == boot.RegistryName && len(e.Registry) == 32 && e.RequestID != "" &&
			!e.Time.Before(start.Add(-time.Second)) && !e.Time.After(time.Now().Add(time.Second))
	}
	events := awaitEvents(t, s, map[string]func(event) bool{
		"owner's pull allowed": func(e event) bool {
			return common(e) && e.Principal == owner && e.Allowed && e.RequestID == pullID
		},
		"owner's push allowed": func(e event) bool {
			return e.Principal == owner && e.Repository == repo && e.Action == "pull,push" && e.Allowed
		},
		"wrong password denied": func(e event) bool {
			return common(e) && e.Principal == "unverified:"+boot.ClientID && !e.Allowed
		},
		"anonymous denied": func(e event) bool { return common(e) && e.Principal == "anonymous" && !e.Allowed },
	})
	for i := 1; i < len(events); i++ {
		if events[i].Time.After(events[i-1].Time) {
			t.Errorf("audit list not newest first at %d:\n%s", i, dump(events))
			break
		}
	}
	for _, e := range events {
		if strings.Contains(fmt.Sprint(e), wrongPassword) || strings.Contains(fmt.Sprint(e), boot.ClientSecret) {
			t.Errorf("audit event holds a secret: %+v", e)
		}
	}

	// Filters.
	denied := auditList(t, s, "--denied", "--registry", strings.ToUpper(boot.RegistryName))
	if len(denied) < 2 {
		t.Errorf("--denied: %d events, want the 2 denials:\n%s", len(denied), dump(denied))
	}
	for _, e := range denied {
		if e.Allowed {
			t.Errorf("--denied lists an allowed event: %+v", e)
		}
	}
	if got := auditList(t, s, "--principal", "anonymous", "--repository", repo, "--since", "1h"); len(got) != 1 || got[0].Principal != "anonymous" {
		t.Errorf("--principal anonymous --repository %s: %s", repo, dump(got))
	}
	if got := auditList(t, s, "--principal", owner, "--limit", "1"); len(got) != 1 || got[0].Principal != owner {
		t.Errorf("--principal owner --limit 1: %s", dump(got))
	}
	if got := auditList(t, s, "--until", start.Add(-time.Hour).Format(time.RFC3339)); len(got) != 0 {
		t.Errorf("--until an hour before the test: %s", dump(got))
	}
	table, err := s.Run(t, "audit", "list", "--data", s.DataDir, "--denied")
	if err != nil || !strings.Contains(table, "PRINCIPAL") || !strings.Contains(table, "denied") || !strings.Contains(table, boot.RegistryName) {
		t.Errorf("audit list as a table: %v\n%s", err, table)
	}
	if _, err := s.Run(t, "audit", "list", "--data", s.DataDir, "--registry", "no-such-registry"); err == nil {
		t.Error("audit list --registry of an unknown registry succeeded")
	}
}

// TestEventsSurviveShutdown: what is buffered when the server stops gracefully is
// written before it exits.
func TestEventsSurviveShutdown(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	for range 20 {
		pullManifest(t, s, s.Anonymous, "private/repo", "latest")
	}
	s.Stop(t)
	if got := auditList(t, s, "--principal", "anonymous", "--repository", "private/repo"); len(got) != 20 {
		t.Errorf("after a graceful stop: %d anonymous events, want 20:\n%s", len(got), dump(got))
	}
}

// TestNoSecretsInLogs signs in every way a client can and checks that the server's
// output (stdout and stderr, at debug level) holds none of the secrets presented or
// issued: the bootstrap owner's client secret, a repository token's password, wrong
// passwords, and every JWT (ACR refresh and access tokens, the Entra access token).
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, "--log-level", "debug")
	boot := readBootstrap(t, s)
	secrets := map[string]string{"bootstrap client secret": boot.ClientSecret}
	const repo = "team/secret"
	push(t, s, s.Client, repo, "v1")

	// A repository token, created with the management CLI, whose passwords are shown once.
	out, err := s.Run(t, "token", "create", "--data", s.DataDir, "-n", "audittoken", "-r", boot.RegistryName,
		"--scope-map", "_repositories_pull")
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Properties struct {
			Credentials struct {
				Passwords []struct{ Value string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || len(tok.Properties.Credentials.Passwords) == 0 {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	for i, p := range tok.Properties.Credentials.Passwords {
		secrets[fmt.Sprint("token password ", i+1)] = p.Value
	}
	tokenPassword := tok.Properties.Credentials.Passwords[0].Value
	secrets["wrong password"] = "wrong-password-that-must-not-be-logged"

	tokenURL := s.URL + "/oauth2/token"
	service := url.QueryEscape(s.Host)
	scope := url.QueryEscape("repository:" + repo + ":pull")
	form := func(kv ...string) []byte {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return []byte(v.Encode())
	}
	formType := []string{"Content-Type", "application/x-www-form-urlencoded"}
	tokenAnswer := func(what, method, u string, body []byte, header ...string) (access, refresh string) {
		t.Helper()
		resp, body := do(t, s.Anonymous, method, u, body, header...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %s", what, resp.Status, body)
		}
		var v struct{ AccessToken, RefreshToken string }
		if err := json.Unmarshal(body, &struct {
			A *string `json:"access_token"`
			R *string `json:"refresh_token"`
		}{&v.AccessToken, &v.RefreshToken}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if v.AccessToken != "" {
			secrets[what+" access token"] = v.AccessToken
		}
		if v.RefreshToken != "" {
			secrets[what+" refresh token"] = v.RefreshToken
		}
		return v.AccessToken, v.RefreshToken
	}

	// The Docker token flow with the owner's Basic credentials (offline: a refresh token too).
	ownerAccess, ownerRefresh := tokenAnswer("GET /oauth2/token as the owner", http.MethodGet,
		tokenURL+"?service="+service+"&scope="+scope+"&offline_token=true", nil, "Authorization", basic(boot.ClientID, boot.ClientSecret))
	// The OAuth2 form flow: a password grant with the repository token, then a refresh grant.
	tokenTokenAccess, _ := tokenAnswer("POST /oauth2/token as the repository token", http.MethodPost, tokenURL,
		form("grant_type", "password", "service", s.Host, "scope", "repository:"+repo+":pull", "username", "audittoken", "password", tokenPassword), formType...)
	tokenAnswer("POST /oauth2/token with the refresh token", http.MethodPost, tokenURL,
		form("grant_type", "refresh_token", "service", s.Host, "scope", "repository:"+repo+":pull", "refresh_token", ownerRefresh), formType...)
	// Refused sign-ins at the token endpoint.
	if resp, _ := do(t, s.Anonymous, http.MethodGet, tokenURL+"?service="+service+"&scope="+scope, nil,
		"Authorization", basic("audittoken", secrets["wrong password"])); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token endpoint with a wrong password: %s", resp.Status)
	}
	if resp, _ := do(t, s.Anonymous, http.MethodPost, tokenURL, form("grant_type", "refresh_token", "service", s.Host,
		"refresh_token", ownerAccess+"x"), formType...); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("refresh grant with a mangled token: %s", resp.Status)
	}

	// An Entra access token from the identity plane, exchanged for an ACR refresh token.
	entra, _ := tokenAnswer("Entra client credentials", http.MethodPost, s.URL+"/"+boot.TenantID+"/oauth2/v2.0/token",
		form("grant_type", "client_credentials", "client_id", boot.ClientID, "client_secret", boot.ClientSecret,
			"scope", "https://containerregistry.azure.net/.default"), formType...)
	_, exchanged := tokenAnswer("POST /oauth2/exchange", http.MethodPost, s.URL+"/oauth2/exchange",
		form("grant_type", "access_token", "service", s.Host, "tenant", boot.TenantID, "access_token", entra), formType...)
	if entra == "" || exchanged == "" {
		t.Fatal("no Entra access token, or no refresh token for it")
	}

	// Every credential on /v2: Basic (owner, repository token, refresh token under the
	// null GUID), Bearer access tokens, and refusals.
	const nullGUID = "00000000-0000-0000-0000-000000000000"
	for name, authz := range map[string]string{
		"owner basic":           basic(boot.ClientID, boot.ClientSecret),
		"token basic":           basic("audittoken", tokenPassword),
		"refresh under null":    basic(nullGUID, exchanged),
		"owner bearer":          "Bearer " + ownerAccess,
		"token bearer":          "Bearer " + tokenTokenAccess,
		"wrong password basic":  basic(boot.ClientID, secrets["wrong password"]),
		"mangled bearer":        "Bearer " + ownerAccess[:len(ownerAccess)-4],
		"entra token as bearer": "Bearer " + entra,
	} {
		if resp := pullManifest(t, s, s.Anonymous, repo, "v1", "Authorization", authz); resp.StatusCode != http.StatusOK &&
			resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("pull with %s: %s", name, resp.Status)
		}
	}
	events := awaitEvents(t, s, map[string]func(event) bool{
		"repository token pull": func(e event) bool { return e.Principal == "token:audittoken" && e.Allowed },
		"refused credential":    func(e event) bool { return strings.HasPrefix(e.Principal, "unverified:") && !e.Allowed },
	})
	s.Stop(t)

	logs := s.Output()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, "token request refused") {
		t.Fatalf("the server's output lacks its request log; is it captured?\n%s", logs)
	}
	listed, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range secrets {
		if len(secret) < 16 {
			t.Fatalf("%s %q is too short to search for", name, secret)
		}
		parts := []string{secret}
		if sections := strings.Split(secret, "."); len(sections) == 3 { // a JWT: its signature alone is as good
			parts = append(parts, sections[2])
		}
		for _, p := range parts {
			if strings.Contains(logs, p) {
				t.Errorf("the server's output holds the %s", name)
			}
			if bytes.Contains(listed, []byte(p)) {
				t.Errorf("the audit log holds the %s", name)
			}
		}
	}
}
