package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Put implements blob.Putter. A body of one part is hashed, verified, then written with
// PutObject; a larger one streams into a multipart upload of the final key, completed
// only if the bytes match want and aborted otherwise. Either write carries
// If-None-Match: *; if the blob exists already, it stays and is refreshed.
func (s *Store) Put(ctx context.Context, want digest.Digest, r io.Reader) (blob.Info, error) {
	info, err := s.put(ctx, want, r)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/s3: put %q: %w", want, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, want digest.Digest, r io.Reader) (blob.Info, error) {
	if err := sessions.CheckDigest(want); err != nil {
		return blob.Info{}, err
	}
	key, _ := s.blobKey(want) // CheckDigest accepted want
	h := sessions.NewHash(want.Algorithm())
	mismatch := func() error {
		if got := digest.NewDigest(want.Algorithm(), h); got != want {
			return fmt.Errorf("%w: bytes hash to %s", blob.ErrDigestMismatch, got)
		}
		return nil
	}
	m := multipart{s: s, key: key}
	n, err := s.pieces.Upload(ctx, r, nil, h, func(ctx context.Context, i int, data []byte, last bool) error {
		if i == 0 && last { // the whole body: h has seen it all
			if err := mismatch(); err != nil {
				return err
			}
			return s.putObject(ctx, key, data)
		}
		return m.part(ctx, i, data)
	})
	if err == nil && n == 0 {
		if err = mismatch(); err == nil {
			err = s.putObject(ctx, key, nil)
		}
	}
	if err == nil && m.id != nil {
		if err = mismatch(); err == nil {
			err = m.complete(ctx)
		}
	}
	if m.id != nil && err != nil {
		err = errors.Join(err, s.abort(key, m.id))
	}
	if isConditionFailed(err) {
		return s.touch(ctx, want) // the blob exists already
	}
	if err != nil {
		return blob.Info{}, err
	}
	return s.Stat(ctx, want)
}

func (s *Store) putObject(ctx context.Context, key string, data []byte) error {
	_, err := s.c.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		IfNoneMatch: aws.String("*"), Metadata: committedMetadata(),
	})
	return err
}

// multipart is a multipart upload that its first part starts.
type multipart struct {
	s     *Store
	key   string
	start sync.Once
	err   error
	id    *string
	mu    sync.Mutex // guards parts
	parts []types.CompletedPart
}

func (m *multipart) part(ctx context.Context, i int, data []byte) error {
	m.start.Do(func() {
		out, err := m.s.c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
			Bucket: &m.s.bucket, Key: &m.key, Metadata: committedMetadata(),
		})
		if err != nil {
			m.err = err
			return
		}
		m.id = out.UploadId
	})
	if m.err != nil {
		return m.err
	}
	num := aws.Int32(int32(i + 1))
	out, err := m.s.c.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket: &m.s.bucket, Key: &m.key, UploadId: m.id, PartNumber: num,
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return fmt.Errorf("upload part %d: %w", i+1, err)
	}
	m.mu.Lock()
	m.parts = append(m.parts, types.CompletedPart{PartNumber: num, ETag: out.ETag})
	m.mu.Unlock()
	return nil
}

func (m *multipart) complete(ctx context.Context) error {
	if len(m.parts) > maxParts {
		return fmt.Errorf("%d parts exceed S3's %d", len(m.parts), maxParts)
	}
	slices.SortFunc(m.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := m.s.c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: &m.s.bucket, Key: &m.key, UploadId: m.id, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: m.parts},
	})
	return err
}
