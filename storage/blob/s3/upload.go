package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// state is what a session's state object records.
type state struct {
	Repository string    `json:"repository"`
	StartedAt  time.Time `json:"startedAt"`
	UpdatedAt  time.Time `json:"updatedAt"` // the last successful Append (or creation)
	Size       int64     `json:"size"`      // bytes in Chunks
	SHA256     []byte    `json:"sha256"`    // SHA-256 state after Size bytes (encoding.BinaryMarshaler)
	Chunks     []chunk   `json:"chunks"`
	Nonce      string    `json:"nonce"` // of the write that made this state
}

// chunk is one object of a session's bytes, named relative to the session's directory.
type chunk struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

func (st state) valid() bool {
	var sum int64
	for _, c := range st.Chunks {
		if c.Size <= 0 || c.Name == "" || c.Name == "state" || strings.Contains(c.Name, "/") {
			return false
		}
		sum += c.Size
	}
	_, err := sessions.RestoreSHA256(st.SHA256)
	return err == nil && sum == st.Size
}

// upload is one session. Its fields mirror the state object as of the last request this
// value made; a write made with a stale ETag fails its condition.
type upload struct {
	s     *Store
	id    string
	dir   string
	st    state
	etag  string
	ended bool // this value saw the session end
}

var _ blob.Upload = (*upload)(nil)

func (s *Store) session(id string) *upload {
	return &upload{s: s, id: id, dir: s.sessionDir(id)}
}

func (u *upload) stateKey() string { return u.dir + "state" }

// CreateUpload implements blob.Store.
func (s *Store) CreateUpload(ctx context.Context, repository string) (blob.Upload, error) {
	u := s.session(sessions.NewID())
	now := time.Now().UTC()
	st := state{Repository: repository, StartedAt: now, UpdatedAt: now, SHA256: sessions.NewSHA256State(), Nonce: remote.NewNonce()}
	etag, err := u.writeState(ctx, st, &awss3.PutObjectInput{IfNoneMatch: aws.String("*")})
	if err != nil {
		return nil, fmt.Errorf("blob/s3: create upload: %w", err)
	}
	u.st, u.etag = st, etag
	return u, nil
}

// writeState writes st as the state object, with in's conditions, and returns its ETag.
func (u *upload) writeState(ctx context.Context, st state, in *awss3.PutObjectInput) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	in.Bucket, in.Key = &u.s.bucket, aws.String(u.stateKey())
	in.Body, in.ContentLength = bytes.NewReader(b), aws.Int64(int64(len(b)))
	in.ContentType = aws.String("application/json")
	out, err := u.s.c.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// Upload implements blob.Store. Ids are checked against the format NewID makes, so a
// crafted id never names another object. A session without a readable state is removed:
// nobody can use it any more.
func (s *Store) Upload(ctx context.Context, id string) (blob.Upload, error) {
	if !sessions.ValidID(id) {
		return nil, fmt.Errorf("blob/s3: resume upload %q: %w", id, blob.ErrUploadNotFound)
	}
	u := s.session(id)
	if err := u.load(ctx); err != nil {
		if errors.Is(err, blob.ErrUploadNotFound) {
			err = errors.Join(err, u.removeAll(ctx))
		}
		return nil, fmt.Errorf("blob/s3: resume upload %s: %w", id, err)
	}
	return u, nil
}

// load reads the state object into u.
func (u *upload) load(ctx context.Context) error {
	st, etag, err := u.readState(ctx)
	if err != nil {
		return err
	}
	u.st, u.etag = st, etag
	return nil
}

// readState returns the stored state and its ETag. A missing or unreadable state is
// reported as blob.ErrUploadNotFound.
func (u *upload) readState(ctx context.Context) (state, string, error) {
	out, err := u.s.c.GetObject(ctx, &awss3.GetObjectInput{Bucket: &u.s.bucket, Key: aws.String(u.stateKey())})
	if isNotFound(err) {
		return state{}, "", errors.Join(blob.ErrUploadNotFound, err)
	}
	if err != nil {
		return state{}, "", err
	}
	defer out.Body.Close()
	var st state
	if err := json.NewDecoder(out.Body).Decode(&st); err != nil || !st.valid() {
		return state{}, "", fmt.Errorf("%w: corrupt state", blob.ErrUploadNotFound)
	}
	return st, aws.ToString(out.ETag), nil
}

// WalkUploads implements blob.Store. A session directory without a readable state (an
// ended session whose chunks are not all removed yet, after a crash) is still listed,
// dated by its newest object, so expiry finds it; Upload then removes it.
func (s *Store) WalkUploads(ctx context.Context, fn func(blob.UploadInfo) error) error {
	base := s.prefix + "uploads/"
	var cur dirListing
	flush := func() error {
		if cur.id == "" {
			return nil
		}
		info, ok, err := s.uploadInfo(ctx, cur)
		cur = dirListing{}
		if err != nil {
			return fmt.Errorf("blob/s3: walk uploads: %w", err)
		}
		if !ok {
			return nil
		}
		return fn(info)
	}
	err := s.list(ctx, base, func(o types.Object) error {
		id, name, _ := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), base), "/")
		if !sessions.ValidID(id) || name == "" {
			return nil
		}
		if id != cur.id { // keys are listed in order, so a session's objects are adjacent
			if err := flush(); err != nil {
				return err
			}
			cur.id = id
		}
		cur.hasState = cur.hasState || name == "state"
		if t := aws.ToTime(o.LastModified); t.After(cur.newest) {
			cur.newest = t
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// dirListing gathers the listed objects of one session directory.
type dirListing struct {
	id       string
	hasState bool
	newest   time.Time
}

func (s *Store) uploadInfo(ctx context.Context, l dirListing) (blob.UploadInfo, bool, error) {
	broken := blob.UploadInfo{ID: l.id, StartedAt: l.newest, UpdatedAt: l.newest}
	if !l.hasState {
		return broken, true, nil
	}
	u := s.session(l.id)
	err := u.load(ctx)
	switch {
	case errors.Is(err, blob.ErrUploadNotFound) && isNotFound(err):
		return blob.UploadInfo{}, false, nil // ended since it was listed
	case errors.Is(err, blob.ErrUploadNotFound):
		return broken, true, nil
	case err != nil:
		return blob.UploadInfo{}, false, err
	}
	return u.Info(), true, nil
}

// Info implements blob.Upload.
func (u *upload) Info() blob.UploadInfo {
	return blob.UploadInfo{
		ID:         u.id,
		Repository: u.st.Repository,
		Size:       u.st.Size,
		StartedAt:  u.st.StartedAt,
		UpdatedAt:  u.st.UpdatedAt,
	}
}

// Append implements blob.Upload.
func (u *upload) Append(ctx context.Context, r io.Reader) (int64, error) {
	n, err := u.append(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("blob/s3: append to upload %s: %w", u.id, err)
	}
	return n, nil
}

func (u *upload) append(ctx context.Context, r io.Reader) (int64, error) {
	if u.ended {
		return 0, blob.ErrUploadNotFound
	}
	r, empty, err := peek(r)
	if err != nil || empty {
		return 0, err
	}
	h, err := sessions.RestoreSHA256(u.st.SHA256)
	if err != nil {
		return 0, err
	}
	kept, tail := u.st.Chunks, []byte(nil)
	if k := len(kept); k > 0 && kept[k-1].Size < minPartSize {
		// Too small to be a part that others follow: sent again, in front of this body.
		if tail, err = u.readChunk(ctx, kept[k-1]); err != nil {
			return 0, err
		}
		kept = kept[:k-1]
	}
	nonce := remote.NewNonce()
	var mu sync.Mutex
	var written []chunk // the chunks this call stored, in any order
	n, err := u.s.pieces.Upload(ctx, r, tail, h, func(ctx context.Context, i int, data []byte, _ bool) error {
		c := chunk{Name: fmt.Sprintf("%s-%05d", nonce, i), Size: int64(len(data))}
		_, err := u.s.c.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: &u.s.bucket, Key: aws.String(u.dir + c.Name), Body: bytes.NewReader(data), ContentLength: &c.Size,
		})
		if err == nil {
			mu.Lock()
			written = append(written, c)
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return 0, errors.Join(err, u.s.deleteChunks(u.dir, written))
	}
	next := u.st
	next.Chunks = append(append([]chunk(nil), kept...), sortChunks(written)...)
	next.Size += n
	next.UpdatedAt = time.Now().UTC()
	next.Nonce = nonce
	if next.SHA256, err = sessions.MarshalHash(h); err != nil {
		return 0, err
	}
	if err := u.commitState(ctx, next); err != nil {
		return 0, errors.Join(err, u.s.deleteChunks(u.dir, written))
	}
	if tail != nil { // merged into this call's first chunk: no state names it any more
		_ = u.s.deleteChunks(u.dir, u.st.Chunks[len(kept):])
	}
	u.st = next
	return n, nil
}

// commitState writes next over the state u loaded, if nobody changed it meanwhile.
func (u *upload) commitState(ctx context.Context, next state) error {
	etag, err := u.writeState(ctx, next, &awss3.PutObjectInput{IfMatch: aws.String(u.etag)})
	if err == nil {
		u.etag = etag
		return nil
	}
	if !isConditionFailed(err) && !isNotFound(err) {
		return err
	}
	return u.settle(ctx, next.Nonce, err)
}

// settle decides what a failed conditional write (or a chunk gone missing) means: the
// session ended; another writer moved it on (a conflict); or the write with nonce landed
// and failed only on the SDK's retry.
func (u *upload) settle(ctx context.Context, nonce string, cause error) error {
	st, etag, err := u.readState(ctx)
	switch {
	case errors.Is(err, blob.ErrUploadNotFound):
		u.ended = true
		return errors.Join(blob.ErrUploadNotFound, cause)
	case err != nil:
		return errors.Join(cause, err)
	case nonce != "" && st.Nonce == nonce:
		u.etag = etag
		return nil
	}
	return fmt.Errorf("%w: %w", blob.ErrUploadConflict, cause)
}

// checkCurrent reports a conflict if the session's state is no longer the one u loaded.
func (u *upload) checkCurrent(ctx context.Context) error {
	_, etag, err := u.readState(ctx)
	switch {
	case errors.Is(err, blob.ErrUploadNotFound):
		u.ended = true
		return err
	case err != nil:
		return err
	case etag != u.etag:
		return fmt.Errorf("%w: the session moved on", blob.ErrUploadConflict)
	}
	return nil
}

// readChunk returns the bytes of one of the session's chunks. A chunk that is gone means
// that the session ended or moved on since u loaded it.
func (u *upload) readChunk(ctx context.Context, c chunk) ([]byte, error) {
	out, err := u.s.c.GetObject(ctx, &awss3.GetObjectInput{Bucket: &u.s.bucket, Key: aws.String(u.dir + c.Name)})
	if isNotFound(err) {
		return nil, u.settle(ctx, "", err)
	}
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	b := make([]byte, c.Size)
	if _, err := io.ReadFull(out.Body, b); err != nil {
		return nil, fmt.Errorf("read chunk %s: %w", c.Name, err)
	}
	return b, nil
}

// peek reports whether r is empty, and returns a reader with r's bytes.
func peek(r io.Reader) (io.Reader, bool, error) {
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	if err == io.EOF {
		return r, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return io.MultiReader(bytes.NewReader(b[:n]), r), false, nil
}

// sortChunks orders the chunks of one Append by their index (the names' suffix).
func sortChunks(cs []chunk) []chunk {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b chunk) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// deleteChunks removes chunks of the session in dir, on its own context: it cleans up
// after a request that may have been cancelled.
func (s *Store) deleteChunks(dir string, cs []chunk) error {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = dir + c.Name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.deleteKeys(ctx, keys)
}

// deleteKeys removes objects, up to 1,000 per request.
func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 1000)]
		keys = keys[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i := range batch {
			ids[i] = types.ObjectIdentifier{Key: &batch[i]}
		}
		out, err := s.c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
			Bucket: &s.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// Commit implements blob.Upload. Invalid and unsupported digests end the session like a
// mismatch does: the client has to start over either way.
func (u *upload) Commit(ctx context.Context, want digest.Digest) (blob.Info, error) {
	info, err := u.commit(ctx, want)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/s3: commit upload %s as %q: %w", u.id, want, err)
	}
	return info, nil
}

func (u *upload) commit(ctx context.Context, want digest.Digest) (blob.Info, error) {
	if u.ended {
		return blob.Info{}, blob.ErrUploadNotFound
	}
	// S3 offers no delete or multipart copy conditioned on the state's ETag, so a value
	// that fell behind the session learns it here, before its bytes are published or a
	// mismatch of its own ends a session that moved on.
	if err := u.checkCurrent(ctx); err != nil {
		return blob.Info{}, err
	}
	if err := sessions.CheckDigest(want); err != nil {
		return blob.Info{}, errors.Join(err, u.end(ctx))
	}
	if err := u.verify(ctx, want); err != nil {
		if errors.Is(err, blob.ErrDigestMismatch) {
			err = errors.Join(err, u.end(ctx))
		}
		return blob.Info{}, err
	}
	sources := make([]copySource, len(u.st.Chunks))
	for i, c := range u.st.Chunks {
		sources[i] = copySource{key: u.dir + c.Name}
	}
	info, err := u.s.publish(ctx, want, u.st.Size, sources)
	if err != nil {
		if isNotFound(err) { // a chunk is gone: the session ended or moved on
			err = u.settle(ctx, "", err)
		}
		return blob.Info{}, err
	}
	if err := u.end(ctx); err != nil && !errors.Is(err, blob.ErrUploadNotFound) {
		return blob.Info{}, err
	}
	return info, nil
}

// verify checks that the session's bytes hash to want. SHA-256 comes from the persisted
// state; SHA-512 costs a read of the chunks, which are never rewritten.
func (u *upload) verify(ctx context.Context, want digest.Digest) error {
	var got digest.Digest
	if want.Algorithm() == digest.SHA256 {
		h, err := sessions.RestoreSHA256(u.st.SHA256)
		if err != nil {
			return err
		}
		got = digest.NewDigest(digest.SHA256, h)
	} else {
		h := sessions.NewHash(want.Algorithm())
		for _, c := range u.st.Chunks {
			b, err := u.readChunk(ctx, c)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		got = digest.NewDigest(want.Algorithm(), h)
	}
	if got != want {
		return fmt.Errorf("%w: bytes hash to %s", blob.ErrDigestMismatch, got)
	}
	return nil
}

// end removes the session: first its state, which ends it for everyone, then every
// object left in its directory (also chunks of writers that lost a race). A session
// already gone reports blob.ErrUploadNotFound.
func (u *upload) end(ctx context.Context) error {
	u.ended = true
	key := u.stateKey()
	_, err := u.s.c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &u.s.bucket, Key: &key})
	if isNotFound(err) {
		return errors.Join(blob.ErrUploadNotFound, err, u.removeAll(ctx))
	}
	if err != nil {
		return err
	}
	if _, err := u.s.c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &u.s.bucket, Key: &key}); err != nil {
		return err
	}
	return u.removeAll(ctx)
}

// removeAll deletes every object in the session's directory.
func (u *upload) removeAll(ctx context.Context) error {
	var keys []string
	err := u.s.list(ctx, u.dir, func(o types.Object) error {
		keys = append(keys, aws.ToString(o.Key))
		return nil
	})
	if err != nil {
		return err
	}
	return u.s.deleteKeys(ctx, keys)
}

// Cancel implements blob.Upload.
func (u *upload) Cancel(ctx context.Context) error {
	if u.ended {
		return fmt.Errorf("blob/s3: cancel upload %s: %w", u.id, blob.ErrUploadNotFound)
	}
	if err := u.end(ctx); err != nil {
		return fmt.Errorf("blob/s3: cancel upload %s: %w", u.id, err)
	}
	return nil
}
