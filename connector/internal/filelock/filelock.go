// Package filelock holds advisory locks on files, so that processes sharing the
// connector's files (the connections file, the credential helper's token cache) take
// turns: one writes or refreshes while the others wait, then read what it wrote.
package filelock

import (
	"context"
	"os"
	"time"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire takes the exclusive lock on path (creating the file, mode 0600), waiting until
// it is free or ctx ends.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	wait := time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if ok {
			return &Lock{f: f}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	_ = unlock(l.f)
	return l.f.Close()
}
