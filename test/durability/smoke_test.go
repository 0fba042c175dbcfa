package durability

import (
	"net/http"
	"testing"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestSmoke checks that the server starts and takes a push: the precondition of every
// other test here.
func TestSmoke(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := &client{srv: s}
	if _, err := c.call(request{method: http.MethodGet, url: "/v2/", want: http.StatusOK}); err != nil {
		t.Fatal(err)
	}
	img := newImage(newRand(1), 1024)
	mustPush(t, c, "smoke/app", img, "v1")
	if err := c.checkManifest("smoke/app", img, "v1"); err != nil {
		t.Fatal(err)
	}
}
