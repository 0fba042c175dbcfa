package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/cerulean-registry/cerulean/connector/internal/filelock"
	"github.com/cerulean-registry/cerulean/connector/vault"
)

// KeySource yields the vault's key-encryption key (package vault: a key file, an
// environment variable, or both with DefaultKey).
type KeySource = vault.KeySource

// Errors of the store.
var (
	ErrNotFound = errors.New("connection not found")
	ErrExists   = errors.New("connection already exists")
)

// File names inside a store's directory.
const (
	connectionsFile = "connections.json" // connections, each with its sealed secrets
	keyFile         = "connector.key"    // the default key file (vault.DefaultKey)
	lockFile        = ".connections.lock"
)

// DirEnv overrides the store's default directory.
const DirEnv = "CERULEAN_CONNECTOR_DIR"

// DefaultDir is $CERULEAN_CONNECTOR_DIR, else cerulean/connector under the user's
// configuration directory (~/.config on Linux).
func DefaultDir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "cerulean", "connector"), nil
}

// DefaultKeySource is vault.DefaultKey for a store directory: $CERULEAN_CONNECTOR_KEY,
// else DIR/connector.key, made on first use.
func DefaultKeySource(dir string) KeySource { return vault.DefaultKey(filepath.Join(dir, keyFile)) }

// Store is the saved connections of one directory: DIR/connections.json (mode 0600)
// holds every connection and its secrets sealed by package vault. Writers take a file
// lock, and the file is replaced atomically, so concurrent CLI runs do not lose writes.
type Store struct {
	dir string
	key KeySource
}

// OpenStore opens (creating, mode 0700) the store in dir. key is needed only to read or
// write secrets: listing connections works without it.
func OpenStore(dir string, key KeySource) (*Store, error) {
	if dir == "" {
		return nil, errors.New("connector: no store directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Store{dir: dir, key: key}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

type storeFile struct {
	Version     int           `json:"version"`
	Connections []storedEntry `json:"connections"`
}

type storedEntry struct {
	Connection
	Sealed  *vault.Envelope `json:"sealedSecrets,omitempty"`
	Updated time.Time       `json:"updated"`
}

// List returns the connections, by name, without secrets.
func (s *Store) List() ([]Connection, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	out := make([]Connection, 0, len(f.Connections))
	for _, e := range f.Connections {
		out = append(out, e.Connection)
	}
	return out, nil
}

// Connection returns one connection without its secrets.
func (s *Store) Connection(name string) (*Connection, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	e := f.find(name)
	if e == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	c := e.Connection
	return &c, nil
}

// Get returns a connection and its secrets, opened with the store's key.
func (s *Store) Get(name string) (*Connection, Secrets, error) {
	f, err := s.read()
	if err != nil {
		return nil, Secrets{}, err
	}
	e := f.find(name)
	if e == nil {
		return nil, Secrets{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	c := e.Connection
	if e.Sealed == nil {
		return &c, Secrets{}, nil
	}
	kek, err := s.kek()
	if err != nil {
		return nil, Secrets{}, err
	}
	pt, err := vault.Open(kek, name, e.Sealed)
	if err != nil {
		return nil, Secrets{}, fmt.Errorf("connection %s: %w", name, err)
	}
	sec, err := decodeSecrets(pt)
	return &c, sec, err
}

// Add saves a new connection with its secrets.
func (s *Store) Add(c Connection, sec Secrets) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := c.CheckSecrets(sec); err != nil {
		return err
	}
	return s.update(func(f *storeFile) error {
		if f.find(c.Name) != nil {
			return fmt.Errorf("%w: %s", ErrExists, c.Name)
		}
		e := storedEntry{Connection: c, Updated: time.Now().UTC()}
		if err := s.seal(&e, sec); err != nil {
			return err
		}
		f.Connections = append(f.Connections, e)
		sort.Slice(f.Connections, func(i, j int) bool { return f.Connections[i].Name < f.Connections[j].Name })
		return nil
	})
}

// Rotate replaces a connection's secrets (sealed under a fresh data key).
func (s *Store) Rotate(name string, sec Secrets) error {
	return s.update(func(f *storeFile) error {
		e := f.find(name)
		if e == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		if err := e.CheckSecrets(sec); err != nil {
			return err
		}
		e.Updated = time.Now().UTC()
		return s.seal(e, sec)
	})
}

// Remove deletes a connection and its secrets.
func (s *Store) Remove(name string) error {
	return s.update(func(f *storeFile) error {
		for i := range f.Connections {
			if f.Connections[i].Name == name {
				f.Connections = append(f.Connections[:i], f.Connections[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	})
}

func (s *Store) seal(e *storedEntry, sec Secrets) error {
	e.Sealed = nil
	if sec.Empty() {
		return nil
	}
	kek, err := s.kek()
	if err != nil {
		return err
	}
	pt, err := sec.encode()
	if err != nil {
		return err
	}
	e.Sealed, err = vault.Seal(kek, e.Name, pt)
	return err
}

func (s *Store) kek() ([]byte, error) {
	if s.key == nil {
		return nil, errors.New("connector: no vault key configured")
	}
	return s.key.Key()
}

func (f *storeFile) find(name string) *storedEntry {
	for i := range f.Connections {
		if f.Connections[i].Name == name {
			return &f.Connections[i]
		}
	}
	return nil
}

func (s *Store) path() string { return filepath.Join(s.dir, connectionsFile) }

func (s *Store) read() (*storeFile, error) {
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return &storeFile{Version: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(), err)
	}
	return &f, nil
}

// update applies fn to the file under the store's lock and writes it atomically.
func (s *Store) update(fn func(*storeFile) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := filelock.Acquire(ctx, filepath.Join(s.dir, lockFile))
	if err != nil {
		return fmt.Errorf("connector: lock %s: %w", s.dir, err)
	}
	defer l.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path(), append(b, '\n'), 0o600)
}

// writeFileAtomic writes to a temporary file in the same directory, syncs it and renames
// it over path.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
