package server

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func readCA(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	ca, _, err := loadPair(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestLocalTLSCreatesCAOnceWithPrivateKeys(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := localTLS(dir, nil, t0); err != nil {
		t.Fatal(err)
	}
	ca := readCA(t, dir)
	if !ca.IsCA || ca.NotAfter.Sub(t0) < 10*365*24*time.Hour-time.Minute {
		t.Errorf("CA: IsCA %v, NotAfter %v; want a CA valid for 10 years", ca.IsCA, ca.NotAfter)
	}
	for file, want := range map[string]os.FileMode{
		".": 0o700, caKeyFile: 0o600, serverKeyFile: 0o600, caCertFile: 0o644, serverCertFile: 0o644,
	} {
		fi, err := os.Stat(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", file, got, want)
		}
	}

	// A later start, with other names and a year on, keeps the CA.
	if _, err := localTLS(dir, []string{"reg.test"}, t0.Add(365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again := readCA(t, dir); !again.Equal(ca) {
		t.Error("the CA was replaced on a later start")
	}
}

func TestServerCertCoversNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, err := localTLS(dir, []string{"reg.test", "10.1.2.3", "fd00::7"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCA(t, dir))
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "reg.test", "10.1.2.3", "fd00::7"} {
		_, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: t0})
		if err != nil {
			t.Errorf("certificate does not verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: roots, CurrentTime: t0}); err == nil {
		t.Error("certificate verifies for a name it was not issued for")
	}
}

func TestServerCertReissue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		names   []string
		now     time.Time
		reissue bool
	}{
		{"same names", []string{"b.test", "a.test", "a.test"}, t0.Add(time.Hour), false},
		{"name added", []string{"a.test", "b.test", "c.test"}, t0, true},
		{"name removed", []string{"a.test"}, t0, true},
		{"far from expiry", []string{"a.test", "b.test"}, t0.Add(serverLifetime - renewBefore - time.Hour), false},
		{"near expiry", []string{"a.test", "b.test"}, t0.Add(serverLifetime - renewBefore + time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			first, err := localTLS(dir, []string{"a.test", "b.test"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			second, err := localTLS(dir, tt.names, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got := !second.Leaf.Equal(first.Leaf); got != tt.reissue {
				t.Errorf("reissued = %v, want %v", got, tt.reissue)
			}
		})
	}
}

func TestServerCertReissuedWhenBroken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := localTLS(dir, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, serverKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := localTLS(dir, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if second.Leaf.Equal(first.Leaf) {
		t.Error("a certificate whose key is unreadable was kept")
	}
}

func TestExpiredCAIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := localTLS(dir, nil, t0); err != nil {
		t.Fatal(err)
	}
	_, err := localTLS(dir, nil, t0.Add(caLifetime+time.Hour))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("localTLS with an expired CA: %v, want an expiry error", err)
	}
}
