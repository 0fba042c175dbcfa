package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fake is an in-process S3: gofakes3 with its in-memory backend, plus UploadPartCopy,
// which gofakes3 lacks (it treats the request as an empty UploadPart).
type fake struct {
	url     string
	backend *s3mem.Backend
	copies  atomic.Int64 // UploadPartCopy requests served
}

func newFake(t testing.TB) *fake { return newFakeAt(t, nil) }

// newFakeAt returns a fake whose objects' Last-Modified come from clock (nil: real time).
func newFakeAt(t testing.TB, clock gofakes3.TimeSource) *fake {
	var opts []s3mem.Option
	var fakeOpts []gofakes3.Option
	if clock != nil {
		opts = append(opts, s3mem.WithTimeSource(clock))
		// The clock also dates responses; requests are signed with real time, so the
		// skew check is off.
		fakeOpts = append(fakeOpts, gofakes3.WithTimeSource(clock), gofakes3.WithTimeSkewLimit(0))
	}
	f := &fake{backend: s3mem.New(opts...)}
	srv := httptest.NewServer(f.handler(gofakes3.New(f.backend, fakeOpts...).Server()))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// client returns an SDK client of the fake, as a replica would build one.
func (f *fake) client(transport http.RoundTripper) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   &http.Client{Transport: transport},
	})
}

func (f *fake) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := r.Header.Get("X-Amz-Copy-Source")
		if r.Method != http.MethodPut || src == "" || r.URL.Query().Get("uploadId") == "" {
			next.ServeHTTP(w, r)
			return
		}
		f.copies.Add(1)
		if err := f.uploadPartCopy(w, r, next, src); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
}

// uploadPartCopy serves UploadPartCopy as S3 does: it reads the source (range) from the
// backend, uploads it as the part through gofakes3, and answers a CopyPartResult.
func (f *fake) uploadPartCopy(w http.ResponseWriter, r *http.Request, next http.Handler, src string) error {
	path, err := url.PathUnescape(src)
	if err != nil {
		return err
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	var rng *gofakes3.ObjectRangeRequest
	if h := r.Header.Get("X-Amz-Copy-Source-Range"); h != "" {
		first, last, ok := strings.Cut(strings.TrimPrefix(h, "bytes="), "-")
		a, err1 := strconv.ParseInt(first, 10, 64)
		b, err2 := strconv.ParseInt(last, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("bad copy source range %q", h)
		}
		rng = &gofakes3.ObjectRangeRequest{Start: a, End: b}
	}
	obj, err := f.backend.GetObject(bucket, key, rng)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>%s</Message></Error>`, err)
		return nil
	}
	data, err := io.ReadAll(obj.Contents)
	obj.Contents.Close()
	if err != nil {
		return err
	}
	part := r.Clone(r.Context())
	for _, h := range []string{"X-Amz-Copy-Source", "X-Amz-Copy-Source-Range", "X-Amz-Content-Sha256", "X-Amz-Decoded-Content-Length"} {
		part.Header.Del(h)
	}
	part.Body, part.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	part.Header.Set("Content-Length", strconv.Itoa(len(data)))
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, part)
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code)
		_, err := w.Write(rec.Body.Bytes())
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	_, err = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><ETag>%s</ETag><LastModified>%s</LastModified></CopyPartResult>`,
		rec.Header().Get("ETag"), time.Now().UTC().Format(time.RFC3339))
	return err
}

// clock is a gofakes3.TimeSource that a test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lostResponse forwards requests but, once, drops the response of a conditional write of
// a session state: the write lands, the SDK sees a reset connection and retries, and the
// retry fails its If-Match against the write itself.
type lostResponse struct {
	dropped atomic.Bool
}

func (l *lostResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/state") &&
		req.Header.Get("If-Match") != "" && resp.StatusCode < 300 && l.dropped.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("read: connection reset by peer (simulated)")
	}
	return resp, err
}
