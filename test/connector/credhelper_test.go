package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// buildHelper builds docker-credential-cerulean into a directory of its own.
func buildHelper(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "docker-credential-cerulean"), "github.com/cerulean-registry/cerulean/cmd/docker-credential-cerulean")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build docker-credential-cerulean: %v\n%s", err, out)
	}
	return dir
}

// helper runs one credential-helper action with input on standard input.
func (e *cliEnv) helper(ctx context.Context, bin, action, input string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "docker-credential-cerulean"), action)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestCredentialHelper: `connect configure-docker` writes credHelpers; go-containerregistry's
// default keychain (what crane uses) runs docker-credential-cerulean from PATH and pulls;
// other hosts get "not found"; concurrent gets sign in once.
func TestCredentialHelper(t *testing.T) {
	f := start(t)
	f.push(t, f.host, "samples/hello", "v1")
	bin := buildHelper(t)
	e := newCLIEnv(t)
	f.addOwner(t, e, "owner", f.Boot.ClientSecret)

	dockerDir := t.TempDir()
	existing := `{"auths":{"other.example":{"auth":"dXNlcjpwYXNz"}},"credHelpers":{"gcr.io":"gcloud"}}`
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun(t, "", "connect", "configure-docker", "--docker-config", dockerDir)
	var cfg struct {
		Auths       map[string]any
		CredHelpers map[string]string
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dockerDir, "config.json"))), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.CredHelpers[f.host] != "cerulean" || cfg.CredHelpers["gcr.io"] != "gcloud" || cfg.Auths["other.example"] == nil {
		t.Fatalf("config.json after configure-docker: %+v", cfg)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	t.Run("protocol", func(t *testing.T) {
		out, err := e.helper(ctx, bin, "get", f.host)
		var creds struct{ ServerURL, Username, Secret string }
		if err != nil || json.Unmarshal([]byte(out), &creds) != nil || creds.Username != "<token>" || !strings.HasPrefix(creds.Secret, "eyJ") {
			t.Fatalf("get: %v %s", err, out)
		}
		// Docker may ask with a scheme and a path.
		var again struct{ Username, Secret string }
		if out, err := e.helper(ctx, bin, "get", "https://"+f.host+"/v2/"); err != nil || json.Unmarshal([]byte(out), &again) != nil ||
			again.Secret != creds.Secret {
			t.Errorf("get with a URL: %v (not the cached token)", err)
		}
		for _, other := range []string{"other.example", "evil" + f.host, f.host + ".evil.example", "127.0.0.1:1"} {
			if out, err := e.helper(ctx, bin, "get", other); err == nil || !strings.Contains(out, "credentials not found") {
				t.Errorf("get %s: %v %s", other, err, out)
			}
		}
		out, err = e.helper(ctx, bin, "list", "")
		var list map[string]string
		if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[f.host] != "<token>" {
			t.Errorf("list: %v %s", err, out)
		}
		if out, err := e.helper(ctx, bin, "store", `{"ServerURL":"`+f.host+`","Username":"u","Secret":"s"}`); err == nil {
			t.Errorf("store accepted: %s", out)
		}
		if out, err := e.helper(ctx, bin, "erase", f.host); err != nil {
			t.Errorf("erase: %v %s", err, out)
		}
		// The cached token is sealed: its value is not in the cache directory.
		filepath.Walk(filepath.Join(e.store, "credhelper"), func(path string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && strings.Contains(readFile(t, path), creds.Secret) {
				t.Errorf("%s holds the token in clear", path)
			}
			return nil
		})
	})

	t.Run("go-containerregistry keychain", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", dockerDir)
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		t.Setenv("CERULEAN_CONNECTOR_DIR", e.store)
		t.Setenv("CERULEAN_CONNECTOR_KEY", e.key)
		reg, _ := name.NewRegistry(f.host)
		auth, err := authn.DefaultKeychain.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		ac, err := auth.Authorization()
		if err != nil || ac.IdentityToken == "" {
			t.Fatalf("keychain: %v %+v", err, ac != nil)
		}
		if err := f.pull(t, f.host+"/samples/hello:v1", remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			t.Errorf("pull through the keychain: %v", err)
		}
		other, _ := name.NewRegistry("unknown.example")
		if auth, err := authn.DefaultKeychain.Resolve(other); err != nil || auth != authn.Anonymous {
			t.Errorf("another registry: %v %v", auth, err)
		}
	})

	t.Run("no stampede", func(t *testing.T) {
		if out, err := e.helper(ctx, bin, "erase", f.host); err != nil {
			t.Fatalf("erase: %v %s", err, out)
		}
		before := f.exchanges(t)
		var wg sync.WaitGroup
		secrets := make([]string, 8)
		for i := range secrets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := e.helper(ctx, bin, "get", f.host)
				if err != nil {
					t.Errorf("get %d: %v %s", i, err, out)
				}
				secrets[i] = out
			}()
		}
		wg.Wait()
		if n := f.exchanges(t) - before; n != 1 {
			t.Errorf("%d concurrent gets made %d exchanges, want 1", len(secrets), n)
		}
		for _, s := range secrets[1:] {
			if s != secrets[0] {
				t.Error("concurrent gets answered different tokens")
			}
		}
	})
}
