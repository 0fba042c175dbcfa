// Package azuritetest runs Azurite, the Azure Blob Storage emulator, for tests: the one
// that CERULEAN_AZURITE_URL names, or one it starts itself, after installing Azurite from
// npm into the user's cache directory when it is missing (scripts/install-test-deps.sh
// installs it ahead of time, so tests do not wait for npm).
//
// Tests use Azurite's well-known development account (Account, Key), never a real one.
package azuritetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Azurite's version, and its development account, which every Azurite accepts.
const (
	Version = "3.35.0" // scripts/azurite.sh installs the same one into the same place
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// EnvURL names an Azurite blob service to use instead of starting one, e.g.
// http://127.0.0.1:10000/devstoreaccount1 (scripts/azurite.sh prints it).
const EnvURL = "CERULEAN_AZURITE_URL"

// ErrUnavailable: Azurite cannot run on this machine (no node or npm).
var ErrUnavailable = errors.New("azuritetest: Azurite unavailable")

// Server is a running Azurite blob service.
type Server struct {
	// URL is the blob service URL of the development account, ending in "/".
	URL string

	cmd  *exec.Cmd // nil when the server came from EnvURL
	dir  string
	done chan struct{}
}

// Start returns the Azurite that EnvURL names, or starts one on a free loopback port
// with its data in a temporary directory.
func Start(ctx context.Context) (*Server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{URL: strings.TrimSuffix(u, "/") + "/"}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node not found", ErrUnavailable)
	}
	main, err := install(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cerulean-azurite-")
	if err != nil {
		return nil, err
	}
	s, err := run(ctx, node, main, dir)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return s, nil
}

// InstallDir is where Azurite is (or will be) installed: $CERULEAN_AZURITE_DIR, or
// cerulean/azurite-<Version> in the user's cache directory.
func InstallDir() (string, error) {
	if d := os.Getenv("CERULEAN_AZURITE_DIR"); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "cerulean", "azurite-"+Version), nil
}

// install makes sure Azurite is installed and returns its blob service's entry point.
// npm installs into a fresh directory that is then renamed into place, so concurrent
// installs (parallel test binaries, the script) never see half an installation.
func install(ctx context.Context) (string, error) {
	dir, err := InstallDir()
	if err != nil {
		return "", err
	}
	main := filepath.Join(dir, "node_modules", "azurite", "dist", "src", "blob", "main.js")
	if _, err := os.Stat(main); err == nil {
		return main, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w: Azurite is not installed and npm is not found", ErrUnavailable)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, npm, "install", "--no-save", "--no-audit", "--no-fund",
		"--prefix", tmp, "azurite@"+Version)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("azuritetest: npm install azurite@%s: %w\n%s", Version, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(main); serr != nil { // not another install that won the race
			return "", fmt.Errorf("azuritetest: install: %w", err)
		}
	}
	return main, nil
}

// listening matches the line with which Azurite reports its address.
var listening = regexp.MustCompile(`listens on (http://127\.0\.0\.1:\d+)`)

// run starts Azurite's blob service from main on a port the kernel picks, and waits
// until it reports its address. Telemetry is off: these machines must not call out.
func run(ctx context.Context, node, main, dir string) (*Server, error) {
	cmd := exec.Command(node, main, "--blobHost", "127.0.0.1", "--blobPort", "0",
		"--location", dir, "--silent", "--skipApiVersionCheck", "--disableTelemetry")
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout // the pipe's writing end: errors show up in the log too
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("azuritetest: start azurite: %w", err)
	}
	s := &Server{cmd: cmd, dir: dir, done: make(chan struct{})}
	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
			log.WriteString(sc.Text() + "\n")
		}
		_, _ = io.Copy(io.Discard, out) // keep Azurite from blocking on a full pipe
		_ = cmd.Wait()
	}()
	select {
	case u := <-found:
		s.URL = u + "/" + Account + "/"
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("azuritetest: azurite exited before listening:\n%s", log.String())
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	return nil, errors.Join(errors.New("azuritetest: azurite did not start listening"), s.Close())
}

// Close stops an Azurite that Start started and removes its data.
func (s *Server) Close() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	return os.RemoveAll(s.dir)
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's Azurite, starting it on first use. When Azurite cannot
// run here it skips t, but fails it when CI=true: CI must run every test. A package that
// uses it calls Stop from TestMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = Start(context.Background()) })
	switch {
	case shared.err == nil:
		return shared.srv
	case errors.Is(shared.err, ErrUnavailable) && os.Getenv("CI") != "true":
		t.Skipf("%v (install Node.js and npm, or set %s)", shared.err, EnvURL)
	default:
		t.Fatalf("Azurite: %v", shared.err)
	}
	return nil
}

// Stop stops the Azurite that Shared started, if any.
func Stop() {
	if shared.srv != nil {
		_ = shared.srv.Close()
	}
}
