package inventory

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/inventory"
)

// saveConnection saves the fixture's connection as "test" in a fresh connector
// directory and returns the directory.
func (f *fixture) saveConnection(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	store, err := connector.OpenStore(dir, connector.DefaultKeySource(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(f.conn, f.sec); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cli runs `cerulean inventory test --store dir args...` and parses its JSON lines.
func (f *fixture) cli(t testing.TB, dir string, args ...string) []inventory.Record {
	t.Helper()
	out, err := f.cloud.Srv.Run(t, append([]string{"inventory", "test", "--store", dir}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var recs []inventory.Record
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r inventory.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// kinds counts records by kind.
func kinds(recs []inventory.Record) map[inventory.Kind]int {
	out := map[inventory.Kind]int{}
	for _, r := range recs {
		out[r.Kind]++
	}
	return out
}

// names lists "kind repository tag-or-digest" of each record but the registry's, sorted.
func names(recs []inventory.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Kind == inventory.KindRegistry {
			continue
		}
		id := r.Tag
		if id == "" {
			id = r.Digest
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", r.Kind, r.Repository, id)))
	}
	slices.Sort(out)
	return out
}

// TestCLI runs `cerulean inventory` in each output format, then incrementally after a
// push: only the changed repositories, manifests and tags come out.
func TestCLI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.session(t, f.conn)
	p := newPusher(t, s, f.cloud.Srv.Host)
	img := must[pushedImage](t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	repos := []string{"inc/a", "inc/b", "inc/c", "inc/d", "inc/e", "inc/f"}
	for _, repo := range repos {
		img(p.image(t.Context(), repo, imageSpec{arch: "amd64", created: created, labels: map[string]string{"repo": repo}}, "v1"))
		img(p.image(t.Context(), repo, imageSpec{arch: "arm64", created: created}, "v2", "latest"))
	}
	// A watermark is the server's clock to the second: let the second of the pushes end,
	// so that the first run's watermark is after every one of them.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	dir := f.saveConnection(t)

	full := f.cli(t, dir, "--page-size", "5")
	if d := cmp.Diff(map[inventory.Kind]int{inventory.KindRegistry: 1, inventory.KindRepository: 6, inventory.KindManifest: 12,
		inventory.KindTag: 18}, kinds(full)); d != "" {
		t.Errorf("full run's records by kind (-want +got):\n%s", d)
	}
	reg := full[len(full)-1]
	if reg.Kind != inventory.KindRegistry || reg.Complete == nil || !*reg.Complete || reg.Watermark.IsZero() {
		t.Fatalf("the last record is not the complete registry's: %+v", reg)
	}
	if _, err := os.Stat(filepath.Join(dir, "inventory", "test.json")); err != nil {
		t.Errorf("no watermark file: %v", err)
	}

	t.Run("json", func(t *testing.T) {
		out, err := f.cloud.Srv.Run(t, "inventory", "test", "--store", dir, "-o", "json", "--no-watermark")
		if err != nil {
			t.Fatal(err)
		}
		var recs []inventory.Record
		if err := json.Unmarshal([]byte(out), &recs); err != nil {
			t.Fatalf("-o json is not one JSON array: %v\n%s", err, out)
		}
		if d := cmp.Diff(names(full), names(recs)); d != "" {
			t.Errorf("-o json records (-want +got):\n%s", d)
		}
	})

	t.Run("csv", func(t *testing.T) {
		out, err := f.cloud.Srv.Run(t, "inventory", "test", "--store", dir, "-o", "csv", "--no-watermark")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("-o csv: %v\n%s", err, out)
		}
		if d := cmp.Diff(inventory.CSVColumns, rows[0]); d != "" {
			t.Fatalf("CSV header (-want +got):\n%s", d)
		}
		col := func(name string) int { return slices.Index(inventory.CSVColumns, name) }
		byKind := map[inventory.Kind]int{}
		for _, row := range rows[1:] {
			byKind[inventory.Kind(row[0])]++
			if row[0] == "manifest" && row[col("labels")] != "" && !strings.Contains(row[col("labels")], `"repo":"inc/`) {
				t.Errorf("manifest row labels = %q", row[col("labels")])
			}
			if row[0] == "tag" && (row[col("digest")] == "" || row[col("writeEnabled")] != "true") {
				t.Errorf("tag row = %q", row)
			}
		}
		if d := cmp.Diff(kinds(full), byKind); d != "" {
			t.Errorf("CSV rows by kind (-want +got):\n%s", d)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		// After the first run: a new image in inc/c and a new repository.
		changed := img(p.image(t.Context(), "inc/c", imageSpec{arch: "amd64", created: created.Add(time.Hour)}, "v3"))
		added := img(p.image(t.Context(), "inc/g", imageSpec{arch: "amd64", created: created}, "v1"))
		inc := f.cli(t, dir, "--incremental", "--page-size", "1")
		want := []string{
			"manifest inc/c " + changed.Digest.String(), "manifest inc/g " + added.Digest.String(),
			"repository inc/c", "repository inc/g", "tag inc/c v3", "tag inc/g v1",
		}
		if d := cmp.Diff(want, names(inc)); d != "" {
			t.Errorf("incremental run (-want +got):\n%s", d)
		}
		last := inc[len(inc)-1]
		if last.Kind != inventory.KindRegistry || !last.Since.Equal(reg.Watermark) || last.Counts.Skipped != 5 ||
			last.Counts.Repositories != 2 || last.Watermark.Before(reg.Watermark) {
			t.Errorf("incremental registry record = %+v (first run's watermark %v)", last, reg.Watermark)
		}
		// --since overrides: an hour ago is everything again.
		since := f.cli(t, dir, "--since", "1h", "--no-watermark")
		if got := kinds(since)[inventory.KindRepository]; got != 7 {
			t.Errorf("--since 1h: %d repositories, want 7", got)
		}
	})
}
