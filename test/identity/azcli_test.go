package identity_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAzureCLI signs Debian's Azure CLI (2.45, MSAL Python 1.21) in through the
// ADFS-style authority, the one it can reach offline (acr-protocol.md §8): a service
// principal, a user with a password, and a user with a device code. Each gets ARM and ACR
// tokens that verify against the JWKS. `az login` then lists subscriptions (the
// management plane's GET /subscriptions): --allow-no-subscriptions keeps the test to the
// identity plane whether or not the bootstrap subscription is listed.
func TestAzureCLI(t *testing.T) {
	if _, err := exec.LookPath("az"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("az not found: scripts/install-test-deps.sh installs Debian's azure-cli")
		}
		t.Skip("az not found: run scripts/install-test-deps.sh to install Debian's azure-cli")
	}
	f := start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	host := strings.TrimPrefix(f.srv.URL, "https://")
	env := azEnv(t.TempDir(), f.srv.CAFile)
	az := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "az", args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("az %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return string(out)
	}
	az("cloud", "register", "-n", "cerulean", "--endpoint-resource-manager", f.srv.URL+"/",
		"--endpoint-active-directory", f.srv.URL+"/adfs",
		"--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
		"--suffix-acr-login-server-endpoint", "."+host)
	az("cloud", "set", "-n", "cerulean")

	// tokens checks what `az account get-access-token` returns for ARM and ACR.
	tokens := func(t *testing.T, wantOID string) map[string]any {
		t.Helper()
		var arm, acr struct {
			AccessToken string `json:"accessToken"`
		}
		if err := json.Unmarshal([]byte(az("account", "get-access-token")), &arm); err != nil {
			t.Fatal(err)
		}
		claims := f.verify(t, arm.AccessToken, "https://management.core.windows.net/")
		if claims["oid"] != wantOID {
			t.Errorf("ARM token for %v, want %s", claims["oid"], wantOID)
		}
		if err := json.Unmarshal([]byte(az("account", "get-access-token", "--resource", acrAud)), &acr); err != nil {
			t.Fatal(err)
		}
		f.verify(t, acr.AccessToken, acrAud)
		return claims
	}

	t.Run("service principal", func(t *testing.T) {
		az("login", "--service-principal", "-u", f.boot.ClientID, "-p", f.boot.ClientSecret, "--tenant", "adfs", "--allow-no-subscriptions")
		tokens(t, f.boot.OwnerObjectID)
		az("logout")
	})

	var user struct {
		ID string `json:"id"`
	}
	f.cli(t, &user, "user", "create", "ann@example.com", "--password", "correct horse battery")

	t.Run("user password", func(t *testing.T) {
		az("login", "-u", "ann@example.com", "-p", "correct horse battery", "--tenant", "adfs", "--allow-no-subscriptions")
		if claims := tokens(t, user.ID); claims["upn"] != "ann@example.com" || claims["idtyp"] != "user" {
			t.Errorf("user claims %v", claims)
		}
		az("logout")
	})

	// Without --tenant az signs in through the authority's common tenant, lists the
	// account's tenants (the management plane's GET /tenants) and looks for
	// subscriptions in each.
	t.Run("user password, no tenant", func(t *testing.T) {
		az("login", "-u", "ann@example.com", "-p", "correct horse battery", "--allow-no-subscriptions")
		var account struct {
			TenantID string `json:"tenantId"`
		}
		if err := json.Unmarshal([]byte(az("account", "show")), &account); err != nil {
			t.Fatal(err)
		}
		if account.TenantID != f.boot.TenantID {
			t.Errorf("account in tenant %q, want %q", account.TenantID, f.boot.TenantID)
		}
		tokens(t, user.ID)
		az("logout")
	})

	t.Run("device code", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, "az", "login", "--use-device-code", "--tenant", "adfs", "--allow-no-subscriptions")
		cmd.Env = env
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		code, rest := userCode(t, stderr)
		// The user signs in on the device-login page.
		resp, err := f.srv.Client.PostForm(f.srv.URL+"/devicelogin", url.Values{"otc": {code},
			"username": {"ann@example.com"}, "password": {"correct horse battery"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("device login page: %s", resp.Status)
		}
		// Wait only once the rest of standard error is read (os/exec.Cmd.StderrPipe).
		restOut := rest()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("az login --use-device-code: %v\n%s%s", err, stdout.String(), restOut)
		}
		tokens(t, user.ID)
	})
}

// userCode reads az's prompt from its standard error and returns the code, and a function
// that returns the rest of standard error once az closed it.
func userCode(t *testing.T, stderr io.Reader) (string, func() string) {
	t.Helper()
	re := regexp.MustCompile(`enter the code ([A-Z0-9]+)`)
	r := bufio.NewReader(stderr)
	var seen bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		seen.WriteString(line)
		if m := re.FindStringSubmatch(line); m != nil {
			var rest bytes.Buffer
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(&rest, r)
				close(done)
			}()
			return m[1], func() string { <-done; return rest.String() }
		}
		if err != nil {
			t.Fatalf("no device code in az's output: %v\n%s", err, seen.String())
		}
	}
}

// azEnv is the environment for az: the process's, without Azure settings that would
// steer it elsewhere, with a private config directory and the server's CA.
func azEnv(configDir, caFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AZURE_") && !strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") {
			env = append(env, kv)
		}
	}
	return append(env, "AZURE_CONFIG_DIR="+configDir, "REQUESTS_CA_BUNDLE="+caFile,
		"AZURE_CORE_COLLECT_TELEMETRY=0", "AZURE_CORE_NO_COLOR=1")
}
