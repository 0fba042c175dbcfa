package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tagFixture pushes one image under tags (in the given, unsorted, order) and returns
// the repository.
func (e *env) tagFixture(t testing.TB, tags ...string) string {
	t.Helper()
	repo := e.repo(t)
	m := e.buildImage(t, repo, image{})
	for _, tag := range tags {
		e.pushManifest(t, repo, tag, m)
	}
	return repo
}

var fixtureTags = []string{"test3", "latest", "test1", "z9", "test0", "a-tag", "test2"}

func sortedFixtureTags() []string {
	s := slices.Clone(fixtureTags)
	slices.Sort(s)
	return s
}

// rawField returns the raw JSON of one top-level field of a reply body.
func rawField(t testing.TB, r *reply, field string) string {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &fields); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r)
	}
	return strings.TrimSpace(string(fields[field]))
}

type catalog struct {
	Repositories []string `json:"repositories"`
}

func (e *env) getCatalog(t testing.TB, u *url.URL) (*reply, catalog) {
	t.Helper()
	r := e.doURL(t, http.MethodGet, u, nil)
	var c catalog
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &c); err != nil {
			t.Fatalf("catalog is not JSON: %v: %s", err, r)
		}
	}
	return r, c
}

// testDiscovery covers listing tags and repositories in the "Content Discovery"
// workflow category (end-8a, end-8b, and the Docker/ACR catalog).
func testDiscovery(t *testing.T, e *env) {
	rows := []requirement{
		{
			name: "tags list is complete and in lexical order",
			spec: "Content Discovery/Listing Tags: GET /v2/<name>/tags/list MUST answer 200 with {\"name\":<name>,\"tags\":[...]} in lexical order",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				r, tl := e.listTags(t, repo, "")
				r.want(t, http.StatusOK)
				if tl.Name != repo {
					t.Errorf("name = %q, want %q", tl.Name, repo)
				}
				if diff := cmp.Diff(sortedFixtureTags(), tl.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "n limits the number of tags",
			spec: "Content Discovery/Listing Tags: with ?n=<int> the response MUST include <int> results unless fewer tags exist (Ginkgo suite: exactly n), starting at the beginning of the lexical list",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				r, tl := e.listTags(t, repo, "n=3")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff(sortedFixtureTags()[:3], tl.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "Link header pages through all tags",
			spec: "Content Discovery/Listing Tags: when more tags remain a Link header MAY be sent (Cerulean does), formatted per RFC 5988 with rel=\"next\"; following it yields the rest, and the last page has none",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				u := e.resolve(t, "/v2/"+repo+"/tags/list?n=3")
				var all []string
				for page := 0; u != nil; page++ {
					if page > len(fixtureTags) {
						t.Fatalf("Link pagination does not end")
					}
					r := e.doURL(t, http.MethodGet, u, nil)
					r.want(t, http.StatusOK)
					var tl tagList
					if err := json.Unmarshal(r.Body, &tl); err != nil {
						t.Fatal(err)
					}
					if len(tl.Tags) > 3 {
						t.Errorf("page of %d tags for n=3", len(tl.Tags))
					}
					all = append(all, tl.Tags...)
					u = nextLink(t, r)
					if u == nil && len(all) < len(fixtureTags) {
						t.Errorf("no Link header although %d tags remain: %s", len(fixtureTags)-len(all), r)
					}
				}
				if diff := cmp.Diff(sortedFixtureTags(), all); diff != "" {
					t.Errorf("tags collected through Link (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "last starts after the given tag",
			spec: "Content Discovery/Listing Tags: ?n=<int>&last=<tag> returns up to <int> tags after <tag>, not including it, in lexical order",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				r, tl := e.listTags(t, repo, "n=2&last=test0")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff([]string{"test1", "test2"}, tl.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "last without n",
			spec: "Content Discovery/Listing Tags: when using last, n is OPTIONAL; all tags after <tag> are returned (official runner)",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				r, tl := e.listTags(t, repo, "last=test1")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff([]string{"test2", "test3", "z9"}, tl.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
				r, tl = e.listTags(t, repo, "last=zzz")
				r.want(t, http.StatusOK)
				if len(tl.Tags) != 0 {
					t.Errorf("tags after the last one: %q", tl.Tags)
				}
			},
		},
		{
			name: "n=0 returns an empty list without Link",
			spec: "Content Discovery/Listing Tags: when n is zero the endpoint MUST return an empty list and MUST NOT include a Link header",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				r, _ := e.listTags(t, repo, "n=0")
				r.want(t, http.StatusOK)
				if raw := rawField(t, r, "tags"); raw != "[]" {
					t.Errorf("tags = %s, want []", raw)
				}
				if l := r.Header.Get("Link"); l != "" {
					t.Errorf("Link header %q with n=0", l)
				}
			},
		},
		{
			name: "n beyond the number of tags returns them all without Link",
			spec: "Content Discovery/Listing Tags: fewer than n results are allowed when the repository has fewer tags; no further page exists to link to",
			run: func(t *testing.T) {
				repo := e.tagFixture(t, fixtureTags...)
				r, tl := e.listTags(t, repo, "n=100")
				r.want(t, http.StatusOK)
				if diff := cmp.Diff(sortedFixtureTags(), tl.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
				if l := r.Header.Get("Link"); l != "" {
					t.Errorf("Link header %q on the last page", l)
				}
			},
		},
		{
			name: "tags of an unknown repository is 404 NAME_UNKNOWN",
			spec: "Content Discovery/Listing Tags: the request answers 200 only when the repository is found; otherwise 404 (end-8a failure, code-9 NAME_UNKNOWN)",
			run: func(t *testing.T) {
				r, _ := e.listTags(t, e.repo(t), "")
				wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN")
			},
		},
		{
			name: "tags of a repository without tags",
			spec: "Content Discovery/Listing Tags: the list MAY be empty if there are no tags (official runner accepts 200 or 404 for a repository with no tags)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushBlob(t, repo, randomBytes(t, 10))
				r, tl := e.listTags(t, repo, "")
				if r.Status == http.StatusNotFound {
					wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN")
					return
				}
				r.want(t, http.StatusOK)
				if len(tl.Tags) != 0 {
					t.Errorf("tags %q in a repository never tagged", tl.Tags)
				}
			},
		},
		{
			name: "catalog lists repositories in lexical order",
			spec: "Catalog (Docker registry API, kept by Cerulean for ACR compatibility): GET /v2/_catalog answers {\"repositories\":[...]} sorted, including every repository with content",
			run: func(t *testing.T) {
				base := e.repo(t)
				want := []string{base + "/a", base + "/b", base + "/c"}
				for _, r := range []string{want[2], want[0], want[1]} {
					e.pushImage(t, r, "latest")
				}
				u := e.resolve(t, "/v2/_catalog?n=1000")
				var all []string
				for page := 0; u != nil; page++ {
					if page > 1000 {
						t.Fatal("catalog pagination does not end")
					}
					r, c := e.getCatalog(t, u)
					r.want(t, http.StatusOK)
					all = append(all, c.Repositories...)
					u = nextLink(t, r)
				}
				if !slices.IsSorted(all) {
					t.Errorf("catalog is not in lexical order")
				}
				for _, w := range want {
					if !slices.Contains(all, w) {
						t.Errorf("catalog misses %s", w)
					}
				}
			},
		},
		{
			name: "catalog n, last and Link",
			spec: "Catalog: ?n= limits the page, last= starts after the given repository, and a Link rel=\"next\" header leads to the next page",
			run: func(t *testing.T) {
				base := e.repo(t)
				want := []string{base + "/a", base + "/b", base + "/c"}
				for _, r := range want {
					e.pushImage(t, r, "latest")
				}
				r, c := e.getCatalog(t, e.resolve(t, "/v2/_catalog?"+url.Values{"n": {"2"}, "last": {base}}.Encode()))
				r.want(t, http.StatusOK)
				if diff := cmp.Diff(want[:2], c.Repositories); diff != "" {
					t.Errorf("first page (-want +got):\n%s", diff)
				}
				next := nextLink(t, r)
				if next == nil {
					t.Fatalf("no Link header although more repositories remain: %s", r)
				}
				r, c = e.getCatalog(t, next)
				r.want(t, http.StatusOK)
				if len(c.Repositories) == 0 || c.Repositories[0] != want[2] {
					t.Errorf("page after the Link starts with %q, want %s", c.Repositories, want[2])
				}
			},
		},
	}

	// Malformed pagination numbers.
	for _, path := range []string{"tags", "catalog"} {
		for _, n := range []string{"-1", "abc"} {
			rows = append(rows, requirement{
				name: path + " with n=" + n + " is 400 PAGINATION_NUMBER_INVALID",
				spec: "Content Discovery: n MUST be an integer (\"<int> is an integer specifying the number\"); Cerulean refuses others with 400 PAGINATION_NUMBER_INVALID, Docker's code",
				run: func(t *testing.T) {
					target := "/v2/_catalog?n=" + n
					if path == "tags" {
						repo := e.tagFixture(t, "v1")
						target = "/v2/" + repo + "/tags/list?n=" + n
					}
					wantError(t, e.do(t, http.MethodGet, target, nil), http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
				},
			})
		}
	}
	runRequirements(t, rows)
}
