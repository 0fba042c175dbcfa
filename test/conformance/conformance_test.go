package conformance

import (
	"testing"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// TestConformance starts one `cerulean serve` for the whole package and runs every
// requirement table against it. The groups, and the rows inside them, run in parallel;
// each row works in repositories of its own. Select a group or a row with -run, e.g.
// -run 'TestConformance/PushBlobs/chunked'.
func TestConformance(t *testing.T) {
	srv := testserver.Start(t)
	e := newEnv(t, srv)

	groups := []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"Base", testBase},
		{"Pull", testPull},
		{"PushBlobs", testPushBlobs},
		{"PushManifests", testPushManifests},
		{"Discovery", testDiscovery},
		{"Referrers", testReferrers},
		{"Management", testManagement},
		{"Errors", testErrors},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, e)
		})
	}
}
