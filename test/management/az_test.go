package management

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAzureCLI drives the real Azure CLI (Debian's azure-cli 2.45) against the server:
// a custom cloud whose endpoints come from /metadata/endpoints (the ADFS-style authority
// of acr-protocol.md §8), a service-principal login, then the `az acr` commands an
// administrator runs. It skips when az is missing, except in CI (CI=true), where
// scripts/install-test-deps.sh installs it and a missing az is a failure.
//
// Two facts of az 2.45 the steps depend on, found while writing this test:
//   - `--tenant adfs` makes `az login` first GET {authority}/adfs/.well-known/openid-configuration
//     (…/adfs/adfs/…) and demand 200 with an issuer whose fourth "/" segment is the tenant
//     id; passing the tenant's GUID skips that lookup, and for an ADFS authority az
//     discards the tenant anyway. The test passes the GUID.
//   - az's telemetry runs in a detached process that can write azureProfile.json back
//     after `az login` saved the subscriptions; AZURE_CORE_COLLECT_TELEMETRY=false keeps
//     it from clobbering them. A cloud name must be lower case (az stores the active
//     cloud under a lower-cased section and then cannot find "Cerulean").
func TestAzureCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("az"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("az (Debian package azure-cli) is not installed; scripts/install-test-deps.sh installs it")
		}
		t.Skip("az (Debian package azure-cli) is not installed; run scripts/install-test-deps.sh")
	}
	f := start(t)
	env := append(os.Environ(), "AZURE_CONFIG_DIR="+t.TempDir(), "REQUESTS_CA_BUNDLE="+f.srv.CAFile,
		"AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_ONLY_SHOW_ERRORS=true", "AZURE_CORE_NO_COLOR=true")
	az := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "az", args...)
		cmd.Env, cmd.Dir = env, t.TempDir()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("az %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return strings.TrimSpace(string(out)), err
	}
	query := func(want string, args ...string) {
		t.Helper()
		out, err := az(append(args, "-o", "tsv")...)
		if err == nil && out != want {
			t.Errorf("az %s = %q, want %q", strings.Join(args, " "), out, want)
		}
	}

	_, port, _ := strings.Cut(f.srv.Host, ":")
	steps := [][]string{
		{"cloud", "register", "-n", "cerulean", "--endpoint-resource-manager", f.srv.URL + "/", "--suffix-acr-login-server-endpoint", ".localhost"},
		{"cloud", "set", "-n", "cerulean"},
		{"login", "--service-principal", "-u", f.boot.ClientID, "-p", f.boot.ClientSecret, "--tenant", f.boot.TenantID, "-o", "none"},
	}
	for _, step := range steps {
		if _, err := az(step...); err != nil {
			t.FailNow()
		}
	}
	query(f.srv.URL+"/adfs", "cloud", "show", "--query", "endpoints.activeDirectory")
	query(f.boot.SubscriptionID, "account", "show", "--query", "id")

	query(f.boot.RegistryName, "acr", "list", "--query", "[].name")
	query(f.srv.Host, "acr", "show", "-n", f.boot.RegistryName, "--query", "loginServer")
	query("true", "acr", "update", "-n", f.boot.RegistryName, "--admin-enabled", "true", "--query", "adminUserEnabled")

	out, err := az("acr", "credential", "show", "-n", f.boot.RegistryName, "-o", "json")
	var creds struct {
		Username  string
		Passwords []struct{ Name, Value string }
	}
	if err == nil {
		if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.Username != f.boot.RegistryName || len(creds.Passwords) != 2 {
			t.Errorf("az acr credential show = %s (%v)", out, err)
		}
	}
	if out, err := az("acr", "credential", "renew", "-n", f.boot.RegistryName, "--password-name", "password2", "-o", "json"); err == nil && len(creds.Passwords) == 2 {
		if strings.Contains(out, creds.Passwords[1].Value) || !strings.Contains(out, creds.Passwords[0].Value) {
			t.Errorf("az acr credential renew --password-name password2 must change password2 only:\n%s", out)
		}
	}

	query("repositories/samples/content/read\nrepositories/samples/metadata/read", "acr", "scope-map", "create", "-n", "readers",
		"-r", f.boot.RegistryName, "--repository", "samples", "content/read", "metadata/read", "--query", "actions")
	out, err = az("acr", "token", "create", "-n", "citoken", "-r", f.boot.RegistryName, "--scope-map", "readers", "-o", "json")
	if err == nil {
		var tok struct {
			Status      string
			Credentials struct {
				Username  string
				Passwords []struct{ Name, Value string }
			}
		}
		if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Status != "enabled" || tok.Credentials.Username != "citoken" ||
			len(tok.Credentials.Passwords) != 2 || len(tok.Credentials.Passwords[0].Value) != 52 {
			t.Errorf("az acr token create = %s (%v)", out, err)
		}
	}

	// A registry of its own, with its login server derived from the name. (az 2.45 refuses
	// upper case in `acr create -n` with "Connected registry name must use only lowercase".)
	query("newregistry1.localhost:"+port, "acr", "create", "-n", "newregistry1", "-g", f.boot.ResourceGroup, "--sku", "Standard",
		"--query", "loginServer")
}
