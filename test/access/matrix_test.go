package accessmatrix

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// verdict is a cell's expected answer.
type verdict bool

// The two answers a cell can have.
const (
	Y verdict = true  // allowed: the operation succeeds
	N verdict = false // refused: 401 or 403 from the registry, nothing changed
)

// Registries of the matrix server (see newWorld).
const (
	legacy = "legacy" // the bootstrap registry: Premium, LegacyRegistryPermissions, anonymous pull off
	anon   = "anon"   // Standard, anonymousPullEnabled
	abac   = "abac"   // Premium, roleAssignmentMode AbacRepositoryPermissions
)

// row is one credential kind: the answer ACR's documentation gives for each operation
// when it presents its credential, the repository its operations target (seeded with tag
// v1 in every registry), who it is (as newWorld names the credential), and the clients
// that run its cells besides go-containerregistry ("regclient", "skopeo").
type row struct {
	push, pull, delete, catalog, tags verdict

	repo string
	who  string
	also string
}

// matrix is what each kind of credential may do, derived from package access's
// documented decisions (access.Decide), which follow ACR's documentation:
//   - the admin user may do everything, catalog included, in either permission mode;
//   - a repository-scoped token may do what its scope map's actions add up to on the
//     repository (content/read: pull and tag list; content/write: push; content/delete:
//     delete), and never list the catalog;
//   - in a legacy-mode registry, AcrPull and Reader (*/read) carry pull, tag list and
//     the catalog (pull/read); AcrPush, Contributor and Owner add push; AcrDelete carries
//     delete only; Contributor and Owner delete too; a role assigned on the resource
//     group reaches the registry as one on the registry does;
//   - in an ABAC-mode registry the legacy roles grant nothing; Container Registry
//     Repository Reader gives pull and tag list where its condition holds, Repository
//     Contributor also push and delete, neither the catalog; Catalog Lister only the
//     catalog;
//   - anonymous callers may pull (and list tags, which is a pull) only where anonymous
//     pull is on, and nothing else.
//
// Columns: push, pull, delete (a manifest by digest), catalog (GET /v2/_catalog), tag
// list (GET /v2/<name>/tags/list, which needs pull).
var matrix = []struct {
	registry string
	rows     []row
}{
	{legacy, []row{
		// push pull delete catalog tags
		{Y, Y, Y, Y, Y, "seed/app", "admin user (password)", "regclient skopeo"},
		{Y, Y, Y, Y, Y, "seed/app", "admin user (password2)", ""},
		{N, Y, N, N, Y, "seed/app", "token on _repositories_pull", "regclient skopeo"},
		{N, Y, N, N, Y, "seed/app", "token on _repositories_pull_metadata_read", ""},
		{Y, Y, N, N, Y, "seed/app", "token on _repositories_push", "regclient"},
		{Y, Y, N, N, Y, "seed/app", "token on _repositories_push_metadata_write", ""},
		{Y, Y, Y, N, Y, "seed/app", "token on _repositories_admin", "skopeo"},
		{Y, Y, N, N, Y, "team/app", "token on team/app map, in team/app", "regclient skopeo"},
		{N, N, N, N, N, "seed/app", "token on team/app map, elsewhere", "regclient skopeo"},
		{N, Y, N, Y, Y, "seed/app", "service principal with AcrPull", "regclient"},
		{Y, Y, N, Y, Y, "seed/app", "service principal with AcrPush", "regclient skopeo"},
		{N, N, Y, N, N, "seed/app", "service principal with AcrDelete", "regclient"}, // skopeo reads a manifest before deleting it
		{N, Y, N, Y, Y, "seed/app", "service principal with Reader", ""},
		{Y, Y, Y, Y, Y, "seed/app", "service principal with Contributor", ""},
		{Y, Y, Y, Y, Y, "seed/app", "service principal with Owner", ""},
		{N, Y, N, Y, Y, "seed/app", "service principal with AcrPull on the resource group", ""},
		{Y, Y, N, Y, Y, "seed/app", "managed identity with AcrPush (IMDS, /oauth2/exchange)", ""},
		{N, N, N, N, N, "seed/app", "anonymous", "regclient skopeo"},
	}},
	{anon, []row{ // anonymousPullEnabled; skopeo cannot resolve its login server
		{N, Y, N, N, Y, "seed/app", "anonymous", "regclient"},
	}},
	{abac, []row{ // roleAssignmentMode AbacRepositoryPermissions
		{Y, Y, Y, Y, Y, "seed/app", "admin user (password)", ""},
		{N, N, N, N, N, "seed/app", "service principal with AcrPull", ""},
		{N, N, N, N, N, "seed/app", "service principal with AcrPush", ""},
		{N, N, N, N, N, "seed/app", "service principal with Owner", ""},
		{N, Y, N, N, Y, "team/app", "Repository Reader if the name starts with team/", ""},
		{N, N, N, N, N, "seed/app", "Repository Reader if the name starts with team/", ""},
		{Y, Y, Y, N, Y, "seed/app", "Repository Contributor", ""},
		{N, N, N, Y, N, "seed/app", "Repository Catalog Lister", ""},
	}},
}

// TestCredentialMatrix runs every cell of the matrix with go-containerregistry, and the
// rows that say so with regclient and skopeo too.
func TestCredentialMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, group := range matrix {
		reg := w.registries[group.registry]
		for i, r := range group.rows {
			for _, tool := range append([]string{"ggcr"}, strings.Fields(r.also)...) {
				name := fmt.Sprintf("%s/%s, in %s/%s", group.registry, r.who, strings.ReplaceAll(r.repo, "/", "-"), tool)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					cred := w.credential(t, group.registry, r.who)
					var c client
					switch tool {
					case "ggcr":
						c = newGGCR(reg, cred)
					case "regclient":
						c = newRegclient(t, reg, cred)
					case "skopeo":
						c = newSkopeo(t, reg, cred, w.cloud.Srv.CAFile)
					default:
						t.Fatalf("unknown client %q", tool)
					}
					runRow(t, reg, c, r, fmt.Sprintf("%s-%d-%s", group.registry, i, tool))
				})
			}
		}
	}
}

// runRow tries the five operations of a row with c. id makes the tags it pushes unique.
func runRow(t *testing.T, reg *registry, c client, r row, id string) {
	t.Run("push", func(t *testing.T) {
		tag := "push-" + id
		err := c.push(t, r.repo, tag)
		check(t, c, "push", r.push, err)
		if got := reg.seeder.exists(t, r.repo, tag); got != bool(r.push) {
			t.Errorf("after the push, %s:%s exists = %v, want %v", r.repo, tag, got, r.push)
		}
	})
	t.Run("pull", func(t *testing.T) {
		check(t, c, "pull", r.pull, c.pull(t, r.repo, "v1"))
	})
	t.Run("delete", func(t *testing.T) {
		d, err := reg.seeder.pushImage(t, r.repo, "delete-"+id, newImage(t))
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		check(t, c, "delete", r.delete, c.deleteManifest(t, r.repo, d))
		if got := reg.seeder.exists(t, r.repo, d.String()); got == bool(r.delete) {
			t.Errorf("after the delete, %s@%s exists = %v, want %v", r.repo, d, got, !r.delete)
		}
	})
	t.Run("catalog", func(t *testing.T) {
		repos, err := c.catalog(t)
		if errors.Is(err, errUnsupported) {
			t.Skip(err)
		}
		if check(t, c, "catalog", r.catalog, err) && !contains(repos, r.repo) {
			t.Errorf("catalog %q lacks %s", repos, r.repo)
		}
	})
	t.Run("tag list", func(t *testing.T) {
		tags, err := c.tags(t, r.repo)
		if check(t, c, "tag list", r.tags, err) && !contains(tags, "v1") {
			t.Errorf("tags of %s %q lack v1", r.repo, tags)
		}
	})
}

// check compares an operation's outcome with the verdict; it reports whether the
// operation was allowed as expected.
func check(t *testing.T, c client, op string, v verdict, err error) bool {
	t.Helper()
	want := bool(v)
	switch {
	case want && err != nil:
		t.Errorf("%s refused, want allowed: %v", op, err)
	case !want && err == nil:
		t.Errorf("%s allowed, want refused with 401 or 403", op)
	case !want:
		if why := c.refused(err); why != nil {
			t.Errorf("%s: want the registry's 401 or 403: %v", op, why)
		}
	}
	return want && err == nil
}

// slug makes a name usable in a token or principal name.
func slug(s string) string {
	return strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)
