package replicas

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// client is a registry client of one replica.
type client struct {
	hc            *http.Client
	authorization string
	replica       int
}

// requestTimeout bounds one request, so that a dead replica fails a client promptly.
const requestTimeout = 30 * time.Second

// do sends one request to the login server (which the client's transport maps to its
// replica) and returns the response with its body read.
func (c *client) do(method, path string, hdr http.Header, body io.Reader, size int64) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = "https://" + loginServer + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.authorization != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", c.authorization)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// expect sends a request and fails unless the status is want.
func (c *client) expect(want int, method, path string, hdr http.Header, body []byte) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, b, err := c.do(method, path, hdr, r, int64(len(body)))
	if err != nil {
		return nil, nil, fmt.Errorf("replica %d: %s %s: %w", c.replica, method, path, err)
	}
	if resp.StatusCode != want {
		return resp, b, fmt.Errorf("replica %d: %s %s: %d, want %d: %s", c.replica, method, path, resp.StatusCode, want, b)
	}
	return resp, b, nil
}

var octets = http.Header{"Content-Type": {"application/octet-stream"}}

// pushBlob uploads data in one request (POST ?digest=).
func (c *client) pushBlob(repo string, data []byte) (digest.Digest, error) {
	d := digest.FromBytes(data)
	_, _, err := c.expect(http.StatusCreated, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), octets, data)
	return d, err
}

// startUpload opens an upload session and returns its location.
func (c *client) startUpload(repo string) (string, error) {
	resp, _, err := c.expect(http.StatusAccepted, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if err != nil {
		return "", err
	}
	return resp.Header.Get("Location"), nil
}

// patch sends one chunk at offset and returns the response (any status).
func (c *client) patch(loc string, offset int64, chunk []byte) (*http.Response, error) {
	h := octets.Clone()
	h.Set("Content-Range", fmt.Sprintf("%d-%d", offset, offset+int64(len(chunk))-1))
	resp, _, err := c.do(http.MethodPatch, loc, h, bytes.NewReader(chunk), int64(len(chunk)))
	return resp, err
}

// uploadSize asks the session how many bytes it holds.
func (c *client) uploadSize(loc string) (int64, error) {
	resp, _, err := c.expect(http.StatusNoContent, http.MethodGet, loc, nil, nil)
	if err != nil {
		return 0, err
	}
	return rangeEnd(resp.Header.Get("Range"))
}

// rangeEnd turns a Range header "0-<last>" into the session's size.
func rangeEnd(r string) (int64, error) {
	var last int64
	if _, err := fmt.Sscanf(r, "0-%d", &last); err != nil {
		return 0, fmt.Errorf("range %q: %w", r, err)
	}
	if last == 0 {
		return 0, nil // "0-0": distribution's answer for an empty session (a one-byte session would be too)
	}
	return last + 1, nil
}

// finish closes a session with its last chunk (possibly empty).
func (c *client) finish(loc string, offset int64, chunk []byte, d digest.Digest) error {
	h := octets.Clone()
	if len(chunk) > 0 {
		h.Set("Content-Range", fmt.Sprintf("%d-%d", offset, offset+int64(len(chunk))-1))
	}
	_, _, err := c.expect(http.StatusCreated, http.MethodPut, withDigest(loc, d), h, chunk)
	return err
}

func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(d.String())
}

// image is a pushed image: its manifest and the blobs it references.
type image struct {
	repo, tag string
	manifest  []byte
	digest    digest.Digest
	blobs     map[digest.Digest][]byte
}

const manifestType = "application/vnd.oci.image.manifest.v1+json"

// newImage makes an image of a small unique config and layers of the given sizes.
func newImage(repo, tag string, layers ...int) *image {
	im := &image{repo: repo, tag: tag, blobs: map[digest.Digest][]byte{}}
	config := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","nonce":%q}`, randomHex(8))
	cd := digest.FromBytes(config)
	im.blobs[cd] = config
	var ls []string
	for _, n := range layers {
		b := make([]byte, n)
		rand.Read(b)
		d := digest.FromBytes(b)
		im.blobs[d] = b
		ls = append(ls, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}`, d, n))
	}
	im.manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		manifestType, cd, len(config), strings.Join(ls, ","))
	im.digest = digest.FromBytes(im.manifest)
	return im
}

// push uploads the image's blobs, then its manifest under its tag.
func (c *client) push(im *image) error {
	for _, b := range im.blobs {
		if _, err := c.pushBlob(im.repo, b); err != nil {
			return err
		}
	}
	return c.putManifest(im)
}

func (c *client) putManifest(im *image) error {
	ref := im.tag
	if ref == "" {
		ref = im.digest.String()
	}
	resp, _, err := c.expect(http.StatusCreated, http.MethodPut, "/v2/"+im.repo+"/manifests/"+ref,
		http.Header{"Content-Type": {manifestType}}, im.manifest)
	if err == nil && resp.Header.Get("Docker-Content-Digest") != im.digest.String() {
		err = fmt.Errorf("manifest digest %q, want %s", resp.Header.Get("Docker-Content-Digest"), im.digest)
	}
	return err
}

// verify pulls the image by tag (or digest) and every blob it references, and checks
// their bytes.
func (c *client) verify(im *image) error {
	ref := im.tag
	if ref == "" {
		ref = im.digest.String()
	}
	_, b, err := c.expect(http.StatusOK, http.MethodGet, "/v2/"+im.repo+"/manifests/"+ref,
		http.Header{"Accept": {manifestType}}, nil)
	if err != nil {
		return err
	}
	if d := digest.FromBytes(b); d != im.digest {
		return fmt.Errorf("replica %d: %s:%s is %s, want %s", c.replica, im.repo, ref, d, im.digest)
	}
	for d := range im.blobs {
		if err := c.verifyBlob(im.repo, d); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) verifyBlob(repo string, d digest.Digest) error {
	_, b, err := c.expect(http.StatusOK, http.MethodGet, "/v2/"+repo+"/blobs/"+d.String(), nil, nil)
	if err == nil && digest.FromBytes(b) != d {
		err = fmt.Errorf("replica %d: blob %s of %s has other bytes", c.replica, d, repo)
	}
	return err
}

// token asks replica's token service for an access token with basic credentials.
func (c *client) token(scopes ...string) (access, refresh string, err error) {
	q := url.Values{"service": {loginServer}, "scope": scopes, "offline_token": {"true"}, "client_id": {"docker"}}
	_, b, err := c.expect(http.StatusOK, http.MethodGet, "/oauth2/token?"+q.Encode(), nil, nil)
	if err != nil {
		return "", "", err
	}
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.Access == "" {
		return "", "", fmt.Errorf("token response %s: %v", b, err)
	}
	return tok.Access, tok.Refresh, nil
}
