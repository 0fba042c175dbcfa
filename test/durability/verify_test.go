package durability

import (
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestMismatchedBytesNeverVisible pushes bytes under a digest they do not hash to and
// checks that they are refused and visible nowhere: not under the claimed digest, not under
// their own, not on disk; a chunked session ends with the refusal.
func TestMismatchedBytesNeverVisible(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := &client{srv: s}
	const repo = "verify/app"
	rng := newRand(7)
	for _, tt := range []struct {
		name string
		push func(data []byte, claim digest.Digest) (loc string, err error)
	}{
		{"monolithic POST", func(data []byte, claim digest.Digest) (string, error) {
			body, size, h := octets(data)
			_, err := c.call(request{method: http.MethodPost, url: "/v2/" + repo + "/blobs/uploads/?digest=" + claim.String(),
				body: body, size: size, header: h, want: http.StatusCreated})
			return "", err
		}},
		{"chunked upload", func(data []byte, claim digest.Digest) (string, error) {
			loc, err := c.startUpload(repo)
			if err == nil {
				loc, err = c.patchChunk(loc, 0, data)
			}
			if err == nil {
				err = c.finishUpload(loc, claim, nil)
			}
			return loc, err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(rng, 64<<10)
			claim := digest.FromBytes(randomBytes(rng, 64<<10))
			loc, err := tt.push(data, claim)
			if !hasStatus(err, http.StatusBadRequest) {
				t.Errorf("push under a wrong digest: %v, want status 400", err)
			}
			files := blobFiles(t, s.DataDir)
			for _, d := range []digest.Digest{claim, digest.FromBytes(data)} {
				if _, err := c.getBlob(repo, d); !isNotFound(err) {
					t.Errorf("blob %s: %v, want 404", d, err)
				}
				if files[d] {
					t.Errorf("blob file %s exists", d)
				}
			}
			if loc != "" {
				if _, err := c.uploadRange(loc); !isNotFound(err) {
					t.Errorf("session after the refused PUT: %v, want 404", err)
				}
			}
		})
	}
}
