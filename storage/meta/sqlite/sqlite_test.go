package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/metatest"
)

func open(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		return open(t, filepath.Join(t.TempDir(), "meta.db"))
	})
}

func TestDirectory(t *testing.T) {
	metatest.RunDirectory(t, func(t *testing.T) meta.Directory {
		s := open(t, filepath.Join(t.TempDir(), "meta.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestManagement(t *testing.T) {
	metatest.RunManagement(t, func(t *testing.T) meta.Management {
		s := open(t, filepath.Join(t.TempDir(), "meta.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

func TestAudit(t *testing.T) {
	metatest.RunAudit(t, func(t *testing.T) meta.AuditLog {
		s := open(t, filepath.Join(t.TempDir(), "meta.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	ctx := t.Context()
	layer := digest.FromString("layer")
	r := meta.Repo{Registry: "reg", Name: "r"}
	m := manifest(r, "m", layer)

	s := open(t, path)
	if err := s.LinkBlob(ctx, r, layer, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(ctx, m, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path) // migrations already applied: must not fail or re-run
	defer s.Close()
	if size, err := s.BlobSize(ctx, r, layer); err != nil || size != 5 {
		t.Errorf("BlobSize after reopen = %d, %v", size, err)
	}
	if got, err := s.TaggedManifest(ctx, r, "v1"); err != nil || got.Digest != m.Digest || string(got.Content) != string(m.Content) {
		t.Errorf("TaggedManifest after reopen = %+v, %v", got, err)
	}
	if repos, err := s.Repositories(ctx, "reg", "", 0); err != nil || len(repos) != 1 || repos[0] != "r" {
		t.Errorf("Repositories after reopen = %q, %v", repos, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := open(t, path)
	_, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)`)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

// TestConnectionSettings checks that the DSN parameters took effect: durability and
// integrity depend on them, and a typo would fail silently.
func TestConnectionSettings(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	for _, p := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := s.w.QueryRow("PRAGMA " + p.pragma).Scan(&got); err != nil || got != p.want {
			t.Errorf("writer PRAGMA %s = %q, %v; want %q", p.pragma, got, err, p.want)
		}
	}
	if _, err := s.r.Exec(`INSERT INTO repositories (registry_id, name, created_at, updated_at) VALUES ('reg', 'x', 0, 0)`); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

// TestHotQueriesUseIndexes keeps the per-request queries to index searches, so their cost
// does not grow with the number of tags, manifests, repositories or registries. Listings
// must also come out of their index in order, without a sort.
func TestHotQueriesUseIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	for name, query := range map[string]string{
		"manifest by tag":    manifestByTagSQL,
		"manifest by digest": manifestByDigestSQL,
		"blob size":          blobSizeSQL,
		"blob in use":        blobInUseSQL,
		"repository id":      repoIDSQL,
		"tags":               tagsSQL,
		"repositories":       repositoriesSQL,
		"referrers":          referrersSQL,
	} {
		for _, step := range queryPlan(t, s.r, query) {
			if strings.HasPrefix(step, "SCAN") && step != "SCAN CONSTANT ROW" || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan step %q", name, step)
			}
		}
	}
}

func queryPlan(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, make([]any, strings.Count(query, "?"))...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

func manifest(repo meta.Repo, name string, blobs ...digest.Digest) *meta.Manifest {
	content := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","name":%q,"layers":%q}`, name, blobs)
	m := &meta.Manifest{
		Repo:            repo,
		Digest:          digest.FromBytes(content),
		MediaType:       "application/vnd.oci.image.manifest.v1+json",
		Size:            int64(len(content)),
		Content:         content,
		ArtifactType:    "application/vnd.oci.image.config.v1+json",
		ConfigMediaType: "application/vnd.oci.image.config.v1+json",
		Annotations:     map[string]string{"org.opencontainers.image.created": "2024-01-02T03:04:05Z"},
		OS:              "linux",
		Architecture:    "amd64",
	}
	for _, d := range blobs {
		m.References = append(m.References, meta.Reference{Digest: d, Kind: meta.RefBlob})
	}
	return m
}

// BenchmarkTaggedManifest reads a tag of a repository holding 1 tag and of one holding
// 10,000 (each on its own manifest): the cost must not depend on the tag count.
func BenchmarkTaggedManifest(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "meta.db"))
	defer s.Close()
	for _, n := range []int{1, 10000} {
		repository := meta.Repo{Registry: "reg", Name: fmt.Sprintf("tags-%d", n)}
		populate(b, s, repository, n)
		tag := fmt.Sprintf("v%d", n/2)
		b.Run(fmt.Sprintf("tags=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.TaggedManifest(b.Context(), repository, tag); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// populate pushes n manifests into repository, each with its own tag. Setup needs no
// durability, so synchronous is off meanwhile: 10,000 fsyncs would dominate the run.
func populate(b *testing.B, s *Store, repository meta.Repo, n int) {
	b.Helper()
	ctx := b.Context()
	if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		b.Fatal(err)
	}
	defer s.w.ExecContext(ctx, "PRAGMA synchronous = FULL")
	layer := digest.FromString("layer")
	if err := s.LinkBlob(ctx, repository, layer, 1); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := s.PutManifest(ctx, manifest(repository, fmt.Sprint(i), layer), fmt.Sprintf("v%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutManifest pushes a new manifest with 3 blob references and a tag per
// iteration (one fsync'd transaction each).
func BenchmarkPutManifest(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "meta.db"))
	defer s.Close()
	blobs := []digest.Digest{digest.FromString("config"), digest.FromString("layer1"), digest.FromString("layer2")}
	r := meta.Repo{Registry: "reg", Name: "r"}
	for _, d := range blobs {
		if err := s.LinkBlob(b.Context(), r, d, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.PutManifest(b.Context(), manifest(r, fmt.Sprint(i), blobs...), fmt.Sprintf("v%d", i%100)); err != nil {
			b.Fatal(err)
		}
	}
}
