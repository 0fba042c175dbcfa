// Package sessions owns what the upload sessions of every blob driver (fs, azblob, s3)
// share: which digests a session can verify and the hash for each, the resumable SHA-256
// state a session keeps between requests, session ids, and the readers that copy a body.
// One copy, so that the drivers cannot drift apart on what they accept.
package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
)

// CheckDigest accepts well-formed sha256 and sha512 digests, the ones a driver can verify.
func CheckDigest(d digest.Digest) error {
	err := d.Validate()
	switch {
	case errors.Is(err, digest.ErrDigestUnsupported):
		return fmt.Errorf("%w: %q", blob.ErrUnsupportedDigest, d)
	case err != nil:
		return fmt.Errorf("invalid digest %q: %w", d, err)
	case d.Algorithm() != digest.SHA256 && d.Algorithm() != digest.SHA512:
		return fmt.Errorf("%w: %q", blob.ErrUnsupportedDigest, d)
	}
	return nil
}

// NewHash returns a hash for an algorithm CheckDigest accepted.
func NewHash(alg digest.Algorithm) hash.Hash {
	if alg == digest.SHA512 {
		return sha512.New()
	}
	return sha256.New()
}

// NewSHA256State returns the marshalled state of an empty SHA-256.
func NewSHA256State() []byte {
	b, _ := MarshalHash(sha256.New()) // never fails for the standard library's hashes
	return b
}

// RestoreSHA256 returns a SHA-256 hash resumed from a state made by MarshalHash.
func RestoreSHA256(b []byte) (hash.Hash, error) {
	h := sha256.New()
	// The standard library documents that its hashes implement encoding.BinaryUnmarshaler.
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("restore sha256 state: %w", err)
	}
	return h, nil
}

// MarshalHash returns h's state, for RestoreSHA256.
func MarshalHash(h hash.Hash) ([]byte, error) {
	return h.(encoding.BinaryMarshaler).MarshalBinary()
}

// NewID returns a random session id: 128 bits as 32 lowercase hex characters.
func NewID() string { return RandomHex(16) }

// ValidID reports whether id has the format NewID makes. Drivers check ids before they
// build file or object names from them, so a crafted id never names anything else.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RandomHex returns n random bytes as 2n lowercase hex characters.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}

// CtxReader stops a copy once Ctx is done, for readers that do not watch it themselves.
type CtxReader struct {
	Ctx context.Context
	R   io.Reader
}

func (c CtxReader) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.R.Read(p)
}

// Fill reads into buf until it is full or r ends; io.EOF comes with the last bytes.
func Fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
