package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// fileServer is the pull baseline: Go's own file server over TLS, serving from disk the
// same bytes the registry serves. It runs in the bench process, which is fair on this
// machine: the registry's clients run there too, on the same two cores.
type fileServer struct {
	srv   *http.Server
	base  string
	roots *x509.CertPool
}

// startFileServer serves dir over HTTPS on a free loopback port. Like the registry it
// uses a P-256 certificate and ServeTLS, which offers HTTP/2, so the TLS cost is alike.
func startFileServer(dir string) (*fileServer, error) {
	cert, roots, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           http.FileServer(http.Dir(dir)),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }() // returns ErrServerClosed on close
	return &fileServer{srv: srv, base: "https://" + ln.Addr().String(), roots: roots}, nil
}

func (f *fileServer) close() error { return f.srv.Close() }

// endpoint is the file server as the bench's clients reach it: without signing in.
func (f *fileServer) endpoint() endpoint { return endpoint{base: f.base, roots: f.roots} }

// selfSigned makes a P-256 certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cerulean bench baseline"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

// writeBufferSize is the baseline writer's buffer.
const writeBufferSize = 1 << 20

// writeDurably is the push baseline: what storing bytes costs at the least, with no
// network and no registry. It writes r to path in 1 MiB pieces, hashing them with SHA-256
// on the way, fsyncs and closes the file, and returns the digest.
func writeDurably(path string, r io.Reader) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.CopyBuffer(io.MultiWriter(f, h), onlyReader{r}, make([]byte, writeBufferSize))
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		return "", err
	}
	return sha256Digest(h.Sum(nil)), nil
}

// baselineFiles lays out the baseline directory that the file server serves.
type baselineFiles struct{ dir string }

func (b baselineFiles) path(ref string) string { return filepath.Join(b.dir, filepath.FromSlash(ref)) }

// Names of baseline files, as URL paths of the file server.
const (
	bigBlobFile  = "/big.blob"
	manifestFile = "/manifest.json"
)

// imageFiles names the three files of small image i.
func imageFiles(i int) (manifest, config, layer string) {
	p := "/images/" + strconv.Itoa(i)
	return p + ".manifest", p + ".config", p + ".layer"
}
