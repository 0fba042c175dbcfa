package acrapi

import (
	"testing"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestACRAPI starts one server for the groups that work in repositories of their own;
// the groups, and the rows inside them, run in parallel. The catalog, GC and the Azure
// SDK, which see the whole registry, have their own tests and servers.
func TestACRAPI(t *testing.T) {
	e := newEnv(t, testserver.Start(t))
	for _, g := range []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"Shapes", testShapes},
		{"Errors", testErrors},
		{"TagPaging", testTagPaging},
		{"ManifestPaging", testManifestPaging},
		{"Patch", testPatch},
		{"Attributes", testAttributes},
		{"DeleteRepository", testDeleteRepository},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, e)
		})
	}
}
