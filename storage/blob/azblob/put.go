package azblob

import (
	"context"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Put implements blob.Putter. The body is staged as blocks of the final blob, hashed as
// it streams; the block list is committed (with If-None-Match: *) only if the bytes match
// want, so until then nothing is visible. Blocks of a failed Put stay uncommitted and the
// service discards them. If the blob exists already, it stays and is refreshed.
func (s *Store) Put(ctx context.Context, want digest.Digest, r io.Reader) (blob.Info, error) {
	info, err := s.put(ctx, want, r)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/azblob: put %q: %w", want, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, want digest.Digest, r io.Reader) (blob.Info, error) {
	if err := sessions.CheckDigest(want); err != nil {
		return blob.Info{}, err
	}
	name, err := s.blobName(want)
	if err != nil {
		return blob.Info{}, err
	}
	bb := s.blockBlob(name)
	h := sessions.NewHash(want.Algorithm())
	nonce := remote.NewNonce()
	n, err := s.pieces.Upload(ctx, r, nil, h, stage(bb, nonce))
	if err != nil {
		return blob.Info{}, err
	}
	if got := digest.NewDigest(want.Algorithm(), h); got != want {
		return blob.Info{}, fmt.Errorf("%w: bytes hash to %s", blob.ErrDigestMismatch, got)
	}
	resp, err := bb.CommitBlockList(ctx, blockIDs(nonce, pieceCount(n, s.pieces.Size())), &blockblob.CommitBlockListOptions{
		Metadata:         committedMetadata(),
		AccessConditions: ifNoneMatchAny(),
	})
	if isConditionFailed(err) {
		return s.touch(ctx, want, name)
	}
	if err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Digest: want, Size: n, ModTime: deref(resp.LastModified)}, nil
}
