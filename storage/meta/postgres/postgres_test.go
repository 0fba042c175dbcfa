package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/metatest"
	"github.com/cerulean-registry/cerulean/storage/meta/postgres/pgtest"
)

// The tests share one PostgreSQL server (pgtest's, or CERULEAN_POSTGRES_DSN's); each store
// gets a database of its own, copied from a template migrated once.
func TestMain(m *testing.M) { pgtest.Main(m) }

// newDSN returns the DSN of a new, migrated database.
func newDSN(tb testing.TB) string {
	tb.Helper()
	return pgtest.NewFrom(tb, "migrated", func(ctx context.Context, dsn string) error {
		s, err := Open(ctx, dsn)
		if err != nil {
			return err
		}
		return s.Close()
	})
}

func open(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

// openNew opens a store on a new database and closes it when tb ends.
func openNew(tb testing.TB) *Store {
	tb.Helper()
	s := open(tb, newDSN(tb))
	tb.Cleanup(func() { s.Close() })
	return s
}

// suiteStores returns the open function of one behaviour suite: its stores share a
// database, emptied before each store opens on it. The suites open stores one at a time,
// after the previous one closed, so each still starts empty; and emptying a few small
// tables is much cheaper than creating a database per subtest.
func suiteStores(t *testing.T, closeAtEnd bool) func(t *testing.T) *Store {
	dsn := newDSN(t)
	return func(t *testing.T) *Store {
		s := open(t, dsn)
		if closeAtEnd {
			t.Cleanup(func() { s.Close() })
		}
		if err := empty(t.Context(), s); err != nil {
			t.Fatalf("empty the database: %v", err)
		}
		return s
	}
}

// emptySQL lists the tables of the schema, each after every table that refers to it
// (depth: the longest chain of foreign keys leading to it), but for the migrations' record
// and the access epoch, whose one row stays.
const emptySQL = `WITH RECURSIVE
fk (child, parent) AS (SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid),
depth (rel, d) AS (
	SELECT c.oid, 0 FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
	UNION ALL
	SELECT fk.parent, depth.d + 1 FROM depth JOIN fk ON fk.child = depth.rel
)
SELECT c.relname FROM (SELECT rel, MAX(d) AS d FROM depth GROUP BY rel) x JOIN pg_class c ON c.oid = x.rel
WHERE c.relname NOT IN ('schema_migrations', 'access_epoch')
ORDER BY x.d, c.relname`

// empty deletes every row a store wrote.
func empty(ctx context.Context, s *Store) error {
	tables, err := queryAll[string](s.pool.Query(ctx, emptySQL))
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		for _, table := range tables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{table}.Sanitize()); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE access_epoch SET epoch = 0`)
		return err
	})
}

func TestStore(t *testing.T) {
	open := suiteStores(t, false) // Run closes its stores
	metatest.Run(t, func(t *testing.T) meta.Store { return open(t) })
}

func TestDirectory(t *testing.T) {
	open := suiteStores(t, true)
	metatest.RunDirectory(t, func(t *testing.T) meta.Directory { return open(t) })
}

func TestManagement(t *testing.T) {
	open := suiteStores(t, true)
	metatest.RunManagement(t, func(t *testing.T) meta.Management { return open(t) })
}

func TestAudit(t *testing.T) {
	open := suiteStores(t, true)
	metatest.RunAudit(t, func(t *testing.T) meta.AuditLog { return open(t) })
}

func TestReopen(t *testing.T) {
	dsn := newDSN(t)
	ctx := t.Context()
	layer := digest.FromString("layer")
	r := meta.Repo{Registry: "reg", Name: "r"}
	m := manifest(r, "m", layer)

	s := open(t, dsn)
	if err := s.LinkBlob(ctx, r, layer, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(ctx, m, "v1"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dsn) // migrations already applied: must not fail or re-run
	defer s.Close()
	if size, err := s.BlobSize(ctx, r, layer); err != nil || size != 5 {
		t.Errorf("BlobSize after reopen = %d, %v", size, err)
	}
	if got, err := s.TaggedManifest(ctx, r, "v1"); err != nil || got.Digest != m.Digest || string(got.Content) != string(m.Content) {
		t.Errorf("TaggedManifest after reopen = %+v, %v", got, err)
	}
}

// TestConcurrentMigrations opens one empty database from several replicas at once: the
// advisory lock lets one migrate while the others wait, and all end up open.
func TestConcurrentMigrations(t *testing.T) {
	dsn := pgtest.New(t)
	const replicas = 4
	var wg sync.WaitGroup
	stores := make([]*Store, replicas)
	for i := range replicas {
		wg.Go(func() {
			s, err := Open(t.Context(), dsn)
			if err != nil {
				t.Errorf("replica %d: Open: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			s.Close()
		}
	}
	if t.Failed() {
		return
	}
	s := open(t, dsn)
	defer s.Close()
	var n, latest int
	if err := s.pool.QueryRow(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &latest); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || latest != ms[len(ms)-1].version {
		t.Errorf("schema_migrations: %d rows up to %d; want %d up to %d", n, latest, len(ms), ms[len(ms)-1].version)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := newDSN(t)
	s := open(t, dsn)
	_, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)`)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

// TestCollation checks that listings page in byte order even where the database's own
// collation would not: upper case before lower case, "-" and "." before letters.
func TestCollation(t *testing.T) {
	s := openNew(t)
	ctx := t.Context()
	r := meta.Repo{Registry: "reg", Name: "r"}
	names := []string{"b", "B", "a-b", "a.b", "ab", "A", "_x", "~"}
	for i, tag := range names {
		if err := s.PutManifest(ctx, manifest(r, fmt.Sprint(i)), tag); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Tags(ctx, r, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A", "B", "_x", "a-b", "a.b", "ab", "b", "~"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tags = %q, want %q (byte order)", got, want)
	}
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
