package access

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseScopeMapAction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ScopeMapAction
	}{
		{"repositories/hello/content/read", ScopeMapAction{"hello", Pull}},
		{"repositories/samples/hello-world/content/write", ScopeMapAction{"samples/hello-world", Push}},
		{"repositories/a/content/delete", ScopeMapAction{"a", Delete}},
		{"repositories/a/metadata/read", ScopeMapAction{"a", MetadataRead}},
		{"repositories/a/metadata/write", ScopeMapAction{"a", MetadataWrite}},
		{"repositories/*/content/read", ScopeMapAction{"*", Pull}},
		{"repositories/samples/*/content/read", ScopeMapAction{"samples/*", Pull}},
		{"repositories/sample/team-a/*/content/write", ScopeMapAction{"sample/team-a/*", Push}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseScopeMapAction(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseScopeMapActionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, mentions string
	}{
		{"", "want repositories/<repository>/<permission>"},
		{"repositories/", "want repositories/<repository>/<permission>"},
		{"repositories/content/read", "want repositories/<repository>/<permission>"},
		{"repository/a/content/read", "want repositories/<repository>/<permission>"},
		{"gateway/myconnectedregistry/config/read", "gateway actions are not supported"},
		{"repositories/myrepository/contentWrite", "content/read, content/write"}, // the stale ARM example
		{"repositories/a/content/list", `unknown permission "content/list"`},
		{"repositories/a/metadata/delete", "unknown permission"},
		{"repositories/a/Content/Read", "unknown permission"},
		{"repositories//content/read", "not a valid repository name"},
		{"repositories/MyRepo/content/read", `repository "MyRepo" is not a valid repository name`},
		{"repositories/sample/*/teamA/content/read", "a wildcard must be"},
		{"repositories/sample/teamA*/content/read", "a wildcard must be"},
		{"repositories/sample/teamA/*/projectB/*/content/read", "a wildcard must be"},
		{"repositories/*/*/content/read", "a wildcard must be"},
		{"repositories/samples/?/content/read", "not a valid repository name"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseScopeMapAction(tc.in)
			if !errors.Is(err, ErrInvalidScopeMapAction) {
				t.Fatalf("ParseScopeMapAction(%q) = %+v, %v; want ErrInvalidScopeMapAction", tc.in, got, err)
			}
			if !strings.Contains(err.Error(), tc.mentions) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("error %q should name the action and say %q", err, tc.mentions)
			}
		})
	}
}

func TestParseScopeMapActions(t *testing.T) {
	t.Parallel()
	got, err := ParseScopeMapActions([]string{"repositories/a/content/read", "repositories/*/metadata/read"})
	if err != nil {
		t.Fatal(err)
	}
	want := []ScopeMapAction{{"a", Pull}, {"*", MetadataRead}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := ParseScopeMapActions([]string{"repositories/a/content/read", "bogus"}); !errors.Is(err, ErrInvalidScopeMapAction) {
		t.Errorf("a bad entry: err = %v", err)
	}
}

// TestScopeMapMatches pins what a pattern covers (token-based repository permissions
// doc): samples/* covers samples/x and samples/x/y, not samples or samplesx.
func TestScopeMapMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		repo    string
		want    bool
	}{
		{"*", "a", true},
		{"*", "a/b/c", true},
		{"samples/*", "samples/x", true},
		{"samples/*", "samples/x/y", true},
		{"samples/*", "samples", false},
		{"samples/*", "samplesx", false},
		{"samples/*", "other/samples/x", false},
		{"samples/x", "samples/x", true},
		{"samples/x", "samples/x/y", false},
		{"samples/x", "samples", false},
	} {
		if got := (ScopeMapAction{Repository: tc.pattern, Action: Pull}).Matches(tc.repo); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.pattern, tc.repo, got, tc.want)
		}
	}
}

func TestScopeMapActionStringUnknownAction(t *testing.T) {
	t.Parallel()
	if got := (ScopeMapAction{Repository: "a", Action: "bogus"}).String(); got != "repositories/a/bogus" {
		t.Errorf("String() = %q", got)
	}
}

// TestSystemScopeMaps checks the five built-in maps against acr-protocol.md §4.3 and that
// every action parses.
func TestSystemScopeMaps(t *testing.T) {
	t.Parallel()
	maps := SystemScopeMaps()
	var names []string
	for _, m := range maps {
		names = append(names, m.Name)
		if m.Description == "" {
			t.Errorf("%s has no description", m.Name)
		}
		if _, err := ParseScopeMapActions(m.Actions); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	want := []string{"_repositories_admin", "_repositories_pull", "_repositories_pull_metadata_read", "_repositories_push", "_repositories_push_metadata_write"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
	maps[0].Actions[0] = "changed"
	if SystemScopeMaps()[0].Actions[0] == "changed" {
		t.Error("SystemScopeMaps shares its slices")
	}
}
