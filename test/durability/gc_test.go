package durability

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// gcObject is one thing a GC run may remove: a manifest with its blobs, or a lone blob.
type gcObject struct {
	repo string
	m    manifest // a manifest, pushed under tag or by digest,
	tag  string
	blob []byte // or a blob no manifest references
	// sharedBlobs: the manifest's blobs are also another repository's, so they stay when
	// it goes.
	sharedBlobs bool
}

// listing is how a GC report names the object itself: repo@digest for a manifest, the
// digest for a blob.
func (o gcObject) listing() string {
	if o.blob != nil {
		return digest.FromBytes(o.blob).String()
	}
	return o.repo + "@" + o.m.digest().String()
}

// blobs are the blobs that go with the object.
func (o gcObject) blobs() [][]byte {
	switch {
	case o.blob != nil:
		return [][]byte{o.blob}
	case o.sharedBlobs:
		return nil
	}
	return o.m.blobs
}

// TestGCSemantics runs `cerulean gc` with different flags, next to the running server, over
// one set of manifests and blobs, and checks after each run what went and what stayed:
// a fresh unreferenced blob survives the grace period and goes without it; untagged
// manifests go only with --untagged, and never when a tag reaches them through an index,
// as the subject of a referrer, or as a referrer of their subject (meta.Store's
// UnreachableManifests rule, which is per repository); a dry run lists what would go and
// changes nothing.
func TestGCSemantics(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := &client{srv: s}
	objs := pushGCFixtures(t, c)

	gone := map[string]bool{}
	for _, step := range []struct {
		name   string
		args   []string
		goes   []string // objects this run removes
		listed []string // objects the report names (the removed ones, or in a dry run what would go)
	}{
		{
			name:   "dry run lists what would go and keeps everything",
			args:   []string{"--grace", "0s", "--untagged", "--dry-run"},
			listed: []string{"unreferenced blob", "untagged image", "referrer of untagged image", "untagged copy of tagged image"},
		},
		{
			name: "grace 1h keeps a fresh unreferenced blob",
			args: []string{"--grace", "1h"},
		},
		{
			name:   "grace 0s takes the unreferenced blob and no manifest",
			args:   []string{"--grace", "0s"},
			goes:   []string{"unreferenced blob"},
			listed: []string{"unreferenced blob"},
		},
		{
			name:   "untagged takes unreachable manifests and then their blobs",
			args:   []string{"--grace", "0s", "--untagged"},
			goes:   []string{"untagged image", "referrer of untagged image", "untagged copy of tagged image"},
			listed: []string{"untagged image", "referrer of untagged image", "untagged copy of tagged image"},
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			out, err := s.Run(t, append([]string{"gc", "--data", s.DataDir}, step.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range step.goes {
				gone[name] = true
			}
			for _, name := range slices.Sorted(maps.Keys(objs)) {
				o := objs[name]
				wantListed := slices.Contains(step.listed, name)
				if got := strings.Contains(out, o.listing()); got != wantListed {
					t.Errorf("report names %s (%s): %t, want %t; report:\n%s", name, o.listing(), got, wantListed, out)
				}
				if gone[name] {
					checkGone(t, c, s, name, o, slices.Contains(step.goes, name), out)
					continue
				}
				checkKept(t, c, name, o)
				if !wantListed {
					checkUnreported(t, name, o, out)
				}
			}
		})
	}
}

// pushGCFixtures pushes, in two repositories, one object for each rule of GC.
func pushGCFixtures(t *testing.T, c *client) map[string]gcObject {
	t.Helper()
	const repo, other = "gc/app", "gc/other"
	rng := newRand(42)
	tagged := newImage(rng, 4<<10)
	child := newImage(rng, 4<<10)
	subject := newImage(rng, 4<<10)
	untagged := newImage(rng, 4<<10)
	objs := map[string]gcObject{
		"tagged image":                  {repo: repo, m: tagged, tag: "v1"},
		"referrer of tagged image":      {repo: repo, m: newReferrer(rng, tagged, "application/vnd.example.sbom")},
		"child of tagged index":         {repo: repo, m: child},
		"tagged index":                  {repo: repo, m: newIndex(child), tag: "multi"},
		"subject of tagged referrer":    {repo: repo, m: subject},
		"tagged referrer":               {repo: repo, m: newReferrer(rng, subject, "application/vnd.example.signature"), tag: "sig"},
		"untagged image":                {repo: repo, m: untagged},
		"referrer of untagged image":    {repo: repo, m: newReferrer(rng, untagged, "application/vnd.example.signature")},
		"untagged copy of tagged image": {repo: other, m: tagged, sharedBlobs: true},
		"unreferenced blob":             {repo: repo, blob: randomBytes(rng, 4<<10)},
	}
	// Children before their index; referrers after their subjects (not required, but usual).
	for _, name := range []string{
		"tagged image", "referrer of tagged image", "child of tagged index", "tagged index",
		"subject of tagged referrer", "tagged referrer", "untagged image", "referrer of untagged image",
		"untagged copy of tagged image",
	} {
		o := objs[name]
		mustPush(t, c, o.repo, o.m, o.tag)
	}
	if err := c.pushBlob(repo, objs["unreferenced blob"].blob); err != nil {
		t.Fatal(err)
	}
	return objs
}

// checkKept checks that o is whole and readable, under its tag too.
func checkKept(t *testing.T, c *client, name string, o gcObject) {
	t.Helper()
	var err error
	if o.blob != nil {
		_, err = c.getBlob(o.repo, digest.FromBytes(o.blob))
	} else {
		err = c.checkManifest(o.repo, o.m, tags(o.tag)...)
	}
	if err != nil {
		t.Errorf("%s should stay: %v", name, err)
	}
}

// checkUnreported checks that a report names none of the blobs of o, which stays.
func checkUnreported(t *testing.T, name string, o gcObject, report string) {
	t.Helper()
	for _, b := range append(o.m.blobs, o.blob) {
		if d := digest.FromBytes(b); b != nil && strings.Contains(report, d.String()) {
			t.Errorf("report names blob %s of %s, which stays:\n%s", d, name, report)
		}
	}
}

// checkGone checks that o is gone: the manifest unreadable, its own blobs unreadable and
// their files deleted. A run that removed o also names its blobs in its report.
func checkGone(t *testing.T, c *client, s *testserver.Server, name string, o gcObject, removedNow bool, report string) {
	t.Helper()
	if o.blob == nil {
		if _, err := c.getManifest(o.repo, o.m.digest().String()); !isNotFound(err) {
			t.Errorf("%s should be gone: got %v, want 404", name, err)
		}
	}
	for _, b := range o.blobs() {
		d := digest.FromBytes(b)
		if _, err := c.getBlob(o.repo, d); !isNotFound(err) {
			t.Errorf("blob %s of %s should be gone: got %v, want 404", d, name, err)
		}
		if _, err := os.Stat(filepath.Join(blobRoot(s.DataDir), "sha256", d.Encoded()[:2], d.Encoded())); !os.IsNotExist(err) {
			t.Errorf("blob file of %s should be deleted: %v", name, err)
		}
		if removedNow && !strings.Contains(report, d.String()) {
			t.Errorf("report does not name removed blob %s of %s:\n%s", d, name, report)
		}
	}
}

func tags(tag string) []string {
	if tag == "" {
		return nil
	}
	return []string{tag}
}
