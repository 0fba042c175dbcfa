package replicas

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/internal/testserver"
	"github.com/cerulean-registry/cerulean/storage/blob/azblob"
	"github.com/cerulean-registry/cerulean/storage/blob/azblob/azuritetest"
	"github.com/cerulean-registry/cerulean/storage/meta/postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	azuritetest.Stop()
	pgtest.Stop()
	os.Exit(code)
}

// loginServer is the name every replica presents, as a load balancer's would be.
const loginServer = "registry.test:8443"

// cluster is n replicas sharing one database and one blob container.
type cluster struct {
	t        testing.TB
	dsn      string   // --metadata
	blobs    string   // --blobs
	env      []string // the blob store's key
	args     []string // serve's store and host arguments
	replicas []*testserver.Server
	user     string // the bootstrap owner
	password string
}

// blobBackend picks the blob store replicas share.
type blobBackend int

const (
	onAzurite blobBackend = iota
	onSharedDir
)

// startCluster starts n replicas on a new database and a new blob container (Azurite) or
// directory, with extra serve arguments.
func startCluster(t testing.TB, n int, backend blobBackend, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dsn: pgtest.New(t)}
	var shared string // the shared blob directory (onSharedDir)
	switch backend {
	case onAzurite:
		c.blobs, c.env = newContainer(t)
	case onSharedDir:
		shared = t.TempDir()
	}
	c.args = append([]string{"--metadata", c.dsn, "--host", loginServer, "--log-level", "warn"}, extra...)
	if c.blobs != "" {
		c.args = append(c.args, "--blobs", c.blobs)
	}
	for i := range n {
		dir := t.TempDir()
		if i > 0 {
			deployFrom(t, c.replicas[0].DataDir, dir)
		}
		if shared != "" {
			// Every replica's DIR/blobs is the one shared directory (storage/blob/fs
			// supports several processes on one directory).
			if err := os.Symlink(shared, filepath.Join(dir, "blobs")); err != nil {
				t.Fatal(err)
			}
		}
		c.replicas = append(c.replicas, testserver.StartWith(t, testserver.Options{Args: c.args, Env: c.env, DataDir: dir}))
	}
	c.user, c.password = c.replicas[0].Username, c.replicas[0].Password
	return c
}

// newContainer creates a container in the test binary's Azurite and returns its --blobs
// URL and the environment that gives its key.
func newContainer(t testing.TB) (string, []string) {
	t.Helper()
	az := azuritetest.Shared(t)
	name := "replicas-" + randomHex(8)
	store, err := azblob.New(azblob.Options{ServiceURL: az.URL, Container: name,
		AccountName: azuritetest.Account, AccountKey: azuritetest.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateContainer(context.Background()); err != nil {
		t.Fatalf("create container: %v", err)
	}
	u := fmt.Sprintf("azblob://%s/%s?auth=key&endpoint=%s", azuritetest.Account, name, url.QueryEscape(az.URL))
	return u, []string{"AZURE_STORAGE_KEY=" + azuritetest.Key}
}

// deployFrom copies what replicas share from the first one's data directory into dir:
// the local CA and server certificate, the master key and the bootstrap file.
func deployFrom(t testing.TB, from, dir string) {
	t.Helper()
	for _, p := range []string{"tls", "keys", "bootstrap.json"} {
		if err := copyTree(filepath.Join(from, p), filepath.Join(dir, p)); err != nil {
			t.Fatalf("deploy %s: %v", p, err)
		}
	}
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// addr is the HTTPS listener of replica i.
func (c *cluster) addr(i int) string { return strings.TrimPrefix(c.replicas[i].URL, "https://") }

// transport reaches replica i under the login server's name, trusting the shared CA.
func (c *cluster) transport(i int) *http.Transport {
	tr := c.replicas[0].Transport()
	addr := c.addr(i)
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	tr.MaxIdleConnsPerHost = 64
	return tr
}

// client talks to replica i with authorization (a full Authorization header value).
func (c *cluster) client(i int, authorization string) *client {
	return &client{hc: &http.Client{Transport: c.transport(i)}, authorization: authorization, replica: i}
}

// owner returns a client of replica i signed in as the bootstrap owner with Basic
// credentials on every request.
func (c *cluster) owner(i int) *client { return c.client(i, basic(c.user, c.password)) }

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// gc runs `cerulean gc` on the shared stores, next to the replicas, from replica i's data
// directory, and returns its output.
func (c *cluster) gc(i int, args ...string) (string, error) {
	r := c.replicas[i]
	all := append([]string{"gc", "--data", r.DataDir, "--metadata", c.dsn}, args...)
	if c.blobs != "" {
		all = append(all, "--blobs", c.blobs)
	}
	return r.Run(c.t, all...)
}
