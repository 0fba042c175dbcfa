package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MasterKey is the data directory's secret (DIR/keys/master.key, 32 random bytes, 0600):
// it seals private keys stored in the metadata store with AES-256-GCM, and derives other
// server-side keys (Derive). Replicas that share a metadata store must share the file.
// Losing it makes the sealed keys unreadable: signing keys are then replaced by new ones
// (tokens signed before are refused) and whatever was keyed with a derived key is lost.
type MasterKey struct {
	key  []byte
	aead cipher.AEAD
}

// MasterKeyFile is where the master key lives under the data directory.
const MasterKeyFile = "keys/master.key"

// LoadMasterKey reads the master key at path, creating it (and its directory, 0700) with a
// new random key if it does not exist. A file of the wrong size is an error, not replaced:
// it would orphan every sealed key.
func LoadMasterKey(path string) (*MasterKey, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("master key %s: %d bytes, want 32", path, len(key))
	}
	return NewMasterKey(key)
}

// createMasterKey writes a new key exclusively (O_EXCL), so that two processes starting
// on a new data directory cannot each write their own; the loser reads the winner's.
func createMasterKey(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// NewMasterKey uses a 32-byte key (tests; operators who keep the key elsewhere).
func NewMasterKey(key []byte) (*MasterKey, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &MasterKey{key: append([]byte(nil), key...), aead: aead}, nil
}

// Seal encrypts plaintext bound to context (e.g. the key id it belongs to), so that a
// sealed value copied into another record does not open there. The result is the random
// nonce followed by the ciphertext.
func (m *MasterKey) Seal(plaintext, context []byte) []byte {
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(plaintext)+m.aead.Overhead())
	_, _ = rand.Read(nonce)
	return m.aead.Seal(nonce, nonce, plaintext, context)
}

// Open decrypts what Seal returned for the same context.
func (m *MasterKey) Open(sealed, context []byte) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("signing: sealed value too short")
	}
	plain, err := m.aead.Open(nil, sealed[:n], sealed[n:], context)
	if err != nil {
		return nil, errors.New("signing: sealed value does not open with this master key")
	}
	return plain, nil
}

// Derive returns a 32-byte key for purpose (HMAC-SHA256 of the purpose under the master
// key): one secret to keep, independent keys for each use.
func (m *MasterKey) Derive(purpose string) []byte {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}
