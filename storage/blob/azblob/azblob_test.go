package azblob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/blob/azblob/azuritetest"
	"github.com/cerulean-registry/cerulean/storage/blob/blobtest"
	"github.com/cerulean-registry/cerulean/storage/blob/internal/sessions"
)

func TestMain(m *testing.M) {
	code := m.Run()
	azuritetest.Stop()
	os.Exit(code)
}

// options returns options for a store in container of the test's Azurite. Small blocks
// make the suite's bodies span several of them.
func options(t testing.TB, containerName string) Options {
	srv := azuritetest.Shared(t)
	return Options{
		ServiceURL:  srv.URL,
		Container:   containerName,
		AccountName: azuritetest.Account,
		AccountKey:  azuritetest.Key,
		BlockSize:   1 << 20,
		Client:      policy.ClientOptions{Retry: policy.RetryOptions{RetryDelay: 10 * time.Millisecond}},
	}
}

func mustNew(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// freshStore returns a store over a new, empty container.
func freshStore(t testing.TB) *Store {
	t.Helper()
	s := mustNew(t, options(t, fmt.Sprintf("test-%016x", rand.Uint64())))
	if err := s.CreateContainer(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// replica returns another store value over s's container, sharing no memory with s.
func replica(t testing.TB, s *Store) *Store {
	t.Helper()
	return mustNew(t, options(t, s.containerName))
}

func TestSuite(t *testing.T) {
	blobtest.Run(t,
		func(t *testing.T) blob.Store { return freshStore(t) },
		blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store { return replica(t, s.(*Store)) }),
		blobtest.WithReplicas(),
		blobtest.WithLostResponse(func(t *testing.T, s blob.Store) (blob.Store, func() bool) {
			o := options(t, s.(*Store).containerName)
			lost := &lostResponse{next: http.DefaultClient}
			o.Client.Transport = lost
			return mustNew(t, o), lost.dropped.Load
		}),
	)
}

// lostResponse forwards requests but, once, drops the response of a Put Block List: the
// write lands, the SDK sees a network error and retries, and the retry fails its If-Match
// against the write itself.
type lostResponse struct {
	next    policy.Transporter
	dropped atomic.Bool
}

func (l *lostResponse) Do(req *http.Request) (*http.Response, error) {
	resp, err := l.next.Do(req)
	if err == nil && req.URL.Query().Get("comp") == "blocklist" && req.Header.Get("If-Match") != "" &&
		resp.StatusCode < 300 && l.dropped.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset (simulated)")
	}
	return resp, err
}

func TestRedirect(t *testing.T) {
	s := freshStore(t)
	ctx := t.Context()
	data := blobtest.RandomBytes(5000, 9)
	d, err := s.Put(ctx, digest.FromBytes(data), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Redirect(ctx, d.Digest, time.Minute)
	if err != nil {
		t.Fatalf("Redirect: %v", err)
	}
	if !strings.Contains(u, "sp=r&") || !strings.Contains(u, "sig=") {
		t.Errorf("Redirect URL %s is not a read-only SAS", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Errorf("GET SAS URL = %d, %d bytes, %v; want 200 and the blob", resp.StatusCode, len(got), err)
	}
	// The signature covers the blob: pointed at another name it is refused.
	other := strings.Replace(u, d.Digest.Encoded(), digest.FromString("x").Encoded(), 1)
	if resp, err := http.Get(other); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET SAS URL of another blob = %v, %v, want 403", resp.Status, err)
	}
	if _, err := s.Redirect(ctx, "sha256:../../x", time.Minute); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Redirect(bad digest) = %v, want ErrNotFound", err)
	}
}

func TestLayout(t *testing.T) {
	s := freshStore(t)
	ctx := t.Context()
	u, err := s.CreateUpload(ctx, "library/layout")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, s); len(got) != 1 || got[0] != "uploads/"+u.Info().ID {
		t.Errorf("names during upload = %v, want the session blob", got)
	}
	if _, err := u.Append(ctx, strings.NewReader("layout")); err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("layout")
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := names(t, s); len(got) != 1 || got[0] != "blobs/sha256/"+d.Encoded() {
		t.Errorf("names after commit = %v, want [blobs/sha256/%s]", got, d.Encoded())
	}
}

// names lists every blob in s's container.
func names(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	pager := s.c.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Segment.BlobItems {
			out = append(out, *item.Name)
		}
	}
	return out
}

// A session blob whose state is unreadable is listed for expiry and removed by Upload.
func TestBrokenSessionRemoved(t *testing.T) {
	s := freshStore(t)
	ctx := t.Context()
	id := sessions.NewID()
	bad := "x"
	if _, err := s.blockBlob(s.uploadName(id)).CommitBlockList(ctx, nil, &blockblob.CommitBlockListOptions{Metadata: map[string]*string{"size": &bad}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := s.WalkUploads(ctx, func(i blob.UploadInfo) error { ids = append(ids, i.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != id {
		t.Errorf("WalkUploads = %v, want [%s]", ids, id)
	}
	if _, err := s.Upload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("Upload = %v, want ErrUploadNotFound", err)
	}
	if got := names(t, s); len(got) != 0 {
		t.Errorf("after Upload the container holds %v", got)
	}
}

func TestContainerMissing(t *testing.T) {
	s := mustNew(t, options(t, "never-created"))
	if _, err := s.Stat(t.Context(), digest.FromString("x")); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat = %v, want ErrNotFound", err)
	}
	if err := s.Walk(t.Context(), func(blob.Info) error { return nil }); err == nil {
		t.Error("Walk of a missing container succeeded")
	}
}

const benchSize = 64 << 20

// BenchmarkAppendCommit pushes a 64 MiB blob through one Append and Commit, with the
// default block size and concurrency.
func BenchmarkAppendCommit(b *testing.B) {
	o := options(b, fmt.Sprintf("bench-%016x", rand.Uint64()))
	o.BlockSize = 0
	s := mustNew(b, o)
	if err := s.CreateContainer(b.Context()); err != nil {
		b.Fatal(err)
	}
	blobtest.BenchmarkAppendCommit(b, s, blobtest.RandomBytes(benchSize, 1))
}

// BenchmarkRawUploadBuffer is the floor for BenchmarkAppendCommit: the same bytes in one
// SDK UploadBuffer (staged blocks and a commit, no hashing, no session, no copy).
func BenchmarkRawUploadBuffer(b *testing.B) {
	data := blobtest.RandomBytes(benchSize, 1)
	s := mustNew(b, options(b, fmt.Sprintf("bench-%016x", rand.Uint64())))
	ctx := context.Background()
	if err := s.CreateContainer(ctx); err != nil {
		b.Fatal(err)
	}
	bb := s.blockBlob("raw")
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := bb.UploadBuffer(ctx, data, &blockblob.UploadBufferOptions{BlockSize: DefaultBlockSize, Concurrency: DefaultConcurrency}); err != nil {
			b.Fatal(err)
		}
	}
}

// Committing a blob that exists keeps it and refreshes it (Set Blob Metadata), which
// moves its Last-Modified, GC's grace marker. Azure's clock cannot be moved, so the test
// reads the commit time the refresh writes.
func TestRecommitRefreshes(t *testing.T) {
	s := freshStore(t)
	ctx := t.Context()
	data := []byte("again")
	d := digest.FromBytes(data)
	committed := func() (time.Time, string) {
		p, err := s.c.NewBlobClient("blobs/sha256/"+d.Encoded()).GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Metadata {
			if strings.EqualFold(k, "committed") {
				at, err := time.Parse(time.RFC3339Nano, *v)
				if err != nil {
					t.Fatal(err)
				}
				return at, string(*p.ETag)
			}
		}
		t.Fatalf("no commit time in %v", p.Metadata)
		return time.Time{}, ""
	}
	if _, err := s.Put(ctx, d, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	prevTime, prevTag := committed()
	for _, how := range []string{"session", "put"} {
		var err error
		if how == "put" {
			_, err = s.Put(ctx, d, bytes.NewReader(data))
		} else {
			var u blob.Upload
			if u, err = s.CreateUpload(ctx, "library/recommit"); err == nil {
				if _, err = u.Append(ctx, bytes.NewReader(data)); err == nil {
					_, err = u.Commit(ctx, d)
				}
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		gotTime, gotTag := committed()
		if !gotTime.After(prevTime) || gotTag == prevTag {
			t.Errorf("%s of an existing blob: commit time %s, ETag %s; want later than %s, changed from %s",
				how, gotTime, gotTag, prevTime, prevTag)
		}
		prevTime, prevTag = gotTime, gotTag
	}
	if got := blobtest.ReadBlob(t, s, d); !bytes.Equal(got, data) {
		t.Errorf("read %q", got)
	}
}

// staticToken is a TokenCredential for tests that only build clients.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestFromURL(t *testing.T) {
	srv := azuritetest.Shared(t)
	t.Setenv("AZURE_STORAGE_KEY", azuritetest.Key)
	u, _ := url.Parse("azblob://" + azuritetest.Account + "/from-url/some/prefix?endpoint=" + url.QueryEscape(srv.URL) +
		"&auth=key&blockSize=2MiB&concurrency=3")
	s, err := FromURL(u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.containerName != "from-url" || s.prefix != "some/prefix/" || s.pieces.Size() != 2<<20 || s.key == nil {
		t.Errorf("FromURL(%s) = container %q, prefix %q, block size %d, shared key %v",
			u, s.containerName, s.prefix, s.pieces.Size(), s.key != nil)
	}
	if err := s.CreateContainer(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("x")
	if _, err := s.Put(t.Context(), d, strings.NewReader("x")); err != nil {
		t.Fatalf("Put through a store from a URL: %v", err)
	}
	if got := names(t, s); len(got) != 1 || got[0] != "some/prefix/blobs/sha256/"+d.Encoded() {
		t.Errorf("container holds %v", got)
	}

	entra, err := FromURL(mustParse(t, "azblob://acct/c"), Options{Credential: staticToken{}})
	if err != nil {
		t.Fatal(err)
	}
	if entra.key != nil || entra.svc == nil || !strings.HasPrefix(entra.c.URL(), "https://acct.blob.core.windows.net/c") {
		t.Errorf("FromURL with a credential: shared key %v, service client %v, URL %s", entra.key != nil, entra.svc != nil, entra.c.URL())
	}

	for _, bad := range []string{
		"s3://a/b", "azblob://acct", "azblob:///c", "azblob://acct/c?key=secret", "azblob://acct/c?sig=x",
		"azblob://acct/c?blockSize=0", "azblob://acct/c?blockSize=5GiB", "azblob://acct/c?concurrency=x",
		"azblob://acct/c?auth=magic",
	} {
		if _, err := FromURL(mustParse(t, bad), Options{}); err == nil {
			t.Errorf("FromURL(%s) succeeded", bad)
		}
	}
	t.Setenv("AZURE_STORAGE_KEY", "")
	if _, err := FromURL(mustParse(t, "azblob://acct/c?auth=key"), Options{}); err == nil {
		t.Error("auth=key without a key succeeded")
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
