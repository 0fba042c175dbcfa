package accessmatrix

import (
	"net/http"
	"os"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// acrScope is what clients ask Entra for to reach a registry.
const acrScope = "https://containerregistry.azure.net/.default"

// teamOnlyCondition limits a Repository Reader assignment to repositories under team/,
// in the form of ACR's ABAC documentation.
const teamOnlyCondition = `(
 (
  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})
  AND
  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})
 )
 OR
 (
  @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team/'
 )
)`

// world is the matrix server: its three registries, each seeded with seed/app:v1 and
// team/app:v1, and every credential of the matrix, set up through the management plane
// (ARM) and the identity plane (Graph, IMDS) as a user would.
type world struct {
	cloud      *testcloud.Cloud
	registries map[string]*registry
	creds      map[string]credential // by registry + "/" + who
}

// credential returns the credential named who in the matrix for a registry.
func (w *world) credential(t testing.TB, registry, who string) credential {
	t.Helper()
	if who == "anonymous" {
		return credential{}
	}
	c, ok := w.creds[registry+"/"+who]
	if !ok {
		t.Fatalf("no credential %q for the %s registry", who, registry)
	}
	return c
}

func newWorld(t *testing.T) *world {
	t.Helper()
	c := testcloud.StartWithIMDS(t, "edge1")
	w := &world{cloud: c, registries: map[string]*registry{}, creds: map[string]credential{}}

	// Registry settings first: changing them revokes what was issued under the old ones.
	legacyName, anonName, abacName := c.Boot.RegistryName, "anonpull1", "abacrepos1"
	c.UpdateRegistry(t, legacyName, map[string]any{"adminUserEnabled": true})
	anonHost := c.CreateRegistry(t, anonName, "Standard", map[string]any{"anonymousPullEnabled": true})
	abacHost := c.CreateRegistry(t, abacName, "Premium", map[string]any{"adminUserEnabled": true,
		"roleAssignmentMode": string(access.AbacRepositoryPermissions)})
	legacyAdmin, abacAdmin := adminCredentials(t, c, legacyName), adminCredentials(t, c, abacName)

	for kind, r := range map[string]*registry{
		// The bootstrap owner is Owner of the subscription: every right in a legacy-mode
		// registry, none in an ABAC-mode one, where the admin user keeps them all.
		legacy: newRegistry(c, legacyName, c.Srv.Host, owner(c)),
		anon:   newRegistry(c, anonName, anonHost, owner(c)),
		abac:   newRegistry(c, abacName, abacHost, abacAdmin[0]),
	} {
		for _, repo := range []string{"seed/app", "team/app"} {
			if _, err := r.seeder.pushImage(t, repo, "v1", newImage(t)); err != nil {
				t.Fatalf("seed %s/%s:v1: %v", r.host, repo, err)
			}
		}
		w.registries[kind] = r
	}

	w.creds[legacy+"/admin user (password)"] = legacyAdmin[0]
	w.creds[legacy+"/admin user (password2)"] = legacyAdmin[1]
	w.creds[abac+"/admin user (password)"] = abacAdmin[0]

	for _, m := range access.SystemScopeMaps() {
		w.creds[legacy+"/token on "+m.Name] = newToken(t, c, legacyName, "tok"+slug(m.Name), m.Name)
	}
	newScopeMap(t, c, legacyName, "teamapp", "repositories/team/app/content/read",
		"repositories/team/app/content/write", "repositories/team/app/metadata/read")
	team := newToken(t, c, legacyName, "teamtoken", "teamapp")
	w.creds[legacy+"/token on team/app map, in team/app"] = team
	w.creds[legacy+"/token on team/app map, elsewhere"] = team

	legacyID, abacID := c.RegistryID(legacyName), c.RegistryID(abacName)
	for _, a := range []struct {
		registry, who, role, scope, condition string
	}{
		{legacy, "service principal with AcrPull", access.RoleAcrPull, legacyID, ""},
		{legacy, "service principal with AcrPush", access.RoleAcrPush, legacyID, ""},
		{legacy, "service principal with AcrDelete", access.RoleAcrDelete, legacyID, ""},
		{legacy, "service principal with Reader", access.RoleReader, legacyID, ""},
		{legacy, "service principal with Contributor", access.RoleContributor, legacyID, ""},
		{legacy, "service principal with Owner", access.RoleOwner, legacyID, ""},
		{legacy, "service principal with AcrPull on the resource group", access.RoleAcrPull, c.ResourceGroupID(), ""},
		{abac, "service principal with AcrPull", access.RoleAcrPull, abacID, ""},
		{abac, "service principal with AcrPush", access.RoleAcrPush, abacID, ""},
		{abac, "service principal with Owner", access.RoleOwner, abacID, ""},
		{abac, "Repository Reader if the name starts with team/", access.RoleRepositoryReader, abacID, teamOnlyCondition},
		{abac, "Repository Contributor", access.RoleRepositoryContributor, abacID, ""},
		{abac, "Repository Catalog Lister", access.RoleRepositoryCatalogLister, abacID, ""},
	} {
		sp := c.NewPrincipal(t, a.registry+"-"+slug(a.who))
		c.Assign(t, a.scope, a.role, sp.ObjectID, a.condition)
		w.creds[a.registry+"/"+a.who] = credential{user: sp.ClientID, password: sp.Secret}
	}

	w.creds[legacy+"/managed identity with AcrPush (IMDS, /oauth2/exchange)"] = credential{
		identityToken: managedIdentityRefreshToken(t, c, w.registries[legacy], access.RoleAcrPush)}
	return w
}

// owner is the bootstrap owner's client id and secret as Basic credentials.
func owner(c *testcloud.Cloud) credential {
	return credential{user: c.Boot.ClientID, password: c.Boot.ClientSecret}
}

// newRegistry describes a registry of c whose seeder presents seeder.
func newRegistry(c *testcloud.Cloud, name, host string, seeder credential) *registry {
	r := &registry{name: name, host: host, tr: c.Transport()}
	r.seeder = newGGCR(r, seeder)
	return r
}

// adminCredentials reads a registry's admin user and its two passwords (listCredentials).
func adminCredentials(t testing.TB, c *testcloud.Cloud, registry string) [2]credential {
	t.Helper()
	res, err := c.ACR(t, c.Owner).NewRegistriesClient().ListCredentials(t.Context(), c.Boot.ResourceGroup, registry, nil)
	if err != nil || res.Username == nil || len(res.Passwords) != 2 {
		t.Fatalf("listCredentials %s: %+v, %v", registry, res, err)
	}
	var out [2]credential
	for i, p := range res.Passwords {
		out[i] = credential{user: *res.Username, password: *p.Value}
	}
	return out
}

// newScopeMap creates a scope map with actions.
func newScopeMap(t testing.TB, c *testcloud.Cloud, registry, name string, actions ...string) {
	t.Helper()
	p, err := c.ACR(t, c.Owner).NewScopeMapsClient().BeginCreate(t.Context(), c.Boot.ResourceGroup, registry, name,
		armcontainerregistry.ScopeMap{Properties: &armcontainerregistry.ScopeMapProperties{Actions: to.SliceOfPtrs(actions...)}}, nil)
	if err == nil {
		_, err = p.PollUntilDone(t.Context(), nil)
	}
	if err != nil {
		t.Fatalf("create scope map %s: %v", name, err)
	}
}

// newToken creates a repository-scoped token on a scope map with its password1 and
// returns its credential.
func newToken(t testing.TB, c *testcloud.Cloud, registry, name, scopeMap string) credential {
	t.Helper()
	password := testcloud.CreateToken(t, c.ACR(t, c.Owner).NewTokensClient(), c.Boot.ResourceGroup, registry, name,
		c.RegistryID(registry)+"/scopeMaps/"+scopeMap)
	return credential{user: name, password: password}
}

// managedIdentityRefreshToken creates a user-assigned managed identity attached to the
// IMDS listener's host, gives it role on the registry, signs it in to Entra through IMDS
// with azidentity, and trades its Entra token for an ACR refresh token at
// /oauth2/exchange with the Azure SDK's authentication client.
func managedIdentityRefreshToken(t testing.TB, c *testcloud.Cloud, r *registry, role string) string {
	t.Helper()
	for _, v := range []string{"IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT"} {
		if os.Getenv(v) != "" {
			t.Fatalf("%s is set: azidentity would not use IMDS", v)
		}
	}
	ctx := t.Context()
	mi, err := c.Graph.CreateManagedIdentity(ctx, "matrix-identity")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Graph.CreateIdentityHost(ctx, "edge1", []string{mi.ClientID}); err != nil {
		t.Fatal(err)
	}
	c.Assign(t, c.RegistryID(r.name), role, mi.PrincipalID, "")
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: c.IMDSTransport()}},
		ID:            azidentity.ClientID(mi.ClientID)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrScope}})
	if err != nil {
		t.Fatalf("managed identity token from IMDS: %v", err)
	}
	return exchange(t, r, tok.Token)
}

// exchange trades an Entra access token for an ACR refresh token of r.
func exchange(t testing.TB, r *registry, entraToken string) string {
	t.Helper()
	ac, err := azcontainerregistry.NewAuthenticationClient("https://"+r.host, &azcontainerregistry.AuthenticationClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: r.tr}, Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ac.ExchangeAADAccessTokenForACRRefreshToken(t.Context(), azcontainerregistry.PostContentSchemaGrantTypeAccessToken, r.host,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &entraToken})
	if err != nil || res.RefreshToken == nil {
		t.Fatalf("/oauth2/exchange: %v", err)
	}
	return *res.RefreshToken
}
