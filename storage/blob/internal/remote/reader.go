package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Reader reads a remote blob of known size through HTTP GETs: the response that opened
// it, then, after a Seek away from where that response is, a ranged GET from the new
// position. A plain download thus costs one request, and http.ServeContent's seeks (to
// the end and back, to learn the size) cost none.
type Reader struct {
	ctx     context.Context
	get     func(ctx context.Context, off int64) (io.ReadCloser, error)
	size    int64
	pos     int64         // where the next Read starts
	body    io.ReadCloser // the open response, or nil
	bodyPos int64         // where body's next byte sits in the blob
}

// NewReader returns a Reader over a blob of size bytes whose first bytes body delivers
// (nil: none yet). get opens the blob from offset off to its end; it should pin the
// version that body came from (an If-Match on its ETag).
func NewReader(ctx context.Context, size int64, body io.ReadCloser,
	get func(ctx context.Context, off int64) (io.ReadCloser, error)) *Reader {
	return &Reader{ctx: ctx, get: get, size: size, body: body}
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body != nil && r.bodyPos != r.pos {
		r.body.Close()
		r.body = nil
	}
	if r.body == nil {
		body, err := r.get(r.ctx, r.pos)
		if err != nil {
			return 0, fmt.Errorf("read at %d: %w", r.pos, err)
		}
		r.body, r.bodyPos = body, r.pos
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos += int64(n)
	switch {
	case err == io.EOF && r.pos < r.size:
		err = fmt.Errorf("read at %d: %w", r.pos, io.ErrUnexpectedEOF)
	case err == nil && r.pos == r.size:
		err = io.EOF
	}
	return n, err
}

// Seek implements io.Seeker. It sends no request.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = r.pos + offset
	case io.SeekEnd:
		pos = r.size + offset
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if pos < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.pos = pos // the body is dropped only if the next Read does not continue it
	return pos, nil
}

// Close implements io.Closer.
func (r *Reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
