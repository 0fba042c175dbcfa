package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cerulean-registry/cerulean/connector/vault"
)

func testConnection(name string) Connection {
	return Connection{Name: name, Cloud: Clouds()["public"],
		Credential: Credential{Kind: ServicePrincipalSecret, TenantID: "t", ClientID: "c"}, Subscriptions: []string{"sub"}}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	key := vault.StaticKey(bytes.Repeat([]byte{3}, 32))
	st, err := OpenStore(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "very-secret-value"
	if err := st.Add(testConnection("prod"), Secrets{ClientSecret: secret}); err != nil {
		t.Fatal(err)
	}
	if err := st.Add(testConnection("prod"), Secrets{ClientSecret: secret}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate add: %v", err)
	}
	if err := st.Add(testConnection("nosecret"), Secrets{}); err == nil {
		t.Fatal("a service principal without a secret was saved")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "connections.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatal("secret stored in clear")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "connections.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	c, sec, err := st.Get("prod")
	if err != nil || sec.ClientSecret != secret || c.Credential.ClientID != "c" {
		t.Fatalf("Get: %+v, %v", c, err)
	}
	if err := st.Rotate("prod", Secrets{ClientSecret: "new-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, sec, _ := st.Get("prod"); sec.ClientSecret != "new-secret" {
		t.Fatal("rotate did not replace the secret")
	}
	// Listing needs no key; reading secrets with another key fails clearly.
	other, _ := OpenStore(dir, vault.StaticKey(bytes.Repeat([]byte{4}, 32)))
	if list, err := other.List(); err != nil || len(list) != 1 || list[0].Name != "prod" {
		t.Fatalf("List: %v %v", list, err)
	}
	if _, _, err := other.Get("prod"); !errors.Is(err, vault.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	// Swapping two connections' sealed secrets is detected.
	if err := st.Add(testConnection("dev"), Secrets{ClientSecret: "dev-secret"}); err != nil {
		t.Fatal(err)
	}
	var f storeFile
	raw, _ = os.ReadFile(filepath.Join(dir, "connections.json"))
	_ = json.Unmarshal(raw, &f)
	f.Connections[0].Sealed, f.Connections[1].Sealed = f.Connections[1].Sealed, f.Connections[0].Sealed
	raw, _ = json.Marshal(f)
	_ = os.WriteFile(filepath.Join(dir, "connections.json"), raw, 0o600)
	if _, _, err := st.Get("prod"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("swapped envelope: %v", err)
	}
	if err := st.Remove("dev"); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

// TestSecretsRedacted: no formatting, logging or JSON path prints a secret.
func TestSecretsRedacted(t *testing.T) {
	const secret = "hunter2-secret"
	s := Secrets{ClientSecret: secret, Password: secret, Certificate: []byte(secret)}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "secrets", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secrets", s, "token", Token{Value: secret})
	j, _ := json.Marshal(struct{ S Secrets }{s})
	buf.Write(j)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		fmt.Fprintf(&buf, verb, s)
		fmt.Fprintf(&buf, verb, Token{Value: secret})
	}
	fmt.Fprintf(&buf, "%+v", struct{ S Secrets }{s})
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("secret printed: %s", buf.String())
	}
}
