package vault

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestRoundTrip(t *testing.T) {
	secret := []byte(`{"clientSecret":"s3cr3t"}`)
	e, err := Seal(key(1), "conn", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains([]byte(e.Ciphertext+e.WrappedKey), []byte("s3cr3t")) {
		t.Fatal("plaintext visible in the envelope")
	}
	got, err := Open(key(1), "conn", e)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// A fresh data key and nonce each time.
	e2, _ := Seal(key(1), "conn", secret)
	if e2.Ciphertext == e.Ciphertext || e2.WrappedKey == e.WrappedKey {
		t.Error("two seals of the same secret are identical")
	}
}

func TestWrongKey(t *testing.T) {
	e, _ := Seal(key(1), "conn", []byte("x"))
	if _, err := Open(key(2), "conn", e); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	// A forged key id does not help: the wrapped key does not authenticate.
	e.KeyID = KeyID(key(2))
	if _, err := Open(key(2), "conn", e); !errors.Is(err, ErrTampered) {
		t.Fatalf("forged key id: %v", err)
	}
}

func TestTamper(t *testing.T) {
	flip := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[len(b)-1] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	for name, mutate := range map[string]func(*Envelope){
		"ciphertext": func(e *Envelope) { e.Ciphertext = flip(e.Ciphertext) },
		"wrapped":    func(e *Envelope) { e.WrappedKey = flip(e.WrappedKey) },
		"truncated":  func(e *Envelope) { e.Ciphertext = base64.StdEncoding.EncodeToString([]byte("short")) },
		"not base64": func(e *Envelope) { e.Ciphertext = "!!" },
		"version":    func(e *Envelope) { e.Version = 2 },
	} {
		e, _ := Seal(key(1), "conn", []byte("secret"))
		mutate(e)
		if _, err := Open(key(1), "conn", e); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Moved to another name.
	e, _ := Seal(key(1), "conn", []byte("secret"))
	if _, err := Open(key(1), "other", e); !errors.Is(err, ErrTampered) {
		t.Errorf("renamed: %v", err)
	}
}

func TestFileKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "connector.key")
	// Concurrent first uses agree on one key.
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := FileKey(path, true).Key()
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("concurrent creators made different keys")
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FileKey(path, false).Key(); err == nil {
		t.Error("a world-readable key file was accepted")
	}
	if _, err := FileKey(filepath.Join(t.TempDir(), "none"), false).Key(); err == nil {
		t.Error("a missing key file was accepted without create")
	}
}

func TestEnvKey(t *testing.T) {
	t.Setenv(EnvVar, base64.StdEncoding.EncodeToString(key(7)))
	k, err := DefaultKey(filepath.Join(t.TempDir(), "unused.key")).Key()
	if err != nil || !bytes.Equal(k, key(7)) {
		t.Fatalf("env key: %v", err)
	}
	t.Setenv(EnvVar, base64.StdEncoding.EncodeToString([]byte("short")))
	if _, err := EnvKey(EnvVar).Key(); err == nil {
		t.Error("a short key was accepted")
	}
}
