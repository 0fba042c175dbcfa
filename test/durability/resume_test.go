package durability

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"path"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestUploadResumesAfterRestart sends two chunks of an upload, stops the server (SIGKILL,
// with or without a third chunk half-sent, or SIGTERM), and checks after a restart that
// the session reports exactly the acknowledged bytes and can be finished into the right
// blob.
func TestUploadResumesAfterRestart(t *testing.T) {
	t.Parallel()
	for i, tt := range []struct {
		name     string
		halfSent bool // a third chunk is half on disk when the server dies
		stop     func(*testserver.Server, testing.TB)
	}{
		{"SIGKILL between chunks", false, (*testserver.Server).Kill},
		{"SIGKILL with a chunk half-sent", true, (*testserver.Server).Kill},
		{"SIGTERM between chunks", false, (*testserver.Server).Stop},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testserver.Start(t)
			c := &client{srv: s}
			const repo = "resume/app"
			rng := newRand(uint64(i))
			sent := [][]byte{randomBytes(rng, 256<<10), randomBytes(rng, 256<<10)}
			// After the restart the client goes on with other, shorter bytes than those cut
			// off, as it may: whatever of the cut chunk reached the disk must not show.
			rest := [][]byte{randomBytes(rng, 16<<10), randomBytes(rng, 16<<10)}

			loc, err := c.startUpload(repo)
			if err != nil {
				t.Fatal(err)
			}
			var acked int64
			for _, p := range sent {
				if loc, err = c.patchChunk(loc, acked, p); err != nil {
					t.Fatal(err)
				}
				acked += int64(len(p))
			}
			if tt.halfSent {
				// Large enough that its first half fills the server's 1 MiB write buffer,
				// so part of it does reach the disk before the kill.
				abort := sendHalfChunk(t, c, loc, acked, randomBytes(rng, 3<<20))
				tt.stop(s, t)
				abort()
			} else {
				tt.stop(s, t)
			}

			s.Restart(t)
			if got, err := c.uploadRange(loc); err != nil || got != rangeOf(acked) {
				t.Fatalf("after restart: Range %q, %v; want %q (the acknowledged chunks)", got, err, rangeOf(acked))
			}
			if loc, err = c.patchChunk(loc, acked, rest[0]); err != nil {
				t.Fatal(err)
			}
			data := bytes.Join(append(sent, rest...), nil)
			d := digest.FromBytes(data)
			if err := c.finishUpload(loc, d, rest[1]); err != nil {
				t.Fatal(err)
			}
			if _, err := c.getBlob(repo, d); err != nil {
				t.Fatal(err)
			}
			blobFiles(t, s.DataDir)
		})
	}
}

// sendHalfChunk starts a PATCH of chunk at offset and sends its first half, then waits
// until the server has written part of it to the session's data file. The returned abort
// ends the request (call it after the server is gone) and checks it was not acknowledged.
func sendHalfChunk(t *testing.T, c *client, loc string, offset int64, chunk []byte) (abort func()) {
	t.Helper()
	body, pw := io.Pipe()
	_, size, h := octets(chunk)
	h.Set("Content-Range", rangeFrom(offset, size))
	result := make(chan error, 1)
	go func() {
		_, err := c.call(request{method: http.MethodPatch, url: loc, body: body, size: size, header: h, want: http.StatusAccepted})
		result <- err
	}()
	if _, err := pw.Write(chunk[:len(chunk)/2]); err != nil {
		t.Fatal(err)
	}
	data := uploadDataFile(c.srv.DataDir, path.Base(loc))
	waitFor(t, "part of the chunk in "+data, func() bool { return fileSize(data) > offset })
	return func() {
		pw.CloseWithError(errors.New("server gone"))
		if err := <-result; err == nil {
			t.Fatal("a half-sent chunk was acknowledged")
		}
	}
}
