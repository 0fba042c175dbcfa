// Package testserver runs a real `cerulean serve` process for integration tests: it builds
// the binary once per test binary, starts it on a fresh data directory and a free port,
// waits until it is ready, and stops, kills or restarts it on request.
//
// It learns the actual addresses from DIR/run/serve.json, which the server writes once it
// listens (see server.RunInfo); it does not import package server, which only cmd may.
package testserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on waiting for the process; generous, because CI machines under -race are slow.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 60 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// Server is a running (or stopped) `cerulean serve` process. Its methods are not safe for
// concurrent use.
type Server struct {
	URL     string // https://127.0.0.1:port
	Host    string // host:port, the login server
	DataDir string
	CAFile  string // DIR/tls/ca.pem; "" when the server was given --tls-cert
	CAPool  *x509.CertPool
	// Client trusts CAPool and signs every request in with Basic credentials of the
	// bootstrap owner (Owner of the subscription: every data-plane right), unless the
	// request carries its own Authorization.
	Client *http.Client
	// Anonymous trusts CAPool and sends no credentials.
	Anonymous  *http.Client
	MetricsURL string // http://host:port/metrics
	// Username and Password are the bootstrap owner's client id and secret.
	Username, Password string

	args []string // extra serve arguments, kept for Restart
	env  []string // extra environment, kept for Restart
	addr string   // the HTTPS listener, kept for Restart
	proc *process // nil while stopped
	last *process // the last process stopped or killed, for its output
}

// Start starts `cerulean serve` on a new temporary data directory and a free loopback port,
// with args appended to the command line, and waits until /readyz answers 200. The server
// is stopped when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return StartWith(t, Options{Args: args})
}

// Options configure StartWith.
type Options struct {
	// Args are appended to the serve command line.
	Args []string
	// DataDir is the data directory; default: a new temporary directory. Replicas of
	// shared stores each start on one holding copies of the first replica's DIR/tls,
	// DIR/keys and DIR/bootstrap.json.
	DataDir string
	// Env is added to the process's environment (for example AZURE_STORAGE_KEY).
	Env []string
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{DataDir: o.DataDir, args: o.Args, env: o.Env}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	s.start(t, "127.0.0.1:0")
	t.Cleanup(func() {
		if s.proc != nil {
			s.Stop(t)
		}
		if t.Failed() && s.last != nil {
			t.Logf("testserver: output of the last server process:\n%s", s.last.output())
		}
	})
	return s
}

// Restart starts the server again on the same data directory and port, stopping it first
// if it still runs.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.proc != nil {
		s.Stop(t)
	}
	s.start(t, s.addr)
}

// Stop sends SIGTERM and waits; the test fails unless the process exits 0 in time.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	p := s.running(t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("testserver: signal: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("testserver: no exit %s after SIGTERM; output:\n%s", stopTimeout, p.output())
	}
	if p.err != nil {
		t.Errorf("testserver: exit after SIGTERM: %v; output:\n%s", p.err, p.output())
	}
}

// Kill sends SIGKILL and waits, leaving the data directory as a crash would.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	p := s.running(t)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Transport returns a new transport that trusts the server's CA, for clients that take
// one (go-containerregistry, regclient).
func (s *Server) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy from the environment must not intercept loopback tests
	tr.TLSClientConfig = &tls.Config{RootCAs: s.CAPool}
	return tr
}

// Run runs `cerulean args...` to completion, with the server's extra environment, and
// returns its standard output; the error includes standard error.
func (s *Server) Run(t testing.TB, args ...string) (stdout string, err error) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(cleanEnv(), s.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("cerulean %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func (s *Server) running(t testing.TB) *process {
	t.Helper()
	if s.proc == nil {
		t.Fatal("testserver: server is not running")
	}
	p := s.proc
	s.proc, s.last = nil, p
	return p
}

// start runs the binary on addr and waits for readiness.
func (s *Server) start(t testing.TB, addr string) {
	t.Helper()
	// A file left by a killed server would announce the dead one.
	if err := os.Remove(runFile(s.DataDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--data", s.DataDir, "--addr", addr, "--metrics-addr", "127.0.0.1:0"}, s.args...)
	p, err := startProcess(Binary(t), args, s.env)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if err := s.awaitReady(p); err != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("testserver: %v; output:\n%s", err, p.output())
	}
	s.proc = p
}

// awaitReady waits for the run file of process p, then for /readyz to answer 200.
func (s *Server) awaitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var info runInfo
	err := p.poll(ctx, func() bool {
		var err error
		info, err = readRunInfo(s.DataDir)
		return err == nil && info.PID == p.cmd.Process.Pid
	})
	if err != nil {
		return err
	}
	if err := s.adopt(info); err != nil {
		return err
	}
	if err := p.poll(ctx, func() bool { return s.ready(ctx) }); err != nil {
		return err
	}
	return s.signIn()
}

// adopt takes the addresses and CA of a freshly started process.
func (s *Server) adopt(info runInfo) error {
	s.addr = info.Addr
	s.URL = "https://" + info.Addr
	s.Host = info.LoginServer
	s.CAFile = info.CAFile
	s.MetricsURL = ""
	if info.MetricsAddr != "" {
		s.MetricsURL = "http://" + info.MetricsAddr + "/metrics"
	}
	s.CAPool = nil
	if info.CAFile != "" {
		pem, err := os.ReadFile(info.CAFile)
		if err != nil {
			return err
		}
		s.CAPool = x509.NewCertPool()
		if !s.CAPool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", info.CAFile)
		}
	}
	s.Anonymous = &http.Client{Transport: s.Transport()}
	s.Client = s.Anonymous
	return nil
}

// signIn reads the bootstrap owner's credentials, once the server has written them, and
// makes Client use them.
func (s *Server) signIn() error {
	b, err := os.ReadFile(filepath.Join(s.DataDir, "bootstrap.json"))
	if err != nil {
		return err
	}
	var boot struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal(b, &boot); err != nil {
		return err
	}
	s.Username, s.Password = boot.ClientID, boot.ClientSecret
	s.Client = s.ClientOver(s.Transport())
	return nil
}

// ClientOver returns a client that signs in as the owner, like Client, over tr.
func (s *Server) ClientOver(tr http.RoundTripper) *http.Client {
	return &http.Client{Transport: &basicAuth{user: s.Username, password: s.Password, next: tr}}
}

// basicAuth adds Basic credentials to requests that carry no Authorization.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b *basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.SetBasicAuth(b.user, b.password)
	}
	return b.next.RoundTrip(r)
}

func (s *Server) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// process is one run of the binary.
type process struct {
	cmd  *exec.Cmd
	out  syncBuffer    // stdout and stderr
	done chan struct{} // closed once the process exited and err is set
	err  error
}

// syncBuffer is a bytes.Buffer that may be read while the process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Output returns what the server process has written to stdout and stderr so far: the
// running process's, else the last one stopped or killed (all of it).
func (s *Server) Output() string {
	switch {
	case s.proc != nil:
		return s.proc.out.String()
	case s.last != nil:
		return s.last.output()
	}
	return ""
}

func startProcess(bin string, args, env []string) (*process, error) {
	p := &process{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	// One writer for both: exec then writes from one goroutine at a time.
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) output() string {
	<-p.done
	return p.out.String()
}

// poll calls try every pollEvery until it returns true, the process exits or ctx ends.
func (p *process) poll(ctx context.Context, try func() bool) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !try() {
		select {
		case <-p.done:
			return fmt.Errorf("server exited during start: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("server not ready within %s", startTimeout)
		case <-tick.C:
		}
	}
	return nil
}

// cleanEnv is the test's environment without CERULEAN_* variables, which would otherwise
// configure the server behind the test's back.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERULEAN_") {
			env = append(env, kv)
		}
	}
	return env
}

// runInfo holds the fields of DIR/run/serve.json (server.RunInfo) that tests use.
type runInfo struct {
	PID         int    `json:"pid"`
	Addr        string `json:"addr"`
	LoginServer string `json:"login_server"`
	CAFile      string `json:"ca_file"`
	MetricsAddr string `json:"metrics_addr"`
}

func runFile(dataDir string) string { return filepath.Join(dataDir, "run", "serve.json") }

func readRunInfo(dataDir string) (runInfo, error) {
	var info runInfo
	b, err := os.ReadFile(runFile(dataDir))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds ./cmd/cerulean of the enclosing module (found by looking for go.mod upward
// from the working directory) once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.err = buildBinary() })
	if build.err != nil {
		t.Fatalf("testserver: %v", build.err)
	}
	return build.path
}

// binDirPrefix starts the name of each directory Binary builds into; the pid of the test
// process follows, so that later runs can remove the binaries of processes that are gone.
const binDirPrefix = "cerulean-testserver-"

func buildBinary() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	removeStaleBinaries()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", binDirPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "cerulean")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/cerulean")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/cerulean: %w\n%s", err, out)
	}
	return path, nil
}

// removeStaleBinaries removes what earlier test processes built, once they have exited:
// nothing else would, and each binary is tens of megabytes.
func removeStaleBinaries() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*-*"))
	for _, dir := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), binDirPrefix), "-")
		if n, err := strconv.Atoi(pid); err == nil && exited(n) {
			_ = os.RemoveAll(dir) // best effort: another run may be removing it too
		}
	}
}

// exited reports whether process pid is known to be gone (not merely unreachable).
func exited(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
