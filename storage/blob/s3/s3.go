// Package s3 owns the S3 blob driver: committed blobs and resumable upload sessions as
// objects in one bucket, on aws-sdk-go-v2. It works with AWS S3 and with S3-compatible
// servers that support UploadPartCopy. Several replicas may share a bucket; any of them
// can continue any session.
//
// Layout in the bucket, under an optional key prefix:
//
//	blobs/sha256/<hex>           committed blob, named by its digest; Last-Modified = last commit
//	blobs/sha512/<hex>
//	uploads/<id>/state           one upload session (id: 32 lowercase hex characters): JSON
//	                             state (repository, times, size, SHA-256 state, the chunk
//	                             list, nonce of the write that made it)
//	uploads/<id>/<nonce>-<n>     the session's chunks: its bytes, in the state's order
//
// S3 multipart parts must be at least 5 MiB (all but the last), while a client may send
// chunks of any size, and each must be durable when acknowledged. So an Append stores
// its bytes as chunk objects of up to PartSize bytes (written with PutObject: durable on
// return) and a new state naming them, written with If-Match on the state's ETag. Every
// chunk but the last holds at least 5 MiB: when the last one is smaller, the next Append
// reads it back and sends it again in front of its own bytes, as one chunk (at most 5 MiB
// are ever re-sent). Chunk names are unique to the Append that wrote them, so of two
// replicas appending to one session from the same state exactly one wins the conditional
// state write; the other removes its chunks and gets blob.ErrUploadConflict. A state
// carries the writer's nonce, so an SDK retry of a write that had landed recognises it.
// Where a server ignores If-Match, concurrent appends are no longer detected (the
// registry's per-process lock still serialises a session's requests within a replica).
//
// Commit verifies the digest from the persisted SHA-256 state (SHA-512 costs a read of
// the chunks) before anything is visible, then assembles the blob on the server: one
// chunk is copied with CopyObject, several become the parts of a multipart upload by
// UploadPartCopy. The copy or the completion carries If-None-Match: *; when the blob
// already exists it stays, and its Last-Modified (GC's grace marker) is refreshed by
// copying it onto itself with new metadata. A server that ignores the condition lets two
// concurrent commits both write the same verified bytes, which leaves one correct blob.
//
// Put (blob.Putter) hashes the body as it streams: a body of one part is verified, then
// written with PutObject; a larger one goes straight into a multipart upload of the final
// key, completed only if the bytes match (parts are invisible until then) and aborted
// otherwise.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Sizes, from S3's limits.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 4
	minPartSize        = 5 << 20 // every part of a multipart upload but the last
	maxCopySize        = 5 << 30 // CopyObject and one UploadPartCopy
	maxParts           = 10_000
)

// Options configure New.
type Options struct {
	// Client talks to S3 (region, endpoint, credentials, path-style addressing).
	Client *awss3.Client
	// Bucket holds every object of the store.
	Bucket string
	// Prefix, when not empty, starts every key, so several stores can share a bucket. It
	// should end in "/".
	Prefix string
	// PartSize is the largest chunk an Append stores, and the part size of Put's
	// multipart uploads (default DefaultPartSize, at least 5 MiB). A session holds at most
	// 10,000 chunks, so PartSize bounds a blob at about 10,000 × PartSize. Each request of
	// a session holds up to Concurrency+2 parts in memory.
	PartSize int
	// Concurrency is how many parts one request uploads or copies at once (default
	// DefaultConcurrency).
	Concurrency int
}

// Store is the S3 driver. It is safe for concurrent use, also by several processes
// sharing the bucket.
type Store struct {
	c           *awss3.Client
	presign     *awss3.PresignClient
	bucket      string
	prefix      string
	pieces      *remote.Pieces
	concurrency int
}

var (
	_ blob.Store      = (*Store)(nil)
	_ blob.Putter     = (*Store)(nil)
	_ blob.Redirector = (*Store)(nil)
)

// New returns a store over the bucket that o names. It sends no request.
func New(o Options) (*Store, error) {
	if o.Client == nil || o.Bucket == "" {
		return nil, errors.New("blob/s3: a client and a bucket are required")
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < minPartSize || o.PartSize > maxCopySize {
		return nil, fmt.Errorf("blob/s3: part size %d is outside %d..%d", o.PartSize, minPartSize, maxCopySize)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	return &Store{
		c:           o.Client,
		presign:     awss3.NewPresignClient(o.Client),
		bucket:      o.Bucket,
		prefix:      o.Prefix,
		pieces:      remote.NewPieces(o.PartSize, o.Concurrency),
		concurrency: max(o.Concurrency, 1),
	}, nil
}

// CreateBucket creates the store's bucket if it does not exist yet.
func (s *Store) CreateBucket(ctx context.Context) error {
	_, err := s.c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("blob/s3: create bucket: %w", err)
	}
	return nil
}

// blobKey maps a digest to its key. Only digests the store can verify have a key, so a
// crafted digest never names a session or another prefix's object.
func (s *Store) blobKey(d digest.Digest) (string, error) {
	if sessions.CheckDigest(d) != nil {
		return "", blob.ErrNotFound
	}
	return s.prefix + "blobs/" + string(d.Algorithm()) + "/" + d.Encoded(), nil
}

func (s *Store) sessionDir(id string) string { return s.prefix + "uploads/" + id + "/" }

// copySource names bucket/key for CopyObject and UploadPartCopy, which want it escaped.
func (s *Store) copySource(key string) *string {
	return aws.String((&url.URL{Path: s.bucket + "/" + key}).EscapedPath())
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	return err != nil && (httpStatus(err) == 404 || errorCode(err) == "NoSuchKey" || errorCode(err) == "NotFound")
}

// isConditionFailed reports a failed If-Match/If-None-Match, or (AWS) a conditional
// write that lost to a concurrent one.
func isConditionFailed(err error) bool {
	return err != nil && (httpStatus(err) == 412 || errorCode(err) == "ConditionalRequestConflict")
}

// blobErr wraps err for operation op on d, reporting a missing object as blob.ErrNotFound.
func blobErr(op string, d digest.Digest, err error) error {
	if isNotFound(err) {
		err = errors.Join(blob.ErrNotFound, err)
	}
	return fmt.Errorf("blob/s3: %s %q: %w", op, d, err)
}

// modTime is a blob's Last-Modified at the precision every S3 response has (HEAD gives
// seconds, listings more), so that times from either compare.
func modTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Truncate(time.Second)
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return blob.Info{}, blobErr("stat", d, err)
	}
	out, err := s.c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return blob.Info{}, blobErr("stat", d, err)
	}
	return blob.Info{Digest: d, Size: aws.ToInt64(out.ContentLength), ModTime: modTime(out.LastModified)}, nil
}

// Open implements blob.Store. The first read of the whole blob starts at once, so a
// plain download costs one request; a Seek elsewhere starts a ranged one.
func (s *Store) Open(ctx context.Context, d digest.Digest) (blob.Reader, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return nil, blobErr("open", d, err)
	}
	out, err := s.c.GetObject(ctx, &awss3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, blobErr("open", d, err)
	}
	etag := out.ETag
	get := func(ctx context.Context, off int64) (io.ReadCloser, error) {
		out, err := s.c.GetObject(ctx, &awss3.GetObjectInput{
			Bucket: &s.bucket, Key: &key, IfMatch: etag, Range: aws.String(fmt.Sprintf("bytes=%d-", off)),
		})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	}
	return remote.NewReader(ctx, aws.ToInt64(out.ContentLength), out.Body, get), nil
}

// Delete implements blob.Store. S3 deletes a missing key without complaint, so a HEAD
// first tells a missing blob.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	key, err := s.blobKey(d)
	if err != nil {
		return blobErr("delete", d, err)
	}
	if _, err := s.c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return blobErr("delete", d, err)
	}
	if _, err := s.c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return blobErr("delete", d, err)
	}
	return nil
}

// Walk implements blob.Store. Keys not in the layout's form are skipped.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	base := s.prefix + "blobs/"
	return s.list(ctx, base, func(o types.Object) error {
		alg, enc, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), base), "/")
		if !ok {
			return nil
		}
		d, ok := remote.ParseBlobName(alg, enc)
		if !ok {
			return nil
		}
		return fn(blob.Info{Digest: d, Size: aws.ToInt64(o.Size), ModTime: modTime(o.LastModified)})
	})
}

// list calls fn for every object whose key starts with prefix, in key order. It returns
// fn's first error as it is.
func (s *Store) list(ctx context.Context, prefix string, fn func(types.Object) error) error {
	pager := awss3.NewListObjectsV2Paginator(s.c, &awss3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("blob/s3: list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// committedMetadata is the metadata of a committed blob: the time of its last commit.
func committedMetadata() map[string]string {
	return map[string]string{"committed": time.Now().UTC().Format(time.RFC3339Nano)}
}

// touch refreshes a committed blob's Last-Modified, the GC grace marker, by copying it
// onto itself with new metadata (S3 has no cheaper way), and returns its description.
func (s *Store) touch(ctx context.Context, d digest.Digest) (blob.Info, error) {
	info, err := s.Stat(ctx, d)
	if err != nil {
		return blob.Info{}, err
	}
	key, _ := s.blobKey(d) // Stat checked d
	if info.Size <= maxCopySize {
		_, err = s.c.CopyObject(ctx, &awss3.CopyObjectInput{
			Bucket: &s.bucket, Key: &key, CopySource: s.copySource(key),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: committedMetadata(),
		})
	} else {
		err = s.copyParts(ctx, key, selfRanges(key, info.Size), false)
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("refresh %s: %w", key, err)
	}
	return s.Stat(ctx, d)
}

// selfRanges cuts an object of size bytes into copy sources of at most 1 GiB.
func selfRanges(key string, size int64) []copySource {
	const step = 1 << 30
	var out []copySource
	for off := int64(0); off < size; off += step {
		out = append(out, copySource{key: key, rng: fmt.Sprintf("bytes=%d-%d", off, min(off+step, size)-1)})
	}
	return out
}

// Redirect implements blob.Redirector: a presigned GET of d that expires after ttl
// (SigV4 allows at most 7 days).
func (s *Store) Redirect(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return "", blobErr("redirect", d, err)
	}
	if _, anon := s.c.Options().Credentials.(aws.AnonymousCredentials); anon || s.c.Options().Credentials == nil {
		return "", blobErr("redirect", d, fmt.Errorf("no credentials to sign with: %w", errors.ErrUnsupported))
	}
	req, err := s.presign.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: &s.bucket, Key: &key},
		awss3.WithPresignExpires(ttl))
	if err != nil {
		return "", blobErr("redirect", d, err)
	}
	return req.URL, nil
}
