package sqlite

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// TestACRQueriesUseIndexes keeps the /acr/v1 reads and the attribute checks of every
// write to index searches, and the listings to index order (no sort), in every order,
// with and without a cursor or a digest filter.
func TestACRQueriesUseIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	queries := map[string]string{
		"repository info": repositoryInfoSQL,
		"tag info":        tagInfoSQL,
		"manifest info":   manifestInfoSQL,
		"push locked":     pushLockedSQL,
		"manifest locked": manifestLockedSQL,
		"tag locked":      tagLockedSQL,
		"blob locked":     blobLockedSQL,
		"repository lock": repositoryLockedSQL,
	}
	for _, l := range []listing{tagListing, manifestListing} {
		for _, order := range []meta.Order{meta.OrderName, meta.OrderTimeAsc, meta.OrderTimeDesc} {
			for _, after := range []string{"", "x"} {
				for _, d := range []string{"", "sha256:x"} {
					q, _ := l.query(1, meta.ListOptions{Order: order, After: after, Digest: digestOf(d)}, 0)
					queries[strings.Join([]string{l.table, orderName(order), "after=" + after, "digest=" + d}, " ")] = q
				}
			}
		}
	}
	// The tags of each listed manifest come from the index on their digest, not from a
	// walk of the repository's tags.
	const tagsOfManifest = "SEARCH t USING COVERING INDEX tags_digest_listed (repo_id=? AND digest=? AND list_enabled=?)"
	for name, query := range queries {
		plan := queryPlan(t, s.r, query)
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") && step != "SCAN CONSTANT ROW" || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan step %q", name, step)
			}
		}
		if strings.Contains(query, "json_group_array(t.name)") && !slices.Contains(plan, tagsOfManifest) {
			t.Errorf("%s: the tags of a manifest are not looked up by digest: %q", name, plan)
		}
	}
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }

func orderName(o meta.Order) string {
	return map[meta.Order]string{meta.OrderName: "name", meta.OrderTimeAsc: "timeasc", meta.OrderTimeDesc: "timedesc"}[o]
}
