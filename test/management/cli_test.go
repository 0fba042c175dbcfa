package management

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestCLI drives the cerulean CLI's management verbs against a server, signed in from
// the server's data directory (the bootstrap principal), and with AZURE_* variables as a
// principal that may not manage registries.
func TestCLI(t *testing.T) {
	t.Parallel()
	f := start(t)
	reg := "cliRegistry01"

	jsonOf := func(out string) map[string]any {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("output is not a JSON object: %v\n%s", err, out)
		}
		return v
	}
	path := func(v any, keys ...string) any {
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}

	if out := f.mustCLI("registry", "list", "-o", "table"); !strings.Contains(out, "LOGIN SERVER") || !strings.Contains(out, f.srv.Host) {
		t.Errorf("registry list -o table:\n%s", out)
	}
	created := jsonOf(f.mustCLI("registry", "create", "-n", reg, "--sku", "Premium"))
	if ls, _ := path(created, "properties", "loginServer").(string); !strings.HasPrefix(ls, "cliregistry01.localhost:") {
		t.Errorf("created login server %q", ls)
	}
	updated := jsonOf(f.mustCLI("registry", "update", "-n", reg, "--admin-enabled", "true", "--anonymous-pull-enabled", "true",
		"--role-assignment-mode", "rbac-abac", "--aad-auth-as-arm", "disabled"))
	if path(updated, "properties", "anonymousPullEnabled") != true || path(updated, "properties", "roleAssignmentMode") != "AbacRepositoryPermissions" ||
		path(updated, "properties", "policies", "azureADAuthenticationAsArmPolicy", "status") != "disabled" {
		t.Errorf("registry update: %v", updated["properties"])
	}
	if shown := jsonOf(f.mustCLI("registry", "show", "-n", strings.ToUpper(reg))); path(shown, "properties", "adminUserEnabled") != true {
		t.Errorf("registry show: %v", shown["properties"])
	}

	creds := jsonOf(f.mustCLI("credential", "show", "-n", reg))
	renewed := jsonOf(f.mustCLI("credential", "renew", "-n", reg, "--password-name", "password2"))
	pw := func(v map[string]any, i int) string {
		p, _ := v["passwords"].([]any)
		m, _ := p[i].(map[string]any)
		s, _ := m["value"].(string)
		return s
	}
	if pw(creds, 0) == "" || pw(creds, 0) != pw(renewed, 0) || pw(creds, 1) == pw(renewed, 1) {
		t.Errorf("credential renew password2 must keep password and change password2: %v / %v", creds, renewed)
	}

	f.mustCLI("scope-map", "create", "-n", "readers", "-r", reg, "--repository", "samples/*=content/read,metadata/read", "--description", "CI")
	if _, err := f.cli("scope-map", "create", "-n", "badmap1", "-r", reg, "--repository", "samples=content/pull"); err == nil ||
		!strings.Contains(err.Error(), "InvalidParameter") {
		t.Errorf("scope-map create with a malformed action: %v", err)
	}
	f.mustCLI("scope-map", "update", "-n", "readers", "-r", reg, "--add-repository", "hello=content/write")
	if out := f.mustCLI("scope-map", "list", "-r", reg, "-o", "table"); !strings.Contains(out, "readers") ||
		!strings.Contains(out, "_repositories_admin") || !strings.Contains(out, "repositories/hello/content/write") {
		t.Errorf("scope-map list:\n%s", out)
	}

	tok := jsonOf(f.mustCLI("token", "create", "-n", "ciToken", "-r", reg, "--scope-map", "readers", "--expiration-in-days", "1"))
	passwords, _ := path(tok, "properties", "credentials", "passwords").([]any)
	if len(passwords) != 2 {
		t.Fatalf("token create shows passwords %v", passwords)
	}
	for _, p := range passwords {
		if v, _ := p.(map[string]any)["value"].(string); len(v) != 52 {
			t.Errorf("token create: password %v", p)
		}
	}
	f.mustCLI("token", "update", "-n", "ciToken", "-r", reg, "--status", "disabled")
	if out := f.mustCLI("token", "list", "-r", reg, "-o", "table"); !strings.Contains(out, "ciToken") || !strings.Contains(out, "disabled") {
		t.Errorf("token list:\n%s", out)
	}
	if gen := jsonOf(f.mustCLI("token", "credential", "generate", "-n", "ciToken", "-r", reg, "--password2")); len(gen["passwords"].([]any)) != 1 {
		t.Errorf("token credential generate --password2: %v", gen)
	}
	if shown := f.mustCLI("token", "show", "-n", "ciToken", "-r", reg); strings.Contains(shown, `"value"`) {
		t.Errorf("token show shows a password value:\n%s", shown)
	}

	pusher := f.newPrincipal("cli-pusher")
	assignment := jsonOf(f.mustCLI("role", "assignment", "create", "--assignee", pusher.objectID, "--role", "AcrPush", "-r", reg))
	if out := f.mustCLI("role", "assignment", "list", "-r", reg, "--assignee", pusher.objectID, "-o", "table"); !strings.Contains(out, pusher.objectID) {
		t.Errorf("role assignment list:\n%s", out)
	}
	// Signed in through AZURE_* as the pusher (AcrPush): no management rights.
	out, err := runAs(t, f, pusher, "registry", "update", "-n", reg, "-g", f.boot.ResourceGroup, "--admin-enabled", "false")
	if err == nil || !strings.Contains(err.Error(), "AuthorizationFailed") {
		t.Errorf("registry update as an AcrPush principal: %v\n%s", err, out)
	}
	f.mustCLI("role", "assignment", "delete", "--ids", assignment["id"].(string))

	if out := f.mustCLI("registry", "network-rule", "add", "-n", reg, "--ip-address", "10.0.0.0/8"); !strings.Contains(out, "10.0.0.0/8") {
		t.Errorf("network-rule add:\n%s", out)
	}
	f.mustCLI("group", "create", "-n", "team-b")
	if out := f.mustCLI("group", "list", "-o", "table"); !strings.Contains(out, "team-b") {
		t.Errorf("group list:\n%s", out)
	}
	f.mustCLI("group", "delete", "-n", "team-b")
	if out := f.mustCLI("activity-log", "list", "-o", "table"); !strings.Contains(out, "Microsoft.ContainerRegistry/registries/write") ||
		!strings.Contains(out, "Failed") || !strings.Contains(out, pusher.objectID) {
		t.Errorf("activity-log list:\n%s", out)
	}
	f.mustCLI("token", "delete", "-n", "ciToken", "-r", reg)
	f.mustCLI("registry", "delete", "-n", reg)
	if _, err := f.cli("registry", "show", "-n", reg); err == nil {
		t.Error("registry show after delete succeeded")
	}
}

// runAs runs the CLI signed in through AZURE_* variables as p.
func runAs(t *testing.T, f *fixture, p principal, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testserver.Binary(t), append(args, "--server", f.srv.URL, "--ca-file", f.srv.CAFile,
		"--subscription", f.boot.SubscriptionID, "--data", t.TempDir())...)
	cmd.Env = append(os.Environ(), "AZURE_TENANT_ID="+f.boot.TenantID, "AZURE_CLIENT_ID="+p.clientID, "AZURE_CLIENT_SECRET="+p.secret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return string(out), nil
}
