package accessmatrix

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/internal/testcloud"
)

// TestAzureCLI drives `az acr` (Debian's azure-cli 2.45) against the registry: signed in
// as a service principal with Reader on the resource group, and with a repository-scoped
// token's username and password (-u/-p), which may read its repository's tags but, like
// every token, not list the catalog.
func TestAzureCLI(t *testing.T) {
	t.Parallel()
	testcloud.RequireAzureCLI(t)
	c := testcloud.Start(t)
	r := newRegistry(c, c.Boot.RegistryName, c.Srv.Host, owner(c))
	for _, ref := range []string{"team/app:v1", "team/app:v2", "other/app:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		if _, err := r.seeder.pushImage(t, repo, tag, newImage(t)); err != nil {
			t.Fatal(err)
		}
	}
	reader := c.NewPrincipal(t, "az-reader")
	c.Assign(t, c.ResourceGroupID(), access.RoleReader, reader.ObjectID, "")
	newScopeMap(t, c, r.name, "teamread", "repositories/team/app/content/read", "repositories/team/app/metadata/read")
	token := newToken(t, c, r.name, "teamreader", "teamread")

	az := testcloud.NewAzureCLI(t, c, ".localhost")
	az.Login(t, c, reader.ClientID, reader.Secret)
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		out, stderr, err := az.Run(t.Context(), args...)
		if err != nil {
			t.Fatalf("az %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
	wantTags := func(t *testing.T, out string) {
		t.Helper()
		var tags []struct{ Name, Digest string }
		if err := json.Unmarshal([]byte(out), &tags); err != nil || len(tags) != 2 || tags[0].Name != "v1" || tags[1].Name != "v2" ||
			!strings.HasPrefix(tags[0].Digest, "sha256:") {
			t.Errorf("show-tags --detail = %s (%v), want v1 and v2 with their digests", out, err)
		}
	}

	t.Run("service principal", func(t *testing.T) {
		var login struct{ LoginServer, AccessToken string }
		if out := run(t, "acr", "login", "-n", r.name, "--expose-token", "-o", "json"); json.Unmarshal([]byte(out), &login) != nil {
			t.Fatalf("acr login --expose-token printed %s", out)
		}
		if login.LoginServer != r.host {
			t.Errorf("loginServer %q, want %q", login.LoginServer, r.host)
		}
		// Despite its name, accessToken is the ACR refresh token from /oauth2/exchange.
		if _, claims := jwtParts(t, login.AccessToken); claims["grant_type"] != "refresh_token" || claims["aud"] != r.host ||
			claims["iss"] != "Azure Container Registry" {
			t.Errorf("accessToken claims %v, want an ACR refresh token for %s", claims, r.host)
		}
		if err := newGGCR(r, credential{identityToken: login.AccessToken}).pull(t, "team/app", "v1"); err != nil {
			t.Errorf("pull with the exposed token as docker's identity token: %v", err)
		}
		var repos []string
		if out := run(t, "acr", "repository", "list", "-n", r.name, "-o", "json"); json.Unmarshal([]byte(out), &repos) != nil ||
			!slices.Equal(repos, []string{"other/app", "team/app"}) {
			t.Errorf("repository list = %s, want other/app and team/app", out)
		}
		wantTags(t, run(t, "acr", "repository", "show-tags", "-n", r.name, "--repository", "team/app", "--detail", "-o", "json"))
	})

	t.Run("repository-scoped token", func(t *testing.T) {
		creds := []string{"-u", token.user, "-p", token.password}
		wantTags(t, run(t, append([]string{"acr", "repository", "show-tags", "-n", r.name, "--repository", "team/app", "--detail", "-o", "json"}, creds...)...))
		// Refused: outside the token's scope map (the signed-in principal could read it, so
		// this also shows that az used -u/-p), and the catalog, which no token may list.
		for _, args := range [][]string{
			{"acr", "repository", "show-tags", "-n", r.name, "--repository", "other/app", "-o", "json"},
			{"acr", "repository", "list", "-n", r.name, "-o", "json"},
		} {
			out, stderr, err := az.Run(t.Context(), append(args, creds...)...)
			if err == nil || !strings.Contains(stderr, "authentication required, visit https://aka.ms/acr/authorization for more information.") {
				t.Errorf("az %s with the token: %v\n%s\n%s\nwant the registry's refusal, as ACR words it", strings.Join(args, " "), err, out, stderr)
			}
		}
	})
}
