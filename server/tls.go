package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files of the local CA under DIR/tls. Whoever reads ca-key.pem can mint certificates that
// every machine trusting ca.pem accepts, hence 0600 keys in a 0700 directory.
const (
	caCertFile     = "ca.pem"
	caKeyFile      = "ca-key.pem"
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

const (
	caLifetime = 10 * 365 * 24 * time.Hour
	// 397 days stays under the 398-day limit that browsers and Apple platforms enforce.
	serverLifetime = 397 * 24 * time.Hour
	// renewBefore is how close to expiry a server certificate is replaced at start.
	renewBefore = 30 * 24 * time.Hour
	// backdate covers clients whose clock is a little behind.
	backdate = time.Hour
)

// localCA is the certificate authority a server generates on first start and keeps.
type localCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// defaultNames are in every generated server certificate, so a local client always works.
var defaultNames = []string{"localhost", "127.0.0.1", "::1"}

// localTLS returns the server certificate from the local CA in dir, creating the CA and
// issuing or reissuing the certificate as needed, for defaultNames plus names.
func localTLS(dir string, names []string, now time.Time) (tls.Certificate, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	ca, err := loadOrCreateCA(dir, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return loadOrIssueServerCert(dir, ca, certNames(names), now)
}

// certNames returns defaultNames plus names, deduplicated and sorted.
func certNames(names []string) []string {
	all := slices.Concat(defaultNames, names)
	slices.Sort(all)
	return slices.Compact(all)
}

func loadOrCreateCA(dir string, now time.Time) (*localCA, error) {
	cert, key, err := loadPair(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return createCA(dir, now)
	}
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	// Replacing an expired CA would silently break every client that trusts it.
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("local CA in %s expired on %s: remove the directory to create a new one",
			dir, cert.NotAfter.Format(time.DateOnly))
	}
	return &localCA{cert: cert, key: key}, nil
}

func createCA(dir string, now time.Time) (*localCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			Organization: []string{"Cerulean"},
			CommonName:   "Cerulean local CA " + now.UTC().Format(time.DateTime),
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	if err := writePair(dir, caCertFile, caKeyFile, cert, key); err != nil {
		return nil, err
	}
	return &localCA{cert: cert, key: key}, nil
}

// loadOrIssueServerCert reuses the stored server certificate while it is signed by ca,
// covers exactly names and is not close to expiry; otherwise it issues a new one.
func loadOrIssueServerCert(dir string, ca *localCA, names []string, now time.Time) (tls.Certificate, error) {
	// Any failure to load (missing, half-written, foreign) is repaired by issuing anew.
	cert, key, err := loadPair(filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile))
	if err == nil && cert.CheckSignatureFrom(ca.cert) == nil &&
		now.Add(renewBefore).Before(cert.NotAfter) && slices.Equal(coveredNames(cert), names) {
		return tlsCert(cert, key), nil
	}
	return issueServerCert(dir, ca, names, now)
}

func issueServerCert(dir string, ca *localCA, names []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Cerulean"}, CommonName: names[0]},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(serverLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert, err := sign(tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePair(dir, serverCertFile, serverKeyFile, cert, key); err != nil {
		return tls.Certificate{}, err
	}
	return tlsCert(cert, key), nil
}

// coveredNames returns the DNS names and IPs of cert in the form certNames returns.
func coveredNames(cert *x509.Certificate) []string {
	names := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	return certNames(names)
}

func sign(tmpl, parent *x509.Certificate, pub any, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func tlsCert(cert *x509.Certificate, key *ecdsa.PrivateKey) tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// loadPair reads a PEM certificate and its PEM ECDSA key; the error wraps os.ErrNotExist
// when either file is missing.
func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", keyPath)
	}
	return pair.Leaf, key, nil
}

func writePair(dir, certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := writeFileAtomic(filepath.Join(dir, keyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, certFile), certPEM, 0o644)
}

// writeFileAtomic replaces path with data durably, so that a crash leaves the old or the
// new file, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename this finds nothing
	err = writeSync(f, data, perm)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeSync(f *os.File, data []byte, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
