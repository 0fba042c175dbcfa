// Package oci owns the OCI Distribution and Image grammar that the registry enforces:
// repository names, tags, digests, media types, and manifest parsing and validation (on
// opencontainers image-spec and go-digest).
package oci

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Validation errors; the registry maps them to NAME_INVALID, TAG_INVALID, DIGEST_INVALID
// and MANIFEST_INVALID.
var (
	ErrInvalidName     = errors.New("invalid repository name")
	ErrInvalidTag      = errors.New("invalid tag")
	ErrInvalidDigest   = errors.New("invalid digest")
	ErrInvalidManifest = errors.New("invalid manifest")
)

// MaxNameLength bounds a repository name (distribution's limit; the spec leaves it to the
// registry, and clients commonly assume 255).
const MaxNameLength = 255

// Grammar from the distribution spec, "Pulling manifests": path components of lower-case
// alphanumerics joined by separators, and tags of at most 128 characters.
var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidateName checks a repository name against the spec's grammar.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLength || !nameRE.MatchString(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}

// ValidateTag checks a tag against the spec's grammar.
func ValidateTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return fmt.Errorf("%w: %q", ErrInvalidTag, tag)
	}
	return nil
}

// ParseDigest parses and validates a digest of a registered algorithm (sha256, sha512).
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrInvalidDigest, s)
	}
	return d, nil
}

// IsDigest reports whether a manifest reference is a digest rather than a tag (a tag
// cannot contain ':').
func IsDigest(reference string) bool { return strings.Contains(reference, ":") }
