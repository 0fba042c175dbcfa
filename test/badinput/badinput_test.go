package badinput

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestBadInput starts one `cerulean serve` for the package and runs every family's
// table against it, the families and their rows in parallel. Once all rows are done it
// checks the data directory and the server's request counts as a whole. Select a family
// or a row with -run, e.g. -run 'TestBadInput/rows/Uploads/PATCH'.
func TestBadInput(t *testing.T) {
	srv := testserver.Start(t)
	e := newEnv(t, srv)

	families := []struct {
		name string
		rows func(*testing.T, *env) []row
	}{
		{"Uploads", uploadRows},
		{"Digests", digestRows},
		{"ManifestBodies", manifestBodyRows},
		{"ManifestReferences", manifestRefRows},
		{"NamesAndTags", nameRows},
		{"Pagination", pageRows},
		{"Routing", routeRows},
		{"Auth", authRows},
	}
	t.Run("rows", func(t *testing.T) {
		for _, f := range families {
			t.Run(f.name, func(t *testing.T) {
				t.Parallel()
				runRows(t, f.rows(t, e))
			})
		}
	})
	// The parallel rows are done here; what follows sees the server at rest.
	t.Run("server at rest", func(t *testing.T) {
		e.awaitIdle(t)
		t.Run("only pushed blobs are stored", e.checkBlobFiles)
		t.Run("only revealed sessions exist, none half-written", e.checkSessions)
		t.Run("no request was answered with a 5xx", e.checkNo5xx)
	})
}

// metricsText fetches the server's Prometheus metrics.
func (e *env) metricsText(t testing.TB) string {
	t.Helper()
	if e.metrics == "" {
		t.Skip("the server exposes no metrics")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// awaitIdle waits until the server has no request in flight: handlers of connections
// the rows hung up on may still be cleaning up.
func (e *env) awaitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if metricValue(e.metricsText(t), "cerulean_http_requests_in_flight") == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests still in flight after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metricValue(text, name string) float64 {
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// checkBlobFiles: every file under blobs/blobs is a blob some row pushed on purpose, at
// the place its digest gives.
func (e *env) checkBlobFiles(t *testing.T) {
	root := filepath.Join(e.dataDir, "blobs", "blobs")
	e.mu.Lock()
	defer e.mu.Unlock()
	err := filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 {
			t.Errorf("unexpected file %s", rel)
			return nil
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(parts[0]), parts[2])
		switch {
		case d.Validate() != nil || parts[1] != parts[2][:2]:
			t.Errorf("file %s is not a blob", rel)
		case !e.pushed[d]:
			t.Errorf("blob %s is stored, but no row pushed it", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSessions: every upload session directory is one a response revealed (a session
// opened inside a failed single POST must be gone), and each live session's data file
// holds exactly what its Range says.
func (e *env) checkSessions(t *testing.T) {
	dir := filepath.Join(e.dataDir, "blobs", "uploads")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	sessions := make(map[string]string, len(e.sessions))
	for id, loc := range e.sessions {
		sessions[id] = loc
	}
	e.mu.Unlock()
	for _, de := range entries {
		loc, ok := sessions[de.Name()]
		if !ok {
			t.Errorf("upload session %s exists, but no response revealed it", de.Name())
			continue
		}
		r := e.send(t, request{method: http.MethodGet, target: loc})
		if r.Status != http.StatusNoContent {
			t.Errorf("upload directory %s is left behind by a session that is gone: %s", de.Name(), r)
			continue
		}
		size, ok := e.sessionFileSize(t, de.Name())
		if !ok || r.Header.Get("Range") != rangeHeader(int(size)) {
			t.Errorf("session %s: data file of %d bytes (present %v), Range %q", de.Name(), size, ok, r.Header.Get("Range"))
		}
	}
}

// requestsRE matches a line of cerulean_http_requests_total.
var requestsRE = regexp.MustCompile(`^cerulean_http_requests_total\{(.*)\} (\S+)$`)

// checkNo5xx: bad input never makes the server answer 5xx, not even to a client that
// hung up (whose answer nobody sees, but which operators see as server errors).
func (e *env) checkNo5xx(t *testing.T) {
	sc := bufio.NewScanner(strings.NewReader(e.metricsText(t)))
	var bad []string
	for sc.Scan() {
		m := requestsRE.FindStringSubmatch(sc.Text())
		if m != nil && strings.Contains(m[1], `code="5`) && m[2] != "0" {
			bad = append(bad, fmt.Sprintf("{%s} %s", m[1], m[2]))
		}
	}
	slices.Sort(bad)
	for _, b := range bad {
		t.Errorf("answered with a server error: %s", b)
	}
}

// TestHPACKStatus checks the hand-written :status decoder the HTTP/2 rows rely on.
func TestHPACKStatus(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		block []byte
		want  int
	}{
		{[]byte{0x88}, 200},
		{[]byte{0x8c}, 400},
		{[]byte{0x8e}, 500},
		{[]byte{0x48, 0x03, '4', '1', '3'}, 413},    // literal, incremental indexing, raw
		{[]byte{0x08, 0x03, '4', '1', '6'}, 416},    // literal without indexing, raw
		{[]byte{0x48, 0x82, 0x10, 0x05}, 202},       // Huffman "202": 00010 00000 00010 + 1
		{[]byte{0x48, 0x82, 0x10, 0x03}, 201},       // Huffman "201": 00010 00000 00001 + 1
		{[]byte{0x48, 0x83, 0x68, 0x0d, 0xff}, 405}, // Huffman "405": 011010 00000 011011 + 11111
	} {
		got, err := hpackStatus(tt.block)
		if err != nil || got != tt.want {
			t.Errorf("hpackStatus(%x) = %d, %v; want %d", tt.block, got, err, tt.want)
		}
	}
	if _, err := hpackStatus([]byte{0x48, 0x81, 0x1f}); err == nil {
		t.Errorf("decoded a Huffman string that is not a number")
	}
}
