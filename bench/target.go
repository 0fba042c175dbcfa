package bench

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// target is the cerulean process under test.
type target struct {
	*child
	base  string // https://host:port
	roots *x509.CertPool
	log   string // path of its output
	// loginServer is the registry's name, the service its tokens are for; user and
	// password are the bootstrap owner's client id and secret (Owner of the
	// subscription: every data-plane right), from <data>/bootstrap.json.
	loginServer, user, password string
}

// runInfo is the part of <data>/run/serve.json the bench reads (server.RunInfo).
type runInfo struct {
	PID         int    `json:"pid"`
	Addr        string `json:"addr"`
	LoginServer string `json:"login_server"`
	CAFile      string `json:"ca_file"`
}

// bootstrapInfo is the part of <data>/bootstrap.json the bench reads: the owner's
// credentials, which the server writes on its first start.
type bootstrapInfo struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// startWait bounds how long the server may take to start listening.
const startWait = 30 * time.Second

// startTarget starts `binary serve` on a free loopback port with its data in dataDir,
// its output in logPath, and waits until it announces where it listens.
func startTarget(ctx context.Context, binary, dataDir, logPath string) (*target, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(binary, "serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--metrics-addr", "")
	cmd.Stdout, cmd.Stderr = logf, logf
	c, err := startChild(cmd)
	if err != nil {
		return nil, err
	}
	t := &target{child: c, log: logPath}
	info, err := t.awaitRunInfo(ctx, filepath.Join(dataDir, "run", "serve.json"))
	if err == nil {
		err = t.trust(info)
	}
	if err == nil {
		err = t.awaitOwner(ctx, filepath.Join(dataDir, "bootstrap.json"))
	}
	if err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// awaitRunInfo polls for the run file of this very process; the server writes it once
// its listeners are open.
func (t *target) awaitRunInfo(ctx context.Context, path string) (runInfo, error) {
	deadline := time.After(startWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var info runInfo
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &info) == nil && info.PID == t.pid() {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return runInfo{}, ctx.Err()
		case <-t.exited:
			return runInfo{}, fmt.Errorf("server exited before listening (%v); see %s", t.err, t.log)
		case <-deadline:
			return runInfo{}, fmt.Errorf("server did not write %s within %s; see %s", path, startWait, t.log)
		case <-tick.C:
		}
	}
}

// awaitOwner reads the owner's credentials from the bootstrap file, waiting for the
// server to write it.
func (t *target) awaitOwner(ctx context.Context, path string) error {
	deadline := time.After(startWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var boot bootstrapInfo
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &boot) == nil && boot.ClientID != "" && boot.ClientSecret != "" {
			t.user, t.password = boot.ClientID, boot.ClientSecret
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.exited:
			return fmt.Errorf("server exited before writing %s (%v); see %s", path, t.err, t.log)
		case <-deadline:
			return fmt.Errorf("server did not write the owner's credentials to %s within %s; see %s", path, startWait, t.log)
		case <-tick.C:
		}
	}
}

// endpoint is the registry as the bench's clients reach it, signing in as the owner with
// a bearer token for scopes.
func (t *target) endpoint(scopes ...string) endpoint {
	return endpoint{base: t.base, roots: t.roots, auth: &credentials{
		service: t.loginServer, user: t.user, password: t.password, scopes: scopes}}
}

// basicEndpoint is the registry reached with the owner's Basic credentials on every
// request, no token; scopes are those of the tokens its clients may still ask for.
func (t *target) basicEndpoint(scopes ...string) endpoint {
	ep := t.endpoint(scopes...)
	ep.auth.basic = true
	return ep
}

func (t *target) trust(info runInfo) error {
	if info.CAFile == "" {
		return errors.New("server announced no local CA file")
	}
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		return err
	}
	t.roots = x509.NewCertPool()
	if !t.roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s: no certificate", info.CAFile)
	}
	t.base = "https://" + info.Addr
	t.loginServer = info.LoginServer
	if t.loginServer == "" {
		t.loginServer = info.Addr
	}
	return nil
}

// stopWait is how long a stopped server may take to exit before it is killed: a bit more
// than its own default shutdown timeout.
const stopWait = 35 * time.Second

// stop stops the server as an operator would (see child.stop).
func (t *target) stop() error {
	if err := t.child.stop(stopWait); err != nil {
		return fmt.Errorf("server: %w; see %s", err, t.log)
	}
	return nil
}
