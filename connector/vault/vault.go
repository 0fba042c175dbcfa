// Package vault keeps the connector's secrets encrypted at rest: an AES-256-GCM envelope
// (a fresh random data key per secret, itself sealed under a key-encryption key), with the
// key-encryption key read from a file or an environment variable.
//
// Why not the OS keyring: the connector runs on servers, in CI and in containers, where
// there is no D-Bus session and no Secret Service (GNOME Keyring, KWallet) to talk to, and
// a keyring that is present is unlocked by a desktop login that those machines never have.
// A 0600 key file under the user's configuration directory (created on first use), or
// CERULEAN_CONNECTOR_KEY (base64 of 32 bytes) supplied by the platform's own secret store
// (a Kubernetes secret, a CI secret variable), works the same everywhere and keeps the key
// apart from the sealed secrets, which may then be copied or backed up on their own.
//
// A sealed secret is bound to a name (associated data): an envelope moved to another
// name, edited, or opened with another key fails to open, and the error says which.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of the key-encryption key: AES-256.
const KeySize = 32

// EnvVar names the environment variable that holds the key, base64 (standard or URL
// alphabet, padded or not) of KeySize bytes.
const EnvVar = "CERULEAN_CONNECTOR_KEY"

// Errors of opening an envelope.
var (
	// ErrWrongKey: the envelope was sealed under another key-encryption key.
	ErrWrongKey = errors.New("vault: sealed under a different key")
	// ErrTampered: the envelope does not authenticate (edited, truncated, or moved to
	// another name).
	ErrTampered = errors.New("vault: envelope does not authenticate (tampered, corrupted or renamed)")
)

// KeySource yields the key-encryption key.
type KeySource interface {
	Key() ([]byte, error)
}

// KeyFunc adapts a function to KeySource.
type KeyFunc func() ([]byte, error)

// Key calls f.
func (f KeyFunc) Key() ([]byte, error) { return f() }

// StaticKey is a key held in memory (tests, or a caller with its own key management).
type StaticKey []byte

// Key returns a copy of k, checking its length.
func (k StaticKey) Key() ([]byte, error) {
	if len(k) != KeySize {
		return nil, fmt.Errorf("vault: key is %d bytes, want %d", len(k), KeySize)
	}
	return append([]byte(nil), k...), nil
}

// EnvKey reads the key from the environment variable name (base64 of 32 bytes).
func EnvKey(name string) KeySource {
	return KeyFunc(func() ([]byte, error) {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return nil, fmt.Errorf("vault: %s is not set", name)
		}
		k, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("vault: %s: %w", name, err)
		}
		return k, nil
	})
}

// FileKey reads the key from path (base64 text of 32 bytes). When create is true and
// the file does not exist, it makes a new random key there (mode 0600, directory 0700).
// An existing file that others can read is refused.
func FileKey(path string, create bool) KeySource {
	return KeyFunc(func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && create {
			return createKeyFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("vault: key file: %w", err)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("vault: key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		k, err := decodeKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("vault: key file %s: %w", path, err)
		}
		return k, nil
	})
}

// DefaultKey is CERULEAN_CONNECTOR_KEY when it is set, else the key file path, created
// on first use.
func DefaultKey(path string) KeySource {
	return KeyFunc(func() ([]byte, error) {
		if os.Getenv(EnvVar) != "" {
			return EnvKey(EnvVar).Key()
		}
		return FileKey(path, true).Key()
	})
}

// NewKey returns a new random key, base64-encoded, for CERULEAN_CONNECTOR_KEY or a key file.
func NewKey() (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("vault: key directory: %w", err)
	}
	text, err := NewKey()
	if err != nil {
		return nil, err
	}
	// The key is written whole to a temporary file and then linked into place: link never
	// replaces an existing file, so of two processes creating the key at once one wins and
	// the other reads the winner's complete key, never a half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, text+"\n"); err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return FileKey(path, false).Key()
	} else if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	return decodeKey(text)
}

// writeSynced writes text to f, flushes it to disk and closes it (0600, as CreateTemp made it).
func writeSynced(f *os.File, text string) error {
	_, err := f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// Envelope is one sealed secret, as stored (JSON).
type Envelope struct {
	Version int `json:"v"`
	// KeyID names the key-encryption key (a hash prefix of it, never the key), so that a
	// wrong key is told apart from tampering.
	KeyID      string `json:"kid"`
	WrappedKey string `json:"wrappedKey"` // base64: nonce || AES-GCM(KEK, data key)
	Ciphertext string `json:"ciphertext"` // base64: nonce || AES-GCM(data key, plaintext)
}

// KeyID is the public name of a key-encryption key.
func KeyID(kek []byte) string {
	sum := sha256.Sum256(append([]byte("cerulean-connector-kek\x00"), kek...))
	return hex.EncodeToString(sum[:8])
}

// Seal encrypts plaintext under a fresh data key sealed by kek, bound to name.
func Seal(kek []byte, name string, plaintext []byte) (*Envelope, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("vault: key is %d bytes, want %d", len(kek), KeySize)
	}
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	wrapped, err := seal(kek, dek, aad("dek", name))
	if err != nil {
		return nil, err
	}
	ct, err := seal(dek, plaintext, aad("data", name))
	if err != nil {
		return nil, err
	}
	return &Envelope{Version: 1, KeyID: KeyID(kek),
		WrappedKey: base64.StdEncoding.EncodeToString(wrapped), Ciphertext: base64.StdEncoding.EncodeToString(ct)}, nil
}

// Open decrypts an envelope sealed for name under kek.
func Open(kek []byte, name string, e *Envelope) ([]byte, error) {
	if e == nil || e.Version != 1 {
		return nil, ErrTampered
	}
	if e.KeyID != KeyID(kek) {
		return nil, fmt.Errorf("%w (envelope key %s, this key %s)", ErrWrongKey, e.KeyID, KeyID(kek))
	}
	wrapped, err1 := base64.StdEncoding.DecodeString(e.WrappedKey)
	ct, err2 := base64.StdEncoding.DecodeString(e.Ciphertext)
	if err1 != nil || err2 != nil {
		return nil, ErrTampered
	}
	dek, err := open(kek, wrapped, aad("dek", name))
	if err != nil {
		return nil, ErrTampered
	}
	pt, err := open(dek, ct, aad("data", name))
	if err != nil {
		return nil, ErrTampered
	}
	return pt, nil
}

func aad(part, name string) []byte { return []byte("cerulean-connector/v1/" + part + "/" + name) }

func seal(key, plaintext, ad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, ad), nil
}

func open(key, sealed, ad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrTampered
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], ad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
