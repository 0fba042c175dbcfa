package server

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cerulean-registry/cerulean/identity/graph"
)

// startOn creates a server on dataDir and starts its identity plane as Run does.
func startOn(t *testing.T, cfg Config, loginServer string) (*Server, string) {
	t.Helper()
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	path, err := s.startIdentity(t.Context(), loginServer)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func readBootstrap(t *testing.T, path string) graph.Bootstrap {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap file %s: mode %v, %v; want 0600", path, fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	var bs graph.Bootstrap
	if err := json.Unmarshal(b, &bs); err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestBootstrapWritesOnceAndFollowsTheServer(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", RegistryDomain: "localhost"}
	_, path := startOn(t, cfg, "127.0.0.1:5443")
	if path != filepath.Join(cfg.DataDir, "bootstrap.json") {
		t.Fatalf("bootstrap file %q", path)
	}
	first := readBootstrap(t, path)
	for name, v := range map[string]string{"tenantId": first.TenantID, "subscriptionId": first.SubscriptionID,
		"clientId": first.ClientID, "clientSecret": first.ClientSecret, "ownerObjectId": first.OwnerObjectID} {
		if v == "" {
			t.Errorf("%s is empty", name)
		}
	}
	if first.LoginServer != "127.0.0.1:5443" || first.AuthorityHost != "https://127.0.0.1:5443/" ||
		first.ResourceGroup != "cerulean" || first.RegistryName != "cerulean" ||
		!strings.HasSuffix(first.CAFile, filepath.Join("tls", "ca.pem")) {
		t.Errorf("bootstrap %+v", first)
	}

	// A restart keeps the owner; a move to another address updates where the file points.
	_, path = startOn(t, cfg, "127.0.0.1:6443")
	second := readBootstrap(t, path)
	if second.ClientSecret != first.ClientSecret || second.TenantID != first.TenantID || second.LoginServer != "127.0.0.1:6443" {
		t.Errorf("after restart %+v", second)
	}
}

func TestBootstrapPreset(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", RegistryDomain: "localhost",
		BootstrapClientID: "0b5c9d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", BootstrapClientSecret: strings.Repeat("x", 40)}
	_, path := startOn(t, cfg, "127.0.0.1:5443")
	bs := readBootstrap(t, path)
	if bs.ClientID != cfg.BootstrapClientID || bs.ClientSecret != cfg.BootstrapClientSecret {
		t.Errorf("preset owner not used: %+v", bs)
	}

	cfg = Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", RegistryDomain: "localhost", BootstrapClientSecret: "short"}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.startIdentity(t.Context(), "127.0.0.1:5443"); err == nil {
		t.Error("a short preset secret was accepted")
	}
}
