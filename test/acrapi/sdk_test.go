package acrapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// acrAudience is the Entra audience of ACR's data plane: the Azure SDK asks the
// credential for acrAudience/.default and exchanges that token at /oauth2/exchange.
const acrAudience = "https://containerregistry.azure.net"

// bootstrap holds the fields of DATA/bootstrap.json the SDK tests use.
type bootstrap struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	RegistryName   string `json:"registryName"`
}

func readBootstrap(t *testing.T, srv *testserver.Server) bootstrap {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(srv.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	var boot bootstrap
	if err := json.Unmarshal(b, &boot); err != nil {
		t.Fatal(err)
	}
	return boot
}

// sdkRecorder records every request an Azure SDK client and its credential send, and
// what the server answered; it changes nothing.
type sdkRecorder struct {
	next http.RoundTripper

	mu   sync.Mutex
	seen []sdkExchange
}

// sdkExchange is one request: "METHOD uri body", its Authorization scheme and the answer.
type sdkExchange struct {
	request   string
	auth      string // "Basic", "Bearer" or ""
	status    int
	challenge string // WWW-Authenticate
}

func (r *sdkRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	x := sdkExchange{request: fmt.Sprintf("%s %s %s", req.Method, req.URL.RequestURI(), body)}
	x.auth, _, _ = strings.Cut(req.Header.Get("Authorization"), " ")
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		x.status, x.challenge = resp.StatusCode, resp.Header.Get("Www-Authenticate")
	}
	r.mu.Lock()
	r.seen = append(r.seen, x)
	r.mu.Unlock()
	return resp, err
}

// exchanges returns the recorded exchanges whose request starts with prefix.
func (r *sdkRecorder) exchanges(prefix string) []sdkExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sdkExchange
	for _, x := range r.seen {
		if strings.HasPrefix(x.request, prefix) {
			out = append(out, x)
		}
	}
	return out
}

func (r *sdkRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, x := range r.seen {
		req := x.request
		if f := strings.Fields(req); strings.Contains(f[1], "/oauth2") {
			req = f[0] + " " + f[1] // token requests carry secrets and tokens: not their bodies
		}
		fmt.Fprintf(&b, "  %s [%s] -> %d %s\n", req, x.auth, x.status, x.challenge)
	}
	return b.String()
}

// cloudConfig points Azure SDK clients at the server: it is the Entra authority, and the
// ACR client asks for tokens of acrAudience (as in the public cloud).
func cloudConfig(srv *testserver.Server) cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: srv.URL + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azcontainerregistry.ServiceName: {Audience: acrAudience},
			cloud.ResourceManager:           {Audience: "https://management.core.windows.net/", Endpoint: srv.URL},
		},
	}
}

// sdkOptions are the client options of every SDK client and credential here: the
// server's cloud, a transport trusting its CA through rec, and no retries (a failure
// should show at once).
func sdkOptions(srv *testserver.Server, rec *sdkRecorder) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloudConfig(srv),
		Transport: &http.Client{Transport: rec, Timeout: time.Minute},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// ownerCredential is an azidentity client-secret credential of the bootstrap owner,
// which signs in at the server's identity plane.
func ownerCredential(t *testing.T, srv *testserver.Server, rec *sdkRecorder) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(readBootstrap(t, srv).TenantID, srv.Username, srv.Password,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: sdkOptions(srv, rec), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// newRecorder returns a recorder over the server's transport that logs what it saw when
// the test fails.
func newRecorder(t *testing.T, srv *testserver.Server) *sdkRecorder {
	rec := &sdkRecorder{next: srv.Transport()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("requests of %s:\n%s", t.Name(), rec)
		}
	})
	return rec
}

// sdkClient returns an azcontainerregistry client of srv signed in with cred (nil: the
// SDK's anonymous access), through rec.
func sdkClient(t *testing.T, srv *testserver.Server, cred azcore.TokenCredential, rec *sdkRecorder) *azcontainerregistry.Client {
	t.Helper()
	c, err := azcontainerregistry.NewClient(srv.URL, cred, &azcontainerregistry.ClientOptions{ClientOptions: sdkOptions(srv, rec)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAzureSDK drives the server with the Azure SDK for Go signed in as the bootstrap
// owner with an azidentity client-secret credential, as an Azure user would: the SDK
// answers the registry's 401 challenge itself, with an Entra token from the server's
// identity plane exchanged at /oauth2/exchange for a refresh token, and that for access
// tokens at /oauth2/token. Then every call of the API: pagers, property reads, updates
// and deletes.
func TestAzureSDK(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	e := newEnv(t, srv)
	rec := newRecorder(t, srv)
	c := sdkClient(t, srv, ownerCredential(t, srv, rec), rec)
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
		// What reached the server with a token: PATCH bodies with just the attributes given.
		for _, want := range []string{
			`PATCH /acr/v1/sdk%2Flibrary%2Fhello-world/_tags/v2?api-version=2021-07-01 {"deleteEnabled":false,"writeEnabled":false}`,
			`PATCH /acr/v1/sdk%2Flibrary%2Fhello-world?api-version=2021-07-01 {"listEnabled":false}`,
		} {
			if !slices.ContainsFunc(rec.exchanges(want), func(x sdkExchange) bool { return x.auth == "Bearer" && x.status == http.StatusOK }) {
				t.Errorf("the server did not answer %s with a token 200", want)
			}
		}
	})

	t.Run("TokenFlow", func(t *testing.T) {
		checkSDKTokenFlow(t, rec, srv.Host)
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

// checkSDKTokenFlow checks the sign-in the SDK did on its own: an /acr/v1 request
// challenged with ACR's 401 (error="invalid_token"), the credential's client-credentials
// request to the identity plane, /oauth2/exchange and /oauth2/token answered 200, and the
// requests that followed carrying the access token.
func checkSDKTokenFlow(t *testing.T, rec *sdkRecorder, host string) {
	t.Helper()
	realm := `Bearer realm="https://` + host + `/oauth2/token",service="` + host + `",scope="`
	var challenged bool
	for _, x := range rec.exchanges("GET /acr/v1/") {
		if x.status == http.StatusUnauthorized && strings.HasPrefix(x.challenge, realm) && strings.HasSuffix(x.challenge, `",error="invalid_token"`) {
			challenged = true
			break
		}
	}
	if !challenged {
		t.Errorf("no /acr/v1 request was answered with ACR's challenge")
	}
	steps := []struct{ prefix, body string }{
		{"POST /" + readBootstrapTenant(t, rec) + "/oauth2/v2.0/token", "grant_type=client_credentials"},
		{"POST /oauth2/exchange", "grant_type=access_token"},
		{"POST /oauth2/token", "grant_type=refresh_token"},
	}
	for _, step := range steps {
		ok := slices.ContainsFunc(rec.exchanges(step.prefix), func(x sdkExchange) bool {
			return x.status == http.StatusOK && strings.Contains(x.request, step.body)
		})
		if !ok {
			t.Errorf("no %s with %s answered 200", step.prefix, step.body)
		}
	}
	if n := len(rec.exchanges("POST /oauth2/exchange")); n != 1 {
		t.Errorf("%d exchanges of an Entra token, want 1: the SDK caches the refresh token", n)
	}
	for _, x := range rec.exchanges("GET /acr/v1/") {
		if x.status == http.StatusOK && x.auth != "Bearer" {
			t.Errorf("%s answered 200 without a Bearer token", x.request)
		}
	}
}

// readBootstrapTenant finds the tenant the credential signed in to: the first path
// segment of its token request.
func readBootstrapTenant(t *testing.T, rec *sdkRecorder) string {
	t.Helper()
	for _, x := range rec.exchanges("POST /") {
		if path, _, _ := strings.Cut(strings.Fields(x.request)[1], "?"); strings.HasSuffix(path, "/oauth2/v2.0/token") {
			return strings.Split(path, "/")[1]
		}
	}
	t.Errorf("the credential made no token request to the identity plane")
	return "<tenant>"
}

// TestAzureSDKAnonymous drives the SDK without a credential, as its anonymous access
// does: it answers every challenge with POST /oauth2/token grant_type=password and no
// username, which yields an anonymous access token. Against a registry without anonymous
// pull that token grants nothing, so every call is refused with 401. Once the owner
// enables anonymousPullEnabled through ARM (the management plane, signed in with
// azidentity), the anonymous client may pull a manifest, but still neither read nor
// change metadata (/acr/v1), nor delete: ACR lets anonymous callers pull and nothing else.
func TestAzureSDKAnonymous(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	e := newEnv(t, srv)
	rec := newRecorder(t, srv)
	anon := sdkClient(t, srv, nil, rec)
	ctx := t.Context()
	repo := "sdk/anonymous"
	m := e.pushImage(t, repo, "v1", "amd64", "sdk anonymous")

	refused := func(what string, err error) {
		t.Helper()
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v; want 401", what, err)
		}
	}
	getManifest := func() (*azcontainerregistry.ClientGetManifestResponse, error) {
		r, err := anon.GetManifest(ctx, repo, "v1", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(mtImage)})
		if err == nil {
			r.ManifestData.Close()
		}
		return &r, err
	}

	_, err := getManifest()
	refused("GetManifest before anonymous pull is enabled", err)
	_, err = anon.GetTagProperties(ctx, repo, "v1", nil)
	refused("GetTagProperties before anonymous pull is enabled", err)
	// The anonymous branch of the SDK's token request is what the server was asked.
	anonTokens := rec.exchanges("POST /oauth2/token")
	if len(anonTokens) == 0 || !slices.ContainsFunc(anonTokens, func(x sdkExchange) bool {
		return x.status == http.StatusOK && strings.Contains(x.request, "grant_type=password") && !strings.Contains(x.request, "username=")
	}) {
		t.Errorf("no anonymous token request (grant_type=password without a username) answered 200")
	}

	enableAnonymousPull(t, srv, rec)

	r, err := getManifest()
	if err != nil {
		t.Fatalf("GetManifest with anonymous pull enabled: %v", err)
	}
	if *r.DockerContentDigest != m.digest.String() {
		t.Errorf("GetManifest digest %s, want %s", *r.DockerContentDigest, m.digest)
	}
	_, err = anon.GetTagProperties(ctx, repo, "v1", nil)
	refused("GetTagProperties (metadata_read) with anonymous pull enabled", err)
	_, err = anon.UpdateTagProperties(ctx, repo, "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false)}})
	refused("UpdateTagProperties with anonymous pull enabled", err)
	_, err = anon.DeleteTag(ctx, repo, "v1", nil)
	refused("DeleteTag with anonymous pull enabled", err)
	_, err = anon.NewListRepositoriesPager(nil).NextPage(ctx)
	refused("ListRepositories (the catalog) with anonymous pull enabled", err)

	// Nothing changed: the owner still sees the tag, writable.
	var tag struct {
		Tag struct {
			Digest               string
			ChangeableAttributes struct{ WriteEnabled bool }
		}
	}
	e.do(t, "GET", "/acr/v1/"+repo+"/_tags/v1", nil).want(t, http.StatusOK).decode(t, &tag)
	if tag.Tag.Digest != m.digest.String() || !tag.Tag.ChangeableAttributes.WriteEnabled {
		t.Errorf("tag after the refused calls: %+v", tag.Tag)
	}
}

// enableAnonymousPull sets anonymousPullEnabled on the server's registry with an ARM
// PATCH, signed in as the bootstrap owner with azidentity, as `az acr update
// --anonymous-pull-enabled` does. (armcontainerregistry's stable API version has no
// anonymousPullEnabled, so the request goes through the ARM pipeline as is.)
func enableAnonymousPull(t *testing.T, srv *testserver.Server, rec *sdkRecorder) {
	t.Helper()
	boot := readBootstrap(t, srv)
	client, err := arm.NewClient("cerulean-acrapi-test", "v1.0.0", ownerCredential(t, srv, rec),
		&arm.ClientOptions{ClientOptions: sdkOptions(srv, rec)})
	if err != nil {
		t.Fatal(err)
	}
	id := "/subscriptions/" + boot.SubscriptionID + "/resourceGroups/" + boot.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + boot.RegistryName
	req, err := runtime.NewRequest(t.Context(), http.MethodPatch, srv.URL+id+"?api-version=2025-11-01")
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.MarshalAsJSON(req, map[string]any{"properties": map[string]any{"anonymousPullEnabled": true}}); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		t.Fatalf("PATCH %s: %v", id, err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		Properties struct {
			AnonymousPullEnabled bool `json:"anonymousPullEnabled"`
		} `json:"properties"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &reg) != nil || !reg.Properties.AnonymousPullEnabled {
		t.Fatalf("PATCH %s: %d %s", id, resp.StatusCode, body)
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
