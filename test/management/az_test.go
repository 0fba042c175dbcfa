package management

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// TestAzureCLI drives the real Azure CLI (Debian's azure-cli 2.45) against the server:
// a custom cloud whose endpoints come from /metadata/endpoints (the ADFS-style authority
// of acr-protocol.md §8), a service-principal login, then the `az acr` commands an
// administrator runs. It skips when az is missing, except in CI (CI=true), where
// scripts/install-test-deps.sh installs it and a missing az is a failure. The facts of
// az 2.45 that the cloud registration and login depend on are told in
// testcloud.AzureCLI.
func TestAzureCLI(t *testing.T) {
	t.Parallel()
	testcloud.RequireAzureCLI(t)
	f := start(t)
	cli := testcloud.NewAzureCLI(t, f.cloud, ".localhost")
	cli.Login(t, f.cloud, f.boot.ClientID, f.boot.ClientSecret)
	az := func(args ...string) (string, error) {
		t.Helper()
		out, stderr, err := cli.Run(t.Context(), args...)
		if err != nil {
			t.Errorf("az %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out, err
	}
	query := func(want string, args ...string) {
		t.Helper()
		out, err := az(append(args, "-o", "tsv")...)
		if err == nil && out != want {
			t.Errorf("az %s = %q, want %q", strings.Join(args, " "), out, want)
		}
	}

	_, port, _ := strings.Cut(f.srv.Host, ":")
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
