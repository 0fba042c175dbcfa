package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// fileServer is the pull baseline: Go's own file server over TLS, serving from disk the
// same bytes the registry serves. It runs as a process of its own, started from the
// binary under test (`cerulean bench files`), because that is how the registry runs: in
// the bench's own process the client and the server would share one Go scheduler, which
// pulls about 15% faster on loopback than the same file server in a separate process.
type fileServer struct {
	*child
	base  string
	roots *x509.CertPool
}

// fileServerAnnouncement is the line `cerulean bench files` prints once it listens.
type fileServerAnnouncement struct {
	Addr string `json:"addr"`
	Cert []byte `json:"cert"` // DER of its self-signed certificate
}

// ServeFiles is the pull baseline's server: Go's http.FileServer for dir over HTTPS on a
// free loopback port. Like the registry it uses a P-256 certificate and ServeTLS, which
// offers HTTP/2, so the TLS cost is alike. It announces its address and certificate as
// one JSON line on announce and serves until ctx ends.
func ServeFiles(ctx context.Context, dir string, announce io.Writer) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           http.FileServer(http.Dir(dir)),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	if err := json.NewEncoder(announce).Encode(fileServerAnnouncement{Addr: ln.Addr().String(), Cert: cert.Certificate[0]}); err != nil {
		ln.Close()
		return err
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startFileServer starts `binary bench files` for dir and waits for its announcement.
func startFileServer(binary, dir string) (*fileServer, error) {
	// A pipe of its own, not StdoutPipe: Wait, which runs meanwhile, would close that.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command(binary, "bench", "files", "--dir", dir)
	cmd.Stdout, cmd.Stderr = pw, os.Stderr
	c, err := startChild(cmd)
	pw.Close() // the child holds its own descriptor
	if err != nil {
		return nil, err
	}
	announced := make(chan fileServerAnnouncement, 1)
	go func() {
		var a fileServerAnnouncement
		if json.NewDecoder(pr).Decode(&a) == nil {
			announced <- a
		}
	}()
	var a fileServerAnnouncement
	select {
	case a = <-announced:
	case <-c.exited:
		return nil, fmt.Errorf("bench: the baseline file server exited before listening: %v", c.err)
	case <-time.After(startWait):
		return nil, errors.Join(errors.New("bench: the baseline file server did not start"), c.stop(stopWait))
	}
	leaf, err := x509.ParseCertificate(a.Cert)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: the baseline file server's certificate: %w", err), c.stop(stopWait))
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &fileServer{child: c, base: "https://" + a.Addr, roots: roots}, nil
}

func (f *fileServer) close() error { return f.stop(stopWait) }

// endpoint is the file server as the bench's clients reach it: without signing in.
func (f *fileServer) endpoint() endpoint { return endpoint{base: f.base, roots: f.roots} }

// selfSigned makes a P-256 certificate for 127.0.0.1.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
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
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
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

// manifestFile names the baseline file of the manifest GET rows, as a URL path of the
// file server.
const manifestFile = "/manifest.json"

// bigBlobFile names the baseline file of big blob b.
func bigBlobFile(b blobSpec) string { return "/big/" + strconv.FormatUint(b.seed, 10) }

// imageFiles names the three files of small image i.
func imageFiles(i int) (manifest, config, layer string) {
	p := "/images/" + strconv.Itoa(i)
	return p + ".manifest", p + ".config", p + ".layer"
}
