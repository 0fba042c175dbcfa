package registry_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/storage/blob/fs"
)

// collectingStore pushes the blob being deleted again at the worst moment: after the
// collector's last check and just before its delete.
type collectingStore struct {
	*fs.Store
	beforeDelete func()
}

func (s *collectingStore) Delete(ctx context.Context, d digest.Digest) error {
	if s.beforeDelete != nil {
		s.beforeDelete()
	}
	return s.Store.Delete(ctx, d)
}

// TestGCNeverLosesAnAcknowledgedPush: a push of the same bytes landing while garbage
// collection deletes them is refused (503, to be retried), never acknowledged for bytes
// that then vanish; its retry after the collection is whole.
func TestGCNeverLosesAnAcknowledgedPush(t *testing.T) {
	t.Parallel()
	files, md := newStores(t)
	store := &collectingStore{Store: files}
	g := registry.New(registry.Options{Blobs: store, Meta: md})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	data := []byte("bytes nobody references")
	d := digest.FromBytes(data)
	push := "/v2/app/blobs/uploads/?digest=" + d.String()
	do(t, srv, "POST", push, "application/octet-stream", data, http.StatusCreated)

	var racedStatus int
	store.beforeDelete = func() {
		store.beforeDelete = nil
		req, _ := http.NewRequest("POST", srv.URL+push, bytes.NewReader(data))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		racedStatus = resp.StatusCode
	}
	rep, err := g.CollectGarbage(t.Context(), registry.GCOptions{Grace: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Blobs) != 1 {
		t.Fatalf("collected %v, want the one blob", rep.Blobs)
	}
	if racedStatus != http.StatusServiceUnavailable {
		t.Fatalf("push during the delete answered %d, want 503 (never an acknowledgement)", racedStatus)
	}
	// The retry after the collection stores the bytes again, readable.
	do(t, srv, "POST", push, "application/octet-stream", data, http.StatusCreated)
	if got := do(t, srv, "GET", "/v2/app/blobs/"+d.String(), "", nil, http.StatusOK); got != string(data) {
		t.Errorf("read back %q", got)
	}
}
