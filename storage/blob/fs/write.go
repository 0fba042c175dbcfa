package fs

import (
	"context"
	"hash"
	"io"
	"os"

	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

// writebackWindow is how many bytes accumulate before the driver asks the kernel to start
// writing them to disk. Without the hint, dirty pages of a large upload wait for the final
// fsync, which then stalls for the whole blob (the bench's push fell to 0.7 of its
// baseline); with it, the disk works while bytes arrive. A smaller window leaves less for
// the fsync that ends each PATCH: 2 MiB pushed 64 MiB PATCHes at ~0.9 of the baseline
// where 8 MiB gave ~0.85 and 32 MiB ~0.7 (same-run ratios, several runs each).
const writebackWindow = 2 << 20

// chunk is a filled copy buffer on its way from the reading to the writing goroutine.
type chunk struct {
	buf *[]byte
	n   int
	err error // the read error that ended this chunk (io.EOF at the end of r)
}

// writeThrough copies r to the end of f (at offset off) and into h, in three goroutines
// that pass full buffers along: one reads (for a TLS body over HTTP/1.1, that is
// receiving and decrypting), one hashes, and the caller's writes. Each stage costs about
// as much as the others on some machine (SHA-256 ~0.4 s per 512 MiB here; writing into
// page cache the host has to back first ~0.7 s), so none of them waits for the sum of
// the others; buffers are filled completely so that a body arriving in small records
// still costs few write and hash calls.
func writeThrough(ctx context.Context, f *os.File, h hash.Hash, r io.Reader, off int64) (int64, error) {
	filled, hashed := make(chan chunk, 1), make(chan chunk, 1)
	stop := make(chan struct{})
	hashing := make(chan struct{})
	defer func() {
		close(stop)
		<-hashing // h is the caller's once this returns
	}()
	go readChunks(ctx, r, filled, stop)
	go func() {
		defer close(hashing)
		hashChunks(h, filled, hashed, stop)
	}()

	var written int64
	pending := off // first byte not yet handed to writeback
	for c := range hashed {
		if c.n > 0 {
			_, err := f.Write((*c.buf)[:c.n])
			putBuf(c.buf)
			if err != nil {
				return written, err
			}
			written += int64(c.n)
			if end := off + written; end-pending >= writebackWindow {
				startWriteback(f, pending, end-pending)
				pending = end
			}
		}
		if c.err == io.EOF {
			return written, nil
		}
		if c.err != nil {
			return written, c.err
		}
	}
	return written, nil
}

// readChunks fills buffers from r and hands them on, until r ends, fails or the writer
// stops listening. The last chunk sent carries the error that ended it.
func readChunks(ctx context.Context, r io.Reader, filled chan<- chunk, stop <-chan struct{}) {
	defer close(filled)
	pool := &smallBufs
	for {
		c := chunk{buf: pool.Get().(*[]byte)}
		pool = &copyBufs
		if c.err = ctx.Err(); c.err == nil {
			c.n, c.err = sessions.Fill(r, *c.buf)
		}
		if !send(filled, c, stop) || c.err != nil {
			return
		}
	}
}

// hashChunks adds every chunk's bytes to h and hands the chunk on, until the reader is
// done or the writer stops listening. It never waits on the reader once stopped, since
// the reader may be blocked on a slow body.
func hashChunks(h hash.Hash, filled <-chan chunk, hashed chan<- chunk, stop <-chan struct{}) {
	defer close(hashed)
	for {
		var c chunk
		var ok bool
		select {
		case c, ok = <-filled:
		case <-stop:
			return
		}
		if !ok {
			return
		}
		h.Write((*c.buf)[:c.n])
		if !send(hashed, c, stop) {
			return
		}
	}
}

// send hands c on, or gives its buffer back if the receiver has stopped; it reports
// whether c was sent.
func send(ch chan<- chunk, c chunk, stop <-chan struct{}) bool {
	select {
	case ch <- c:
		return true
	case <-stop:
		putBuf(c.buf)
		return false
	}
}
