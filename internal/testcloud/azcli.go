package testcloud

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// AzureCLI runs Debian's Azure CLI (azure-cli 2.45) against a Cloud: a private config
// directory, the server's CA through REQUESTS_CA_BUNDLE, telemetry off (its detached
// process can write azureProfile.json back after `az login` saved it), and the server
// registered and selected as the custom cloud "cerulean" (lower case: az stores the
// active cloud under a lower-cased name). az reads the authority from the server's
// /metadata/endpoints, the ADFS-style one it can reach offline (acr-protocol.md §8).
type AzureCLI struct {
	env []string
	dir string
}

// RequireAzureCLI skips the test when az is not installed, except in CI (CI=true), where
// scripts/install-test-deps.sh installs it and its absence is a failure.
func RequireAzureCLI(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("az"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("az (Debian package azure-cli) is not installed; scripts/install-test-deps.sh installs it")
		}
		t.Skip("az (Debian package azure-cli) is not installed; run scripts/install-test-deps.sh")
	}
}

// NewAzureCLI prepares az for c (RequireAzureCLI first): it registers the custom cloud,
// with registries' login servers under acrSuffix (such as ".localhost"), and selects it.
func NewAzureCLI(t testing.TB, c *Cloud, acrSuffix string) *AzureCLI {
	t.Helper()
	RequireAzureCLI(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AZURE_") && !strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") {
			env = append(env, kv)
		}
	}
	a := &AzureCLI{dir: t.TempDir(), env: append(env, "AZURE_CONFIG_DIR="+t.TempDir(), "REQUESTS_CA_BUNDLE="+c.Srv.CAFile,
		"AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_NO_COLOR=true", "AZURE_CORE_ONLY_SHOW_ERRORS=true")}
	for _, args := range [][]string{
		{"cloud", "register", "-n", "cerulean", "--endpoint-resource-manager", c.Srv.URL + "/", "--suffix-acr-login-server-endpoint", acrSuffix},
		{"cloud", "set", "-n", "cerulean"},
	} {
		if _, stderr, err := a.Run(t.Context(), args...); err != nil {
			t.Fatalf("az %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
	}
	return a
}

// Login signs az in as a service principal of c's tenant. The tenant is passed as its
// GUID: with `--tenant adfs`, az 2.45 first fetches .../adfs/adfs/.well-known/... and
// wants an issuer naming the tenant; for an ADFS authority it discards the tenant anyway.
func (a *AzureCLI) Login(t testing.TB, c *Cloud, clientID, secret string) {
	t.Helper()
	args := []string{"login", "--service-principal", "-u", clientID, "-p", secret, "--tenant", c.Boot.TenantID, "-o", "none"}
	if _, stderr, err := a.Run(t.Context(), args...); err != nil {
		t.Fatalf("az login: %v\n%s", err, stderr)
	}
}

// Run runs az with args (bounded to two minutes) and returns its standard output and
// standard error.
func (a *AzureCLI) Run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "az", args...)
	cmd.Env, cmd.Dir = a.env, a.dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return strings.TrimSpace(out.String()), errOut.String(), err
}
