package inventory

import (
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/inventory"
)

// TestRepositoryToken inventories with a repository-scoped token (scope map
// _repositories_pull_metadata_read), which can never list the catalog: that refusal is
// an error record saying what to do, and named repositories are inventoried in full.
func TestRepositoryToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := newPusher(t, f.session(t, f.conn), f.cloud.Srv.Host)
	created := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	img := must[pushedImage](t)(p.image(t.Context(), "tok/app", imageSpec{arch: "amd64", created: created,
		labels: map[string]string{"a": "b"}}, "1"))
	sig := must[desc](t)(p.referrer(t.Context(), "tok/app", atNotation, img.desc, []byte("sig"), nil))

	password := repositoryToken(t, f.cloud, f.cloud.Boot.RegistryName, "inventory")
	conn := f.conn
	conn.Credential = connector.Credential{Kind: connector.RepositoryToken, Username: "inventory"}
	s, err := connector.Open(t.Context(), &conn, connector.Secrets{Password: password})
	if err != nil {
		t.Fatal(err)
	}

	refused := run(t, s, inventory.Options{}, nil)
	errs := refused.of(inventory.KindError)
	if len(errs) != 1 || errs[0].Op != "catalog" || errs[0].Status != 401 || !strings.Contains(errs[0].Error, "name the repositories") {
		t.Errorf("catalog refusal records = %+v", errs)
	}
	if len(refused.results) != 1 || refused.results[0].Complete {
		t.Errorf("a refused catalog left the result complete: %+v", refused.results)
	}

	named := run(t, s, inventory.Options{}, func(ts []inventory.Target) []inventory.Target {
		ts[0].Repositories = []string{"tok/app"}
		return ts
	})
	named.noErrors(t)
	m := named.manifest(t, img.Digest)
	if m.Labels["a"] != "b" || !m.ImageCreated.Equal(created) || len(m.Tags) != 1 {
		t.Errorf("manifest through a repository token = %+v", m)
	}
	if refs := named.of(inventory.KindReferrer); len(refs) != 1 || refs[0].Digest != sig.Digest.String() {
		t.Errorf("referrers through a repository token = %+v", refs)
	}
}
