package remote

import (
	"context"
	"errors"
	"hash"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// Pieces cuts upload bodies into pieces (Azure blocks, S3 parts) and uploads them
// concurrently. Its buffers are pooled, so an idle store holds little memory and a busy
// one does not allocate per request. A Pieces is safe for concurrent use.
type Pieces struct {
	size        int
	concurrency int
	pool        sync.Pool
}

// NewPieces returns a Pieces that cuts size-byte pieces and runs up to concurrency
// uploads at once. One upload holds at most concurrency+1 buffers.
func NewPieces(size, concurrency int) *Pieces {
	p := &Pieces{size: size, concurrency: max(concurrency, 1)}
	p.pool.New = func() any { b := make([]byte, size); return &b }
	return p
}

// Size returns the piece size.
func (p *Pieces) Size() int { return p.size }

// Upload reads r to its end, writing every byte read from r into h (when not nil), and
// calls put once for every piece of prefix followed by r's bytes, cut into pieces of Size
// bytes (the last shorter, none empty); last marks the final piece. Pieces are numbered
// from 0; up to concurrency puts run at once, so put may be called out of order, and it
// must not keep data after it returns. When put is called for the last piece, h has seen
// every byte. prefix (bytes already hashed, e.g. a stored tail) must be shorter than Size.
//
// Upload returns the number of bytes read from r. On the first error (from r, ctx or a
// put) it cancels the puts in flight, waits for them and returns that error.
func (p *Pieces) Upload(ctx context.Context, r io.Reader, prefix []byte, h hash.Hash,
	put func(ctx context.Context, i int, data []byte, last bool) error) (int64, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(pctx)
	g.SetLimit(p.concurrency)
	// A piece is sent once the next read shows whether it is the last: one piece of
	// lookahead, so that put knows.
	var held *[]byte
	var heldLen, heldIndex int
	send := func(last bool) {
		buf, n, i := held, heldLen, heldIndex
		held = nil
		g.Go(func() error {
			defer p.pool.Put(buf)
			return put(gctx, i, (*buf)[:n], last)
		})
	}
	var read int64
	for i := 0; ; i++ {
		buf := p.pool.Get().(*[]byte)
		n := copy(*buf, prefix)
		prefix = prefix[n:]
		m, err := sessions.Fill(sessions.CtxReader{Ctx: gctx, R: r}, (*buf)[n:])
		if h != nil {
			h.Write((*buf)[n : n+m])
		}
		read += int64(m)
		if err != nil && err != io.EOF {
			p.pool.Put(buf)
			if held != nil {
				p.pool.Put(held)
			}
			return 0, abort(ctx, gctx, cancel, g, err)
		}
		if n+m > 0 {
			if held != nil {
				send(false)
			}
			held, heldLen, heldIndex = buf, n+m, i
		} else {
			p.pool.Put(buf)
		}
		if err == io.EOF {
			break
		}
	}
	if held != nil {
		send(true)
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return read, nil
}

// abort ends an Upload whose reading failed with err: either the body failed (or the
// caller's ctx ended), or a put failed and cancelled gctx, which stopped the reading.
func abort(ctx, gctx context.Context, cancel context.CancelFunc, g *errgroup.Group, err error) error {
	if ctx.Err() == nil && gctx.Err() != nil && errors.Is(err, gctx.Err()) {
		return g.Wait() // a put failed: its error is the cause
	}
	cancel() // the body failed: the puts in flight no longer matter
	_ = g.Wait()
	return err
}
