package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestRunSmoke runs the whole bench at tiny sizes against the real binary, which requires
// authentication: the bench signs in from the bootstrap file. It checks that every figure
// was measured, never how fast: timings belong in the printed report.
func TestRunSmoke(t *testing.T) {
	var out bytes.Buffer
	rep, err := Run(context.Background(), Options{
		Binary:           testserver.Binary(t),
		WorkDir:          t.TempDir(),
		BigBlob:          1 << 20,
		SmallImages:      20,
		Concurrency:      4,
		ManifestConns:    4,
		ManifestDuration: 200 * time.Millisecond,
		Tags:             50,
		Rounds:           2,
	}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"blob push, one POST", "blob push, 64 MiB PATCHes",
		"blob push, one POST, HTTP/1.1", "blob push, 64 MiB PATCHes, HTTP/1.1", "blob pull", "blob pull, HTTP/1.1",
		"4 KiB image push", "4 KiB image pull", "manifest GET, 1 tag", "manifest GET, 50 tags",
		"manifest GET, 1 tag, Bearer", "manifest GET, 1 tag, Basic", "token GET, Basic"}
	if len(rep.Results) != len(names) {
		t.Fatalf("got %d results, want %d: %+v", len(rep.Results), len(names), rep.Results)
	}
	for i, r := range rep.Results {
		if r.Name != names[i] {
			t.Errorf("result %d is %q, want %q", i, r.Name, names[i])
		}
		if r.Cerulean <= 0 || r.Baseline <= 0 || r.Ratio <= 0 {
			t.Errorf("%s: figures missing: %+v", r.Name, r)
		}
		if r.Rounds != 2 || len(r.CeruleanRounds) != 2 || len(r.BaselineRounds) != 2 ||
			r.CeruleanMin > r.Cerulean || r.Cerulean > r.CeruleanMax || r.RatioMin <= 0 {
			t.Errorf("%s: rounds missing: %+v", r.Name, r)
		}
		if (strings.HasPrefix(r.Name, "manifest") || strings.HasPrefix(r.Name, "token")) && (r.Latency == nil || r.Latency.P50 <= 0) {
			t.Errorf("%s: latency missing", r.Name)
		}
		if !strings.Contains(out.String(), r.Name) {
			t.Errorf("%s: not printed", r.Name)
		}
	}
	if rep.PeakRSSBytes <= 0 || rep.MaxSampledRSSBytes <= 0 || rep.TagPutsPerSec <= 0 {
		t.Errorf("memory or set-up figures missing: %+v", rep)
	}
	if rep.Protocol == "" {
		t.Error("protocol not recorded")
	}
	if got := strings.Count(out.String(), "round 2/2"); got != 4 {
		t.Errorf("printed %d second rounds, want one for each of the 4 phases", got)
	}
	if a := rep.Auth; a == nil || a.BearerOverBasic <= 0 || a.TokensOverBearer <= 0 ||
		a.BearerOverBasicMin > a.BearerOverBasicMax || a.TokensOverBearerMin > a.TokensOverBearerMax {
		t.Errorf("auth figures missing: %+v", a)
	}
	if !strings.Contains(out.String(), "auth: manifest GETs with a bearer token ÷ with Basic") {
		t.Error("auth figures not printed")
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	if _, err := (Options{}).withDefaults(); err == nil {
		t.Error("no error without a binary")
	}
	o, err := Options{Binary: "x", Tags: 7}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Binary: "x", BigBlob: 512 << 20, SmallImages: 1000, Concurrency: 16,
		ManifestConns: 32, ManifestDuration: 5 * time.Second, Tags: 7, Rounds: 3}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
}

// A run that would not fit in its work directory is refused before it starts, says what
// it needs and how to make it fit, and leaves nothing behind.
func TestRunRefusesTooSmallWorkDir(t *testing.T) {
	dir := t.TempDir()
	huge := int64(1) << 50 // 1 PiB per blob: no file system here has room
	var out bytes.Buffer
	_, err := Run(t.Context(), Options{Binary: "never started", WorkDir: dir, BigBlob: huge, Rounds: 1}, &out)
	if err == nil || !strings.Contains(err.Error(), "--work-dir") || !strings.Contains(err.Error(), "GiB are free") {
		t.Fatalf("Run = %v, want a refusal that names --work-dir and the free space", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("work directory holds %d entries after the refusal, want none", len(left))
	}
	if got := (Options{Rounds: 3, BigBlob: 512 << 20}).spaceNeeded(); got != 13<<30 {
		t.Errorf("default run needs %d bytes, want 13 GiB (12 of big blobs, 1 for the rest)", got)
	}
}
