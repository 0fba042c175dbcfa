// Package remote owns what the blob drivers over remote object stores (azblob, s3) share
// beyond what every driver does (package sessions): object names of blobs, write nonces,
// size options, the reader of a remote body, and the pipeline that cuts an upload body
// into hashed pieces and hands them to concurrent uploaders.
package remote

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// ParseBlobName is the inverse of a layout's "<alg>/<hex>" naming: it returns the digest
// named by alg and enc, or false when they do not name a digest sessions.CheckDigest accepts.
func ParseBlobName(alg, enc string) (digest.Digest, bool) {
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	return d, sessions.CheckDigest(d) == nil
}

// NewNonce returns a random 64-bit value as 16 hex characters. Each write of a session
// carries one, so a writer that sees its own nonce in the stored state knows that its
// write landed (an SDK retry of a conditional write that had already succeeded fails its
// condition against itself).
func NewNonce() string { return sessions.RandomHex(8) }

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
