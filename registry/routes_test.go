package registry

import (
	"errors"
	"testing"

	"github.com/cerulean-registry/cerulean/oci"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path    string
		label   string // "" = no route
		methods int
		name    string
		last    string
		err     error
	}{
		{path: "/v2/", label: "base", methods: 2},
		{path: "/v2", label: "base", methods: 2},
		{path: "/v2/_catalog", label: "catalog", methods: 2},
		{path: "/v2/library/alpine/tags/list", label: "tags", methods: 2, name: "library/alpine"},
		{path: "/v2/a/manifests/latest", label: "manifest", methods: 4, name: "a", last: "latest"},
		{path: "/v2/a/b/c/manifests/sha256:abc", label: "manifest", methods: 4, name: "a/b/c", last: "sha256:abc"},
		{path: "/v2/library%2Falpine/manifests/v1", label: "manifest", methods: 4, name: "library/alpine", last: "v1"},
		{path: "/v2/a/blobs/sha256:abc", label: "blob", methods: 3, name: "a", last: "sha256:abc"},
		{path: "/v2/a/blobs/uploads/", label: "upload", methods: 1, name: "a"},
		{path: "/v2/a/blobs/uploads/0123", label: "upload", methods: 4, name: "a", last: "0123"},
		{path: "/v2/blobs/blobs/uploads/x", label: "upload", methods: 4, name: "blobs", last: "x"},
		{path: "/v2/a/referrers/sha256:abc", label: "referrers", methods: 2, name: "a", last: "sha256:abc"},
		{path: "/v2/a/referrers/", label: "referrers", methods: 2, name: "a"},
		{path: "/v2/a/manifests/", label: ""},
		{path: "/v2/a/blobs/", label: ""},
		{path: "/v2/manifests/manifests/tags/list", label: "tags", methods: 2, name: "manifests/manifests"},
		{path: "/v2/Upper/manifests/x", label: "manifest", methods: 4, name: "Upper", last: "x", err: oci.ErrInvalidName},
		{path: "/v2/a/../b/manifests/x", label: "manifest", methods: 4, name: "a/../b", last: "x", err: oci.ErrInvalidName},
		{path: "/v2/a//b/manifests/x", label: "manifest", methods: 4, name: "a//b", last: "x", err: oci.ErrInvalidName},
		{path: "/v2/_catalog/manifests/x", label: "manifest", methods: 4, name: "_catalog", last: "x", err: oci.ErrInvalidName},
		{path: "/v2/a", label: ""},
		{path: "/v2/tags/list", label: ""},
		{path: "/v3/a/tags/list", label: ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			found, p, err := match(compiledRoutes, tt.path)
			if tt.label == "" {
				if len(found) != 0 {
					t.Fatalf("matched %q, want no route", found[0].label)
				}
				return
			}
			if len(found) == 0 {
				t.Fatalf("no route, want %q", tt.label)
			}
			if found[0].label != tt.label || len(found) != tt.methods {
				t.Errorf("route %q with %d methods, want %q with %d", found[0].label, len(found), tt.label, tt.methods)
			}
			if p.name != tt.name || p.last != tt.last {
				t.Errorf("params (%q, %q), want (%q, %q)", p.name, p.last, tt.name, tt.last)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
		})
	}
}
