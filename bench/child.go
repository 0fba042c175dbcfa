package bench

import (
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// child is a process the bench started: the server under test or the pull baseline's
// file server.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

// startChild starts cmd and waits for it in the background.
func startChild(cmd *exec.Cmd) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM, as an operator would, and kills the process if it is still there
// after wait. It returns the exit status, or says that it had to kill.
func (c *child) stop(wait time.Duration) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.err
	case <-time.After(wait):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("did not stop within %s of SIGTERM and was killed", wait)
	}
}
