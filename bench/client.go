package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// endpoint is a server the bench's clients talk to: its base URL, the roots that trust
// it and how its clients sign in (nil auth: they do not, as with the baseline file server).
type endpoint struct {
	base  string
	roots *x509.CertPool
	auth  *credentials
}

// credentials sign a client in to the registry. By default the client does what docker
// does: once, before it is used, it asks the token service for a bearer token (GET
// /oauth2/token with Basic credentials, for service and scopes) and sends that token with
// every request. With basic it sends the Basic credentials with every request instead.
type credentials struct {
	service, user, password string
	scopes                  []string
	basic                   bool
}

// basicAuthorization is the Authorization value of the Basic credentials.
func (c *credentials) basicAuthorization() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password))
}

// client speaks the OCI distribution API, or plain GETs to the baseline file server, over
// one transport. The same code fetches from both, so a pull ratio compares servers only.
// A client serves one goroutine at a time, like one docker pull.
type client struct {
	base *url.URL
	hc   *http.Client
	// buf reads response bodies: a buffer per response would make the bench's garbage
	// collector compete with the server for the machine's two cores.
	buf []byte
	// auth is how the client signs in (nil: it does not); authorization is what it sends
	// as Authorization once signed in ("" before, or without auth).
	auth          *credentials
	authorization string
}

// newClient returns a client of ep. With http2 false it speaks HTTP/1.1 only; otherwise
// it takes HTTP/2 when the server offers it, as Go registry clients with a default
// transport do. Each client has its own transport, so concurrent clients really open
// separate connections. It signs in when warmed (see warm).
func newClient(ep endpoint, http2 bool) (*client, error) {
	base, roots := ep.base, ep.roots
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: http2,
		MaxConnsPerHost:   1, // one client, one connection, like one docker pull
		IdleConnTimeout:   time.Minute,
		// Bigger than the 4 KiB default so request bodies leave in full TLS records.
		WriteBufferSize: 64 << 10,
		ReadBufferSize:  64 << 10,
	}
	return &client{base: u, hc: &http.Client{Transport: tr}, buf: make([]byte, 64<<10), auth: ep.auth}, nil
}

// signIn sets what the client sends as Authorization: the Basic credentials, or a bearer
// token fetched once now.
func (c *client) signIn(ctx context.Context) error {
	switch {
	case c.auth == nil:
		return nil
	case c.auth.basic:
		c.authorization = c.auth.basicAuthorization()
		return nil
	}
	token, err := c.token(ctx)
	if err != nil {
		return err
	}
	c.authorization = "Bearer " + token
	return nil
}

// token asks the token service for an access token for the client's scopes, with Basic
// credentials: the Docker token flow (GET /oauth2/token?service=&scope=).
func (c *client) token(ctx context.Context) (string, error) {
	q := url.Values{"service": {c.auth.service}, "scope": c.auth.scopes}
	resp, err := c.do(ctx, http.MethodGet, "/oauth2/token?"+q.Encode(),
		http.Header{"Authorization": {c.auth.basicAuthorization()}}, nil, 0, http.StatusOK)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&tok); err != nil {
		return "", fmt.Errorf("GET /oauth2/token: %w", err)
	}
	if tok.AccessToken == "" {
		return "", errors.New("GET /oauth2/token: no access_token in the answer")
	}
	_, err = c.discard(resp) // the rest, so the connection is reused
	return tok.AccessToken, err
}

// close drops the client's idle connections.
func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request to ref (resolved against the base) and checks the status. The
// caller owns the response body: see c.discard.
func (c *client) do(ctx context.Context, method, ref string, hdr http.Header, body io.Reader, size int64, want int) (*http.Response, error) {
	u, err := c.base.Parse(ref)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	if c.authorization != "" {
		req.Header["Authorization"] = []string{c.authorization}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s %s: %s, want %d: %s", method, u.Path, resp.Status, want, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// discard reads and closes a response body so the connection is reused, and reports how
// many bytes it had. The client's buffer is larger than io.Discard's own, for fewer reads.
func (c *client) discard(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, c.buf)
}

// exec sends a request whose response body does not matter.
func (c *client) exec(ctx context.Context, method, ref string, hdr http.Header, body io.Reader, size int64, want int) (*http.Response, error) {
	resp, err := c.do(ctx, method, ref, hdr, body, size, want)
	if err != nil {
		return nil, err
	}
	_, err = c.discard(resp)
	return resp, err
}

var octetStream = http.Header{"Content-Type": {"application/octet-stream"}}

// pushBlob uploads a blob in one request: POST /v2/<repo>/blobs/uploads/?digest= with the
// body (end-4b).
func (c *client) pushBlob(ctx context.Context, repo, digest string, size int64, body io.Reader) error {
	ref := "/v2/" + repo + "/blobs/uploads/?digest=" + url.QueryEscape(digest)
	_, err := c.exec(ctx, http.MethodPost, ref, octetStream, body, size, http.StatusCreated)
	return err
}

// pushBlobChunked uploads a blob as a session: POST, then PATCHes of chunk bytes with
// Content-Range, then PUT ?digest= (end-4a, 5, 6), following Location each time.
func (c *client) pushBlobChunked(ctx context.Context, repo, digest string, size, chunk int64, body io.Reader) error {
	resp, err := c.exec(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil, 0, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		hdr := http.Header{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)},
		}
		resp, err = c.exec(ctx, http.MethodPatch, loc, hdr, io.LimitReader(body, n), n, http.StatusAccepted)
		if err != nil {
			return err
		}
		loc = resp.Header.Get("Location")
	}
	_, err = c.exec(ctx, http.MethodPut, withQuery(loc, "digest", digest), nil, nil, 0, http.StatusCreated)
	return err
}

// withQuery adds a query parameter to a Location, which may already carry a query.
func withQuery(loc, key, value string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + key + "=" + url.QueryEscape(value)
}

// putManifest stores an image manifest under ref (end-7).
func (c *client) putManifest(ctx context.Context, repo, ref string, manifest []byte) error {
	hdr := http.Header{"Content-Type": {mediaTypeManifest}}
	_, err := c.exec(ctx, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, hdr, bytes.NewReader(manifest), int64(len(manifest)), http.StatusCreated)
	return err
}

// manifestAccept is what a current docker or containerd pull sends.
var manifestAccept = http.Header{"Accept": {strings.Join([]string{
	mediaTypeManifest,
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")}}

// fetch GETs ref with the manifest Accept header (harmless for blobs and the file server)
// and streams the body away; it fails unless exactly want bytes arrive.
func (c *client) fetch(ctx context.Context, ref string, want int64) error {
	resp, err := c.do(ctx, http.MethodGet, ref, manifestAccept, nil, 0, http.StatusOK)
	if err != nil {
		return err
	}
	n, err := c.discard(resp)
	if err == nil && n != want {
		err = fmt.Errorf("GET %s: %d bytes, want %d", ref, n, want)
	}
	return err
}

// proto opens the client's connection with a GET of the server's root, whose status does
// not matter, and tells the HTTP version the connection speaks.
func (c *client) proto(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.JoinPath("/").String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	_, err = c.discard(resp)
	return resp.Proto, err
}
