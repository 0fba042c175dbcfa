package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// maxPageSize caps `n` so that one request cannot ask for an unbounded page; a client
// asking for more gets this many and a Link to the rest.
const maxPageSize = 10000

// base answers GET /v2/: the API is there (end-1).
func (g *Registry) base(w http.ResponseWriter, r *http.Request, _ params) error {
	return writeJSON(w, r, http.StatusOK, "application/json", struct{}{})
}

// catalog lists repositories (GET /v2/_catalog?n=&last=).
func (g *Registry) catalog(w http.ResponseWriter, r *http.Request, _ params) error {
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	names, err := g.meta.Repositories(r.Context(), targetOf(r.Context()).ID, pg.last, pg.fetch())
	if err != nil {
		return err
	}
	names = pg.trim(w, "/v2/_catalog", names)
	return writeJSON(w, r, http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{names})
}

// listTags lists a repository's tags (GET /v2/<name>/tags/list?n=&last=, end-8a/8b).
func (g *Registry) listTags(w http.ResponseWriter, r *http.Request, p params) error {
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	tags, err := g.meta.Tags(r.Context(), repoOf(r.Context(), p.name), pg.last, pg.fetch())
	if err != nil {
		return err
	}
	tags = pg.trim(w, "/v2/"+p.name+"/tags/list", tags)
	return writeJSON(w, r, http.StatusOK, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{p.name, tags})
}

// page is a request's `n` and `last`.
type page struct {
	n    int // -1: not given
	last string
}

func parsePage(q url.Values) (page, error) {
	pg := page{n: -1, last: q.Get("last")}
	if s := q.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return pg, errorf(http.StatusBadRequest, CodePaginationInvalid, "invalid number of results requested: %q", s)
		}
		pg.n = min(n, maxPageSize)
	}
	return pg, nil
}

// fetch is how many entries to ask the store for: one more than the page, to learn
// whether a next page exists.
func (pg page) fetch() int {
	if pg.n < 0 {
		return 0 // no limit
	}
	return pg.n + 1
}

// trim cuts a fetched list to the page and, when entries remain, sets the Link header in
// the form ACR sends: every parameter has '=' (the Azure CLI splits on it), so an empty
// orderby is spelled out.
func (pg page) trim(w http.ResponseWriter, path string, got []string) []string {
	if got == nil {
		got = []string{}
	}
	if pg.n < 0 || len(got) <= pg.n {
		return got
	}
	got = got[:pg.n]
	if pg.n > 0 {
		q := url.Values{"last": {got[len(got)-1]}, "n": {strconv.Itoa(pg.n)}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s&orderby=>; rel="next"`, path, q.Encode()))
	}
	return got
}

// writeJSON writes v as the response body with a Content-Length (HEAD gets headers only).
func writeJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}
