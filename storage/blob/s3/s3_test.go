package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/blobtest"
)

// testPartSize is S3's minimum part size, so that bodies of a few MiB span several chunks.
const testPartSize = 5 << 20

func mustNew(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// freshStore returns a store over a new bucket of a new fake S3.
func freshStore(t testing.TB) (*Store, *fake) {
	t.Helper()
	f := newFake(t)
	s := mustNew(t, Options{Client: f.client(nil), Bucket: "cerulean", Prefix: "registry", PartSize: testPartSize})
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, f
}

// replica returns another store value over s's bucket, sharing no memory with s.
func replica(t testing.TB, s *Store, transport http.RoundTripper) *Store {
	t.Helper()
	f := &fake{url: aws.ToString(s.c.Options().BaseEndpoint)}
	return mustNew(t, Options{Client: f.client(transport), Bucket: s.bucket, Prefix: s.prefix, PartSize: testPartSize})
}

func TestSuite(t *testing.T) {
	blobtest.Run(t,
		func(t *testing.T) blob.Store { s, _ := freshStore(t); return s },
		blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store { return replica(t, s.(*Store), nil) }),
		blobtest.WithReplicas(),
		blobtest.WithRaceCheck(func(t *testing.T, s blob.Store, u blob.Upload) error {
			if n, want := len(keys(t, s.(*Store))), 1+len(u.(*upload).st.Chunks); n != want {
				return fmt.Errorf("bucket holds %d objects, want %d (the loser's chunks removed)", n, want)
			}
			return nil
		}),
		blobtest.WithLostResponse(func(t *testing.T, s blob.Store) (blob.Store, func() bool) {
			lost := &lostResponse{}
			return replica(t, s.(*Store), lost), lost.dropped.Load
		}),
	)
}

// keys lists every object in s's bucket, without s's prefix.
func keys(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.list(t.Context(), s.prefix, func(o types.Object) error {
		out = append(out, strings.TrimPrefix(aws.ToString(o.Key), s.prefix))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Appends of any size are stored as chunks of at least 5 MiB (but the last), and a
// commit of several chunks is assembled on the server from them.
func TestChunksAndServerSideCommit(t *testing.T) {
	s, f := freshStore(t)
	ctx := t.Context()
	data := blobtest.RandomBytes(13<<20+1000, 1)
	sizes := []int{3 << 20, 4 << 20, 6 << 20, 1000}
	u, err := s.CreateUpload(ctx, "library/chunks")
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for _, n := range sizes {
		if _, err := u.Append(ctx, bytes.NewReader(data[off:off+n])); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	// 3 → [3]; +4 → [5 2]; +6 → [5 5 3]; +0.001 → [5 5 3.001] (MiB): the small last
	// chunk is merged into the next Append's first, every other one is a full part.
	var got []int64
	for _, c := range u.(*upload).st.Chunks {
		got = append(got, c.Size)
	}
	want := []int64{5 << 20, 5 << 20, 3<<20 + 1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunk sizes (-want +got):\n%s", diff)
	}
	if n := len(keys(t, s)); n != 1+len(want) { // the state, and no merged chunk left over
		t.Errorf("bucket holds %d objects during the upload, want %d: %v", n, 1+len(want), keys(t, s))
	}
	d := digest.FromBytes(data)
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := f.copies.Load(); got != int64(len(want)) {
		t.Errorf("Commit made %d UploadPartCopy requests, want %d", got, len(want))
	}
	if got := blobtest.ReadBlob(t, s, d); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, want %d", len(got), len(data))
	}
	if diff := cmp.Diff([]string{"blobs/sha256/" + d.Encoded()}, keys(t, s)); diff != "" {
		t.Errorf("bucket after Commit (-want +got):\n%s", diff)
	}
}

// Put of several parts streams into a multipart upload of the final key, completed only
// for matching bytes; a mismatch aborts it and leaves nothing.
func TestPutMultipart(t *testing.T) {
	s, _ := freshStore(t)
	ctx := t.Context()
	data := blobtest.RandomBytes(12<<20+3, 3)
	if _, err := s.Put(ctx, digest.FromString("other"), bytes.NewReader(data)); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Put(wrong digest) = %v, want ErrDigestMismatch", err)
	}
	if got := keys(t, s); len(got) != 0 {
		t.Errorf("after a mismatched Put the bucket holds %v", got)
	}
	mpus, err := s.c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &s.bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(mpus.Uploads) != 0 {
		t.Errorf("a mismatched Put left %d multipart uploads", len(mpus.Uploads))
	}
	d := digest.FromBytes(data)
	info, err := s.Put(ctx, d, bytes.NewReader(data))
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Put = %+v, %v", info, err)
	}
	if got := blobtest.ReadBlob(t, s, d); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, want %d", len(got), len(data))
	}
}

// Committing a blob that exists keeps it and moves its Last-Modified, which GC reads as
// the grace marker, to the time of the new commit.
func TestRecommitRefreshesModTime(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newFakeAt(t, c)
	s := mustNew(t, Options{Client: f.client(nil), Bucket: "recommit", PartSize: testPartSize})
	ctx := t.Context()
	if err := s.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	small, large := []byte("again"), blobtest.RandomBytes(11<<20, 4)
	commits := []struct {
		name string
		do   func(data []byte) (blob.Info, error)
	}{
		{"session", func(data []byte) (blob.Info, error) {
			u, err := s.CreateUpload(ctx, "library/recommit")
			if err != nil {
				return blob.Info{}, err
			}
			if _, err := u.Append(ctx, bytes.NewReader(data)); err != nil {
				return blob.Info{}, err
			}
			return u.Commit(ctx, digest.FromBytes(data))
		}},
		{"put", func(data []byte) (blob.Info, error) { return s.Put(ctx, digest.FromBytes(data), bytes.NewReader(data)) }},
	}
	for _, data := range [][]byte{small, large} {
		for _, first := range commits {
			for _, again := range commits {
				if _, err := first.do(data); err != nil {
					t.Fatalf("%s: %v", first.name, err)
				}
				c.Advance(48 * time.Hour)
				info, err := again.do(data)
				if err != nil {
					t.Fatalf("%s after %s: %v", again.name, first.name, err)
				}
				if !info.ModTime.Equal(c.Now()) {
					t.Errorf("%s of %d bytes after %s: ModTime %v, want %v", again.name, len(data), first.name, info.ModTime, c.Now())
				}
				if got := blobtest.ReadBlob(t, s, info.Digest); !bytes.Equal(got, data) {
					t.Errorf("%s after %s: read %d bytes, want %d", again.name, first.name, len(got), len(data))
				}
				if err := s.Delete(ctx, info.Digest); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestRedirect(t *testing.T) {
	s, _ := freshStore(t)
	ctx := t.Context()
	data := blobtest.RandomBytes(5000, 9)
	info, err := s.Put(ctx, digest.FromBytes(data), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Redirect(ctx, info.Digest, time.Minute)
	if err != nil {
		t.Fatalf("Redirect: %v", err)
	}
	q, err := url.Parse(u)
	if err != nil || q.Query().Get("X-Amz-Expires") != "60" || q.Query().Get("X-Amz-Signature") == "" {
		t.Errorf("Redirect URL %s is not a presigned GET for 60 s", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Errorf("GET presigned URL = %d, %d bytes, %v; want 200 and the blob", resp.StatusCode, len(got), err)
	}
	if _, err := s.Redirect(ctx, "sha256:../../x", time.Minute); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Redirect(bad digest) = %v, want ErrNotFound", err)
	}
}

// A session directory that lost its state is listed for expiry and removed by Upload.
func TestBrokenSessionRemoved(t *testing.T) {
	s, _ := freshStore(t)
	ctx := t.Context()
	u, err := s.CreateUpload(ctx, "library/broken")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, strings.NewReader("bytes")); err != nil {
		t.Fatal(err)
	}
	id := u.Info().ID
	if _, err := s.c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.sessionDir(id) + "state"),
		Body: strings.NewReader("{"), ContentLength: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := s.WalkUploads(ctx, func(i blob.UploadInfo) error { ids = append(ids, i.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{id}) {
		t.Errorf("WalkUploads = %v, want [%s]", ids, id)
	}
	if _, err := s.Upload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("Upload = %v, want ErrUploadNotFound", err)
	}
	if got := keys(t, s); len(got) != 0 {
		t.Errorf("after Upload the bucket holds %v", got)
	}
}

func TestFromURL(t *testing.T) {
	f := newFake(t)
	creds := func(o *awss3.Options) { o.Credentials = f.client(nil).Options().Credentials }
	u, _ := url.Parse("s3://from-url/some/prefix?endpoint=" + url.QueryEscape(f.url) + "&region=eu-west-1&partSize=6MiB&concurrency=2")
	s, err := FromURL(t.Context(), u, creds)
	if err != nil {
		t.Fatal(err)
	}
	if s.bucket != "from-url" || s.prefix != "some/prefix/" || s.pieces.Size() != 6<<20 || s.concurrency != 2 ||
		!s.c.Options().UsePathStyle || s.c.Options().Region != "eu-west-1" {
		t.Errorf("FromURL(%s) = bucket %q, prefix %q, part size %d, concurrency %d, path style %v, region %q",
			u, s.bucket, s.prefix, s.pieces.Size(), s.concurrency, s.c.Options().UsePathStyle, s.c.Options().Region)
	}
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), digest.FromString("x"), strings.NewReader("x")); err != nil {
		t.Errorf("Put through a store from a URL: %v", err)
	}
	for _, bad := range []string{
		"azblob://a/b", "s3:///prefix", "s3://b?accessKey=AKID", "s3://b?partSize=1MiB",
		"s3://b?concurrency=0", "s3://b?pathStyle=maybe",
	} {
		u, _ := url.Parse(bad)
		if _, err := FromURL(t.Context(), u, creds); err == nil {
			t.Errorf("FromURL(%s) succeeded", bad)
		}
	}
}

const benchSize = 64 << 20

// BenchmarkAppendCommit pushes a 64 MiB blob through one Append and Commit, with the
// default part size and concurrency, into the in-process fake.
func BenchmarkAppendCommit(b *testing.B) {
	s := mustNew(b, Options{Client: newFake(b).client(nil), Bucket: "bench"})
	if err := s.CreateBucket(b.Context()); err != nil {
		b.Fatal(err)
	}
	blobtest.BenchmarkAppendCommit(b, s, blobtest.RandomBytes(benchSize, 1))
}

// BenchmarkRawPutObject is the floor for BenchmarkAppendCommit: the same bytes in one
// PutObject (no hashing, no chunks, no session, no copy).
func BenchmarkRawPutObject(b *testing.B) {
	data := blobtest.RandomBytes(benchSize, 1)
	f := newFake(b)
	s := mustNew(b, Options{Client: f.client(nil), Bucket: "bench"})
	ctx := context.Background()
	if err := s.CreateBucket(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		_, err := s.c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &s.bucket, Key: aws.String("raw"),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(benchSize)})
		if err != nil {
			b.Fatal(err)
		}
	}
}
