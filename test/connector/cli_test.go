package connector

import (
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/diagnose"
)

// addOwner saves the bootstrap owner as connection name through the CLI, its secret on
// standard input.
func (f *fixture) addOwner(t *testing.T, e *cliEnv, name, secret string, extra ...string) string {
	t.Helper()
	args := append([]string{"connect", "add", name, "--server", f.Srv.URL, "--ca-file", f.Srv.CAFile,
		"--kind", "service-principal-secret", "--tenant", f.Boot.TenantID, "--client-id", f.Boot.ClientID,
		"--secret-stdin", "--registry", f.host}, extra...)
	return e.mustRun(t, secret+"\n", args...)
}

// TestConnectCLI drives `cerulean connect`: add, list, show, test (text and JSON, and
// its exit status), rotate and remove; secrets never appear in any output or in the
// store's file.
func TestConnectCLI(t *testing.T) {
	f := start(t)
	f.push(t, f.host, "samples/hello", "v1")
	e := newCLIEnv(t)
	var outputs strings.Builder

	outputs.WriteString(f.addOwner(t, e, "owner", f.Boot.ClientSecret))
	outputs.WriteString(f.addOwner(t, e, "broken", "wrong-secret"))
	if _, _, err := e.run(t, f.Boot.ClientSecret+"\n", "connect", "add", "owner", "--server", f.Srv.URL, "--kind", "service-principal-secret",
		"--tenant", f.Boot.TenantID, "--client-id", f.Boot.ClientID, "--secret-stdin"); err == nil {
		t.Error("a second connection named owner was added")
	}

	list := e.mustRun(t, "", "connect", "list", "-o", "table")
	outputs.WriteString(list)
	if !strings.Contains(list, "owner") || !strings.Contains(list, "broken") || !strings.Contains(list, "service-principal-secret") {
		t.Errorf("list:\n%s", list)
	}
	show := e.mustRun(t, "", "connect", "show", "owner")
	outputs.WriteString(show)
	var c connector.Connection
	if err := json.Unmarshal([]byte(show), &c); err != nil || c.Cloud.AuthorityHost != f.Srv.URL+"/" || c.Credential.ClientID != f.Boot.ClientID {
		t.Errorf("show: %v\n%s", err, show)
	}

	// A passing test, as JSON.
	out := e.mustRun(t, "", "connect", "test", "owner", "-o", "json")
	outputs.WriteString(out)
	var rep diagnose.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || len(rep.Steps) != 8 {
		t.Fatalf("test owner: %v\n%s", err, out)
	}
	// A failing one, as text: exit status 1 and the code in both the report and the error.
	out, errOut, err := e.run(t, "", "connect", "test", "broken")
	outputs.WriteString(out + errOut)
	if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(out, "FAIL  signin     SIGNIN_INVALID_SECRET") ||
		!strings.Contains(errOut, "SIGNIN_INVALID_SECRET") {
		t.Errorf("test broken: %v\n%s%s", err, out, errOut)
	}
	// Rotating the secret fixes it.
	e.mustRun(t, f.Boot.ClientSecret+"\n", "connect", "rotate", "broken", "--secret-stdin")
	out = e.mustRun(t, "", "connect", "test", "broken")
	outputs.WriteString(out)
	if !strings.Contains(out, "all steps passed") {
		t.Errorf("after rotate:\n%s", out)
	}
	e.mustRun(t, "", "connect", "remove", "broken")
	if list := e.mustRun(t, "", "connect", "list"); strings.Contains(list, "broken") {
		t.Errorf("removed connection still listed:\n%s", list)
	}
	if strings.Contains(outputs.String(), f.Boot.ClientSecret) {
		t.Error("a secret was printed")
	}
	stored := readFile(t, e.store+"/connections.json")
	if strings.Contains(stored, f.Boot.ClientSecret) || !strings.Contains(stored, "sealedSecrets") {
		t.Errorf("the store holds the secret in clear or not at all:\n%s", stored)
	}
	// Another key cannot open the vault.
	other := *e
	other.key = newCLIEnv(t).key
	if _, errOut, err := other.run(t, "", "connect", "test", "owner"); err == nil || !strings.Contains(errOut, "different key") {
		t.Errorf("wrong key: %v %s", err, errOut)
	}
}

// TestTokenGenerate: `cerulean token generate` returns a refresh token, or an access
// token for several repositories, with its expiry from the JWT; go-containerregistry
// pulls with them, and with the dockerconfigjson Secret's credentials.
func TestTokenGenerate(t *testing.T) {
	f := start(t)
	f.push(t, f.host, "samples/hello", "v1")
	f.push(t, f.host, "samples/world", "v1")
	f.push(t, f.host, "private/app", "v1")
	e := newCLIEnv(t)
	f.addOwner(t, e, "owner", f.Boot.ClientSecret)

	var refresh struct {
		Registry, Username, Password, Kind, ExpiresAt string
		Scopes                                        []string
	}
	out := e.mustRun(t, "", "token", "generate", "owner", "--registry", f.host)
	if err := json.Unmarshal([]byte(out), &refresh); err != nil {
		t.Fatal(err)
	}
	claims, err := connector.DecodeClaims(refresh.Password)
	if err != nil || refresh.Kind != "refresh_token" || refresh.Username != connector.NullGUID || refresh.Registry != f.host ||
		refresh.ExpiresAt != time.Unix(claims.Expiry, 0).UTC().Format(time.RFC3339) || claims.Grant != "refresh_token" {
		t.Fatalf("refresh: %v %+v %+v", err, refresh, claims)
	}
	basic := func(user, pw string) remote.Option {
		return remote.WithAuth(&authn.Basic{Username: user, Password: pw})
	}
	if err := f.pull(t, f.host+"/private/app:v1", basic(refresh.Username, refresh.Password)); err != nil {
		t.Errorf("pull with the refresh token: %v", err)
	}
	// As docker stores it after az acr login: an identity token.
	if err := f.pull(t, f.host+"/samples/hello:v1", remote.WithAuth(authn.FromConfig(authn.AuthConfig{IdentityToken: refresh.Password}))); err != nil {
		t.Errorf("pull with the refresh token as identity token: %v", err)
	}

	var access struct {
		Username, Password, Kind, ExpiresAt string
		Scopes                              []string
	}
	out = e.mustRun(t, "", "token", "generate", "owner", "--registry", f.host,
		"--scope", "repository:samples/hello:pull", "--scope", "repository:samples/world:pull")
	if err := json.Unmarshal([]byte(out), &access); err != nil {
		t.Fatal(err)
	}
	claims, _ = connector.DecodeClaims(access.Password)
	tok := connector.Token{Access: claims.Access}
	if access.Kind != "access_token" || len(access.Scopes) != 2 || !tok.Grants("repository", "samples/hello", "pull") ||
		!tok.Grants("repository", "samples/world", "pull") || tok.Grants("repository", "private/app", "pull") ||
		access.ExpiresAt != time.Unix(claims.Expiry, 0).UTC().Format(time.RFC3339) {
		t.Fatalf("access: %+v %+v", access, claims)
	}
	for _, repo := range []string{"samples/hello", "samples/world"} {
		if err := f.pull(t, f.host+"/"+repo+":v1", basic(access.Username, access.Password)); err != nil {
			t.Errorf("pull %s with the access token: %v", repo, err)
		}
	}
	if err := f.pull(t, f.host+"/private/app:v1", basic(access.Username, access.Password)); err == nil {
		t.Error("the scoped access token pulled a repository outside its scopes")
	}

	// A repository-scoped token's connection: Basic sign-in, the same outputs.
	pw := f.repositoryToken(t, f.Boot.RegistryName, "ci-puller", "repositories/samples/hello/content/read")
	e.mustRun(t, pw+"\n", "connect", "add", "ci", "--server", f.Srv.URL, "--ca-file", f.Srv.CAFile, "--kind", "repository-token",
		"-u", "ci-puller", "--password-stdin", "--registry", f.host)
	for _, args := range [][]string{nil, {"--scope", "repository:samples/hello:pull"}} {
		var gen struct{ Username, Password, Kind string }
		out := e.mustRun(t, "", append([]string{"token", "generate", "ci"}, args...)...)
		if err := json.Unmarshal([]byte(out), &gen); err != nil {
			t.Fatal(err)
		}
		if err := f.pull(t, f.host+"/samples/hello:v1", basic(gen.Username, gen.Password)); err != nil {
			t.Errorf("pull with the token's %s: %v", gen.Kind, err)
		}
		if strings.Contains(out, pw) {
			t.Error("token generate printed the token's password")
		}
	}

	// The Kubernetes Secret.
	out = e.mustRun(t, "", "token", "generate", "owner", "--registry", f.host, "--scope", "repository:samples/hello:pull",
		"-o", "dockerconfigjson", "--secret-name", "acr", "--namespace", "scanning")
	var secret struct {
		Type     string
		Metadata struct {
			Name, Namespace string
			Annotations     map[string]string
		}
		Data map[string]string
	}
	if err := json.Unmarshal([]byte(out), &secret); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(secret.Data[".dockerconfigjson"])
	var cfg struct {
		Auths map[string]struct{ Username, Password, Auth string }
	}
	if err := json.Unmarshal(raw, &cfg); err != nil || secret.Type != "kubernetes.io/dockerconfigjson" || secret.Metadata.Name != "acr" ||
		secret.Metadata.Namespace != "scanning" || secret.Metadata.Annotations["cerulean.dev/expires-at"] == "" {
		t.Fatalf("secret: %v %s", err, out)
	}
	entry := cfg.Auths[f.host]
	if err := f.pull(t, f.host+"/samples/hello:v1", basic(entry.Username, entry.Password)); err != nil {
		t.Errorf("pull with the Secret's credentials: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := readAll(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
