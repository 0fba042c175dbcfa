package azblob

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	azb "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Metadata names of a session blob's state. The service compares names without regard
// to case and the SDK may return them capitalised, so they are read that way.
const (
	metaRepository = "repository" // percent-encoded: metadata values are header values
	metaStarted    = "started"    // RFC 3339 with nanoseconds
	metaSize       = "size"       // decimal
	metaSHA256     = "sha256"     // base64 of the marshalled SHA-256 state
	metaNonce      = "nonce"      // of the write that made this state
)

// state is what a session blob's metadata records.
type state struct {
	Repository string
	StartedAt  time.Time
	Size       int64
	SHA256     []byte
	Nonce      string
}

func (st state) metadata() map[string]*string {
	return map[string]*string{
		metaRepository: ptr(url.QueryEscape(st.Repository)),
		metaStarted:    ptr(st.StartedAt.UTC().Format(time.RFC3339Nano)),
		metaSize:       ptr(strconv.FormatInt(st.Size, 10)),
		metaSHA256:     ptr(base64.StdEncoding.EncodeToString(st.SHA256)),
		metaNonce:      ptr(st.Nonce),
	}
}

// errCorrupt marks a session blob whose metadata is not a state: the session cannot go on.
var errCorrupt = errors.New("session state missing or corrupt")

func parseState(md map[string]*string) (state, error) {
	get := func(name string) string {
		for k, v := range md {
			if strings.EqualFold(k, name) && v != nil {
				return *v
			}
		}
		return ""
	}
	var st state
	var errs [4]error
	st.Repository, errs[0] = url.QueryUnescape(get(metaRepository))
	st.StartedAt, errs[1] = time.Parse(time.RFC3339Nano, get(metaStarted))
	st.Size, errs[2] = strconv.ParseInt(get(metaSize), 10, 64)
	st.SHA256, errs[3] = base64.StdEncoding.DecodeString(get(metaSHA256))
	st.Nonce = get(metaNonce)
	if err := errors.Join(errs[:]...); err != nil || st.Size < 0 {
		return state{}, errCorrupt
	}
	if _, err := sessions.RestoreSHA256(st.SHA256); err != nil {
		return state{}, errCorrupt
	}
	return st, nil
}

// upload is one session. Its fields mirror the session blob as of the last request this
// value made; a request made with a stale ETag fails its condition.
type upload struct {
	s       *Store
	id      string
	bb      *blockblob.Client
	st      state
	etag    azcore.ETag
	updated time.Time // Last-Modified of the session blob: the last Append (or creation)
	blocks  []string  // committed block ids; nil until an Append needs them
	ended   bool      // this value saw the session end
}

var _ blob.Upload = (*upload)(nil)

func (s *Store) session(id string) *upload {
	return &upload{s: s, id: id, bb: s.blockBlob(s.uploadName(id))}
}

// CreateUpload implements blob.Store. The session blob starts empty, with its state.
func (s *Store) CreateUpload(ctx context.Context, repository string) (blob.Upload, error) {
	u := s.session(sessions.NewID())
	u.st = state{Repository: repository, StartedAt: time.Now(), SHA256: sessions.NewSHA256State(), Nonce: remote.NewNonce()}
	resp, err := u.bb.CommitBlockList(ctx, nil, &blockblob.CommitBlockListOptions{
		Metadata:         u.st.metadata(),
		AccessConditions: ifNoneMatchAny(),
	})
	if err != nil {
		return nil, fmt.Errorf("blob/azblob: create upload: %w", err)
	}
	u.adopt(u.st, []string{}, resp.ETag, resp.LastModified)
	return u, nil
}

// Upload implements blob.Store. Ids are checked against the format NewID makes, so a
// crafted id never names another blob. A session blob without a readable state is
// removed: nobody can use it any more.
func (s *Store) Upload(ctx context.Context, id string) (blob.Upload, error) {
	if !sessions.ValidID(id) {
		return nil, fmt.Errorf("blob/azblob: resume upload %q: %w", id, blob.ErrUploadNotFound)
	}
	u := s.session(id)
	if err := u.load(ctx); err != nil {
		return nil, fmt.Errorf("blob/azblob: resume upload %s: %w", id, err)
	}
	return u, nil
}

func (u *upload) load(ctx context.Context) error {
	p, err := u.bb.GetProperties(ctx, nil)
	if isNotFound(err) {
		return errors.Join(blob.ErrUploadNotFound, err)
	}
	if err != nil {
		return err
	}
	st, err := parseState(p.Metadata)
	if err != nil {
		_, derr := u.bb.Delete(ctx, &azb.DeleteOptions{AccessConditions: ifMatch(deref(p.ETag))})
		return errors.Join(blob.ErrUploadNotFound, err, derr)
	}
	u.adopt(st, nil, p.ETag, p.LastModified)
	return nil
}

// adopt records a state the service holds.
func (u *upload) adopt(st state, blocks []string, etag *azcore.ETag, modified *time.Time) {
	u.st, u.blocks, u.etag, u.updated = st, blocks, deref(etag), deref(modified)
}

// WalkUploads implements blob.Store. A session blob without a readable state is still
// listed, dated by its Last-Modified, so expiry finds it; Upload then removes it.
func (s *Store) WalkUploads(ctx context.Context, fn func(blob.UploadInfo) error) error {
	base := s.prefix + "uploads/"
	pager := s.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix:  &base,
		Include: container.ListBlobsInclude{Metadata: true},
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("blob/azblob: walk uploads: %w", err)
		}
		for _, item := range page.Segment.BlobItems {
			info, ok := uploadInfo(base, item)
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

func uploadInfo(base string, item *container.BlobItem) (blob.UploadInfo, bool) {
	if item.Name == nil || item.Properties == nil {
		return blob.UploadInfo{}, false
	}
	id := strings.TrimPrefix(*item.Name, base)
	if !sessions.ValidID(id) {
		return blob.UploadInfo{}, false
	}
	modified := deref(item.Properties.LastModified)
	st, err := parseState(item.Metadata)
	if err != nil {
		return blob.UploadInfo{ID: id, StartedAt: modified, UpdatedAt: modified}, true
	}
	u := upload{id: id, st: st, updated: modified}
	return u.Info(), true
}

// Info implements blob.Upload.
func (u *upload) Info() blob.UploadInfo {
	return blob.UploadInfo{
		ID:         u.id,
		Repository: u.st.Repository,
		Size:       u.st.Size,
		StartedAt:  u.st.StartedAt,
		UpdatedAt:  u.updated,
	}
}

// Append implements blob.Upload.
func (u *upload) Append(ctx context.Context, r io.Reader) (int64, error) {
	n, err := u.append(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("blob/azblob: append to upload %s: %w", u.id, err)
	}
	return n, nil
}

func (u *upload) append(ctx context.Context, r io.Reader) (int64, error) {
	if u.ended {
		return 0, blob.ErrUploadNotFound
	}
	if err := u.loadBlocks(ctx); err != nil {
		return 0, err
	}
	h, err := sessions.RestoreSHA256(u.st.SHA256)
	if err != nil {
		return 0, err
	}
	nonce := remote.NewNonce()
	n, err := u.s.pieces.Upload(ctx, r, nil, h, stage(u.bb, nonce))
	if err != nil || n == 0 {
		return 0, err // staged blocks stay uncommitted; the service discards them
	}
	next := u.st
	next.Size += n
	next.Nonce = nonce
	if next.SHA256, err = sessions.MarshalHash(h); err != nil {
		return 0, err
	}
	ids := append(slices.Clip(u.blocks), blockIDs(nonce, pieceCount(n, u.s.pieces.Size()))...)
	resp, err := u.bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		Metadata:         next.metadata(),
		AccessConditions: ifMatch(u.etag),
	})
	if err != nil {
		if !isConditionFailed(err) && !isNotFound(err) {
			return 0, err
		}
		if err := u.settle(ctx, next, ids, err); err != nil {
			return 0, err
		}
		return n, nil
	}
	u.adopt(next, ids, resp.ETag, resp.LastModified)
	return n, nil
}

// loadBlocks fetches the committed block list, which a resumed session does not need
// until it appends. Should the list have changed since the state was loaded, the
// conditional commit that follows fails, so the two cannot be mixed up.
func (u *upload) loadBlocks(ctx context.Context) error {
	if u.blocks != nil {
		return nil
	}
	resp, err := u.bb.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
	if isNotFound(err) {
		u.ended = true
		return errors.Join(blob.ErrUploadNotFound, err)
	}
	if err != nil {
		return err
	}
	u.blocks = []string{}
	for _, b := range resp.CommittedBlocks {
		u.blocks = append(u.blocks, deref(b.Name))
	}
	return nil
}

// settle decides what a failed conditional commit of next means. The session may have
// ended; another writer may have moved it (a conflict); or the commit landed and failed
// only on the SDK's retry, which the nonce of next tells.
func (u *upload) settle(ctx context.Context, next state, ids []string, cause error) error {
	p, err := u.bb.GetProperties(ctx, nil)
	if isNotFound(err) {
		u.ended = true
		return errors.Join(blob.ErrUploadNotFound, cause)
	}
	if err != nil {
		return errors.Join(cause, err)
	}
	if got, err := parseState(p.Metadata); err == nil && got.Nonce == next.Nonce {
		u.adopt(next, ids, p.ETag, p.LastModified)
		return nil
	}
	return fmt.Errorf("%w: %w", blob.ErrUploadConflict, cause)
}

// stage returns a put function for remote.Pieces that stages each piece as a block of bb.
func stage(bb *blockblob.Client, nonce string) func(context.Context, int, []byte, bool) error {
	return func(ctx context.Context, i int, data []byte, _ bool) error {
		_, err := bb.StageBlock(ctx, blockID(nonce, i), streaming.NopCloser(bytes.NewReader(data)), nil)
		return err
	}
}

// blockID names piece i of the write with the given nonce. The ids of one blob must all
// have the same length: 8 bytes of nonce and 4 of index, in base64.
func blockID(nonce string, i int) string {
	var b [12]byte
	_, _ = hex.Decode(b[:8], []byte(nonce)) // NewNonce makes 16 hex characters
	binary.BigEndian.PutUint32(b[8:], uint32(i))
	return base64.StdEncoding.EncodeToString(b[:])
}

func blockIDs(nonce string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = blockID(nonce, i)
	}
	return ids
}

// pieceCount is how many pieces remote.Pieces cut n bytes into.
func pieceCount(n int64, size int) int { return int((n + int64(size) - 1) / int64(size)) }

// Commit implements blob.Upload. Invalid and unsupported digests end the session like a
// mismatch does: the client has to start over either way.
func (u *upload) Commit(ctx context.Context, want digest.Digest) (blob.Info, error) {
	info, err := u.commit(ctx, want)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/azblob: commit upload %s as %q: %w", u.id, want, err)
	}
	return info, nil
}

func (u *upload) commit(ctx context.Context, want digest.Digest) (blob.Info, error) {
	if u.ended {
		return blob.Info{}, blob.ErrUploadNotFound
	}
	if err := sessions.CheckDigest(want); err != nil {
		return blob.Info{}, u.endRefused(ctx, err)
	}
	if err := u.verify(ctx, want); err != nil {
		if errors.Is(err, blob.ErrDigestMismatch) {
			err = u.endRefused(ctx, err)
		}
		return blob.Info{}, err
	}
	info, err := u.publish(ctx, want)
	if err != nil {
		return blob.Info{}, err
	}
	if err := u.end(ctx); err != nil && !errors.Is(err, blob.ErrUploadNotFound) {
		return blob.Info{}, err
	}
	return info, nil
}

// verify checks that the session's bytes hash to want. SHA-256 comes from the persisted
// state; SHA-512 costs a read of the session blob, pinned to the verified ETag.
func (u *upload) verify(ctx context.Context, want digest.Digest) error {
	var got digest.Digest
	if want.Algorithm() == digest.SHA256 {
		h, err := sessions.RestoreSHA256(u.st.SHA256)
		if err != nil {
			return err
		}
		got = digest.NewDigest(digest.SHA256, h)
	} else {
		var err error
		if got, err = u.hashContent(ctx, want.Algorithm()); err != nil {
			return err
		}
	}
	if got != want {
		return fmt.Errorf("%w: bytes hash to %s", blob.ErrDigestMismatch, got)
	}
	return nil
}

func (u *upload) hashContent(ctx context.Context, alg digest.Algorithm) (digest.Digest, error) {
	resp, err := u.bb.DownloadStream(ctx, &azb.DownloadStreamOptions{AccessConditions: ifMatch(u.etag)})
	if err != nil {
		return "", u.sourceErr(err)
	}
	defer resp.Body.Close()
	h := sessions.NewHash(alg)
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return "", err
	}
	if n != u.st.Size {
		return "", fmt.Errorf("%w: session blob holds %d bytes, state says %d", blob.ErrUploadConflict, n, u.st.Size)
	}
	return digest.NewDigest(alg, h), nil
}

// sourceErr interprets a failed read of the session blob conditioned on its ETag.
func (u *upload) sourceErr(err error) error {
	switch {
	case isNotFound(err):
		u.ended = true
		return errors.Join(blob.ErrUploadNotFound, err)
	case isConditionFailed(err), bloberror.HasCode(err, bloberror.SourceConditionNotMet):
		return fmt.Errorf("%w: %w", blob.ErrUploadConflict, err)
	}
	return err
}

// publish copies the verified session blob to want's name, or refreshes the blob already
// there. A blob deleted between the failed copy and the refresh is copied again.
func (u *upload) publish(ctx context.Context, want digest.Digest) (blob.Info, error) {
	name, err := u.s.blobName(want)
	if err != nil {
		return blob.Info{}, err
	}
	src, err := u.copySource(ctx)
	if err != nil {
		return blob.Info{}, err
	}
	dst := u.s.c.NewBlobClient(name)
	for attempt := 1; ; attempt++ {
		resp, err := dst.StartCopyFromURL(ctx, src, &azb.StartCopyFromURLOptions{
			Metadata:                       committedMetadata(),
			SourceModifiedAccessConditions: &azb.SourceModifiedAccessConditions{SourceIfMatch: &u.etag},
			AccessConditions:               ifNoneMatchAny(),
		})
		switch {
		case err == nil && copied(resp.CopyStatus):
			return blob.Info{Digest: want, Size: u.st.Size, ModTime: deref(resp.LastModified)}, nil
		case err == nil:
			if err := u.s.waitCopy(ctx, dst); err != nil {
				return blob.Info{}, err
			}
			return u.s.Stat(ctx, want)
		case isConditionFailed(err) || bloberror.HasCode(err, bloberror.PendingCopyOperation):
			// The destination exists, or (on servers that do not say SourceConditionNotMet,
			// like Azurite) the session moved on: the session's ETag tells.
			if err := u.checkSource(ctx, err); err != nil {
				return blob.Info{}, err
			}
			info, err := u.s.touch(ctx, want, name)
			if (isNotFound(err) || errors.Is(err, blob.ErrNotFound)) && attempt < 3 {
				continue // deleted (by GC) since the copy was refused: copy again
			}
			return info, err
		default:
			return blob.Info{}, u.sourceErr(err)
		}
	}
}

// checkSource reports whether the session blob is still the one u verified, after a
// copy from it was refused with cause.
func (u *upload) checkSource(ctx context.Context, cause error) error {
	p, err := u.bb.GetProperties(ctx, nil)
	switch {
	case isNotFound(err):
		u.ended = true
		return errors.Join(blob.ErrUploadNotFound, cause)
	case err != nil:
		return errors.Join(cause, err)
	case deref(p.ETag) != u.etag:
		return fmt.Errorf("%w: %w", blob.ErrUploadConflict, cause)
	}
	return nil
}

// copySource is the session blob's URL for a server-side copy within the account. With
// a shared key the copy request authorises its source; with Entra the URL carries a
// short read-only user-delegation SAS, so the copy does not depend on how the service
// authorises a same-account source for a token.
func (u *upload) copySource(ctx context.Context) (string, error) {
	if u.s.key != nil {
		return u.bb.URL(), nil
	}
	return u.s.signRead(ctx, u.s.uploadName(u.id), 6*time.Hour) // outlasts any pending copy
}

// end removes the session blob. A session already gone reports blob.ErrUploadNotFound.
func (u *upload) end(ctx context.Context) error {
	u.ended = true
	_, err := u.bb.Delete(ctx, nil)
	if isNotFound(err) {
		return errors.Join(blob.ErrUploadNotFound, err)
	}
	return err
}

// endRefused ends the session over a commit refused with cause (a digest that is invalid
// or does not match), unless the session moved on since u loaded it: then u's bytes are
// not the session's, the refusal says nothing about it, and the answer is a conflict.
func (u *upload) endRefused(ctx context.Context, cause error) error {
	_, err := u.bb.Delete(ctx, &azb.DeleteOptions{AccessConditions: ifMatch(u.etag)})
	switch {
	case isConditionFailed(err):
		return fmt.Errorf("%w: %w", blob.ErrUploadConflict, err)
	case isNotFound(err):
		u.ended = true
		return errors.Join(blob.ErrUploadNotFound, err)
	}
	u.ended = true
	return errors.Join(cause, err)
}

// Cancel implements blob.Upload.
func (u *upload) Cancel(ctx context.Context) error {
	if u.ended {
		return fmt.Errorf("blob/azblob: cancel upload %s: %w", u.id, blob.ErrUploadNotFound)
	}
	if err := u.end(ctx); err != nil {
		return fmt.Errorf("blob/azblob: cancel upload %s: %w", u.id, err)
	}
	return nil
}

func ifMatch(etag azcore.ETag) *azb.AccessConditions {
	return &azb.AccessConditions{ModifiedAccessConditions: &azb.ModifiedAccessConditions{IfMatch: &etag}}
}

func ifNoneMatchAny() *azb.AccessConditions {
	anyTag := azcore.ETagAny
	return &azb.AccessConditions{ModifiedAccessConditions: &azb.ModifiedAccessConditions{IfNoneMatch: &anyTag}}
}

func ptr[T any](v T) *T { return &v }
