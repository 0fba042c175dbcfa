// Package remote owns what the blob drivers over remote object stores (azblob, s3) share:
// digest checks, session ids and write nonces, the resumable SHA-256 state that a session
// persists between requests, and the pipeline that cuts an upload body into hashed pieces
// and hands them to concurrent uploaders.
//
// The filesystem driver keeps its own copies of the small helpers; this package exists so
// that the two network drivers cannot drift apart from each other.
package remote

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
	"math"
	"strconv"
	"strings"

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

// ParseBlobName is the inverse of a layout's "<alg>/<hex>" naming: it returns the digest
// named by alg and enc, or false when they do not name a digest CheckDigest accepts.
func ParseBlobName(alg, enc string) (digest.Digest, bool) {
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	return d, CheckDigest(d) == nil
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
func NewID() string { return randomHex(16) }

// ValidID reports whether id has the format NewID makes. Drivers check ids before they
// build object names from them, so a crafted id never names another object.
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

// NewNonce returns a random 64-bit value as 16 hex characters. Each write of a session
// carries one, so a writer that sees its own nonce in the stored state knows that its
// write landed (an SDK retry of a conditional write that had already succeeded fails its
// condition against itself).
func NewNonce() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}

// CtxReader stops a copy once ctx is done, for readers that do not watch ctx themselves.
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

// ParseSize parses a byte count for a driver's URL options: a decimal number, optionally
// followed by KiB, MiB or GiB.
func ParseSize(s string) (int, error) {
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > math.MaxInt/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
