package azblob

import (
	"context"
	"errors"
	"io"

	azb "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
)

// openReader GETs the whole blob and returns a reader that continues with ranged GETs,
// pinned to the ETag of the first response, after a Seek.
func (s *Store) openReader(ctx context.Context, c *azb.Client) (*remote.Reader, error) {
	resp, err := c.DownloadStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	if !copied(resp.CopyStatus) {
		resp.Body.Close()
		return nil, errors.Join(blob.ErrNotFound, errPendingCopy)
	}
	etag := deref(resp.ETag)
	get := func(ctx context.Context, off int64) (io.ReadCloser, error) {
		resp, err := c.DownloadStream(ctx, &azb.DownloadStreamOptions{
			Range:            azb.HTTPRange{Offset: off},
			AccessConditions: ifMatch(etag),
		})
		return resp.Body, err
	}
	return remote.NewReader(ctx, deref(resp.ContentLength), resp.Body, get), nil
}
