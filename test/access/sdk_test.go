package accessmatrix

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// acrAudience is the audience the Azure SDK for Go asks Entra for (acr-protocol.md §1.2).
const acrAudience = "https://containerregistry.azure.net"

// sdkClient is an azcontainerregistry client of r signed in as a service principal
// through azidentity's ClientSecretCredential, the server being the authority (instance
// discovery off), with the ACR audience: the SDK trades the Entra token for an ACR
// refresh token at /oauth2/exchange and that for access tokens at /oauth2/token.
func sdkClient(t testing.TB, c *testcloud.Cloud, r *registry, sp testcloud.Principal) *azcontainerregistry.Client {
	t.Helper()
	transport := &http.Client{Transport: r.tr}
	authority := c.Srv.URL + "/"
	cred, err := azidentity.NewClientSecretCredential(c.Boot.TenantID, sp.ClientID, sp.Secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: authority}, Transport: transport},
		DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	client, err := azcontainerregistry.NewClient("https://"+r.host, cred, &azcontainerregistry.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: authority, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azcontainerregistry.ServiceName: {Audience: acrAudience}}},
		Transport: transport,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestAzureSDK drives the registry with the Azure SDK for Go (azcontainerregistry
// v0.2.3) as a service principal with Contributor: listing with paging, properties,
// deletes; and as one with AcrPull, whose changes and deletes are refused with nothing
// changed.
func TestAzureSDK(t *testing.T) {
	t.Parallel()
	c := testcloud.Start(t)
	ctx := t.Context()
	r := newRegistry(c, c.Boot.RegistryName, c.Srv.Host, owner(c))
	contributor, puller := c.NewPrincipal(t, "sdk-contributor"), c.NewPrincipal(t, "sdk-puller")
	c.Assign(t, c.RegistryID(r.name), access.RoleContributor, contributor.ObjectID, "")
	c.Assign(t, c.RegistryID(r.name), access.RoleAcrPull, puller.ObjectID, "")

	repos := []string{"sdk/a", "sdk/app", "sdk/b", "sdk/c", "sdk/gone"}
	tags := []string{"t1", "t2", "t3", "t4", "t5"}
	manifests := map[string]digest.Digest{}
	for _, repo := range repos {
		for _, tag := range tags {
			d, err := r.seeder.pushImage(t, repo, tag, newImage(t))
			if err != nil {
				t.Fatalf("seed %s:%s: %v", repo, tag, err)
			}
			manifests[repo+":"+tag] = d
		}
	}
	rw, ro := sdkClient(t, c, r, contributor), sdkClient(t, c, r, puller)
	page := &azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](2)}

	t.Run("list repositories, tags and manifests by pages of two", func(t *testing.T) {
		var got []string
		pages := 0
		for pager := rw.NewListRepositoriesPager(page); pager.More(); pages++ {
			p, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range p.Names {
				got = append(got, *n)
			}
		}
		if !slices.Equal(got, repos) || pages != 3 {
			t.Errorf("repositories %q in %d pages, want %q in 3", got, pages, repos)
		}
		got, pages = nil, 0
		for pager := rw.NewListTagsPager("sdk/app", &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](2)}); pager.More(); pages++ {
			p, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range p.Tags {
				got = append(got, *tag.Name)
			}
		}
		if !slices.Equal(got, tags) || pages != 3 {
			t.Errorf("tags %q in %d pages, want %q in 3", got, pages, tags)
		}
		var digests []string
		pages = 0
		for pager := rw.NewListManifestsPager("sdk/app", &azcontainerregistry.ClientListManifestsOptions{MaxNum: to.Ptr[int32](2)}); pager.More(); pages++ {
			p, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range p.Attributes {
				digests = append(digests, *m.Digest)
			}
		}
		if len(digests) != len(tags) || pages != 3 {
			t.Errorf("%d manifests in %d pages, want %d in 3", len(digests), pages, len(tags))
		}
		for _, tag := range tags {
			if !slices.Contains(digests, manifests["sdk/app:"+tag].String()) {
				t.Errorf("manifests %q lack that of %s", digests, tag)
			}
		}
	})

	t.Run("get and update properties", func(t *testing.T) {
		repo, err := rw.GetRepositoryProperties(ctx, "sdk/app", nil)
		if err != nil || *repo.Name != "sdk/app" || *repo.TagCount != int32(len(tags)) {
			t.Fatalf("GetRepositoryProperties = %+v, %v", repo.ContainerRepositoryProperties, err)
		}
		off := &azcontainerregistry.TagWriteableProperties{CanList: to.Ptr(false)}
		if _, err := rw.UpdateTagProperties(ctx, "sdk/app", "t1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{Value: off}); err != nil {
			t.Fatal(err)
		}
		tag, err := rw.GetTagProperties(ctx, "sdk/app", "t1", nil)
		if err != nil || *tag.Tag.ChangeableAttributes.CanList || !*tag.Tag.ChangeableAttributes.CanDelete {
			t.Errorf("after UpdateTagProperties(canList=false): %+v, %v", tag.Tag, err)
		}
		d := manifests["sdk/app:t2"].String()
		if _, err := rw.UpdateManifestProperties(ctx, "sdk/app", d, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
			Value: &azcontainerregistry.ManifestWriteableProperties{CanRead: to.Ptr(true), CanWrite: to.Ptr(false)}}); err != nil {
			t.Fatal(err)
		}
		m, err := rw.GetManifestProperties(ctx, "sdk/app", d, nil)
		if err != nil || *m.Manifest.ChangeableAttributes.CanWrite {
			t.Errorf("after UpdateManifestProperties(canWrite=false): %+v, %v", m.Manifest, err)
		}
		if _, err := rw.UpdateRepositoryProperties(ctx, "sdk/c", &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
			Value: &azcontainerregistry.RepositoryWriteableProperties{CanList: to.Ptr(false)}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("delete a tag, a manifest and a repository", func(t *testing.T) {
		if _, err := rw.DeleteTag(ctx, "sdk/a", "t1", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := rw.DeleteManifest(ctx, "sdk/b", manifests["sdk/b:t1"].String(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := rw.DeleteRepository(ctx, "sdk/gone", nil); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []struct{ repo, ref string }{{"sdk/a", "t1"}, {"sdk/b", manifests["sdk/b:t1"].String()}, {"sdk/gone", "t5"}} {
			if r.seeder.exists(t, gone.repo, gone.ref) {
				t.Errorf("%s %s still exists", gone.repo, gone.ref)
			}
		}
		if !r.seeder.exists(t, "sdk/a", manifests["sdk/a:t1"].String()) {
			t.Error("deleting tag t1 of sdk/a deleted its manifest too")
		}
	})

	t.Run("AcrPull reads but may not change or delete", func(t *testing.T) {
		var got []string
		for pager := ro.NewListRepositoriesPager(page); pager.More(); {
			p, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range p.Names {
				got = append(got, *n)
			}
		}
		if !slices.Contains(got, "sdk/app") {
			t.Errorf("AcrPull lists %q", got)
		}
		if _, err := ro.GetTagProperties(ctx, "sdk/app", "t3", nil); err != nil {
			t.Errorf("AcrPull GetTagProperties: %v", err)
		}
		d3 := manifests["sdk/app:t3"].String()
		for _, op := range []struct {
			name string
			call func() error
		}{
			{"UpdateTagProperties", func() error {
				_, err := ro.UpdateTagProperties(ctx, "sdk/app", "t3", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
					Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(false)}})
				return err
			}},
			{"UpdateManifestProperties", func() error {
				_, err := ro.UpdateManifestProperties(ctx, "sdk/app", d3, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
					Value: &azcontainerregistry.ManifestWriteableProperties{CanDelete: to.Ptr(false)}})
				return err
			}},
			{"UpdateRepositoryProperties", func() error {
				_, err := ro.UpdateRepositoryProperties(ctx, "sdk/app", &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
					Value: &azcontainerregistry.RepositoryWriteableProperties{CanDelete: to.Ptr(false)}})
				return err
			}},
			{"DeleteTag", func() error { _, err := ro.DeleteTag(ctx, "sdk/app", "t3", nil); return err }},
			{"DeleteManifest", func() error { _, err := ro.DeleteManifest(ctx, "sdk/app", d3, nil); return err }},
			{"DeleteRepository", func() error { _, err := ro.DeleteRepository(ctx, "sdk/app", nil); return err }},
		} {
			var re *azcore.ResponseError
			if err := op.call(); !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden {
				t.Errorf("AcrPull %s: %v, want 401 or 403", op.name, err)
			}
		}
		tag, err := rw.GetTagProperties(ctx, "sdk/app", "t3", nil)
		if err != nil || !*tag.Tag.ChangeableAttributes.CanDelete {
			t.Errorf("tag t3 after AcrPull's refused update: %+v, %v", tag.Tag, err)
		}
		m, err := rw.GetManifestProperties(ctx, "sdk/app", d3, nil)
		if err != nil || !*m.Manifest.ChangeableAttributes.CanDelete {
			t.Errorf("manifest of t3 after AcrPull's refused update: %+v, %v", m.Manifest, err)
		}
		if !r.seeder.exists(t, "sdk/app", "t3") || !r.seeder.exists(t, "sdk/app", d3) {
			t.Error("AcrPull's refused deletes removed something")
		}
	})
}
