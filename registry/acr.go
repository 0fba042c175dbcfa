package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/oci"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The ACR metadata API, /acr/v1 (acr-protocol.md §2; spec containerregistry.json
// 2021-07-01): repositories, tags and manifests with their times, sizes and changeable
// attributes. The JSON shapes and field names are the spec's; every query parameter other
// than those below is ignored, api-version included.
//
// Listings take n (page size; 100 when absent, as a page must end somewhere), last (the
// last item of the previous page, exclusive) and, on _tags and _manifests, orderby: ""
// or "none" (by name, manifests by digest), "timeasc" or "timedesc" (by last update time,
// ties broken by name in the same direction). In a time order last still names an item:
// the next page starts after that item's (lastUpdateTime, name), so a page boundary holds
// even when later items share its time; a last that names nothing there is a 404. _tags
// also takes digest, keeping only the tags of that manifest. When more items follow, the
// Link header names the next page as ACR writes it: a path and every parameter, each with
// '=' (the Azure CLI splits on it and re-sends the parameters to its own path; the Azure
// SDK follows the path).

// acrPageSize is the page size of /acr/v1 listings that give no n.
const acrPageSize = 100

// maxAttributesBody bounds a PATCH body: four booleans need far less.
const maxAttributesBody = 64 << 10

// acrContentType is the Content-Type of every /acr/v1 answer, ACR's.
const acrContentType = "application/json; charset=utf-8"

// acrTime is a time as ACR writes it: UTC with seven fractional digits, .NET's round-trip
// form ("2021-05-28T17:15:15.2790632Z").
type acrTime time.Time

func (t acrTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.0000000Z") + `"`), nil
}

// changeableAttributes is the spec's RepositoryChangeableAttributes (and the tag and
// manifest ones, which are the same four booleans).
type changeableAttributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// repositoryAttributes is the spec's RepositoryAttributes.
type repositoryAttributes struct {
	Registry             string               `json:"registry"`
	ImageName            string               `json:"imageName"`
	CreatedTime          acrTime              `json:"createdTime"`
	LastUpdateTime       acrTime              `json:"lastUpdateTime"`
	ManifestCount        int                  `json:"manifestCount"`
	TagCount             int                  `json:"tagCount"`
	ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
}

// tagAttributesBase is the spec's TagAttributesBase: one tag.
type tagAttributesBase struct {
	Name                 string               `json:"name"`
	Digest               string               `json:"digest"`
	CreatedTime          acrTime              `json:"createdTime"`
	LastUpdateTime       acrTime              `json:"lastUpdateTime"`
	Signed               bool                 `json:"signed"` // content trust; never here
	ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
}

// tagList is the spec's TagList (GET _tags).
type tagList struct {
	Registry  string              `json:"registry"`
	ImageName string              `json:"imageName"`
	Tags      []tagAttributesBase `json:"tags"`
}

// tagAttributes is the spec's TagAttributes (GET and PATCH _tags/{tag}).
type tagAttributes struct {
	Registry  string            `json:"registry"`
	ImageName string            `json:"imageName"`
	Tag       tagAttributesBase `json:"tag"`
}

// manifestAttributesBase is the spec's ManifestAttributesBase: one manifest. Fields
// without a value (an index has no platform or config) are left out.
type manifestAttributesBase struct {
	Digest               string               `json:"digest"`
	ImageSize            int64                `json:"imageSize"`
	CreatedTime          acrTime              `json:"createdTime"`
	LastUpdateTime       acrTime              `json:"lastUpdateTime"`
	Architecture         string               `json:"architecture,omitempty"`
	OS                   string               `json:"os,omitempty"`
	MediaType            string               `json:"mediaType,omitempty"`
	ConfigMediaType      string               `json:"configMediaType,omitempty"`
	Tags                 []string             `json:"tags,omitempty"`
	References           []manifestPlatform   `json:"references,omitempty"`
	ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
}

// manifestPlatform is the spec's ManifestAttributesManifestReferences: an index's child.
type manifestPlatform struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

// acrManifests is the spec's AcrManifests (GET _manifests).
type acrManifests struct {
	Registry  string                   `json:"registry"`
	ImageName string                   `json:"imageName"`
	Manifests []manifestAttributesBase `json:"manifests"`
}

// manifestAttributes is the spec's ManifestAttributes (GET and PATCH _manifests/{digest}).
type manifestAttributes struct {
	Registry  string                 `json:"registry"`
	ImageName string                 `json:"imageName"`
	Manifest  manifestAttributesBase `json:"manifest"`
}

// deletedRepository is the spec's DeletedRepository (DELETE /acr/v1/{name}).
type deletedRepository struct {
	ManifestsDeleted []string `json:"manifestsDeleted"`
	TagsDeleted      []string `json:"tagsDeleted"`
}

func attributesOf(a meta.Attributes) changeableAttributes {
	return changeableAttributes(a)
}

func tagOf(t *meta.TagInfo) tagAttributesBase {
	return tagAttributesBase{Name: t.Name, Digest: t.Digest.String(), CreatedTime: acrTime(t.CreatedAt),
		LastUpdateTime: acrTime(t.UpdatedAt), ChangeableAttributes: attributesOf(t.Attributes)}
}

func manifestOf(m *meta.ManifestInfo) manifestAttributesBase {
	out := manifestAttributesBase{Digest: m.Digest.String(), ImageSize: m.ImageSize,
		CreatedTime: acrTime(m.CreatedAt), LastUpdateTime: acrTime(m.UpdatedAt),
		Architecture: m.Architecture, OS: m.OS, MediaType: m.MediaType, ConfigMediaType: m.ConfigMediaType,
		Tags: m.Tags, ChangeableAttributes: attributesOf(m.Attributes)}
	for _, c := range m.Children {
		out.References = append(out.References, manifestPlatform{Digest: c.Digest.String(), Architecture: c.Architecture, OS: c.OS})
	}
	return out
}

// loginServer is the registry field of every answer: the host the request came to.
func loginServer(r *http.Request) string { return r.Host }

// acrCatalog serves GET /acr/v1/_catalog: the listed repositories, by name.
func (g *Registry) acrCatalog(w http.ResponseWriter, r *http.Request, _ params) error {
	q, err := parseACRQuery(r.URL.Query(), false)
	if err != nil {
		return err
	}
	names, err := g.meta.Repositories(r.Context(), targetOf(r.Context()).ID, q.last, q.fetch())
	if err != nil {
		return err
	}
	names = trimPage(w, q, "/acr/v1/_catalog", names, func(s string) string { return s })
	if names == nil {
		names = []string{}
	}
	return writeJSON(w, r, http.StatusOK, acrContentType, struct {
		Repositories []string `json:"repositories"`
	}{names})
}

// acrGetRepository serves GET /acr/v1/{name}.
func (g *Registry) acrGetRepository(w http.ResponseWriter, r *http.Request, p params) error {
	info, err := g.meta.RepositoryInfo(r.Context(), repoOf(r.Context(), p.name))
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, acrContentType, repositoryAttributes{
		Registry: loginServer(r), ImageName: p.name,
		CreatedTime: acrTime(info.CreatedAt), LastUpdateTime: acrTime(info.UpdatedAt),
		ManifestCount: info.ManifestCount, TagCount: info.TagCount,
		ChangeableAttributes: attributesOf(info.Attributes),
	})
}

// acrPatchRepository serves PATCH /acr/v1/{name}: it changes the attributes and answers
// the repository as GET does.
func (g *Registry) acrPatchRepository(w http.ResponseWriter, r *http.Request, p params) error {
	u, err := readAttributesUpdate(r)
	if err != nil {
		return err
	}
	if err := g.meta.UpdateRepositoryAttributes(r.Context(), repoOf(r.Context(), p.name), u); err != nil {
		return err
	}
	return g.acrGetRepository(w, r, p)
}

// acrDeleteRepository serves DELETE /acr/v1/{name}: 202 with what went.
func (g *Registry) acrDeleteRepository(w http.ResponseWriter, r *http.Request, p params) error {
	del, err := g.meta.DeleteRepository(r.Context(), repoOf(r.Context(), p.name))
	if err != nil {
		return err
	}
	out := deletedRepository{ManifestsDeleted: make([]string, 0, len(del.Manifests)), TagsDeleted: del.Tags}
	for _, d := range del.Manifests {
		out.ManifestsDeleted = append(out.ManifestsDeleted, d.String())
	}
	if out.TagsDeleted == nil {
		out.TagsDeleted = []string{}
	}
	return writeJSON(w, r, http.StatusAccepted, acrContentType, out)
}

// acrListTags serves GET /acr/v1/{name}/_tags.
func (g *Registry) acrListTags(w http.ResponseWriter, r *http.Request, p params) error {
	q, err := parseACRQuery(r.URL.Query(), true)
	if err != nil {
		return err
	}
	infos, err := g.meta.TagInfos(r.Context(), repoOf(r.Context(), p.name), q.options())
	if errors.Is(err, meta.ErrTagNotFound) {
		return errorf(http.StatusNotFound, CodeTagUnknown, "last names no tag of the repository: %q", q.last)
	}
	if err != nil {
		return err
	}
	out := tagList{Registry: loginServer(r), ImageName: p.name, Tags: []tagAttributesBase{}}
	for i := range infos {
		out.Tags = append(out.Tags, tagOf(&infos[i]))
	}
	out.Tags = trimPage(w, q, "/acr/v1/"+p.name+"/_tags", out.Tags, func(t tagAttributesBase) string { return t.Name })
	return writeJSON(w, r, http.StatusOK, acrContentType, out)
}

// acrGetTag serves GET /acr/v1/{name}/_tags/{tag}.
func (g *Registry) acrGetTag(w http.ResponseWriter, r *http.Request, p params) error {
	info, err := g.tagInfo(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, acrContentType, tagAttributes{Registry: loginServer(r), ImageName: p.name, Tag: tagOf(info)})
}

// acrPatchTag serves PATCH /acr/v1/{name}/_tags/{tag}.
func (g *Registry) acrPatchTag(w http.ResponseWriter, r *http.Request, p params) error {
	u, err := readAttributesUpdate(r)
	if err != nil {
		return err
	}
	if oci.ValidateTag(p.last) == nil {
		err = g.meta.UpdateTagAttributes(r.Context(), repoOf(r.Context(), p.name), p.last, u)
	} else {
		err = meta.ErrTagNotFound // no such tag can exist
	}
	if err != nil {
		return g.tagNotFound(r.Context(), p.name, err)
	}
	return g.acrGetTag(w, r, p)
}

// acrDeleteTag serves DELETE /acr/v1/{name}/_tags/{tag}: the tag goes, its manifest stays.
func (g *Registry) acrDeleteTag(w http.ResponseWriter, r *http.Request, p params) error {
	err := meta.ErrTagNotFound
	if oci.ValidateTag(p.last) == nil {
		err = g.meta.DeleteTag(r.Context(), repoOf(r.Context(), p.name), p.last)
	}
	if err != nil {
		return g.tagNotFound(r.Context(), p.name, err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// tagInfo reads the tag p names.
func (g *Registry) tagInfo(ctx context.Context, p params) (*meta.TagInfo, error) {
	if oci.ValidateTag(p.last) != nil {
		return nil, g.tagNotFound(ctx, p.name, meta.ErrTagNotFound)
	}
	info, err := g.meta.TagInfo(ctx, repoOf(ctx, p.name), p.last)
	if err != nil {
		return nil, g.tagNotFound(ctx, p.name, err)
	}
	return info, nil
}

// tagNotFound turns a missing tag into NAME_UNKNOWN when the repository is missing too,
// TAG_UNKNOWN otherwise; other errors pass.
func (g *Registry) tagNotFound(ctx context.Context, name string, err error) error {
	if !errors.Is(err, meta.ErrTagNotFound) {
		return err
	}
	if _, rerr := g.meta.RepositoryInfo(ctx, repoOf(ctx, name)); errors.Is(rerr, meta.ErrRepositoryNotFound) {
		return rerr
	}
	return fmt.Errorf("%w: %w", errTagUnknown, err)
}

// acrListManifests serves GET /acr/v1/{name}/_manifests.
func (g *Registry) acrListManifests(w http.ResponseWriter, r *http.Request, p params) error {
	q, err := parseACRQuery(r.URL.Query(), false)
	if err != nil {
		return err
	}
	infos, err := g.meta.ManifestInfos(r.Context(), repoOf(r.Context(), p.name), q.options())
	if errors.Is(err, meta.ErrManifestNotFound) {
		return errorf(http.StatusNotFound, CodeManifestUnknown, "last names no manifest of the repository: %q", q.last)
	}
	if err != nil {
		return err
	}
	out := acrManifests{Registry: loginServer(r), ImageName: p.name, Manifests: []manifestAttributesBase{}}
	for i := range infos {
		out.Manifests = append(out.Manifests, manifestOf(&infos[i]))
	}
	out.Manifests = trimPage(w, q, "/acr/v1/"+p.name+"/_manifests", out.Manifests, func(m manifestAttributesBase) string { return m.Digest })
	return writeJSON(w, r, http.StatusOK, acrContentType, out)
}

// acrGetManifest serves GET /acr/v1/{name}/_manifests/{reference}. The spec names the
// parameter digest; a tag is accepted too and resolved to its manifest.
func (g *Registry) acrGetManifest(w http.ResponseWriter, r *http.Request, p params) error {
	d, err := g.manifestDigest(r.Context(), p)
	if err != nil {
		return err
	}
	info, err := g.meta.ManifestInfo(r.Context(), repoOf(r.Context(), p.name), d)
	if err != nil {
		return g.manifestNotFound(r.Context(), p.name, err)
	}
	return writeJSON(w, r, http.StatusOK, acrContentType, manifestAttributes{
		Registry: loginServer(r), ImageName: p.name, Manifest: manifestOf(info)})
}

// acrPatchManifest serves PATCH /acr/v1/{name}/_manifests/{reference}.
func (g *Registry) acrPatchManifest(w http.ResponseWriter, r *http.Request, p params) error {
	u, err := readAttributesUpdate(r)
	if err != nil {
		return err
	}
	d, err := g.manifestDigest(r.Context(), p)
	if err != nil {
		return err
	}
	if err := g.meta.UpdateManifestAttributes(r.Context(), repoOf(r.Context(), p.name), d, u); err != nil {
		return g.manifestNotFound(r.Context(), p.name, err)
	}
	return g.acrGetManifest(w, r, p)
}

// manifestDigest is the digest p names: the reference itself, or the manifest a tag names.
func (g *Registry) manifestDigest(ctx context.Context, p params) (digest.Digest, error) {
	if oci.IsDigest(p.last) {
		return oci.ParseDigest(p.last)
	}
	info, err := g.tagInfo(ctx, p)
	if errors.Is(err, errTagUnknown) {
		return "", g.manifestNotFound(ctx, p.name, meta.ErrManifestNotFound)
	}
	if err != nil {
		return "", err
	}
	return info.Digest, nil
}

// manifestNotFound turns a missing manifest into NAME_UNKNOWN when the repository is
// missing too; other errors pass.
func (g *Registry) manifestNotFound(ctx context.Context, name string, err error) error {
	if !errors.Is(err, meta.ErrManifestNotFound) {
		return err
	}
	if _, rerr := g.meta.RepositoryInfo(ctx, repoOf(ctx, name)); errors.Is(rerr, meta.ErrRepositoryNotFound) {
		return rerr
	}
	return err
}

// acrQuery is a listing's query: page, order and, for tags, a digest.
type acrQuery struct {
	page
	order   meta.Order
	orderby string // as the Link repeats it: "", "timeasc" or "timedesc"
	digest  digest.Digest
}

func parseACRQuery(q url.Values, withDigest bool) (acrQuery, error) {
	pg, err := parsePage(q)
	if err != nil {
		return acrQuery{}, err
	}
	if pg.n < 0 {
		pg.n = acrPageSize
	}
	out := acrQuery{page: pg}
	switch o := q.Get("orderby"); o {
	case "", "none":
	case "timeasc":
		out.order, out.orderby = meta.OrderTimeAsc, o
	case "timedesc":
		out.order, out.orderby = meta.OrderTimeDesc, o
	default:
		return acrQuery{}, errorf(http.StatusBadRequest, CodeInvalidRequest, "orderby must be timeasc, timedesc, none or empty, not %q", o)
	}
	if s := q.Get("digest"); withDigest && s != "" {
		if out.digest, err = oci.ParseDigest(s); err != nil {
			return acrQuery{}, err
		}
	}
	return out, nil
}

func (q acrQuery) options() meta.ListOptions {
	return meta.ListOptions{Order: q.order, After: q.last, Limit: q.fetch(), Digest: q.digest}
}

// trimPage cuts got, fetched with one item more than the page, to the page and, when
// items remain, sets the Link header to the next page in ACR's form, e.g.
// </acr/v1/_catalog?last=x&n=2&orderby=>; rel="next". key names an item for last.
func trimPage[T any](w http.ResponseWriter, q acrQuery, path string, got []T, key func(T) string) []T {
	if len(got) <= q.n {
		return got
	}
	got = got[:q.n]
	if q.n > 0 {
		link := fmt.Sprintf("%s?last=%s&n=%d&orderby=%s", path, url.QueryEscape(key(got[len(got)-1])), q.n, q.orderby)
		if q.digest != "" {
			link += "&digest=" + url.QueryEscape(q.digest.String())
		}
		w.Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	return got
}

// readAttributesUpdate reads a PATCH body: a JSON object with any of deleteEnabled,
// writeEnabled, readEnabled and listEnabled (matched without regard to case, as .NET and
// encoding/json match). Other members are ignored, as ACR's service ignores what it does
// not know (and newer versions add teleportEnabled); null leaves an attribute as it is. A
// value that is not a boolean, a body that is not an object, and an empty body are 400s:
// the Azure SDK first sends each request without its body, to meet the challenge, so an
// empty PATCH must never pass for an update that changes nothing.
func readAttributesUpdate(r *http.Request) (meta.AttributesUpdate, error) {
	var u meta.AttributesUpdate
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAttributesBody+1))
	if err != nil {
		return u, errorf(http.StatusBadRequest, CodeInvalidRequest, "reading the request body: %v", err)
	}
	if len(body) > maxAttributesBody {
		return u, errorf(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "the request body exceeds %d bytes", maxAttributesBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return u, errorf(http.StatusBadRequest, CodeInvalidRequest,
			"the request body is empty: send a JSON object of changeable attributes")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return u, errorf(http.StatusBadRequest, CodeInvalidRequest, "the request body is not a JSON object")
	}
	targets := []struct {
		name string
		dst  **bool
	}{
		{"deleteEnabled", &u.DeleteEnabled},
		{"writeEnabled", &u.WriteEnabled},
		{"readEnabled", &u.ReadEnabled},
		{"listEnabled", &u.ListEnabled},
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) { // sorted: "a" and "A" resolve alike every time
		raw := fields[name]
		for _, t := range targets {
			if !strings.EqualFold(name, t.name) || string(raw) == "null" {
				continue
			}
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				return u, errorf(http.StatusBadRequest, CodeInvalidRequest, "%s must be true or false, not %s", t.name, raw)
			}
			*t.dst = &b
		}
	}
	return u, nil
}
