package inventory

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNextLink(t *testing.T) {
	base, _ := url.Parse("https://r.example/acr/v1/a/b/_tags?n=2&orderby=timedesc")
	tests := []struct {
		name, link, want string
		err              bool
	}{
		{"ACR's form", `</acr/v1/a/b/_tags?last=v2&n=2&orderby=timedesc>; rel="next"`, "https://r.example/acr/v1/a/b/_tags?last=v2&n=2&orderby=timedesc", false},
		{"unquoted rel", `</v2/_catalog?last=x&n=1>; rel=next`, "https://r.example/v2/_catalog?last=x&n=1", false},
		{"several links", `</first>; rel="first", </acr/v1/_catalog?last=z&n=1&orderby=>; rel="next"`, "https://r.example/acr/v1/_catalog?last=z&n=1&orderby=", false},
		{"several rels", `</p?last=1>; rel="prev next"`, "https://r.example/p?last=1", false},
		{"no next", `</first>; rel="first"`, "", false},
		{"none", ``, "", false},
		{"same host, absolute", `<https://r.example/acr/v1/_catalog?last=q>; rel="next"`, "https://r.example/acr/v1/_catalog?last=q", false},
		{"another host", `<https://evil.example/acr/v1/_catalog?last=q>; rel="next"`, "", true},
		{"plain http", `<http://r.example/acr/v1/_catalog?last=q>; rel="next"`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.link != "" {
				h.Set("Link", tt.link)
			}
			got, err := nextLink(base, h)
			if (err != nil) != tt.err {
				t.Fatalf("nextLink(%q) error = %v, want error %v", tt.link, err, tt.err)
			}
			s := ""
			if got != nil {
				s = got.String()
			}
			if s != tt.want {
				t.Errorf("nextLink(%q) = %q, want %q", tt.link, s, tt.want)
			}
		})
	}
}

func TestArtifactType(t *testing.T) {
	tests := []struct {
		m    manifestBody
		want string
	}{
		{manifestBody{ArtifactType: "application/spdx+json", Config: &descriptor{MediaType: mtEmpty}}, "application/spdx+json"},
		{manifestBody{Config: &descriptor{MediaType: "application/vnd.cncf.notary.signature"}}, "application/vnd.cncf.notary.signature"},
		{manifestBody{Config: &descriptor{MediaType: mtOCIConfig}}, ""},
		{manifestBody{Config: &descriptor{MediaType: mtEmpty}}, ""},
		{manifestBody{MediaType: mtOCIIndex}, ""},
	}
	for _, tt := range tests {
		if got := artifactTypeOf(&tt.m); got != tt.want {
			t.Errorf("artifactTypeOf(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func sampleRecords() []Record {
	n, yes := 3, true
	when := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	return []Record{
		{Kind: KindRepository, Registry: "r.example", Repository: "a/b", CreatedTime: when, ManifestCount: &n,
			ChangeableAttributes: &Attributes{DeleteEnabled: true, WriteEnabled: false, ReadEnabled: true, ListEnabled: true}},
		{Kind: KindManifest, Registry: "r.example", Repository: "a/b", Digest: "sha256:aa", Tags: []string{"1", "latest"},
			Labels: map[string]string{"k": "v,\"q\""}, References: []Platform{{Digest: "sha256:bb", Architecture: "arm64", OS: "linux"}}},
		{Kind: KindError, Registry: "r.example", Repository: "a/c", Op: "manifests", Status: 500, Error: "HTTP 500: boom\nsecond line"},
		{Kind: KindRegistry, Registry: "r.example", Complete: &yes, Counts: &Counts{Repositories: 1, Manifests: 1}},
	}
}

func TestWriters(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, format)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range sampleRecords() {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var got []Record
			switch format {
			case FormatJSONL:
				for line := range strings.SplitSeq(strings.TrimSuffix(buf.String(), "\n"), "\n") {
					var r Record
					if err := json.Unmarshal([]byte(line), &r); err != nil {
						t.Fatalf("line %q: %v", line, err)
					}
					got = append(got, r)
				}
			case FormatJSON:
				if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
					t.Fatalf("%v:\n%s", err, buf.String())
				}
			case FormatCSV:
				rows, err := csv.NewReader(&buf).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(CSVColumns, rows[0]); d != "" {
					t.Fatalf("header (-want +got):\n%s", d)
				}
				for i, r := range sampleRecords() {
					if d := cmp.Diff(csvRow(&r), rows[i+1]); d != "" {
						t.Errorf("row %d (-want +got):\n%s", i, d)
					}
				}
				row := rows[2]
				col := func(name string) string {
					for i, c := range CSVColumns {
						if c == name {
							return row[i]
						}
					}
					t.Fatalf("no column %s", name)
					return ""
				}
				if col("tags") != "1 latest" || col("labels") != `{"k":"v,\"q\""}` || !strings.Contains(col("references"), "arm64") {
					t.Errorf("manifest row = %q", row)
				}
				if rows[1][0] != "repository" || len(rows[1]) != len(CSVColumns) {
					t.Errorf("repository row = %q", rows[1])
				}
				return
			}
			if d := cmp.Diff(sampleRecords(), got); d != "" {
				t.Errorf("records back (-want +got):\n%s", d)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		for format, want := range map[string]string{FormatJSON: "[]\n", FormatJSONL: "", FormatCSV: strings.Join(CSVColumns, ",") + "\n"} {
			var buf bytes.Buffer
			w, _ := NewWriter(&buf, format)
			if err := w.Close(); err != nil || buf.String() != want {
				t.Errorf("%s with no records = %q, %v; want %q", format, buf.String(), err, want)
			}
		}
	})
	if _, err := NewWriter(nil, "xml"); err == nil {
		t.Error("NewWriter accepted xml")
	}
}

func TestWatermarks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := OpenWatermarks(dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWatermarks(dir, "../etc"); err == nil {
		t.Error("a connection name with a path was accepted")
	}
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2, t3 := t1.Add(time.Hour), t1.Add(2*time.Hour)
	res := func(host string, since, mark time.Time, complete bool) Result {
		return Result{Target: Target{LoginServer: host, Since: since}, Watermark: mark, Complete: complete}
	}
	steps := []struct {
		name    string
		results []Result
		want    map[string]time.Time
	}{
		{"full runs store", []Result{res("a", time.Time{}, t2, true), res("b", time.Time{}, t2, true)}, map[string]time.Time{"a": t2, "b": t2}},
		{"incomplete runs do not", []Result{res("a", t2, t3, false)}, map[string]time.Time{"a": t2, "b": t2}},
		{"an older mark does not replace", []Result{res("a", time.Time{}, t1, true)}, map[string]time.Time{"a": t2, "b": t2}},
		{"a later since cannot vouch", []Result{res("b", t3, t3, true)}, map[string]time.Time{"a": t2, "b": t2}},
		{"since the stored mark moves it", []Result{res("a", t2, t3, true)}, map[string]time.Time{"a": t3, "b": t2}},
		{"since with nothing stored cannot vouch", []Result{res("c", t1, t3, true)}, map[string]time.Time{"a": t3, "b": t2, "c": {}}},
	}
	for _, s := range steps {
		if err := w.Save(ctx, s.results); err != nil {
			t.Fatal(err)
		}
		for host, want := range s.want {
			got, err := w.Get(host)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s: Get(%s) = %v, %v; want %v", s.name, host, got, err, want)
			}
		}
	}
}

func TestFormatProgress(t *testing.T) {
	got := FormatProgress(ProgressSnapshot{Registries: 2, RegistriesDone: 1, Repositories: 10, RepositoriesDone: 5,
		Manifests: 40, Tags: 50, Requests: 120, Errors: 1}, 3*time.Second)
	want := "[##########..........] registries 1/2  repositories 5/10  manifests 40  tags 50  requests 120  errors 1  3s"
	if got != want {
		t.Errorf("FormatProgress = %q, want %q", got, want)
	}
	var p *Progress // nil counts nothing and does not panic
	p.request()
	p.add(1, 2, 3)
	if p.Snapshot() != (ProgressSnapshot{}) {
		t.Error("a nil Progress counted")
	}
}

// handlerClient serves a crawl's requests from a handler, as a registry would.
type handlerClient struct{ h http.Handler }

func (c handlerClient) Do(ctx context.Context, req *http.Request, _ ...string) (*http.Response, error) {
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req.WithContext(ctx))
	return rec.Result(), nil
}

// TestFailuresAreRecords crawls a registry where one repository cannot be listed: its
// failure is an error record, the others are inventoried, the result is incomplete.
func TestFailuresAreRecords(t *testing.T) {
	mux := http.NewServeMux()
	at := "2026-01-01T00:00:00.0000000Z"
	mux.HandleFunc("GET /acr/v1/_catalog", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("last") == "" {
			w.Header().Set("Link", `</acr/v1/_catalog?last=good&n=1&orderby=>; rel="next"`)
			_, _ = w.Write([]byte(`{"repositories":["good"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"repositories":["bad"]}`))
	})
	for _, repo := range []string{"good", "bad"} {
		mux.HandleFunc("GET /acr/v1/"+repo, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"imageName":"` + repo + `","createdTime":"` + at + `","lastUpdateTime":"` + at + `","manifestCount":0,"tagCount":0}`))
		})
		mux.HandleFunc("GET /acr/v1/"+repo+"/_tags", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"tags":[]}`))
		})
	}
	mux.HandleFunc("GET /acr/v1/good/_manifests", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"manifests":[]}`))
	})
	mux.HandleFunc("GET /acr/v1/bad/_manifests", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"boom"}]}`))
	})
	var recs []Record
	open := func(context.Context, string) (Client, error) { return handlerClient{mux}, nil }
	results, err := Run(context.Background(), []Target{{LoginServer: "r.example"}}, open,
		SinkFunc(func(r Record) error { recs = append(recs, r); return nil }), Options{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Kind)+" "+r.Repository+" "+r.Op+" "+r.Error)
	}
	// Repositories are crawled concurrently: their blocks come in either order, the
	// registry's record last.
	slices.Sort(got[:len(got)-1])
	want := []string{"error bad manifests HTTP 500 UNKNOWN: boom", "repository bad  ", "repository good  ", "registry   "}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if len(results) != 1 || results[0].Complete || results[0].Counts.Errors != 1 || results[0].Counts.Repositories != 2 {
		t.Errorf("result = %+v", results)
	}

	// A failing output stops the run with its error.
	boom := errors.New("disk full")
	_, err = Run(context.Background(), []Target{{LoginServer: "r.example"}}, open, SinkFunc(func(Record) error { return boom }), Options{})
	if !errors.Is(err, boom) {
		t.Errorf("Run with a failing sink = %v, want %v", err, boom)
	}
}
