package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/cerulean-registry/cerulean/storage/blob"
)

// copySource is an object, or a byte range of one ("bytes=first-last"), to copy.
type copySource struct {
	key string
	rng string
}

// publish makes the verified bytes of sources (in order, size bytes in all) the blob d,
// or refreshes d if it exists already. Nothing is visible before the last request
// succeeds: CopyObject and CompleteMultipartUpload are atomic.
func (s *Store) publish(ctx context.Context, d digest.Digest, size int64, sources []copySource) (blob.Info, error) {
	info, err := s.Stat(ctx, d)
	if err == nil {
		return s.touch(ctx, d)
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return blob.Info{}, err
	}
	key, _ := s.blobKey(d) // Stat checked d
	switch len(sources) {
	case 0:
		_, err = s.c.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: &s.bucket, Key: &key, Body: emptyBody{}, ContentLength: aws.Int64(0),
			IfNoneMatch: aws.String("*"), Metadata: committedMetadata(),
		})
	case 1:
		_, err = s.c.CopyObject(ctx, &awss3.CopyObjectInput{
			Bucket: &s.bucket, Key: &key, CopySource: s.copySource(sources[0].key),
			IfNoneMatch: aws.String("*"), MetadataDirective: types.MetadataDirectiveReplace, Metadata: committedMetadata(),
		})
	default:
		err = s.copyParts(ctx, key, sources, true)
	}
	if isConditionFailed(err) {
		return s.touch(ctx, d) // a concurrent commit of the same bytes won
	}
	if err != nil {
		return blob.Info{}, err
	}
	if info, err = s.Stat(ctx, d); err == nil && info.Size != size {
		return blob.Info{}, fmt.Errorf("published %s holds %d bytes, want %d", key, info.Size, size)
	}
	return info, err
}

// copyParts assembles key on the server from sources, one part each (every part but the
// last must hold at least 5 MiB), optionally completing only if key does not exist yet.
// A failed copy aborts its multipart upload.
func (s *Store) copyParts(ctx context.Context, key string, sources []copySource, ifNoneMatch bool) error {
	if len(sources) > maxParts {
		return fmt.Errorf("%d parts exceed S3's %d", len(sources), maxParts)
	}
	mpu, err := s.c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, Metadata: committedMetadata(),
	})
	if err != nil {
		return err
	}
	parts := make([]types.CompletedPart, len(sources))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, src := range sources {
		g.Go(func() error {
			in := &awss3.UploadPartCopyInput{
				Bucket: &s.bucket, Key: &key, UploadId: mpu.UploadId, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: s.copySource(src.key),
			}
			if src.rng != "" {
				in.CopySourceRange = &src.rng
			}
			out, err := s.c.UploadPartCopy(gctx, in)
			if err != nil {
				return fmt.Errorf("copy part %d from %s: %w", i+1, src.key, err)
			}
			parts[i] = types.CompletedPart{PartNumber: in.PartNumber, ETag: out.CopyPartResult.ETag}
			return nil
		})
	}
	err = g.Wait()
	if err == nil {
		in := &awss3.CompleteMultipartUploadInput{
			Bucket: &s.bucket, Key: &key, UploadId: mpu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		}
		if ifNoneMatch {
			in.IfNoneMatch = aws.String("*")
		}
		if _, err = s.c.CompleteMultipartUpload(ctx, in); err == nil {
			return nil
		}
	}
	return errors.Join(err, s.abort(key, mpu.UploadId))
}

// abort ends a multipart upload that will not complete, also when the request that
// started it was cancelled, so its parts do not linger (and cost) until a bucket
// lifecycle rule removes them.
func (s *Store) abort(key string, uploadID *string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: uploadID})
	if isNotFound(err) {
		return nil // completed after all, or aborted already
	}
	return err
}

// emptyBody is a seekable empty request body.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error)       { return 0, io.EOF }
func (emptyBody) Seek(int64, int) (int64, error) { return 0, nil }
