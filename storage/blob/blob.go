// Package blob owns content-addressed blob storage and the resumable upload sessions that
// create blobs. A Store is a driver: the filesystem driver (package fs) is the embedded
// default; Azure Blob and S3 drivers implement the same interface and pass the same suite
// (package blobtest).
//
// Invariant every driver keeps: a blob is visible through Stat/Open only after its bytes
// were hashed, matched the expected digest and were made durable. Upload state lives in
// the driver, so any process sharing the driver's backing store can continue an upload.
package blob

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors returned by drivers. Callers test with errors.Is.
var (
	// ErrNotFound: no committed blob has that digest.
	ErrNotFound = errors.New("blob: not found")
	// ErrUploadNotFound: no live upload session has that id.
	ErrUploadNotFound = errors.New("blob: upload session not found")
	// ErrDigestMismatch: the uploaded bytes do not hash to the expected digest.
	ErrDigestMismatch = errors.New("blob: digest mismatch")
	// ErrSizeMismatch: the uploaded byte count differs from what the caller declared.
	ErrSizeMismatch = errors.New("blob: size mismatch")
	// ErrUnsupportedDigest: the digest algorithm is not one the store can verify.
	ErrUnsupportedDigest = errors.New("blob: unsupported digest algorithm")
	// ErrUploadConflict: another writer (another replica, or a request retried while the
	// first was still running) changed the session after this Upload value loaded it, so
	// this call kept nothing. It is retryable: resume the session with Store.Upload to
	// learn its size and go on from there. Drivers shared by several processes return it;
	// the filesystem driver relies on its caller serialising a session's requests.
	ErrUploadConflict = errors.New("blob: upload session changed concurrently")
)

// Info describes a committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time // last time the blob was committed (re-committing refreshes it; GC grace)
}

// Reader reads a committed blob. Seek makes HTTP Range requests cheap. Drivers backed by
// files return *os.File so the kernel can copy bytes to the socket.
type Reader interface {
	io.ReadSeekCloser
}

// Store is a blob driver.
type Store interface {
	// Stat reports a committed blob, or ErrNotFound.
	Stat(ctx context.Context, d digest.Digest) (Info, error)
	// Open opens a committed blob for reading, or returns ErrNotFound.
	Open(ctx context.Context, d digest.Digest) (Reader, error)
	// Delete removes a committed blob. Deleting a missing blob returns ErrNotFound.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for every committed blob, in no particular order. It stops at the
	// first error fn returns and returns it.
	Walk(ctx context.Context, fn func(Info) error) error

	// CreateUpload starts an upload session for repository, an opaque label the caller
	// checks when the session is resumed (the registry gives registry id and name).
	CreateUpload(ctx context.Context, repository string) (Upload, error)
	// Upload resumes a live session by id, also after a restart of the process, or
	// returns ErrUploadNotFound.
	Upload(ctx context.Context, id string) (Upload, error)
	// WalkUploads calls fn for every live session (for expiry of abandoned ones).
	WalkUploads(ctx context.Context, fn func(UploadInfo) error) error
}

// UploadInfo describes an upload session.
type UploadInfo struct {
	ID         string
	Repository string
	Size       int64     // bytes received and made durable so far
	StartedAt  time.Time // creation time
	UpdatedAt  time.Time // last successful Append
}

// Upload is one upload session. An Upload value is used by one request at a time; the
// caller serialises requests for the same session id.
type Upload interface {
	Info() UploadInfo
	// Append copies r to the end of the session, hashing as it writes, and makes the
	// bytes and the hash state durable before returning. On error nothing of this call
	// is kept: the session stays at its previous size.
	Append(ctx context.Context, r io.Reader) (written int64, err error)
	// Commit checks the session's bytes against want, makes the blob durable and visible
	// under want, and ends the session. On ErrDigestMismatch (or ErrUnsupportedDigest)
	// nothing becomes visible and the session is ended.
	Commit(ctx context.Context, want digest.Digest) (Info, error)
	// Cancel ends the session and discards its bytes.
	Cancel(ctx context.Context) error
}

// Putter is an optional capability of a Store: storing a whole blob in one call, for a
// client that sends it in one request. It skips the durable session state a resumable
// upload needs, so a small blob costs far fewer disk flushes. The same invariant holds:
// nothing is visible unless the bytes hash to want and are durable.
type Putter interface {
	Put(ctx context.Context, want digest.Digest, r io.Reader) (Info, error)
}

// Redirector is an optional capability of a Store whose blobs a client can fetch straight
// from the backing service: Redirect returns a URL that reads the committed blob d, with
// no further credentials, for about ttl (an Azure read-only SAS URL, an S3 presigned GET).
// It does not check that d exists (the caller checked its metadata): a malformed or
// unsupported digest returns ErrNotFound, and a store that cannot sign with its current
// credentials returns an error wrapping errors.ErrUnsupported, so the caller serves the
// bytes itself.
type Redirector interface {
	Redirect(ctx context.Context, d digest.Digest, ttl time.Duration) (url string, err error)
}
