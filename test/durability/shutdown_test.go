package durability

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestShutdownFinishesUploads sends SIGTERM while a large upload is in the handler and
// checks that the upload completes with its 201, that the server then exits 0, and that the
// blob is there after a restart.
func TestShutdownFinishesUploads(t *testing.T) {
	t.Parallel()
	const repo = "shutdown/app"
	for i, tt := range []struct {
		name string
		// open returns the request that is in flight at the signal and the bytes it sends.
		open func(c *client, data []byte) (method, url string, body []byte, err error)
	}{
		{"monolithic POST", func(c *client, data []byte) (string, string, []byte, error) {
			return http.MethodPost, "/v2/" + repo + "/blobs/uploads/?digest=" + digest.FromBytes(data).String(), data, nil
		}},
		{"closing PUT of a chunked upload", func(c *client, data []byte) (string, string, []byte, error) {
			loc, err := c.startUpload(repo)
			if err == nil {
				loc, err = c.patchChunk(loc, 0, data[:1<<20])
			}
			return http.MethodPut, withDigest(loc, digest.FromBytes(data)), data[1<<20:], err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testserver.Start(t)
			c := &client{srv: s}
			data := randomBytes(newRand(uint64(i)), 16<<20)
			method, url, body, err := tt.open(c, data)
			if err != nil {
				t.Fatal(err)
			}

			// Expect: 100-continue makes the server say when the handler starts reading.
			pr, pw := io.Pipe()
			inHandler := make(chan struct{})
			_, size, h := octets(body)
			h.Set("Expect", "100-continue")
			result := make(chan error, 1)
			go func() {
				hdr, err := c.call(request{method: method, url: url, body: pr, size: size, header: h,
					want: http.StatusCreated, client: http1Client(s),
					trace: &httptrace.ClientTrace{Got100Continue: func() { close(inHandler) }}})
				result <- checkDigestHeader(hdr, err, digest.FromBytes(data))
			}()
			select {
			case <-inHandler:
			case err := <-result:
				t.Fatalf("upload ended before its body was sent: %v", err)
			}

			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				s.Stop(t) // fails the test unless the process exits 0
			}()
			// The listener closes when shutdown begins: only then send the body.
			waitFor(t, "the listener to close after SIGTERM", func() bool {
				conn, err := net.Dial("tcp", s.Host)
				if err == nil {
					conn.Close()
				}
				return err != nil
			})
			if _, err := io.Copy(pw, bytes.NewReader(body)); err != nil {
				t.Errorf("sending the body during shutdown: %v", err)
			}
			pw.Close()
			if err := <-result; err != nil {
				t.Errorf("upload in flight at SIGTERM: %v", err)
			}
			<-stopped
			if t.Failed() {
				return
			}

			s.Restart(t)
			if _, err := c.getBlob(repo, digest.FromBytes(data)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// http1Client returns a client of s on HTTP/1.1 that waits for 100 Continue before
// sending a body with Expect: 100-continue, however long the server takes. It signs in
// with the bootstrap owner's Basic credentials, as s.Client does.
func http1Client(s *testserver.Server) *http.Client {
	tr := s.Transport()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	tr.ExpectContinueTimeout = pollTimeout
	return &http.Client{Transport: basicAuth{user: s.Username, password: s.Password, next: tr}}
}

// basicAuth adds Basic credentials to every request.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}
