package acrapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// follower is how a client gets from one page to the next.
type follower string

const (
	// followSDK is the Azure SDK for Go: the Link's text between '<' and '>', joined to
	// the endpoint and sent as is (runtime.JoinPaths, then EncodeQueryParams).
	followSDK follower = "sdk"
	// followCLI is the Azure CLI (repository.py, _obtain_data_from_registry): it splits
	// the Link's query on '&' and '=', unquotes each value, and sends the parameters to
	// the path it started with.
	followCLI follower = "cli"
)

// listing describes one paged list to walk.
type listing struct {
	first    string // the first request: path and query
	linkPath string // the path every Link must name
	orderby  string // what every Link's orderby must be
	digest   string // the digest every Link must carry ("" for none)
	keys     func(t testing.TB, body []byte) []string
}

// walk lists l in pages of n, following each Link as f does, checks every Link
// literally against the page it ends, and returns every key in order.
func (e *env) walk(t *testing.T, l listing, n int, f follower) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(l.first, "?") {
		sep = "&"
	}
	next := fmt.Sprintf("%s%sn=%d", l.first, sep, n)
	var all []string
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("more than 100 pages of %s", l.first)
		}
		r := e.do(t, "GET", next, nil).want(t, http.StatusOK)
		keys := l.keys(t, r.Body)
		all = append(all, keys...)
		link := r.Header.Get("Link")
		if link == "" {
			return all
		}
		if len(keys) != n {
			t.Fatalf("page %d of %s has %d items and a Link, want %d: %s", page, l.first, len(keys), n, r)
		}
		want := fmt.Sprintf(`<%s?last=%s&n=%d&orderby=%s`, l.linkPath, url.QueryEscape(keys[n-1]), n, l.orderby)
		if l.digest != "" {
			want += "&digest=" + url.QueryEscape(l.digest)
		}
		want += `>; rel="next"`
		if link != want {
			t.Fatalf("Link after page %d of %s:\n got %s\nwant %s", page, l.first, link, want)
		}
		target := link[1:strings.Index(link, ">")]
		switch f {
		case followSDK:
			next = target
		case followCLI:
			path, _, _ := strings.Cut(l.first, "?")
			_, linkQuery, _ := strings.Cut(target, "?")
			params := url.Values{}
			for _, kv := range strings.Split(linkQuery, "&") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Link parameter %q has no '=', which the Azure CLI needs", kv)
				}
				uv, err := url.PathUnescape(v) // Python's unquote
				if err != nil {
					t.Fatalf("Link parameter %q: %v", kv, err)
				}
				params.Set(k, uv)
			}
			next = path + "?" + params.Encode()
		}
	}
}

func tagKeys(t testing.TB, body []byte) []string {
	var v struct {
		Tags []struct{ Name string } `json:"tags"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("tag list: %v: %s", err, body)
	}
	var out []string
	for _, tag := range v.Tags {
		out = append(out, tag.Name)
	}
	return out
}

func manifestKeys(t testing.TB, body []byte) []string {
	var v struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("manifest list: %v: %s", err, body)
	}
	var out []string
	for _, m := range v.Manifests {
		out = append(out, m.Digest)
	}
	return out
}

func repositoryKeys(t testing.TB, body []byte) []string {
	var v struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("catalog: %v: %s", err, body)
	}
	return v.Repositories
}

func v2TagKeys(t testing.TB, body []byte) []string {
	var v struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("tags/list: %v: %s", err, body)
	}
	return v.Tags
}

// pageSizes are the n each listing is walked with, for a list of total items: one per
// page, a few, exactly all, and more than all.
func pageSizes(total int) []int { return []int{1, 2, 3, total, total + 1} }

// testTagPaging walks a repository's tags in every order, page size and way of following
// the Link, with the name sent raw and %2F-encoded, and with the digest filter.
func testTagPaging(t *testing.T, e *env) {
	repo := e.repo("paging/tags")
	a := e.pushImage(t, repo, "", "amd64", "paging tags a")
	b := e.pushImage(t, repo, "", "arm64", "paging tags b")
	// Pushed one after another, so each is newer than the last: time order is push order.
	pushes := []struct {
		tag string
		m   image
	}{{"v3", a}, {"v1", b}, {"latest", a}, {"v2", b}, {"v10", a}, {"0", b}, {"v1", a}}
	var timeAsc []string
	for _, p := range pushes {
		e.putManifest(t, repo, p.tag, mtImage, p.m.content).want(t, http.StatusCreated)
		timeAsc = slices.DeleteFunc(timeAsc, func(s string) bool { return s == p.tag })
		timeAsc = append(timeAsc, p.tag) // a tag pushed again moves to the end
	}
	byName := slices.Sorted(slices.Values(timeAsc))
	timeDesc := slices.Clone(timeAsc)
	slices.Reverse(timeDesc)
	ofB := map[string]bool{"v2": true, "0": true} // the tags left on b
	only := func(names []string) (out []string) {
		for _, n := range names {
			if ofB[n] {
				out = append(out, n)
			}
		}
		return out
	}
	esc := strings.ReplaceAll(repo, "/", "%2F")
	for _, o := range []struct{ orderby, query string }{{"", ""}, {"", "orderby=none"}, {"timeasc", "orderby=timeasc"}, {"timedesc", "orderby=timedesc"}} {
		want := map[string][]string{"": byName, "timeasc": timeAsc, "timedesc": timeDesc}[o.orderby]
		for _, name := range []string{repo, esc} {
			for _, f := range []follower{followSDK, followCLI} {
				for _, filter := range []bool{false, true} {
					q := []string{"api-version=2021-07-01"}
					if o.query != "" {
						q = append(q, o.query)
					}
					l := listing{linkPath: "/acr/v1/" + repo + "/_tags", orderby: o.orderby, keys: tagKeys}
					w := want
					if filter {
						q = append(q, "digest="+b.digest.String())
						l.digest, w = b.digest.String(), only(want)
					}
					l.first = "/acr/v1/" + name + "/_tags?" + strings.Join(q, "&")
					for _, n := range pageSizes(len(w)) {
						t.Run(fmt.Sprintf("%s n=%d %s %s", l.first, n, f, strings.ReplaceAll(name, "/", "|")), func(t *testing.T) {
							if got := e.walk(t, l, n, f); !slices.Equal(got, w) {
								t.Errorf("tags = %q, want %q", got, w)
							}
						})
					}
				}
			}
		}
	}
	// /v2 tags/list pages the same way, by name only (and the CLI's fallback follows it).
	for _, n := range pageSizes(len(byName)) {
		for _, f := range []follower{followSDK, followCLI} {
			l := listing{first: "/v2/" + repo + "/tags/list", linkPath: "/v2/" + repo + "/tags/list", keys: v2TagKeys}
			if got := e.walk(t, l, n, f); !slices.Equal(got, byName) {
				t.Errorf("/v2 tags/list n=%d %s = %q, want %q", n, f, got, byName)
			}
		}
	}
	// An unlisted tag leaves every listing, and the pages close over the gap.
	e.patch(t, "/acr/v1/"+esc+"/_tags/v10", `{"listEnabled":false}`).want(t, http.StatusOK)
	hidden := slices.DeleteFunc(slices.Clone(timeDesc), func(s string) bool { return s == "v10" })
	l := listing{first: "/acr/v1/" + repo + "/_tags?orderby=timedesc", linkPath: "/acr/v1/" + repo + "/_tags", orderby: "timedesc", keys: tagKeys}
	for _, n := range pageSizes(len(hidden)) {
		if got := e.walk(t, l, n, followSDK); !slices.Equal(got, hidden) {
			t.Errorf("tags with v10 unlisted, n=%d = %q, want %q", n, got, hidden)
		}
	}
	// The cursor may name the unlisted tag (a page may have ended on it before). The PATCH
	// updated it, so it is now the newest: every other tag comes after it.
	r := e.do(t, "GET", "/acr/v1/"+repo+"/_tags?orderby=timedesc&last=v10", nil).want(t, http.StatusOK)
	if got := tagKeys(t, r.Body); !slices.Equal(got, hidden) {
		t.Errorf("tags after the unlisted v10 = %q, want %q", got, hidden)
	}
	// n=0 is an empty page without a Link.
	r = e.do(t, "GET", "/acr/v1/"+repo+"/_tags?n=0", nil).want(t, http.StatusOK)
	if got := tagKeys(t, r.Body); len(got) != 0 || r.Header.Get("Link") != "" {
		t.Errorf("n=0: %q, Link %q", got, r.Header.Get("Link"))
	}
}

// testManifestPaging walks a repository's manifests in every order.
func testManifestPaging(t *testing.T, e *env) {
	repo := e.repo("paging/manifests")
	var timeAsc []string
	var first image
	for i := range 5 {
		img := e.pushImage(t, repo, fmt.Sprintf("t%d", i), "amd64", fmt.Sprintf("paging manifests %d", i))
		timeAsc = append(timeAsc, img.digest.String())
		if i == 0 {
			first = img
		}
	}
	// Pushed again, the first manifest is updated last.
	e.putManifest(t, repo, "", mtImage, first.content).want(t, http.StatusCreated)
	timeAsc = append(timeAsc[1:], first.digest.String())
	byDigest := slices.Sorted(slices.Values(timeAsc))
	timeDesc := slices.Clone(timeAsc)
	slices.Reverse(timeDesc)
	for _, o := range []struct {
		orderby string
		want    []string
	}{{"", byDigest}, {"timeasc", timeAsc}, {"timedesc", timeDesc}} {
		for _, name := range []string{repo, strings.ReplaceAll(repo, "/", "%2F")} {
			for _, f := range []follower{followSDK, followCLI} {
				l := listing{first: "/acr/v1/" + name + "/_manifests?orderby=" + o.orderby, linkPath: "/acr/v1/" + repo + "/_manifests",
					orderby: o.orderby, keys: manifestKeys}
				for _, n := range pageSizes(len(o.want)) {
					t.Run(fmt.Sprintf("orderby=%s n=%d %s %s", o.orderby, n, f, strings.ReplaceAll(name, "/", "|")), func(t *testing.T) {
						if got := e.walk(t, l, n, f); !slices.Equal(got, o.want) {
							t.Errorf("manifests = %q, want %q", got, o.want)
						}
					})
				}
			}
		}
	}
	// An unlisted manifest leaves the listing; it is still read directly.
	hide := digest.Digest(timeAsc[2])
	e.patch(t, "/acr/v1/"+repo+"/_manifests/"+hide.String(), `{"listEnabled":false}`).want(t, http.StatusOK)
	want := slices.DeleteFunc(slices.Clone(byDigest), func(s string) bool { return s == hide.String() })
	l := listing{first: "/acr/v1/" + repo + "/_manifests", linkPath: "/acr/v1/" + repo + "/_manifests", keys: manifestKeys}
	if got := e.walk(t, l, 2, followSDK); !slices.Equal(got, want) {
		t.Errorf("manifests with one unlisted = %q, want %q", got, want)
	}
	e.do(t, "GET", "/acr/v1/"+repo+"/_manifests/"+hide.String(), nil).want(t, http.StatusOK)
}

// TestCatalog pages /acr/v1/_catalog and /v2/_catalog on a server of its own, where the
// catalog holds only what the test pushed.
func TestCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testserver.Start(t))
	names := []string{"zeta", "a/b", "a-b", "library/alpine", "a0", "library/ubuntu", "ab"}
	for _, n := range names {
		e.pushImage(t, n, "v1", "amd64", "catalog "+n)
	}
	// A repository holding only blobs is not in the catalog.
	e.pushBlob(t, "blobs-only", []byte("catalog blob"))
	slices.Sort(names)
	for _, api := range []string{"/acr/v1/_catalog", "/v2/_catalog"} {
		for _, f := range []follower{followSDK, followCLI} {
			for _, n := range pageSizes(len(names)) {
				l := listing{first: api + "?api-version=2021-07-01", linkPath: api, keys: repositoryKeys}
				if got := e.walk(t, l, n, f); !slices.Equal(got, names) {
					t.Errorf("%s n=%d %s = %q, want %q", api, n, f, got, names)
				}
			}
		}
	}
	r := e.do(t, "GET", "/acr/v1/_catalog?n=2", nil).want(t, http.StatusOK)
	e.checkGolden(t, "catalog", r.Body, nil)
	if link := r.Header.Get("Link"); link != `</acr/v1/_catalog?last=a%2Fb&n=2&orderby=>; rel="next"` {
		t.Errorf("Link %q", link)
	}
	// Unlisted repositories leave both catalogs, and are still there by name.
	e.patch(t, "/acr/v1/a%2Fb", `{"listEnabled":false}`).want(t, http.StatusOK)
	e.patch(t, "/acr/v1/zeta", `{"listEnabled":false}`).want(t, http.StatusOK)
	want := slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == "a/b" || s == "zeta" })
	for _, api := range []string{"/acr/v1/_catalog", "/v2/_catalog"} {
		for _, n := range []int{1, 2, 100} {
			l := listing{first: api, linkPath: api, keys: repositoryKeys}
			if got := e.walk(t, l, n, followSDK); !slices.Equal(got, want) {
				t.Errorf("%s with a/b and zeta unlisted, n=%d = %q, want %q", api, n, got, want)
			}
		}
	}
	e.do(t, "GET", "/acr/v1/a/b", nil).want(t, http.StatusOK)
	e.do(t, "GET", "/v2/a/b/manifests/v1", nil).want(t, http.StatusOK)
	// Without n, /acr/v1 answers a page of 100 at most: every name fits.
	r = e.do(t, "GET", "/acr/v1/_catalog", nil).want(t, http.StatusOK)
	if got := repositoryKeys(t, r.Body); !slices.Equal(got, want) || r.Header.Get("Link") != "" {
		t.Errorf("catalog without n = %q, Link %q", got, r.Header.Get("Link"))
	}
}
