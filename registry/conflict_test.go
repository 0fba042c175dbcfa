package registry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/blob"
)

// racingStore is a shared blob store in which, on the next Append or Commit, another
// replica gets in first: it runs other on the session, and the call then fails with
// blob.ErrUploadConflict, keeping nothing, as a driver with optimistic concurrency does.
type racingStore struct {
	blob.Store
	other func(ctx context.Context, id string)
}

func (s *racingStore) Upload(ctx context.Context, id string) (blob.Upload, error) {
	up, err := s.Store.Upload(ctx, id)
	if err != nil {
		return nil, err
	}
	return &racingUpload{Upload: up, s: s}, nil
}

type racingUpload struct {
	blob.Upload
	s *racingStore
}

func (u *racingUpload) race(ctx context.Context) bool {
	if u.s.other == nil {
		return false
	}
	other := u.s.other
	u.s.other = nil
	other(ctx, u.Info().ID)
	return true
}

func (u *racingUpload) Append(ctx context.Context, r io.Reader) (int64, error) {
	if u.race(ctx) {
		return 0, blob.ErrUploadConflict
	}
	return u.Upload.Append(ctx, r)
}

func (u *racingUpload) Commit(ctx context.Context, d digest.Digest) (blob.Info, error) {
	if u.race(ctx) {
		return blob.Info{}, blob.ErrUploadConflict
	}
	return u.Upload.Commit(ctx, d)
}

// TestUploadConflict: a chunk or a closing PUT that loses a race with another replica
// gets 416 with the session's real Range and Location (the client resumes from there), or
// 404 when the other replica ended the session; never a 500.
func TestUploadConflict(t *testing.T) {
	fsStore, md := newStores(t)
	store := &racingStore{Store: fsStore}
	srv := httptest.NewServer(registry.New(registry.Options{Blobs: store, Meta: md}))
	t.Cleanup(srv.Close)

	send := func(method, loc, body, contentRange string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+loc, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		if contentRange != "" {
			req.Header.Set("Content-Range", contentRange)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	appendOther := func(data string) func(ctx context.Context, id string) {
		return func(ctx context.Context, id string) {
			up, err := fsStore.Upload(ctx, id)
			if err == nil {
				_, err = up.Append(ctx, strings.NewReader(data))
			}
			if err != nil {
				t.Errorf("the other replica's append: %v", err)
			}
		}
	}

	resp := send(http.MethodPost, "/v2/r/blobs/uploads/", "", "")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("POST: %d %q", resp.StatusCode, loc)
	}
	// The other replica appends "abc" first: this chunk (also for offset 0) is refused.
	store.other = appendOther("abc")
	resp = send(http.MethodPatch, loc, "xyz", "0-2")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Range") != "0-2" ||
		resp.Header.Get("Location") != loc {
		t.Fatalf("losing PATCH: %d Range %q Location %q; want 416, 0-2, %s", resp.StatusCode,
			resp.Header.Get("Range"), resp.Header.Get("Location"), loc)
	}
	// The client resumes at 3; its closing PUT loses to another append of "de".
	store.other = appendOther("de")
	want := digest.FromString("abcdefg")
	resp = send(http.MethodPut, loc+"?digest="+want.String(), "", "")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Range") != "0-4" {
		t.Fatalf("losing PUT: %d Range %q; want 416, 0-4", resp.StatusCode, resp.Header.Get("Range"))
	}
	resp = send(http.MethodPut, loc+"?digest="+want.String(), "fg", "5-6")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("resumed PUT: %d", resp.StatusCode)
	}

	// The other replica ends the session: 404 BLOB_UPLOAD_UNKNOWN.
	resp = send(http.MethodPost, "/v2/r/blobs/uploads/", "", "")
	loc = resp.Header.Get("Location")
	store.other = func(ctx context.Context, id string) {
		up, err := fsStore.Upload(ctx, id)
		if err == nil {
			err = up.Cancel(ctx)
		}
		if err != nil {
			t.Errorf("the other replica's cancel: %v", err)
		}
	}
	if resp = send(http.MethodPatch, loc, "xyz", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("PATCH of a session another replica ended: %d, want 404", resp.StatusCode)
	}
}
