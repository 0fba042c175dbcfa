package badinput

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// pageFixture is a repository tagged a, c and e, and repositories base/a and base/c
// (each holding that image) for the catalog.
type pageFixture struct {
	base string
	repo string // base/a
}

// pageRow is a listing request. On tags/list the query applies to the fixture's tags
// a, c, e; on _catalog, "{base}" in it stands for the fixture's base. For a 200 answer,
// list is what must come back (on _catalog: the part under base, and only checked when
// the row says so, since other rows add repositories concurrently).
type pageRow struct {
	name      string
	spec      string
	catalog   bool
	query     string
	want      outcome
	list      []string
	checkList bool
	link      bool // a Link rel="next" must be present (else absent)
}

func pageRows(_ *testing.T, e *env) []row {
	const (
		badN     = "Content Discovery/Listing Tags: n is \"an integer specifying the number of tags requested\"; a value that is not an integer (or does not fit one) is refused with 400 and distribution's PAGINATION_NUMBER_INVALID, on tags/list and _catalog alike"
		bigN     = "Content Discovery/Listing Tags: \"The response to such a request MAY return fewer than <int> results, but only when the total number of tags ... is less than <int> or a Link header is provided\"; a huge but valid n is capped, not refused"
		lastRule = "Content Discovery/Listing Tags: \"A request of this sort will return up to <int> tags, beginning non-inclusively with <tagname>\"; a last value that names nothing (even one that could not be a tag or repository) just starts the list after it, in lexical order"
	)
	paginationInvalid := answer(http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
	ok := answer(http.StatusOK)

	var table []pageRow
	for _, cat := range []bool{false, true} {
		where := "tags list"
		if cat {
			where = "_catalog"
		}
		for _, n := range []string{"1e3", "99999999999999999999", "1.5", "0x10", "%205", "5abc", "--1", "%E2%88%92" + "1"} {
			table = append(table, pageRow{name: where + " n=" + n, spec: badN, catalog: cat, query: "n=" + n, want: paginationInvalid})
		}
		table = append(table, pageRow{name: where + " n=MaxInt64", spec: bigN, catalog: cat, query: "n=9223372036854775807", want: ok,
			list: []string{"a", "c", "e"}, checkList: !cat})
	}
	table = append(table,
		pageRow{name: "tags list last between tags", spec: lastRule, query: "last=b", want: ok, list: []string{"c", "e"}, checkList: true},
		pageRow{name: "tags list last between tags with n", spec: lastRule, query: "last=b&n=1", want: ok, list: []string{"c"}, checkList: true, link: true},
		pageRow{name: "tags list last after every tag", spec: lastRule, query: "last=zzz", want: ok, list: []string{}, checkList: true},
		pageRow{name: "tags list last that is no valid tag", spec: lastRule, query: "last=..%2F", want: ok, list: []string{"a", "c", "e"}, checkList: true},
		pageRow{name: "tags list last in upper case", spec: lastRule, query: "last=B&n=2", want: ok, list: []string{"a", "c"}, checkList: true, link: true},
		pageRow{name: "_catalog last between repositories", spec: lastRule, catalog: true, query: "last={base}/b&n=1", want: ok,
			list: []string{"{base}/c"}, checkList: true, link: true},
		pageRow{name: "_catalog last that is a prefix of repositories", spec: lastRule, catalog: true, query: "last={base}&n=2", want: ok,
			list: []string{"{base}/a", "{base}/c"}, checkList: true, link: true},
		pageRow{name: "_catalog last that is no valid name", spec: lastRule, catalog: true, query: "last={base}/A..%2F&n=1", want: ok,
			list: []string{"{base}/a"}, checkList: true, link: true},
	)

	var rows []row
	for _, p := range table {
		rows = append(rows, row{name: p.name, spec: p.spec, run: func(t *testing.T) {
			f := e.newPageFixture(t)
			before := e.snapshot(t, f.repo, "", "a", "c", "e")
			target := "/v2/" + f.repo + "/tags/list?" + p.query
			if p.catalog {
				target = "/v2/_catalog?" + strings.ReplaceAll(p.query, "{base}", url.QueryEscape(f.base))
			}
			r := e.send(t, request{method: http.MethodGet, target: target})
			wantAnswer(t, r, p.want)
			if r.Status == http.StatusOK {
				got := listed(t, r, p.catalog)
				if p.checkList {
					want := make([]string, len(p.list))
					for i, s := range p.list {
						want[i] = strings.ReplaceAll(s, "{base}", f.base)
					}
					if !slices.Equal(got, want) {
						t.Errorf("listed %q, want %q: %s", got, want, r)
					}
				}
				if link := r.Header.Get("Link"); (link != "") != p.link {
					t.Errorf("Link header %q, want one: %v", link, p.link)
				}
			}
			e.wantSame(t, before)
		}})
	}
	return rows
}

func (e *env) newPageFixture(t testing.TB) *pageFixture {
	t.Helper()
	base := e.repo(t)
	f := &pageFixture{base: base, repo: base + "/a"}
	m := e.pushImage(t, f.repo, "a")
	e.pushManifest(t, f.repo, "c", m)
	e.pushManifest(t, f.repo, "e", m)
	e.pushImage(t, base+"/c", "v1")
	return f
}

// listed decodes a tags list or catalog answer.
func listed(t testing.TB, r *reply, catalog bool) []string {
	t.Helper()
	var body struct {
		Tags         []string `json:"tags"`
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("listing is not JSON: %v: %s", err, r)
	}
	got := body.Tags
	if catalog {
		got = body.Repositories
	}
	if got == nil {
		t.Errorf("listing has no list (null or missing): %s", r)
		got = []string{}
	}
	return got
}
