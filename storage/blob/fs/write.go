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

// writeThrough copies r to the end of f (at offset off) and into h. Reading (for a TLS
// body, decryption) and hashing run in one goroutine while the caller writes the previous
// buffer, so a large upload uses two cores; buffers are filled completely so that a body
// arriving in small records still costs few write and hash calls.
func writeThrough(ctx context.Context, f *os.File, h hash.Hash, r io.Reader, off int64) (int64, error) {
	filled := make(chan chunk, 1)
	stop := make(chan struct{})
	defer close(stop)
	go readAndHash(ctx, r, h, filled, stop)

	var written int64
	pending := off // first byte not yet handed to writeback
	for c := range filled {
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

// readAndHash fills buffers from r, hashes them and hands them on, until r ends, fails or
// the writer stops listening. The last chunk sent carries the error that ended it.
func readAndHash(ctx context.Context, r io.Reader, h hash.Hash, filled chan<- chunk, stop <-chan struct{}) {
	defer close(filled)
	pool := &smallBufs
	for {
		c := chunk{buf: pool.Get().(*[]byte)}
		pool = &copyBufs
		if c.err = ctx.Err(); c.err == nil {
			c.n, c.err = sessions.Fill(r, *c.buf)
			h.Write((*c.buf)[:c.n])
		}
		select {
		case filled <- c:
		case <-stop:
			putBuf(c.buf)
			return
		}
		if c.err != nil {
			return
		}
	}
}
