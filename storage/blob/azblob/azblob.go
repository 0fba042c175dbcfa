// Package azblob owns the Azure Blob Storage blob driver: committed blobs and resumable
// upload sessions as block blobs in one container, on the Azure SDK for Go. Several
// replicas may share a container; any of them can continue any session.
//
// Layout in the container, under an optional name prefix:
//
//	blobs/sha256/<hex>   committed blob, named by its digest; Last-Modified = last commit
//	blobs/sha512/<hex>
//	uploads/<id>         one upload session (id: 32 lowercase hex characters): a block blob
//	                     whose committed blocks are the bytes received so far and whose
//	                     metadata is the session state (repository, start time, size,
//	                     SHA-256 state, nonce of the write that made it)
//
// Append stages the body as blocks whose ids are unique to that call, then commits the
// session's block list (the old blocks, then the new ones) together with the new state as
// metadata, in one Put Block List conditioned on the ETag the session was loaded with.
// Bytes and state thus move together, atomically and durably. A failed Append leaves
// only uncommitted blocks, which the service discards; of two replicas appending to the
// same session from the same state exactly one commits and the other gets
// blob.ErrUploadConflict. A state carries the nonce of its write, so an SDK retry of a
// commit that had landed recognises its own write instead of reporting a conflict. A
// session holds at most 50,000 blocks (the service's limit): each Append adds one per
// BlockSize bytes or part of them.
//
// Commit verifies the digest from the persisted SHA-256 state (a SHA-512 digest costs a
// read of the session) before anything is visible, then copies the session blob to its
// final name on the server, with If-None-Match: * on the destination and If-Match on the
// verified ETag of the source, so what becomes visible is exactly what was verified (with
// Entra authorisation the source URL carries a short read-only user-delegation SAS). When
// the blob already exists (an earlier or a concurrent commit of the same bytes) it stays,
// and its Last-Modified is refreshed by Set Blob Metadata: GC reads it as the grace
// marker. A destination whose copy has not completed is never reported as a blob.
//
// Put (blob.Putter) stages the body as blocks of the final blob, hashing as it streams,
// and commits the block list with If-None-Match: * only if the bytes match the digest;
// until then the blocks are uncommitted and invisible.
package azblob

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azb "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Defaults of Options.
const (
	DefaultBlockSize   = 8 << 20
	DefaultConcurrency = 4
	maxBlockSize       = 4000 << 20 // the service's limit for one staged block
)

// Options configure New.
type Options struct {
	// ServiceURL is the blob service endpoint: https://<account>.blob.core.windows.net/,
	// or for Azurite http://127.0.0.1:10000/devstoreaccount1/.
	ServiceURL string
	// Container holds every blob of the store. New does not create it (CreateContainer
	// does).
	Container string
	// Prefix, when not empty, starts every blob name, so several stores can share a
	// container. It should end in "/".
	Prefix string

	// AccountName and AccountKey select shared-key authorisation; Redirect then signs
	// service SAS URLs with the key.
	AccountName string
	AccountKey  string
	// Credential selects Microsoft Entra authorisation when AccountKey is empty; Redirect
	// then signs user-delegation SAS URLs (the principal needs Storage Blob Delegator or
	// Storage Blob Data Reader/Contributor on the account).
	Credential azcore.TokenCredential

	// BlockSize is the size of the blocks a body is cut into (default DefaultBlockSize).
	// Each request of a session holds up to Concurrency+1 blocks in memory.
	BlockSize int
	// Concurrency is how many blocks one request stages at once (default
	// DefaultConcurrency).
	Concurrency int
	// Client configures the SDK's HTTP pipeline (transport, retries, logging).
	Client policy.ClientOptions
}

// Store is the Azure Blob Storage driver. It is safe for concurrent use, also by several
// processes sharing the container.
type Store struct {
	c             *container.Client
	svc           *service.Client          // Entra only: fetches user delegation keys for Redirect
	key           *azb.SharedKeyCredential // shared key only: signs service SAS for Redirect
	containerName string
	prefix        string
	pieces        *remote.Pieces
	udk           udkCache
	pollMin       time.Duration // first wait while a server-side copy is pending
}

var (
	_ blob.Store      = (*Store)(nil)
	_ blob.Putter     = (*Store)(nil)
	_ blob.Redirector = (*Store)(nil)
)

// New returns a store over the container that o names. It sends no request.
func New(o Options) (*Store, error) {
	s, err := newStore(o)
	if err != nil {
		return nil, fmt.Errorf("blob/azblob: %w", err)
	}
	return s, nil
}

func newStore(o Options) (*Store, error) {
	if o.ServiceURL == "" || o.Container == "" {
		return nil, errors.New("a service URL and a container are required")
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.BlockSize < 1 || o.BlockSize > maxBlockSize {
		return nil, fmt.Errorf("block size %d is outside 1..%d", o.BlockSize, maxBlockSize)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	serviceURL := strings.TrimSuffix(o.ServiceURL, "/") + "/"
	containerURL := serviceURL + o.Container
	copts := &container.ClientOptions{ClientOptions: o.Client}
	s := &Store{containerName: o.Container, prefix: o.Prefix, pieces: remote.NewPieces(o.BlockSize, o.Concurrency), pollMin: 20 * time.Millisecond}
	var err error
	switch {
	case o.AccountKey != "":
		if s.key, err = azb.NewSharedKeyCredential(o.AccountName, o.AccountKey); err != nil {
			return nil, fmt.Errorf("shared key: %w", err)
		}
		s.c, err = container.NewClientWithSharedKeyCredential(containerURL, s.key, copts)
	case o.Credential != nil:
		if s.c, err = container.NewClient(containerURL, o.Credential, copts); err != nil {
			return nil, err
		}
		s.svc, err = service.NewClient(serviceURL, o.Credential, &service.ClientOptions{ClientOptions: o.Client})
	default:
		return nil, errors.New("no credential: give an account key or a token credential")
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// CreateContainer creates the store's container if it does not exist yet.
func (s *Store) CreateContainer(ctx context.Context) error {
	_, err := s.c.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("blob/azblob: create container: %w", err)
	}
	return nil
}

// blobName maps a digest to its blob name. Only digests the store can verify have a
// name, so a crafted digest never names a session or another prefix's blob.
func (s *Store) blobName(d digest.Digest) (string, error) {
	if sessions.CheckDigest(d) != nil {
		return "", blob.ErrNotFound
	}
	return s.prefix + "blobs/" + string(d.Algorithm()) + "/" + d.Encoded(), nil
}

func (s *Store) uploadName(id string) string { return s.prefix + "uploads/" + id }

// isNotFound reports whether err says the blob, its container, or a copy's source does
// not exist. The status tells: CannotVerifyCopySource also reports a refused source.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 404
}

// isConditionFailed reports whether err is a failed If-Match/If-None-Match (on the target).
func isConditionFailed(err error) bool {
	return bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.TargetConditionNotMet,
		bloberror.BlobAlreadyExists)
}

// blobErr wraps err for operation op on d, reporting a missing blob as blob.ErrNotFound.
func blobErr(op string, d digest.Digest, err error) error {
	if isNotFound(err) {
		err = errors.Join(blob.ErrNotFound, err)
	}
	return fmt.Errorf("blob/azblob: %s %q: %w", op, d, err)
}

// errPendingCopy marks a destination whose server-side copy has not completed: it is not
// a blob yet.
var errPendingCopy = errors.New("copy not completed")

// copied reports whether a blob's copy status (nil: never copied) makes it a blob.
func copied(st *azb.CopyStatusType) bool {
	return st == nil || *st == azb.CopyStatusTypeSuccess
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	name, err := s.blobName(d)
	if err != nil {
		return blob.Info{}, blobErr("stat", d, err)
	}
	p, err := s.c.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return blob.Info{}, blobErr("stat", d, err)
	}
	if !copied(p.CopyStatus) {
		return blob.Info{}, blobErr("stat", d, errors.Join(blob.ErrNotFound, errPendingCopy))
	}
	return blob.Info{Digest: d, Size: deref(p.ContentLength), ModTime: deref(p.LastModified)}, nil
}

// Open implements blob.Store. The first read of the whole blob starts at once, so a
// plain download costs one request; a Seek elsewhere starts a ranged one.
func (s *Store) Open(ctx context.Context, d digest.Digest) (blob.Reader, error) {
	name, err := s.blobName(d)
	if err != nil {
		return nil, blobErr("open", d, err)
	}
	r, err := s.openReader(ctx, s.c.NewBlobClient(name))
	if err != nil {
		return nil, blobErr("open", d, err)
	}
	return r, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	name, err := s.blobName(d)
	if err != nil {
		return blobErr("delete", d, err)
	}
	if _, err := s.c.NewBlobClient(name).Delete(ctx, nil); err != nil {
		return blobErr("delete", d, err)
	}
	return nil
}

// Walk implements blob.Store. Names not in the layout's form are skipped.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	base := s.prefix + "blobs/"
	pager := s.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix:  &base,
		Include: container.ListBlobsInclude{Copy: true},
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("blob/azblob: walk: %w", err)
		}
		for _, item := range page.Segment.BlobItems {
			info, ok := blobInfo(base, item)
			if !ok {
				continue
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// blobInfo describes a listed blob under base, or reports false when it is not a
// committed blob of the layout.
func blobInfo(base string, item *container.BlobItem) (blob.Info, bool) {
	if item.Name == nil || item.Properties == nil || !copied(item.Properties.CopyStatus) {
		return blob.Info{}, false
	}
	alg, enc, ok := strings.Cut(strings.TrimPrefix(*item.Name, base), "/")
	if !ok {
		return blob.Info{}, false
	}
	d, ok := remote.ParseBlobName(alg, enc)
	if !ok {
		return blob.Info{}, false
	}
	return blob.Info{Digest: d, Size: deref(item.Properties.ContentLength), ModTime: deref(item.Properties.LastModified)}, true
}

// touch refreshes a committed blob's Last-Modified, the GC grace marker, and returns its
// description. A destination whose copy (by a concurrent commit) is still pending is
// waited for first.
func (s *Store) touch(ctx context.Context, d digest.Digest, name string) (blob.Info, error) {
	c := s.c.NewBlobClient(name)
	if err := s.waitCopy(ctx, c); err != nil {
		return blob.Info{}, err
	}
	if _, err := c.SetMetadata(ctx, committedMetadata(), nil); err != nil {
		return blob.Info{}, err
	}
	return s.Stat(ctx, d)
}

// committedMetadata is the metadata of a committed blob: the time of its last commit.
func committedMetadata() map[string]*string {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return map[string]*string{"committed": &now}
}

// waitCopy waits until the server-side copy into c (if any) is no longer pending. A copy
// that failed or was aborted leaves a destination that is not a blob: it is removed and
// reported as blob.ErrNotFound.
func (s *Store) waitCopy(ctx context.Context, c *azb.Client) error {
	wait := s.pollMin
	for {
		p, err := c.GetProperties(ctx, nil)
		if err != nil {
			return err
		}
		switch {
		case copied(p.CopyStatus):
			return nil
		case *p.CopyStatus != azb.CopyStatusTypePending:
			cond := &azb.AccessConditions{ModifiedAccessConditions: &azb.ModifiedAccessConditions{IfMatch: p.ETag}}
			_, derr := c.Delete(ctx, &azb.DeleteOptions{AccessConditions: cond})
			return errors.Join(fmt.Errorf("%w: server-side copy %s: %s", blob.ErrNotFound, *p.CopyStatus, deref(p.CopyStatusDescription)), derr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (s *Store) blockBlob(name string) *blockblob.Client { return s.c.NewBlockBlobClient(name) }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
