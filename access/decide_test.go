package access

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repos are the repositories every matrix case is asked about: a plain name, a prefix
// and its children at two depths, ABAC team prefixes, and the ABAC doc's exact name.
var repos = []string{"hello", "samples", "samples/x", "samples/x/y", "team1/app", "team2/app", "nginx"}

// allRepos maps every repository in repos to actions.
func allRepos(actions string) map[string]string {
	m := map[string]string{}
	for _, r := range repos {
		m[r] = actions
	}
	return m
}

// role returns a built-in role or fails the test.
func role(t *testing.T, name string) RoleDefinition {
	t.Helper()
	r, ok := BuiltInRole(name)
	if !ok {
		t.Fatalf("no built-in role %q", name)
	}
	return r
}

// cond parses a condition or fails the test.
func cond(t *testing.T, expr string) Condition {
	t.Helper()
	c, err := ParseCondition(expr)
	if err != nil {
		t.Fatalf("ParseCondition(%q): %v", expr, err)
	}
	return c
}

// tokenPrincipal builds a repository-token principal from scope-map actions.
func tokenPrincipal(t *testing.T, actions ...string) Principal {
	t.Helper()
	sm, err := ParseScopeMapActions(actions)
	if err != nil {
		t.Fatal(err)
	}
	return Principal{Kind: RepositoryToken, Name: "tok", ScopeMap: sm}
}

// entra builds an Entra principal holding each role without condition.
func entra(t *testing.T, roles ...string) Principal {
	t.Helper()
	p := Principal{Kind: Entra, TenantID: "t", ObjectID: "o"}
	for _, r := range roles {
		p.Assignments = append(p.Assignments, RoleAssignment{Role: role(t, r)})
	}
	return p
}

// withCondition builds an Entra principal holding one role under a condition.
func withCondition(t *testing.T, roleName, expr string) Principal {
	t.Helper()
	return Principal{Kind: Entra, Assignments: []RoleAssignment{{Role: role(t, roleName), Condition: cond(t, expr)}}}
}

// The ABAC doc's conditions (container-registry-rbac-abac-repository-permissions.md).
const (
	readActions = `(
 (
  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})
  AND
  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})
 )
 OR `
	docExact    = readActions + `(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'nginx'))`
	docPrefix   = readActions + `(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team1/'))`
	docPrefixUC = readActions + `(@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'TEAM1/'))`
	docTwo      = readActions + `(
  @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team1/'
  OR
  @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'samples/'
 ))`
	// contentOnly narrows only content/read; metadata stays registry-wide.
	contentOnly = `(!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR (@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team1/')`
	// anyRepoAction narrows every repository action to two prefixes.
	anyRepoAction = `!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/*'}) OR @Request[Microsoft.ContainerRegistry/registries/repositories:name] ForAnyOfAnyValues:StringStartsWithIgnoreCase {'samples/', 'team2/'}`
	// catalogNarrowed tries to narrow catalog/read by repository name.
	catalogNarrowed = `!(ActionMatches{'Microsoft.ContainerRegistry/registries/catalog/read'}) OR @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'hello'`
)

const (
	everything = "pull,push,delete,metadata_read,metadata_write"
	readMeta   = "pull,metadata_read"
	pushMeta   = "pull,push,metadata_read,metadata_write"
)

var (
	legacy   = RegistrySettings{}
	abac     = RegistrySettings{RoleAssignmentMode: AbacRepositoryPermissions}
	admin    = Principal{Kind: AdminUser, Name: "myregistry"}
	anon     = Principal{Kind: Anonymous}
	adminOn  = RegistrySettings{AdminUserEnabled: true}
	anonPull = RegistrySettings{AnonymousPullEnabled: true}
)

type matrixCase struct {
	name    string
	p       Principal
	reg     RegistrySettings
	want    map[string]string // repository → granted actions; absent = nothing
	catalog bool
}

// matrix covers every kind of principal, and for Entra every built-in role in both
// modes, against every repository in repos and the catalog.
func matrix(t *testing.T) []matrixCase {
	cases := []matrixCase{
		{name: "zero principal", p: Principal{}, reg: RegistrySettings{AdminUserEnabled: true, AnonymousPullEnabled: true}},
		{name: "unknown kind", p: Principal{Kind: "Bogus"}, reg: RegistrySettings{AdminUserEnabled: true, AnonymousPullEnabled: true}},
		{name: "anonymous, anonymous pull off", p: anon, reg: RegistrySettings{AdminUserEnabled: true}},
		{name: "anonymous, anonymous pull on", p: anon, reg: anonPull, want: allRepos("pull")},
		{name: "admin enabled", p: admin, reg: adminOn, want: allRepos(everything), catalog: true},
		{name: "admin enabled, ABAC registry", p: admin, reg: RegistrySettings{AdminUserEnabled: true, RoleAssignmentMode: AbacRepositoryPermissions}, want: allRepos(everything), catalog: true},
		{name: "admin disabled", p: admin, reg: anonPull},
		{name: "token, empty scope map", p: tokenPrincipal(t), reg: anonPull},
		{name: "token, exact repository", p: tokenPrincipal(t, "repositories/hello/content/read", "repositories/hello/metadata/read"), reg: legacy,
			want: map[string]string{"hello": readMeta}},
		{name: "token, root wildcard", p: tokenPrincipal(t, "repositories/*/content/write"), reg: legacy, want: allRepos("push")},
		{name: "token, prefix wildcards add up", p: tokenPrincipal(t,
			"repositories/samples/*/content/read",
			"repositories/samples/x/*/content/write",
			"repositories/samples/x/y/content/delete"), reg: legacy,
			want: map[string]string{"samples/x": "pull", "samples/x/y": "pull,push,delete"}},
		{name: "token in ABAC registry", p: tokenPrincipal(t, "repositories/nginx/metadata/write"), reg: abac,
			want: map[string]string{"nginx": "metadata_write"}},

		// Legacy mode: roles directory reference, "RBAC Registry Permissions" tab.
		{name: "legacy AcrPull", p: entra(t, "AcrPull"), reg: legacy, want: allRepos(readMeta), catalog: true},
		{name: "legacy AcrPush", p: entra(t, "AcrPush"), reg: legacy, want: allRepos(pushMeta), catalog: true},
		{name: "legacy AcrDelete", p: entra(t, "AcrDelete"), reg: legacy, want: allRepos("delete")},
		{name: "legacy AcrPull+AcrDelete add up", p: entra(t, "AcrPull", "AcrDelete"), reg: legacy,
			want: allRepos("pull,delete,metadata_read"), catalog: true},
		{name: "legacy AcrImageSigner", p: entra(t, "AcrImageSigner"), reg: legacy},
		{name: "legacy AcrQuarantineReader", p: entra(t, "AcrQuarantineReader"), reg: legacy},
		{name: "legacy AcrQuarantineWriter", p: entra(t, "AcrQuarantineWriter"), reg: legacy},
		{name: "legacy Reader", p: entra(t, "Reader"), reg: legacy, want: allRepos(readMeta), catalog: true},
		{name: "legacy Contributor", p: entra(t, "Contributor"), reg: legacy, want: allRepos(everything), catalog: true},
		{name: "legacy Owner", p: entra(t, "Owner"), reg: legacy, want: allRepos(everything), catalog: true},
		{name: "legacy User Access Administrator reads", p: entra(t, "User Access Administrator"), reg: legacy, want: allRepos(readMeta), catalog: true},
		{name: "legacy explicit mode", p: entra(t, "AcrPull"), reg: RegistrySettings{RoleAssignmentMode: LegacyRegistryPermissions}, want: allRepos(readMeta), catalog: true},
		{name: "legacy Repository Reader", p: entra(t, "Container Registry Repository Reader"), reg: legacy},
		{name: "legacy Repository Writer", p: entra(t, "Container Registry Repository Writer"), reg: legacy},
		{name: "legacy Repository Contributor", p: entra(t, "Container Registry Repository Contributor"), reg: legacy},
		{name: "legacy Catalog Lister", p: entra(t, "Container Registry Repository Catalog Lister"), reg: legacy},
		{name: "legacy AcrPull, repository condition does not narrow", p: withCondition(t, "AcrPull", docPrefix), reg: legacy,
			want: allRepos(readMeta), catalog: true},
		{name: "legacy AcrPull, condition on pull/read narrows", p: withCondition(t, "AcrPull",
			`!(ActionMatches{'Microsoft.ContainerRegistry/registries/pull/read'}) OR @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'hello'`),
			reg: legacy, want: map[string]string{"hello": readMeta}},
		{name: "legacy AcrPull, unparsable condition denies", p: Principal{Kind: Entra, Assignments: []RoleAssignment{{Role: role(t, "AcrPull"), Condition: Condition{invalid: true}}}}, reg: legacy},
		{name: "no assignments", p: Principal{Kind: Entra}, reg: legacy},
		{name: "zero role", p: Principal{Kind: Entra, Assignments: []RoleAssignment{{}}}, reg: legacy},
		{name: "unknown mode", p: entra(t, "Owner", "Container Registry Repository Contributor", "Container Registry Repository Catalog Lister"),
			reg: RegistrySettings{RoleAssignmentMode: "Whatever"}},

		// ABAC mode: ABAC doc, "Effect on existing role assignments"; roles directory.
		{name: "ABAC AcrPull", p: entra(t, "AcrPull"), reg: abac},
		{name: "ABAC AcrPush", p: entra(t, "AcrPush"), reg: abac},
		{name: "ABAC AcrDelete", p: entra(t, "AcrDelete"), reg: abac},
		{name: "ABAC AcrImageSigner", p: entra(t, "AcrImageSigner"), reg: abac},
		{name: "ABAC AcrQuarantineReader", p: entra(t, "AcrQuarantineReader"), reg: abac},
		{name: "ABAC AcrQuarantineWriter", p: entra(t, "AcrQuarantineWriter"), reg: abac},
		{name: "ABAC Reader", p: entra(t, "Reader"), reg: abac},
		{name: "ABAC Contributor", p: entra(t, "Contributor"), reg: abac},
		{name: "ABAC Owner", p: entra(t, "Owner"), reg: abac},
		{name: "ABAC User Access Administrator", p: entra(t, "User Access Administrator"), reg: abac},
		{name: "ABAC Repository Reader", p: entra(t, "Container Registry Repository Reader"), reg: abac, want: allRepos(readMeta)},
		{name: "ABAC Repository Writer", p: entra(t, "Container Registry Repository Writer"), reg: abac, want: allRepos(pushMeta)},
		{name: "ABAC Repository Contributor", p: entra(t, "Container Registry Repository Contributor"), reg: abac, want: allRepos(everything)},
		{name: "ABAC Catalog Lister", p: entra(t, "Container Registry Repository Catalog Lister"), reg: abac, catalog: true},
		{name: "ABAC Repository Reader + Catalog Lister", p: entra(t, "Container Registry Repository Reader", "Container Registry Repository Catalog Lister"), reg: abac,
			want: allRepos(readMeta), catalog: true},
		{name: "ABAC Reader, exact repository", p: withCondition(t, "Container Registry Repository Reader", docExact), reg: abac,
			want: map[string]string{"nginx": readMeta}},
		{name: "ABAC Reader, prefix", p: withCondition(t, "Container Registry Repository Reader", docPrefix), reg: abac,
			want: map[string]string{"team1/app": readMeta}},
		{name: "ABAC Reader, prefix ignoring case", p: withCondition(t, "Container Registry Repository Reader", docPrefixUC), reg: abac,
			want: map[string]string{"team1/app": readMeta}},
		{name: "ABAC Reader, two prefixes", p: withCondition(t, "Container Registry Repository Reader", docTwo), reg: abac,
			want: map[string]string{"team1/app": readMeta, "samples/x": readMeta, "samples/x/y": readMeta}},
		{name: "ABAC Reader, case-sensitive prefix misses", p: withCondition(t, "Container Registry Repository Reader",
			readActions+`(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'TEAM1/'))`), reg: abac},
		{name: "ABAC Reader, condition narrows content only", p: withCondition(t, "Container Registry Repository Reader", contentOnly), reg: abac,
			want: func() map[string]string {
				m := allRepos("metadata_read")
				m["team1/app"] = readMeta
				return m
			}()},
		{name: "ABAC Contributor, set of prefixes", p: withCondition(t, "Container Registry Repository Contributor", anyRepoAction), reg: abac,
			want: map[string]string{"samples/x": everything, "samples/x/y": everything, "team2/app": everything}},
		{name: "ABAC Catalog Lister, condition cannot narrow catalog to a repository", p: withCondition(t, "Container Registry Repository Catalog Lister", catalogNarrowed), reg: abac},
		{name: "ABAC Catalog Lister, repository condition leaves catalog", p: withCondition(t, "Container Registry Repository Catalog Lister", docPrefix), reg: abac, catalog: true},
		{name: "ABAC Reader, unparsable condition denies", p: Principal{Kind: Entra, Assignments: []RoleAssignment{{Role: role(t, "Container Registry Repository Reader"), Condition: Condition{invalid: true}}}}, reg: abac},
		{name: "ABAC condition naming only read actions leaves writes registry-wide", p: withCondition(t, "Container Registry Repository Contributor", docExact), reg: abac,
			want: func() map[string]string {
				m := allRepos("push,delete,metadata_write")
				m["nginx"] = everything
				return m
			}()},
		{name: "ABAC conditional + unconditional assignments add up", p: Principal{Kind: Entra, Assignments: []RoleAssignment{
			{Role: role(t, "Container Registry Repository Reader")},
			{Role: role(t, "Container Registry Repository Writer"), Condition: cond(t, anyRepoAction)},
		}}, reg: abac, want: func() map[string]string {
			m := allRepos(readMeta)
			for _, r := range []string{"samples/x", "samples/x/y", "team2/app"} {
				m[r] = pushMeta
			}
			return m
		}()},
		{name: "ABAC custom role with NotDataActions", p: Principal{Kind: Entra, Assignments: []RoleAssignment{{Role: RoleDefinition{
			DataActions:    []string{"Microsoft.ContainerRegistry/registries/repositories/*"},
			NotDataActions: []string{DataActionContentDelete},
		}}}}, reg: abac, want: allRepos(pushMeta)},
		{name: "ABAC metadata/delete alone grants nothing", p: Principal{Kind: Entra, Assignments: []RoleAssignment{{Role: RoleDefinition{
			DataActions: []string{DataActionMetadataDelete},
		}}}}, reg: abac},
	}
	for _, sm := range SystemScopeMaps() {
		want := map[string]string{
			"_repositories_admin":               everything,
			"_repositories_pull":                "pull",
			"_repositories_pull_metadata_read":  readMeta,
			"_repositories_push":                "pull,push",
			"_repositories_push_metadata_write": pushMeta,
		}[sm.Name]
		cases = append(cases, matrixCase{name: "token on " + sm.Name, p: tokenPrincipal(t, sm.Actions...), reg: RegistrySettings{AdminUserEnabled: true}, want: allRepos(want)})
	}
	return cases
}

func TestDecideMatrix(t *testing.T) {
	t.Parallel()
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, repo := range repos {
				for _, ask := range []string{everything, "*"} {
					req := Scope{Type: TypeRepository, Name: repo, Actions: actions(ask)}
					g := Decide(tc.p, tc.reg, []Scope{req})
					if len(g) > 1 {
						t.Fatalf("%s: granted %v for one scope", req, g)
					}
					if len(g) == 1 {
						got[repo+" asking "+ask] = joinActions(g[0].Actions)
					}
				}
				checkAllowed(t, tc, repo)
			}
			want := map[string]string{}
			for repo, a := range tc.want {
				if a != "" {
					want[repo+" asking "+everything] = a
					want[repo+" asking *"] = a
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("repository grants (-want +got):\n%s", d)
			}
			gotCatalog := len(Decide(tc.p, tc.reg, []Scope{CatalogScope()})) == 1
			if gotCatalog != tc.catalog {
				t.Errorf("catalog granted = %v, want %v", gotCatalog, tc.catalog)
			}
			if Allowed(tc.p, tc.reg, CatalogScope()) != tc.catalog {
				t.Errorf("Allowed(catalog) disagrees with Decide")
			}
		})
	}
}

// checkAllowed asks each action alone, through Decide and Allowed, and compares with the
// case's expectation.
func checkAllowed(t *testing.T, tc matrixCase, repo string) {
	t.Helper()
	for _, a := range repositoryActions {
		want := strings.Contains(","+tc.want[repo]+",", ","+string(a)+",")
		one := Scope{Type: TypeRepository, Name: repo, Actions: []Action{a}}
		if got := Allowed(tc.p, tc.reg, one); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", one, got, want)
		}
		g := Decide(tc.p, tc.reg, []Scope{one})
		if want && (len(g) != 1 || !cmp.Equal(g[0], one)) || !want && len(g) != 0 {
			t.Errorf("Decide(%s) = %v, want granted=%v", one, g, want)
		}
	}
}

// actions splits "pull,push" into actions.
func actions(s string) []Action {
	var out []Action
	for _, a := range strings.Split(s, ",") {
		out = append(out, Action(a))
	}
	return out
}

// joinActions joins actions with commas.
func joinActions(as []Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ",")
}

func TestDecideRequests(t *testing.T) {
	t.Parallel()
	repo := RepositoryScope
	pusher := Principal{Kind: Entra, Assignments: []RoleAssignment{{Role: RoleDefinition{Actions: []string{actionPullRead, actionPushWrite}}}}}
	for _, tc := range []struct {
		name string
		p    Principal
		reg  RegistrySettings
		req  []Scope
		want []Scope
	}{
		{name: "nothing asked", p: admin, reg: adminOn},
		{name: "never more than asked", p: admin, reg: adminOn,
			req: []Scope{repo("hello", Pull)}, want: []Scope{repo("hello", Pull)}},
		{name: "* expands to what is held", p: pusher, reg: legacy,
			req: []Scope{repo("hello", All)}, want: []Scope{repo("hello", Pull, Push, MetadataRead, MetadataWrite)}},
		{name: "* for anonymous is pull", p: anon, reg: anonPull,
			req: []Scope{repo("hello", All)}, want: []Scope{repo("hello", Pull)}},
		{name: "* with nothing held is left out", p: anon, reg: legacy, req: []Scope{repo("hello", All)}},
		{name: "anonymous never gets metadata, push or delete", p: anon, reg: anonPull,
			req: []Scope{repo("hello", Push, Delete, MetadataRead, MetadataWrite)}},
		{name: "intersection per resource, order kept", p: tokenPrincipal(t, "repositories/b/content/read", "repositories/a/content/write"), reg: legacy,
			req:  []Scope{repo("b", Pull, Push), repo("c", Pull), repo("a", Pull, Push)},
			want: []Scope{repo("b", Pull), repo("a", Push)}},
		{name: "duplicates merged", p: admin, reg: adminOn,
			req:  []Scope{repo("hello", Push), repo("hello", Pull), repo("hello", Push)},
			want: []Scope{repo("hello", Pull, Push)}},
		{name: "unknown actions ignored", p: admin, reg: adminOn,
			req: []Scope{repo("hello", "bogus", Pull)}, want: []Scope{repo("hello", Pull)}},
		{name: "wildcard repository name never matches", p: admin, reg: adminOn,
			req: []Scope{repo("*", Pull), repo("samples/*", Pull), repo("hell?", Pull)}},
		{name: "invalid repository name", p: admin, reg: adminOn, req: []Scope{repo("Hello", Pull), repo("", Pull)}},
		{name: "catalog needs *", p: admin, reg: adminOn,
			req: []Scope{{Type: TypeRegistry, Name: CatalogName, Actions: []Action{Pull}}}},
		{name: "other registry resources", p: admin, reg: adminOn,
			req: []Scope{{Type: TypeRegistry, Name: "other", Actions: []Action{All}}}},
		{name: "unknown resource type", p: admin, reg: adminOn,
			req: []Scope{{Type: "artifact-repository", Name: "repo", Actions: []Action{Pull}}}},
		{name: "catalog and repository together", p: admin, reg: adminOn,
			req:  []Scope{CatalogScope(), repo("hello", Delete)},
			want: []Scope{CatalogScope(), repo("hello", Delete)}},
		{name: "token never gets the catalog", p: tokenPrincipal(t, SystemScopeMaps()[0].Actions...), reg: adminOn,
			req: []Scope{CatalogScope()}},
		{name: "anonymous never gets the catalog", p: anon, reg: anonPull, req: []Scope{CatalogScope()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.p, tc.reg, tc.req)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Decide (-want +got):\n%s", d)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    Principal
		want Scope
		ok   bool
	}{
		{"every action held", admin, Scope{Type: TypeRepository, Name: "hello", Actions: []Action{Pull, Push}}, true},
		{"one action missing", tokenPrincipal(t, "repositories/hello/content/read"), Scope{Type: TypeRepository, Name: "hello", Actions: []Action{Pull, Push}}, false},
		{"* is never granted literally", admin, Scope{Type: TypeRepository, Name: "hello", Actions: []Action{All}}, false},
		{"no actions", admin, Scope{Type: TypeRepository, Name: "hello"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Allowed(tc.p, adminOn, tc.want); got != tc.ok {
				t.Errorf("Allowed = %v, want %v", got, tc.ok)
			}
		})
	}
}
