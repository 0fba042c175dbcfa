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
	"syscall"
	"time"
)

// target is the cerulean process under test.
type target struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
	base   string        // https://host:port
	roots  *x509.CertPool
	log    string // path of its output
}

// runInfo is the part of <data>/run/serve.json the bench reads (server.RunInfo).
type runInfo struct {
	PID    int    `json:"pid"`
	Addr   string `json:"addr"`
	CAFile string `json:"ca_file"`
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
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &target{cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() {
		t.err = cmd.Wait()
		close(t.exited)
	}()
	info, err := t.awaitRunInfo(ctx, filepath.Join(dataDir, "run", "serve.json"))
	if err == nil {
		err = t.trust(info)
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
	return nil
}

func (t *target) pid() int { return t.cmd.Process.Pid }

// stopWait is how long a stopped server may take to exit before it is killed: a bit more
// than its own default shutdown timeout.
const stopWait = 35 * time.Second

// stop sends SIGTERM, as an operator would, and kills the process if it lingers.
func (t *target) stop() error {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.exited:
	case <-time.After(stopWait):
		_ = t.cmd.Process.Kill()
		<-t.exited
		return fmt.Errorf("server did not stop within %s of SIGTERM and was killed", stopWait)
	}
	if t.err != nil {
		return fmt.Errorf("server: %w; see %s", t.err, t.log)
	}
	return nil
}
