package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/oci"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

func TestMatchACR(t *testing.T) {
	t.Parallel()
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		path    string
		label   string // "" = no route
		methods string // the methods of the matched routes, in table order
		action  Action // of the first
		name    string
		last    string
		err     error
	}{
		{path: "/acr/v1/_catalog", label: "acr_catalog", methods: "GET", action: ActionCatalog},
		{path: "/acr/v1/hello", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "hello"},
		{path: "/acr/v1/library/hello-world", label: "acr_repository", methods: "GET PATCH DELETE", name: "library/hello-world", action: ActionMetadataRead},
		{path: "/acr/v1/library%2Fhello-world", label: "acr_repository", methods: "GET PATCH DELETE", name: "library/hello-world", action: ActionMetadataRead},
		{path: "/acr/v1/library%2fhello-world", label: "acr_repository", methods: "GET PATCH DELETE", name: "library/hello-world", action: ActionMetadataRead},
		{path: "/acr/v1/a/b/c/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "a/b/c"},
		{path: "/acr/v1/a%2Fb%2Fc/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "a/b/c"},
		{path: "/acr/v1/a%2Fb/c/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "a/b/c"},
		{path: "/acr/v1/a/b/_tags/v1", label: "acr_tag", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/b", last: "v1"},
		{path: "/acr/v1/a%2Fb/_tags/v1.0_x-y", label: "acr_tag", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/b", last: "v1.0_x-y"},
		{path: "/acr/v1/a/_manifests", label: "acr_manifests", methods: "GET", action: ActionMetadataRead, name: "a"},
		{path: "/acr/v1/a%2Fb/_manifests/" + d, label: "acr_manifest", methods: "GET PATCH", action: ActionMetadataRead, name: "a/b", last: d},
		{path: "/acr/v1/a/_manifests/sha256%3A" + d[7:], label: "acr_manifest", methods: "GET PATCH", action: ActionMetadataRead, name: "a", last: d},
		// Reserved segments are reserved anywhere at the end; a repository may be named like them
		// as long as the name's own components do not start with '_'.
		{path: "/acr/v1/_tags/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "_tags", err: oci.ErrInvalidName},
		{path: "/acr/v1/tags/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "tags"},
		{path: "/acr/v1/a/_tags/_tags", label: "acr_tag", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a", last: "_tags"},
		{path: "/acr/v1/a/_manifests/_tags", label: "acr_manifest", methods: "GET PATCH", action: ActionMetadataRead, name: "a", last: "_tags"},
		{path: "/acr/v1/manifests/_manifests", label: "acr_manifests", methods: "GET", action: ActionMetadataRead, name: "manifests"},
		// Not reserved once escaped inside a segment, nor past the reserved positions: the
		// name is then invalid.
		{path: "/acr/v1/a%2F_tags", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/_tags", err: oci.ErrInvalidName},
		{path: "/acr/v1/a/_tags/v1/x", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/_tags/v1/x", err: oci.ErrInvalidName},
		{path: "/acr/v1/a/_tags/", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/_tags/", err: oci.ErrInvalidName},
		{path: "/acr/v1/a/_manifests/", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/_manifests/", err: oci.ErrInvalidName},
		{path: "/acr/v1/_catalog/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "_catalog", err: oci.ErrInvalidName},
		{path: "/acr/v1/Upper", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "Upper", err: oci.ErrInvalidName},
		{path: "/acr/v1/a/../b", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/../b", err: oci.ErrInvalidName},
		{path: "/acr/v1/a//b/_tags", label: "acr_tags", methods: "GET", action: ActionMetadataRead, name: "a//b", err: oci.ErrInvalidName},
		{path: "/acr/v1/a%zz", label: "acr_repository", err: oci.ErrInvalidName},
		{path: "/acr/v1/", label: ""},
		{path: "/acr/v1", label: ""},
		{path: "/acr/v2/a", label: ""},
		{path: "/acr/v1x/a", label: ""},
		// The /v2 table is not reachable through /acr/v1, nor the reverse.
		{path: "/acr/v1/a/manifests/latest", label: "acr_repository", methods: "GET PATCH DELETE", action: ActionMetadataRead, name: "a/manifests/latest"},
		{path: "/v2/a/_tags", label: ""},
		{path: "/v2/a/_manifests/" + d, label: ""},
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
			if !errors.Is(err, tt.err) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
			if tt.methods == "" { // only the error matters
				return
			}
			if len(found) == 0 {
				t.Fatalf("no route, want %q", tt.label)
			}
			var methods []string
			for _, c := range found {
				methods = append(methods, c.method)
			}
			if found[0].label != tt.label || strings.Join(methods, " ") != tt.methods || found[0].action != tt.action {
				t.Errorf("route %q %v action %q, want %q %s action %q", found[0].label, methods, found[0].action, tt.label, tt.methods, tt.action)
			}
			if p.name != tt.name || p.last != tt.last {
				t.Errorf("params (%q, %q), want (%q, %q)", p.name, p.last, tt.name, tt.last)
			}
		})
	}
}

// TestACRActions pins the action of every /acr/v1 route: what authorization will ask for.
func TestACRActions(t *testing.T) {
	t.Parallel()
	want := map[string]Action{
		"GET /acr/v1/_catalog":                     ActionCatalog,
		"GET /acr/v1/{name}":                       ActionMetadataRead,
		"PATCH /acr/v1/{name}":                     ActionMetadataWrite,
		"DELETE /acr/v1/{name}":                    ActionDelete,
		"GET /acr/v1/{name}/_tags":                 ActionMetadataRead,
		"GET /acr/v1/{name}/_tags/{tag}":           ActionMetadataRead,
		"PATCH /acr/v1/{name}/_tags/{tag}":         ActionMetadataWrite,
		"DELETE /acr/v1/{name}/_tags/{tag}":        ActionDelete,
		"GET /acr/v1/{name}/_manifests":            ActionMetadataRead,
		"GET /acr/v1/{name}/_manifests/{digest}":   ActionMetadataRead,
		"PATCH /acr/v1/{name}/_manifests/{digest}": ActionMetadataWrite,
	}
	got := map[string]Action{}
	for _, rt := range routes {
		if strings.HasPrefix(rt.pattern, "/acr/") {
			got[rt.method+" "+rt.pattern] = rt.action
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions:\n got %v\nwant %v", got, want)
	}
}

func TestToWireACR(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err    error
		status int
		code   Code
	}{
		{meta.ErrDisallowed, http.StatusMethodNotAllowed, CodeDisallowed},
		{fmt.Errorf("sqlite: delete tag: %w", meta.ErrDisallowed), http.StatusMethodNotAllowed, CodeDisallowed},
		{fmt.Errorf("%w: %w", errTagUnknown, meta.ErrTagNotFound), http.StatusNotFound, CodeTagUnknown},
		{meta.ErrTagNotFound, http.StatusNotFound, CodeManifestUnknown}, // /v2 keeps its code
		{meta.ErrRepositoryNotFound, http.StatusNotFound, CodeNameUnknown},
	} {
		we := toWire(tt.err)
		if we.Status != tt.status || we.Code != tt.code {
			t.Errorf("toWire(%v) = %d %s, want %d %s", tt.err, we.Status, we.Code, tt.status, tt.code)
		}
	}
	// ACR's body, word for word, with an empty detail object.
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest("DELETE", "/", nil), toWire(meta.ErrDisallowed))
	const want = `{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation","detail":{}}]}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestReadAttributesUpdate(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	for _, tt := range []struct {
		body   string
		want   meta.AttributesUpdate
		status int // 0: accepted
	}{
		{body: `{}`},
		{body: `{"writeEnabled":false}`, want: meta.AttributesUpdate{WriteEnabled: &no}},
		{body: ` {"deleteEnabled":true,"writeEnabled":false,"readEnabled":false,"listEnabled":true} `,
			want: meta.AttributesUpdate{DeleteEnabled: &yes, WriteEnabled: &no, ReadEnabled: &no, ListEnabled: &yes}},
		{body: `{"WriteEnabled":false}`, want: meta.AttributesUpdate{WriteEnabled: &no}},
		{body: `{"readEnabled":null,"listEnabled":false}`, want: meta.AttributesUpdate{ListEnabled: &no}},
		{body: `{"teleportEnabled":true,"other":{"x":[1]},"deleteEnabled":false}`, want: meta.AttributesUpdate{DeleteEnabled: &no}},
		{body: ``, status: 400},
		{body: "  \n", status: 400},
		{body: `null`, status: 400},
		{body: `[]`, status: 400},
		{body: `"x"`, status: 400},
		{body: `{"writeEnabled":false`, status: 400},
		{body: `{"writeEnabled":"false"}`, status: 400},
		{body: `{"writeEnabled":0}`, status: 400},
		{body: `{"deleteEnabled":{}}`, status: 400},
		{body: `{"x":"` + strings.Repeat("a", maxAttributesBody) + `"}`, status: 413},
	} {
		name := tt.body
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			got, err := readAttributesUpdate(httptest.NewRequest("PATCH", "/", strings.NewReader(tt.body)))
			if tt.status != 0 {
				if we := toWire(err); err == nil || we.Status != tt.status || we.Code != CodeInvalidRequest {
					t.Fatalf("err %v, want %d %s", err, tt.status, CodeInvalidRequest)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(deref(got)) != fmt.Sprint(deref(tt.want)) {
				t.Errorf("update %v, want %v", deref(got), deref(tt.want))
			}
		})
	}
}

func deref(u meta.AttributesUpdate) []string {
	var out []string
	for _, b := range []*bool{u.DeleteEnabled, u.WriteEnabled, u.ReadEnabled, u.ListEnabled} {
		if b == nil {
			out = append(out, "-")
		} else {
			out = append(out, fmt.Sprint(*b))
		}
	}
	return out
}

func TestACRTime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2021, 5, 28, 17, 15, 15, 279063200, time.UTC), `"2021-05-28T17:15:15.2790632Z"`},
		{time.Date(2021, 5, 28, 17, 15, 15, 0, time.UTC), `"2021-05-28T17:15:15.0000000Z"`},
		{time.Date(2021, 5, 28, 17, 15, 15, 999999999, time.UTC), `"2021-05-28T17:15:15.9999999Z"`},
		{time.Date(2021, 5, 28, 19, 15, 15, 100, time.FixedZone("x", 2*3600)), `"2021-05-28T17:15:15.0000001Z"`},
	} {
		got, err := json.Marshal(acrTime(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("acrTime(%v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseACRQuery(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		query   string
		n       int
		order   meta.Order
		orderby string
		status  int
	}{
		{query: "", n: acrPageSize},
		{query: "api-version=2021-07-01&n=5&last=x", n: 5},
		{query: "orderby=none", n: acrPageSize},
		{query: "orderby=", n: acrPageSize},
		{query: "orderby=timedesc&n=2", n: 2, order: meta.OrderTimeDesc, orderby: "timedesc"},
		{query: "orderby=timeasc", n: acrPageSize, order: meta.OrderTimeAsc, orderby: "timeasc"},
		{query: "orderby=time_desc", status: 400},
		{query: "n=-1", status: 400},
		{query: "n=x", status: 400},
		{query: "digest=sha256:xyz", status: 400},
	} {
		q, err := parseACRQuery(mustQuery(t, tt.query), true)
		if tt.status != 0 {
			if err == nil || toWire(err).Status != tt.status {
				t.Errorf("%q: err %v, want %d", tt.query, err, tt.status)
			}
			continue
		}
		if err != nil || q.n != tt.n || q.order != tt.order || q.orderby != tt.orderby {
			t.Errorf("%q = %+v, %v", tt.query, q, err)
		}
	}
}

func mustQuery(t *testing.T, s string) map[string][]string {
	t.Helper()
	r := httptest.NewRequest("GET", "/?"+s, nil)
	return r.URL.Query()
}
