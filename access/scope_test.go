package access

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseScopes(t *testing.T) {
	t.Parallel()
	repo := RepositoryScope
	for _, tc := range []struct {
		name   string
		values []string
		want   []Scope
	}{
		{name: "no values"},
		{name: "blank values", values: []string{"", "  "}},
		{name: "one scope", values: []string{"repository:samples/hello-world:pull"},
			want: []Scope{repo("samples/hello-world", Pull)}},
		{name: "every action, canonical order", values: []string{"repository:a:metadata_write,metadata_read,delete,push,pull"},
			want: []Scope{repo("a", Pull, Push, Delete, MetadataRead, MetadataWrite)}},
		{name: "* kept for Decide to expand", values: []string{"repository:a:*"}, want: []Scope{repo("a", All)}},
		{name: "space-joined (docker POST)", values: []string{"repository:a:pull repository:b:push  registry:catalog:*"},
			want: []Scope{repo("a", Pull), repo("b", Push), CatalogScope()}},
		{name: "repeated (GET)", values: []string{"repository:a:pull", "repository:b:pull,push"},
			want: []Scope{repo("a", Pull), repo("b", Pull, Push)}},
		{name: "duplicates merged", values: []string{"repository:a:push", "repository:b:pull repository:a:pull,push"},
			want: []Scope{repo("a", Pull, Push), repo("b", Pull)}},
		{name: "unknown actions dropped", values: []string{"repository:a:pull,bogus"}, want: []Scope{repo("a", Pull)}},
		{name: "scope left with no action dropped", values: []string{"repository:a:bogus repository:b:pull"},
			want: []Scope{repo("b", Pull)}},
		{name: "legacy Helm artifact-repository ignored", values: []string{"artifact-repository:repo:pull repository:a:pull"},
			want: []Scope{repo("a", Pull)}},
		{name: "other registry resources ignored", values: []string{"registry:other:* registry:catalog:pull"}},
		{name: "catalog with extra actions", values: []string{"registry:catalog:search,*"}, want: []Scope{CatalogScope()}},
		{name: "catalog twice", values: []string{"registry:catalog:* registry:catalog:*"}, want: []Scope{CatalogScope()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScopes(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseScopes(%q) (-want +got):\n%s", tc.values, d)
			}
		})
	}
}

func TestParseScopesErrors(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"repository",              // no parts
		"repository:a",            // two parts
		":a:pull",                 // empty type
		"repository::pull",        // empty name
		"repository:a:",           // empty actions
		"repository:a:pull,,push", // empty action
		"repository:*:pull",       // wildcard
		"repository:samples/*:pull",
		"repository:hell?:pull",
		"repository:Hello:pull",            // upper case
		"repository:a//b:pull",             // empty component
		"repository:host:5000/a:pull",      // a colon in the name
		"repository:a:pull repository:*:*", // one bad scope fails the request
	} {
		t.Run(v, func(t *testing.T) {
			got, err := ParseScopes([]string{v})
			if !errors.Is(err, ErrInvalidScope) {
				t.Errorf("ParseScopes(%q) = %v, %v; want ErrInvalidScope", v, got, err)
			}
		})
	}
}

func TestScopeString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    Scope
		want string
	}{
		{Scope{Type: TypeRepository, Name: "samples/hello", Actions: []Action{Pull, Push}}, "repository:samples/hello:pull,push"},
		{CatalogScope(), "registry:catalog:*"},
		{Scope{Type: TypeRepository, Name: "a", Actions: []Action{MetadataRead}}, "repository:a:metadata_read"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		back, err := ParseScopes([]string{tc.want})
		if err != nil || len(back) != 1 || !cmp.Equal(back[0], tc.s) {
			t.Errorf("ParseScopes(%q) = %v, %v; want %v", tc.want, back, err, tc.s)
		}
	}
}

// TestScopeJSON checks the Docker JWT access-claim shape (acr-protocol.md §1.5).
func TestScopeJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal([]Scope{CatalogScope(), {Type: TypeRepository, Name: "a/b", Actions: []Action{Pull}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"registry","name":"catalog","actions":["*"]},{"type":"repository","name":"a/b","actions":["pull"]}]`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

func TestIncludes(t *testing.T) {
	t.Parallel()
	granted := []Scope{
		{Type: TypeRepository, Name: "a", Actions: []Action{Pull}},
		{Type: TypeRepository, Name: "a", Actions: []Action{MetadataRead}},
		{Type: TypeRepository, Name: "b", Actions: []Action{Push}},
		CatalogScope(),
	}
	for _, tc := range []struct {
		want Scope
		ok   bool
	}{
		{Scope{Type: TypeRepository, Name: "a", Actions: []Action{Pull}}, true},
		{Scope{Type: TypeRepository, Name: "a", Actions: []Action{Pull, MetadataRead}}, true},
		{Scope{Type: TypeRepository, Name: "a", Actions: []Action{Pull, Push}}, false},
		{Scope{Type: TypeRepository, Name: "b", Actions: []Action{Pull}}, false},
		{Scope{Type: TypeRepository, Name: "c", Actions: []Action{Pull}}, false},
		{Scope{Type: TypeRepository, Name: "a", Actions: []Action{All}}, false},
		{Scope{Type: TypeRepository, Name: "a"}, false},
		{CatalogScope(), true},
		{Scope{Type: "artifact-repository", Name: "a", Actions: []Action{Pull}}, false},
	} {
		if got := Includes(granted, tc.want); got != tc.ok {
			t.Errorf("Includes(%s) = %v, want %v", tc.want, got, tc.ok)
		}
	}
	if Includes(nil, CatalogScope()) {
		t.Error("Includes(nil, catalog) = true")
	}
}
