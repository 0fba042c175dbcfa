package durability

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// client is a minimal OCI distribution client over plain net/http. Its methods return
// errors instead of failing the test, so that pushes racing a crash can tell an
// acknowledgement from a cut connection. It reads the server's URL and HTTP client at each
// call, so it keeps working across restarts.
type client struct {
	srv *testserver.Server
}

// statusError is an answer the server did send, with a status the caller did not expect.
// Unlike a transport error it cannot be caused by killing the server.
type statusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// hasStatus reports whether err is an answer with status.
func hasStatus(err error, status int) bool {
	var se *statusError
	return errors.As(err, &se) && se.Status == status
}

// isNotFound reports whether err is a 404 answer.
func isNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// request is one API call.
type request struct {
	method string
	url    string // absolute, or a path (or Location) relative to the server
	body   io.Reader
	size   int64 // Content-Length; -1 when unknown
	header http.Header
	want   int                    // the status that succeeds
	client *http.Client           // nil: the server's client
	trace  *httptrace.ClientTrace // optional
}

// do sends r and returns the response when it has the wanted status (the caller closes
// its body); otherwise it returns a *statusError or the transport's error.
func (c *client) do(r request) (*http.Response, error) {
	u, err := url.Parse(c.srv.URL)
	if err == nil {
		u, err = u.Parse(r.url)
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(r.method, u.String(), r.body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.ContentLength = r.size
	}
	if r.trace != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), r.trace))
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	hc := r.client
	if hc == nil {
		hc = c.srv.Client
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != r.want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, &statusError{Method: r.method, URL: u.String(), Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return resp, nil
}

// call is do for answers whose body does not matter; it returns the headers. The status
// line is the acknowledgement: call does not wait for the rest of the answer, as a client
// that has its 201 need not.
func (c *client) call(r request) (http.Header, error) {
	resp, err := c.do(r)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp.Header, nil
}

// read is do for answers whose body is wanted.
func (c *client) read(r request) ([]byte, error) {
	resp, err := c.do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func octets(b []byte) (io.Reader, int64, http.Header) {
	return bytes.NewReader(b), int64(len(b)), http.Header{"Content-Type": {"application/octet-stream"}}
}

// pushBlob uploads data in one request (POST with ?digest=).
func (c *client) pushBlob(repo string, data []byte) error {
	d := digest.FromBytes(data)
	body, size, h := octets(data)
	hdr, err := c.call(request{method: http.MethodPost, url: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(),
		body: body, size: size, header: h, want: http.StatusCreated})
	return checkDigestHeader(hdr, err, d)
}

// startUpload opens an upload session and returns its Location.
func (c *client) startUpload(repo string) (string, error) {
	hdr, err := c.call(request{method: http.MethodPost, url: "/v2/" + repo + "/blobs/uploads/", want: http.StatusAccepted})
	if err != nil {
		return "", err
	}
	return location(hdr)
}

// patchChunk sends chunk as the bytes at offset of the session at loc; it checks the
// acknowledged Range and returns the next Location.
func (c *client) patchChunk(loc string, offset int64, chunk []byte) (string, error) {
	body, size, h := octets(chunk)
	h.Set("Content-Range", rangeFrom(offset, size))
	hdr, err := c.call(request{method: http.MethodPatch, url: loc, body: body, size: size, header: h, want: http.StatusAccepted})
	if err != nil {
		return "", err
	}
	if got, want := hdr.Get("Range"), rangeOf(offset+size); got != want {
		return "", fmt.Errorf("PATCH %s: Range %q, want %q", loc, got, want)
	}
	return location(hdr)
}

// finishUpload closes the session at loc as d, sending last as the final chunk.
func (c *client) finishUpload(loc string, d digest.Digest, last []byte) error {
	body, size, h := octets(last)
	hdr, err := c.call(request{method: http.MethodPut, url: withDigest(loc, d), body: body, size: size, header: h, want: http.StatusCreated})
	return checkDigestHeader(hdr, err, d)
}

// uploadRange returns the Range a session reports (GET on its Location).
func (c *client) uploadRange(loc string) (string, error) {
	hdr, err := c.call(request{method: http.MethodGet, url: loc, want: http.StatusNoContent})
	if err != nil {
		return "", err
	}
	return hdr.Get("Range"), nil
}

// session is the client's view of an upload session: what the server acknowledged and
// what was sent without an answer, so that a test can tell what a crash may have kept.
type session struct {
	loc     string // Location of the last answer
	acked   int64  // bytes the server acknowledged
	pending int64  // bytes of a request still without an answer
	closing bool   // the closing PUT was sent: the session may be gone
	onAck   func() // if set, called after each acknowledged chunk
}

// pushChunked uploads data as a session of n PATCHes and a closing PUT without a body,
// recording its progress in s.
func (c *client) pushChunked(repo string, data []byte, n int, s *session) error {
	loc, err := c.startUpload(repo)
	if err != nil {
		return err
	}
	s.loc = loc
	for _, chunk := range split(data, n) {
		s.pending = int64(len(chunk))
		loc, err := c.patchChunk(s.loc, s.acked, chunk)
		if err != nil {
			return err
		}
		s.loc, s.acked, s.pending = loc, s.acked+s.pending, 0
		if s.onAck != nil {
			s.onAck()
		}
	}
	s.closing = true
	return c.finishUpload(s.loc, digest.FromBytes(data), nil)
}

// putManifest pushes a manifest under ref (a tag or its digest).
func (c *client) putManifest(repo, ref, mediaType string, content []byte) error {
	hdr, err := c.call(request{method: http.MethodPut, url: "/v2/" + repo + "/manifests/" + ref,
		body: bytes.NewReader(content), size: int64(len(content)),
		header: http.Header{"Content-Type": {mediaType}}, want: http.StatusCreated})
	return checkDigestHeader(hdr, err, digest.FromBytes(content))
}

// getManifest reads a manifest by tag or digest.
func (c *client) getManifest(repo, ref string) ([]byte, error) {
	return c.read(request{method: http.MethodGet, url: "/v2/" + repo + "/manifests/" + ref, want: http.StatusOK})
}

// getBlob reads a blob and checks that it hashes to d.
func (c *client) getBlob(repo string, d digest.Digest) ([]byte, error) {
	b, err := c.read(request{method: http.MethodGet, url: "/v2/" + repo + "/blobs/" + d.String(), want: http.StatusOK})
	if err == nil && digest.FromBytes(b) != d {
		err = fmt.Errorf("blob %s@%s: %d bytes hash to %s", repo, d, len(b), digest.FromBytes(b))
	}
	return b, err
}

// location returns a response's Location header, which every upload answer carries.
func location(hdr http.Header) (string, error) {
	loc := hdr.Get("Location")
	if loc == "" {
		return "", errors.New("answer without Location")
	}
	return loc, nil
}

func checkDigestHeader(hdr http.Header, err error, want digest.Digest) error {
	if err != nil {
		return err
	}
	if got := hdr.Get("Docker-Content-Digest"); got != want.String() {
		return fmt.Errorf("Docker-Content-Digest %q, want %q", got, want)
	}
	return nil
}

// withDigest adds ?digest=d to a Location, which may carry a query of its own.
func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(d.String())
}

// rangeFrom is the Content-Range of size bytes at offset.
func rangeFrom(offset, size int64) string {
	return fmt.Sprintf("%d-%d", offset, offset+size-1)
}

// rangeOf is the Range header of a session holding size bytes, as the server writes it.
func rangeOf(size int64) string {
	return "0-" + strconv.FormatInt(max(size-1, 0), 10)
}

// split cuts b into n pieces of nearly equal length (the last takes the rest).
func split(b []byte, n int) [][]byte {
	out := make([][]byte, 0, n)
	step := len(b) / n
	for i := range n - 1 {
		out = append(out, b[i*step:(i+1)*step])
	}
	return append(out, b[(n-1)*step:])
}
