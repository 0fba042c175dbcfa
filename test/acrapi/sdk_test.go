package acrapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// challenger stands in for the token service, which this server does not have yet, the
// way the Azure SDK meets it (authentication_policy.go): a request without Authorization
// gets a 401 challenge naming service and scope; POST /oauth2/token (grant_type=password,
// empty refresh_token: the anonymous branch) gets an access token; requests that carry it
// go to the server. It records every request the server saw, bodies included.
type challenger struct {
	next http.RoundTripper
	host string

	mu   sync.Mutex
	seen []string // "METHOD path?query body"
}

func (c *challenger) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == "POST" && req.URL.Path == "/oauth2/token" {
		body, _ := io.ReadAll(req.Body)
		if !strings.Contains(string(body), "grant_type=password") {
			return nil, fmt.Errorf("token request is not the anonymous one: %s", body)
		}
		return c.answer(req, http.StatusOK, `{"access_token":"anonymous"}`, nil), nil
	}
	if req.Header.Get("Authorization") == "" {
		h := http.Header{"Www-Authenticate": {fmt.Sprintf(
			`Bearer realm="https://%s/oauth2/token",service="%s",scope="repository:x:metadata_read"`, c.host, c.host)}}
		return c.answer(req, http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, h), nil
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	c.mu.Lock()
	c.seen = append(c.seen, fmt.Sprintf("%s %s %s", req.Method, req.URL.RequestURI(), body))
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *challenger) answer(req *http.Request, status int, body string, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Request: req,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), ProtoMajor: 1, ProtoMinor: 1}
}

// sdkClient returns an anonymous (nil credential) azcontainerregistry client of srv over
// TLS, through rt, without retries (a failure should show at once).
func sdkClient(t *testing.T, srv *testserver.Server, rt http.RoundTripper) *azcontainerregistry.Client {
	t.Helper()
	c, err := azcontainerregistry.NewClient(srv.URL, nil, &azcontainerregistry.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: rt, Timeout: time.Minute},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAzureSDK drives the server with the Azure SDK for Go: every call the brief names,
// through the challenge flow the SDK insists on for requests with bodies (see
// TestAzureSDKWithoutChallenge for why).
func TestAzureSDK(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	e := newEnv(t, srv)
	ch := &challenger{next: srv.Transport(), host: srv.Host}
	c := sdkClient(t, srv, ch)
	ctx := t.Context()

	repo := "sdk/library/hello-world"
	a := e.pushImage(t, repo, "", "amd64", "sdk layer a")
	b := e.pushImage(t, repo, "", "arm64", "sdk layer b")
	tags := []string{"v3", "v1", "latest", "v2", "v10"}
	for i, tag := range tags {
		m := a
		if i%2 == 1 {
			m = b
		}
		e.putManifest(t, repo, tag, mtImage, m.content).want(t, http.StatusCreated)
	}
	idx := e.pushIndex(t, repo, "multi", []string{"amd64", "arm64"}, a, b)
	tags = append(tags, "multi")
	others := []string{"sdk/a", "sdk/b", "sdk/c"}
	for _, r := range others {
		e.pushImage(t, r, "v1", "amd64", "sdk other "+r)
	}

	t.Run("ListRepositories", func(t *testing.T) {
		var got []string
		pages := 0
		pager := c.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](2)})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, n := range page.Names {
				got = append(got, *n)
			}
		}
		want := slices.Sorted(slices.Values(append([]string{repo}, others...)))
		if !slices.Equal(got, want) || pages != 2 {
			t.Errorf("repositories = %q in %d pages, want %q in 2", got, pages, want)
		}
	})

	t.Run("ListTags", func(t *testing.T) {
		for _, tc := range []struct {
			order *azcontainerregistry.ArtifactTagOrderBy
			want  []string
		}{
			{nil, slices.Sorted(slices.Values(tags))},
			{to.Ptr(azcontainerregistry.ArtifactTagOrderByNone), slices.Sorted(slices.Values(tags))},
			{to.Ptr(azcontainerregistry.ArtifactTagOrderByLastUpdatedOnAscending), tags},
			{to.Ptr(azcontainerregistry.ArtifactTagOrderByLastUpdatedOnDescending), reversed(tags)},
		} {
			var got []string
			pager := c.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](2), OrderBy: tc.order})
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if *page.Repository != repo || *page.RegistryLoginServer != srv.Host {
					t.Errorf("page of %q on %q", *page.Repository, *page.RegistryLoginServer)
				}
				for _, tag := range page.Tags {
					got = append(got, *tag.Name)
					if tag.CreatedOn == nil || tag.LastUpdatedOn == nil || tag.CreatedOn.IsZero() || *tag.ChangeableAttributes.CanDelete != true {
						t.Errorf("tag %+v", tag)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("tags (orderby %v) = %q, want %q", deref(tc.order), got, tc.want)
			}
		}
		// The digest filter: the tags of b.
		var got []string
		pager := c.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](1), Digest: to.Ptr(b.digest.String())})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range page.Tags {
				got = append(got, *tag.Name)
			}
		}
		if want := []string{"v1", "v2"}; !slices.Equal(got, want) {
			t.Errorf("tags of b = %q, want %q", got, want)
		}
	})

	t.Run("ListManifests", func(t *testing.T) {
		got := map[string]*azcontainerregistry.ManifestAttributes{}
		var order []string
		pager := c.NewListManifestsPager(repo, &azcontainerregistry.ClientListManifestsOptions{MaxNum: to.Ptr[int32](1),
			OrderBy: to.Ptr(azcontainerregistry.ArtifactManifestOrderByLastUpdatedOnDescending)})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Attributes {
				got[*m.Digest] = m
				order = append(order, *m.Digest)
			}
		}
		// Every tag push updates its manifest too: a was pushed last of the two.
		if want := []string{idx.digest.String(), a.digest.String(), b.digest.String()}; !slices.Equal(order, want) {
			t.Errorf("manifests newest first = %q, want %q", order, want)
		}
		ma := got[a.digest.String()]
		if ma == nil || *ma.Architecture != "amd64" || *ma.OperatingSystem != "linux" || *ma.Size != a.size+a.blobs ||
			*ma.MediaType != mtImage || *ma.ConfigMediaType != mtConfig {
			t.Errorf("manifest a = %+v", ma)
		}
		mi := got[idx.digest.String()]
		if mi == nil || len(mi.RelatedArtifacts) != 2 || len(mi.Tags) != 1 || *mi.Tags[0] != "multi" {
			t.Fatalf("index = %+v", mi)
		}
		for _, ref := range mi.RelatedArtifacts {
			want := map[string]string{a.digest.String(): "amd64", b.digest.String(): "arm64"}[*ref.Digest]
			if string(*ref.Architecture) != want || *ref.OperatingSystem != "linux" {
				t.Errorf("index reference %s: %s/%s, want linux/%s", *ref.Digest, *ref.OperatingSystem, *ref.Architecture, want)
			}
		}
	})

	t.Run("GetProperties", func(t *testing.T) {
		rp, err := c.GetRepositoryProperties(ctx, repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *rp.Name != repo || *rp.ManifestCount != 3 || *rp.TagCount != int32(len(tags)) || *rp.RegistryLoginServer != srv.Host ||
			!*rp.ChangeableAttributes.CanWrite || rp.LastUpdatedOn.Before(*rp.CreatedOn) {
			t.Errorf("repository properties %+v", rp.ContainerRepositoryProperties)
		}
		tp, err := c.GetTagProperties(ctx, repo, "v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if *tp.Tag.Name != "v1" || *tp.Tag.Digest != b.digest.String() {
			t.Errorf("tag properties %+v", tp.Tag)
		}
		mp, err := c.GetManifestProperties(ctx, repo, a.digest.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if *mp.Manifest.Digest != a.digest.String() || len(mp.Manifest.Tags) != 3 {
			t.Errorf("manifest properties %+v", mp.Manifest)
		}
		// GetManifest (/v2) resolves a tag to its digest.
		m, err := c.GetManifest(ctx, repo, "v3", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(mtImage)})
		if err != nil {
			t.Fatal(err)
		}
		m.ManifestData.Close()
		if *m.DockerContentDigest != a.digest.String() {
			t.Errorf("GetManifest digest %s, want %s", *m.DockerContentDigest, a.digest)
		}
	})

	t.Run("Update", func(t *testing.T) {
		tp, err := c.UpdateTagProperties(ctx, repo, "v2", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false), CanDelete: to.Ptr(false)}})
		if err != nil {
			t.Fatal(err)
		}
		if ca := tp.Tag.ChangeableAttributes; *ca.CanWrite || *ca.CanDelete || !*ca.CanRead || !*ca.CanList {
			t.Errorf("tag attributes after update: %+v", ca)
		}
		// The lock holds: untagging v2 is refused, with ACR's error.
		_, err = c.DeleteTag(ctx, repo, "v2", nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(err.Error(), "REGISTRY_DISALLOWED_OPERATION") {
			t.Errorf("DeleteTag of a locked tag: %v", err)
		}
		mp, err := c.UpdateManifestProperties(ctx, repo, a.digest.String(), &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
			Value: &azcontainerregistry.ManifestWriteableProperties{CanRead: to.Ptr(false)}})
		if err != nil {
			t.Fatal(err)
		}
		if ca := mp.Manifest.ChangeableAttributes; *ca.CanRead || !*ca.CanWrite {
			t.Errorf("manifest attributes after update: %+v", ca)
		}
		_, err = c.GetManifest(ctx, repo, a.digest.String(), nil)
		if !errors.As(err, &re) || re.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GetManifest of a read-locked manifest: %v", err)
		}
		rp, err := c.UpdateRepositoryProperties(ctx, repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
			Value: &azcontainerregistry.RepositoryWriteableProperties{CanList: to.Ptr(false)}})
		if err != nil {
			t.Fatal(err)
		}
		if ca := rp.ChangeableAttributes; *ca.CanList || !*ca.CanWrite {
			t.Errorf("repository attributes after update: %+v", ca)
		}
		// What reached the server: PATCH bodies with just the attributes given.
		ch.mu.Lock()
		defer ch.mu.Unlock()
		for _, want := range []string{
			`PATCH /acr/v1/sdk%2Flibrary%2Fhello-world/_tags/v2?api-version=2021-07-01 {"deleteEnabled":false,"writeEnabled":false}`,
			`PATCH /acr/v1/sdk%2Flibrary%2Fhello-world?api-version=2021-07-01 {"listEnabled":false}`,
		} {
			if !slices.Contains(ch.seen, want) {
				t.Errorf("the server did not see %s; it saw:\n%s", want, strings.Join(ch.seen, "\n"))
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		for _, p := range []string{"/_tags/v2", "/_manifests/" + a.digest.String()} {
			e.patch(t, "/acr/v1/"+repo+p, `{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true}`).want(t, http.StatusOK)
		}
		if _, err := c.DeleteTag(ctx, repo, "v2", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteTag(ctx, repo, "v2", nil); err != nil { // 404: the SDK takes it as done
			t.Errorf("DeleteTag again: %v", err)
		}
		if _, err := c.DeleteManifest(ctx, repo, idx.digest.String(), nil); err != nil {
			t.Fatal(err)
		}
		e.do(t, "GET", "/v2/"+repo+"/manifests/multi", nil).want(t, http.StatusNotFound)
		if _, err := c.DeleteRepository(ctx, repo, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetRepositoryProperties(ctx, repo, nil); err == nil {
			t.Error("GetRepositoryProperties after DeleteRepository succeeded")
		}
		if _, err := c.DeleteRepository(ctx, repo, nil); err != nil { // 404 again
			t.Errorf("DeleteRepository again: %v", err)
		}
	})
}

// TestAzureSDKWithoutChallenge documents what the SDK does against a server that asks for
// no credentials (this one, until the token service is in): its authentication policy
// sends every request first without a body, as a challenge probe, and returns whatever
// does not answer 401. GETs and DELETEs work; an update's PATCH reaches the server empty.
// The server refuses an empty PATCH (400 INVALID_REQUEST) rather than take it for an
// update that changes nothing, so the SDK reports the failure and nothing changes.
func TestAzureSDKWithoutChallenge(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	e := newEnv(t, srv)
	c := sdkClient(t, srv, srv.Transport())
	ctx := t.Context()
	repo := "sdk/anonymous"
	e.pushImage(t, repo, "v1", "amd64", "sdk anonymous")

	if _, err := c.GetTagProperties(ctx, repo, "v1", nil); err != nil {
		t.Errorf("GetTagProperties: %v", err)
	}
	_, err := c.UpdateTagProperties(ctx, repo, "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false)}})
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "INVALID_REQUEST") {
		t.Errorf("UpdateTagProperties without a challenge: %v; want 400 INVALID_REQUEST", err)
	}
	tp, err := c.GetTagProperties(ctx, repo, "v1", nil)
	if err != nil || !*tp.Tag.ChangeableAttributes.CanWrite {
		t.Errorf("tag after the refused update: %+v, %v", tp.Tag, err)
	}
	if _, err := c.DeleteTag(ctx, repo, "v1", nil); err != nil {
		t.Errorf("DeleteTag: %v", err)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
