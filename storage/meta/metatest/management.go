package metatest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// RunManagement runs the behaviour suite of meta.Management. open must return a new,
// empty store on every call and arrange for it to be closed when the test ends. Beyond
// the interface comments it pins: names compare case-insensitively but keep their
// casing; lists come out ordered by (lower-case) name; generations start at 1 and grow by
// one per update; removing a registry or resource group takes the role assignments at and
// below its scope, and only those.
func RunManagement(t *testing.T, open func(t *testing.T) meta.Management) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, *mstore)
	}{
		{"Subscriptions", testMgmtSubscriptions},
		{"ResourceGroups", testMgmtResourceGroups},
		{"Registries", testMgmtRegistries},
		{"UpdateRegistry", testMgmtUpdateRegistry},
		{"RemoveRegistry", testMgmtRemoveRegistry},
		{"ScopeMaps", testMgmtScopeMaps},
		{"Tokens", testMgmtTokens},
		{"RoleAssignments", testMgmtRoleAssignments},
		{"PrincipalGeneration", testMgmtPrincipalGeneration},
		{"Events", testMgmtEvents},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, &mstore{Management: open(t), t: t}) })
	}
}

// mstore is the store under test with setup helpers that fail the test on error.
type mstore struct {
	meta.Management
	t *testing.T
}

// Fixed ids of the suite.
const (
	mTenant = "11111111-1111-4111-8111-111111111111"
	mSubA   = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	mSubB   = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	mAlice  = "a11ce000-0000-4000-8000-000000000001"
	mBob    = "b0b00000-0000-4000-8000-000000000002"
)

var mT0 = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)

func (s *mstore) must(op string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("%s: %v", op, err)
	}
}

func (s *mstore) subscription(id string) {
	s.t.Helper()
	s.must("CreateSubscription", s.CreateSubscription(s.t.Context(), &meta.Subscription{ID: id, TenantID: mTenant,
		DisplayName: "sub " + id[:4], CreatedAt: mT0}))
}

func (s *mstore) group(sub, name string) {
	s.t.Helper()
	_, err := s.PutResourceGroup(s.t.Context(), &meta.ResourceGroup{Subscription: sub, Name: name, Location: "local", CreatedAt: mT0})
	s.must("PutResourceGroup "+name, err)
}

// registry creates a registry with id derived from name and one scope map, "pull".
func (s *mstore) registry(sub, group, name string) *meta.Registry {
	s.t.Helper()
	r := mNewRegistry(sub, group, name)
	s.must("CreateRegistry "+name, s.CreateRegistry(s.t.Context(), r, []meta.ScopeMap{
		{Name: "_repositories_pull", Description: "pull", Actions: []string{"repositories/*/content/read"}, System: true,
			Created: mChange(mAlice), Updated: mChange(mAlice)}}))
	return r
}

func mNewRegistry(sub, group, name string) *meta.Registry {
	return &meta.Registry{
		ID: fmt.Sprintf("%032x", []byte(name))[:32], Subscription: sub, ResourceGroup: group, Name: name,
		LoginServer: fmt.Sprintf("%s.localhost:5443", name), Location: "local", SKU: "Premium",
		Tags: map[string]string{"env": "test"},
		Settings: meta.RegistrySettings{PublicNetworkAccess: true, NetworkDefaultAction: "Allow", IPRules: []string{},
			AADAuthAsARMPolicy: true, RoleAssignmentMode: "LegacyRegistryPermissions"},
		Admin:   [2]meta.AdminPassword{{Sealed: []byte("sealed-1"), Hash: meta.HashSecret("one")}, {Sealed: []byte("sealed-2"), Hash: meta.HashSecret("two")}},
		Created: mChange(mAlice), Updated: mChange(mAlice),
	}
}

func mChange(by string) meta.Change { return meta.Change{At: mT0, By: by, ByType: "Application"} }

func mScopeOf(r *meta.Registry) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerRegistry/registries/%s",
		r.Subscription, r.ResourceGroup, r.Name)
}

func (s *mstore) assign(name, scope, role, principal string) {
	s.t.Helper()
	s.must("CreateRoleAssignment "+name, s.CreateRoleAssignment(s.t.Context(), &meta.RoleAssignment{Name: name, Scope: scope,
		RoleDefinitionID: role, PrincipalID: principal, PrincipalType: "ServicePrincipal", Created: mChange(mAlice), Updated: mChange(mAlice)}))
}

func (s *mstore) assignmentNames(q meta.RoleAssignmentQuery) []string {
	s.t.Helper()
	as, err := s.RoleAssignments(s.t.Context(), q)
	s.must("RoleAssignments", err)
	var names []string
	for _, a := range as {
		names = append(names, a.Name)
	}
	return names
}

func (s *mstore) generation(principals ...string) int64 {
	s.t.Helper()
	g, err := s.PrincipalGeneration(s.t.Context(), principals...)
	s.must("PrincipalGeneration", err)
	return g
}

func testMgmtSubscriptions(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubB)
	s.subscription(mSubA)
	wantErr(t, "CreateSubscription again", s.CreateSubscription(ctx, &meta.Subscription{ID: mSubA, TenantID: mTenant}), meta.ErrResourceExists)
	got, err := s.Subscription(ctx, mSubA)
	wantErr(t, "Subscription", err, nil)
	if err == nil && (got.ID != mSubA || got.TenantID != mTenant || got.DisplayName != "sub aaaa" || !got.CreatedAt.Equal(mT0)) {
		t.Errorf("Subscription = %+v", got)
	}
	_, err = s.Subscription(ctx, "cccccccc-cccc-4ccc-8ccc-cccccccccccc")
	wantErr(t, "Subscription of an unknown id", err, meta.ErrResourceNotFound)
	for _, tc := range []struct {
		tenant string
		want   []string
	}{{mTenant, []string{mSubA, mSubB}}, {"", []string{mSubA, mSubB}}, {"other", nil}} {
		subs, err := s.Subscriptions(ctx, tc.tenant)
		wantErr(t, "Subscriptions", err, nil)
		var ids []string
		for _, sub := range subs {
			ids = append(ids, sub.ID)
		}
		sameStrings(t, fmt.Sprintf("Subscriptions(%q)", tc.tenant), ids, tc.want)
	}
}

func testMgmtResourceGroups(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubA)
	created, err := s.PutResourceGroup(ctx, &meta.ResourceGroup{Subscription: mSubA, Name: "Alpha", Location: "local",
		Tags: map[string]string{"a": "1"}, CreatedAt: mT0})
	if err != nil || !created {
		t.Fatalf("PutResourceGroup = %v, %v; want created", created, err)
	}
	// An update keeps the name's casing and the location, and replaces the tags.
	created, err = s.PutResourceGroup(ctx, &meta.ResourceGroup{Subscription: mSubA, Name: "ALPHA", Location: "elsewhere",
		Tags: map[string]string{"b": "2"}, CreatedAt: mT0.Add(time.Hour)})
	if err != nil || created {
		t.Fatalf("PutResourceGroup again = %v, %v; want updated", created, err)
	}
	g, err := s.ResourceGroup(ctx, mSubA, "alpha")
	wantErr(t, "ResourceGroup", err, nil)
	if err == nil && (g.Name != "Alpha" || g.Location != "local" || g.Tags["b"] != "2" || len(g.Tags) != 1 || !g.CreatedAt.Equal(mT0)) {
		t.Errorf("ResourceGroup = %+v", g)
	}
	s.group(mSubA, "beta")
	groups, err := s.ResourceGroups(ctx, mSubA)
	wantErr(t, "ResourceGroups", err, nil)
	if len(groups) != 2 || groups[0].Name != "Alpha" || groups[1].Name != "beta" {
		t.Errorf("ResourceGroups = %+v", groups)
	}
	_, err = s.PutResourceGroup(ctx, &meta.ResourceGroup{Subscription: mSubB, Name: "x", Location: "local"})
	wantErr(t, "PutResourceGroup in an unknown subscription", err, meta.ErrResourceNotFound)
	_, err = s.ResourceGroup(ctx, mSubA, "gamma")
	wantErr(t, "ResourceGroup of an unknown name", err, meta.ErrResourceNotFound)

	r := s.registry(mSubA, "Alpha", "registry1")
	wantErr(t, "DeleteResourceGroup with a registry", s.DeleteResourceGroup(ctx, mSubA, "alpha"), meta.ErrResourceInUse)
	s.must("RemoveRegistry", s.RemoveRegistry(ctx, r.ID))
	s.assign("ra-in", "/subscriptions/"+mSubA+"/resourceGroups/Alpha", "role", mAlice)
	s.assign("ra-sub", "/subscriptions/"+mSubA, "role", mAlice)
	s.assign("ra-prefix", "/subscriptions/"+mSubA+"/resourceGroups/Alphabet", "role", mAlice)
	wantErr(t, "DeleteResourceGroup", s.DeleteResourceGroup(ctx, mSubA, "ALPHA"), nil)
	wantErr(t, "DeleteResourceGroup again", s.DeleteResourceGroup(ctx, mSubA, "alpha"), meta.ErrResourceNotFound)
	sameStrings(t, "role assignments left", s.assignmentNames(meta.RoleAssignmentQuery{}), []string{"ra-sub", "ra-prefix"})
}

func testMgmtRegistries(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubA)
	s.subscription(mSubB)
	s.group(mSubA, "g1")
	s.group(mSubA, "g2")
	s.group(mSubB, "g1")
	want := s.registry(mSubA, "g1", "Zeta")
	s.registry(mSubA, "g2", "alpha")
	s.registry(mSubB, "g1", "mid")

	for _, tc := range []struct {
		op  string
		get func() (*meta.Registry, error)
	}{
		{"Registry", func() (*meta.Registry, error) { return s.Registry(ctx, mSubA, "G1", "zeta") }},
		{"RegistryByLoginServer", func() (*meta.Registry, error) { return s.RegistryByLoginServer(ctx, "ZETA.localhost:5443") }},
		{"RegistryByID", func() (*meta.Registry, error) { return s.RegistryByID(ctx, want.ID) }},
	} {
		got, err := tc.get()
		wantErr(t, tc.op, err, nil)
		if err == nil {
			w := *want
			w.LoginServer = "zeta.localhost:5443" // stored in lower case
			w.Generation = 1
			mSameRegistry(t, tc.op, got, &w)
		}
	}
	_, err := s.Registry(ctx, mSubA, "g2", "zeta")
	wantErr(t, "Registry in another resource group", err, meta.ErrResourceNotFound)
	_, err = s.RegistryByLoginServer(ctx, "nothing.localhost")
	wantErr(t, "RegistryByLoginServer of an unknown host", err, meta.ErrResourceNotFound)

	for _, tc := range []struct {
		sub, group string
		want       []string
	}{
		{"", "", []string{"alpha", "mid", "Zeta"}},
		{mSubA, "", []string{"alpha", "Zeta"}},
		{mSubA, "G1", []string{"Zeta"}},
		{mSubB, "g2", nil},
	} {
		regs, err := s.Registries(ctx, tc.sub, tc.group)
		wantErr(t, "Registries", err, nil)
		var names []string
		for _, r := range regs {
			names = append(names, r.Name)
		}
		sameStrings(t, fmt.Sprintf("Registries(%q, %q)", tc.sub, tc.group), names, tc.want)
	}

	// Names and login servers are unique across the server; the resource group must exist.
	for _, tc := range []struct {
		name string
		edit func(*meta.Registry)
		want error
	}{
		{"same name elsewhere", func(r *meta.Registry) { r.ID, r.ResourceGroup, r.Name, r.LoginServer = "x1", "g2", "ZETA", "other" }, meta.ErrResourceExists},
		{"same login server", func(r *meta.Registry) { r.ID, r.Name, r.LoginServer = "x2", "other", "Zeta.localhost:5443" }, meta.ErrResourceExists},
		{"same id", func(r *meta.Registry) { r.Name, r.LoginServer = "other", "other" }, meta.ErrResourceExists},
		{"no such group", func(r *meta.Registry) {
			r.ID, r.ResourceGroup, r.Name, r.LoginServer = "x3", "nogroup", "other", "other"
		}, meta.ErrResourceNotFound},
	} {
		r := mNewRegistry(mSubA, "g1", "Zeta")
		tc.edit(r)
		wantErr(t, "CreateRegistry, "+tc.name, s.CreateRegistry(ctx, r, nil), tc.want)
	}
	maps, err := s.ScopeMaps(ctx, want.ID)
	wantErr(t, "ScopeMaps of a new registry", err, nil)
	if len(maps) != 1 || maps[0].Name != "_repositories_pull" || !maps[0].System || maps[0].RegistryID != want.ID {
		t.Errorf("ScopeMaps of a new registry = %+v", maps)
	}
}

// mSameRegistry compares registries, times by instant.
func mSameRegistry(t *testing.T, op string, got, want *meta.Registry) {
	t.Helper()
	g, w := *got, *want
	if !g.Created.At.Equal(w.Created.At) || !g.Updated.At.Equal(w.Updated.At) {
		t.Errorf("%s: times %v/%v, want %v/%v", op, g.Created.At, g.Updated.At, w.Created.At, w.Updated.At)
	}
	g.Created.At, g.Updated.At, w.Created.At, w.Updated.At = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		t.Errorf("%s:\n got %+v\nwant %+v", op, g, w)
	}
}

func testMgmtUpdateRegistry(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubA)
	s.group(mSubA, "g")
	r := s.registry(mSubA, "g", "reg01")
	later := meta.Change{At: mT0.Add(time.Hour), By: mBob, ByType: "User"}
	got, err := s.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error {
		r.SKU, r.Tags, r.Updated = "Standard", nil, later
		r.Settings = meta.RegistrySettings{AdminUserEnabled: true, AnonymousPullEnabled: true, NetworkDefaultAction: "Deny",
			IPRules: []string{"10.0.0.0/8", "192.168.1.1"}, RoleAssignmentMode: "AbacRepositoryPermissions"}
		r.Admin[1] = meta.AdminPassword{Sealed: []byte("sealed-3"), Hash: meta.HashSecret("three")}
		r.LoginServer = "Reg01.example:443"
		r.Name, r.Location = "renamed", "moved" // not updatable: ignored
		return nil
	})
	wantErr(t, "UpdateRegistry", err, nil)
	stored, err := s.RegistryByID(ctx, r.ID)
	wantErr(t, "RegistryByID", err, nil)
	if err != nil || got == nil {
		return
	}
	if got.Generation != 2 || stored.Generation != 2 {
		t.Errorf("generation after one update = %d (returned), %d (stored); want 2", got.Generation, stored.Generation)
	}
	w := *r
	w.LoginServer = "reg01.example:443"
	w.SKU, w.Tags, w.Updated, w.Generation = "Standard", nil, later, 2
	w.Settings = meta.RegistrySettings{AdminUserEnabled: true, AnonymousPullEnabled: true, NetworkDefaultAction: "Deny",
		IPRules: []string{"10.0.0.0/8", "192.168.1.1"}, RoleAssignmentMode: "AbacRepositoryPermissions"}
	w.Admin[1] = meta.AdminPassword{Sealed: []byte("sealed-3"), Hash: meta.HashSecret("three")}
	mSameRegistry(t, "registry after update", stored, &w)
	if !stored.AdminPasswordMatches("three") || stored.AdminPasswordMatches("two") || !stored.AdminPasswordMatches("one") {
		t.Error("AdminPasswordMatches after rotating password2: want one and three, not two")
	}

	if scopes := stored.Scopes(); len(scopes) != 4 || scopes[0] != mScopeOf(r) || scopes[3] != "/" {
		t.Errorf("Scopes = %q", scopes)
	}
	other := s.registry(mSubA, "g", "reg02")
	_, err = s.UpdateRegistry(ctx, other.ID, func(r *meta.Registry) error { r.LoginServer = "REG01.example:443"; return nil })
	wantErr(t, "UpdateRegistry to another registry's login server", err, meta.ErrResourceExists)
	if got, err := s.RegistryByLoginServer(ctx, "reg01.example:443"); err != nil || got.ID != r.ID {
		t.Errorf("RegistryByLoginServer after moving = %+v, %v", got, err)
	}

	abort := fmt.Errorf("abort")
	_, err = s.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error { r.SKU = "Basic"; return abort })
	wantErr(t, "UpdateRegistry whose fn fails", err, abort)
	if again, _ := s.RegistryByID(ctx, r.ID); again == nil || again.SKU != "Standard" || again.Generation != 2 {
		t.Errorf("registry after an aborted update = %+v", again)
	}
	_, err = s.UpdateRegistry(ctx, "nope", func(*meta.Registry) error { return nil })
	wantErr(t, "UpdateRegistry of an unknown id", err, meta.ErrResourceNotFound)
}

func testMgmtRemoveRegistry(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubA)
	s.group(mSubA, "g")
	r := s.registry(mSubA, "g", "reg01")
	other := s.registry(mSubA, "g", "reg011") // its scope has r's as a prefix
	s.must("CreateToken", s.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "tok", ScopeMap: "_repositories_pull", Enabled: true}))
	s.assign("at", mScopeOf(r), "role", mAlice)
	s.assign("below", mScopeOf(r)+"/scopeMaps/x", "role", mAlice)
	s.assign("other", mScopeOf(other), "role", mAlice)
	s.assign("group", "/subscriptions/"+mSubA+"/resourceGroups/g", "role", mBob)
	before := s.generation(mAlice)

	wantErr(t, "RemoveRegistry", s.RemoveRegistry(ctx, r.ID), nil)
	wantErr(t, "RemoveRegistry again", s.RemoveRegistry(ctx, r.ID), meta.ErrResourceNotFound)
	_, err := s.RegistryByID(ctx, r.ID)
	wantErr(t, "RegistryByID after remove", err, meta.ErrResourceNotFound)
	_, err = s.Token(ctx, r.ID, "tok")
	wantErr(t, "Token after remove", err, meta.ErrResourceNotFound)
	_, err = s.ScopeMap(ctx, r.ID, "_repositories_pull")
	wantErr(t, "ScopeMap after remove", err, meta.ErrResourceNotFound)
	sameStrings(t, "role assignments left", s.assignmentNames(meta.RoleAssignmentQuery{}), []string{"group", "other"})
	if after := s.generation(mAlice); after <= before {
		t.Errorf("principal generation after losing assignments = %d, was %d", after, before)
	}
	// The name is free again.
	s.registry(mSubA, "g", "reg01")
}

func testMgmtScopeMaps(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubA)
	s.group(mSubA, "g")
	r := s.registry(mSubA, "g", "reg01")
	m := &meta.ScopeMap{RegistryID: r.ID, Name: "Writers", Description: "d", Actions: []string{"repositories/a/content/write", "repositories/a/content/read"},
		Created: mChange(mAlice), Updated: mChange(mAlice)}
	s.must("CreateScopeMap", s.CreateScopeMap(ctx, m))
	wantErr(t, "CreateScopeMap again", s.CreateScopeMap(ctx, &meta.ScopeMap{RegistryID: r.ID, Name: "WRITERS"}), meta.ErrResourceExists)
	wantErr(t, "CreateScopeMap in an unknown registry", s.CreateScopeMap(ctx, &meta.ScopeMap{RegistryID: "nope", Name: "x"}), meta.ErrResourceNotFound)
	got, err := s.ScopeMap(ctx, r.ID, "writers")
	wantErr(t, "ScopeMap", err, nil)
	if err == nil && (got.Name != "Writers" || got.Description != "d" || !slices.Equal(got.Actions, m.Actions) || got.System || got.Created.By != mAlice) {
		t.Errorf("ScopeMap = %+v", got)
	}
	maps, err := s.ScopeMaps(ctx, r.ID)
	wantErr(t, "ScopeMaps", err, nil)
	if len(maps) != 2 || maps[0].Name != "_repositories_pull" || maps[1].Name != "Writers" {
		t.Errorf("ScopeMaps = %+v", maps)
	}

	s.must("CreateToken", s.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "t1", ScopeMap: "writers", Enabled: true}))
	got, err = s.UpdateScopeMap(ctx, r.ID, "WRITERS", func(m *meta.ScopeMap) error {
		m.Description, m.Actions, m.Updated = "e", []string{"repositories/b/content/read"}, mChange(mBob)
		return nil
	})
	wantErr(t, "UpdateScopeMap", err, nil)
	if err == nil && (got.Description != "e" || !slices.Equal(got.Actions, []string{"repositories/b/content/read"}) || got.Updated.By != mBob) {
		t.Errorf("UpdateScopeMap = %+v", got)
	}
	tok, err := s.Token(ctx, r.ID, "t1")
	wantErr(t, "Token", err, nil)
	if err == nil && (tok.Generation != 2 || !slices.Equal(tok.ScopeMapActions, []string{"repositories/b/content/read"})) {
		t.Errorf("token after its scope map changed: generation %d, actions %q; want 2 and the new actions", tok.Generation, tok.ScopeMapActions)
	}
	_, err = s.UpdateScopeMap(ctx, r.ID, "nope", func(*meta.ScopeMap) error { return nil })
	wantErr(t, "UpdateScopeMap of an unknown map", err, meta.ErrResourceNotFound)

	wantErr(t, "DeleteScopeMap in use", s.DeleteScopeMap(ctx, r.ID, "writers"), meta.ErrResourceInUse)
	s.must("DeleteToken", s.DeleteToken(ctx, r.ID, "t1"))
	wantErr(t, "DeleteScopeMap", s.DeleteScopeMap(ctx, r.ID, "writers"), nil)
	wantErr(t, "DeleteScopeMap again", s.DeleteScopeMap(ctx, r.ID, "writers"), meta.ErrResourceNotFound)
}

func testMgmtTokens(t *testing.T, s *mstore) {
	ctx := t.Context()
	s.subscription(mSubA)
	s.group(mSubA, "g")
	r := s.registry(mSubA, "g", "reg01")
	s.must("CreateScopeMap", s.CreateScopeMap(ctx, &meta.ScopeMap{RegistryID: r.ID, Name: "push",
		Actions: []string{"repositories/*/content/write"}}))
	expiry := mT0.Add(24 * time.Hour)
	tok := &meta.Token{RegistryID: r.ID, Name: "CI-token", ScopeMap: "_REPOSITORIES_PULL", Enabled: true,
		Passwords: [2]meta.TokenPassword{{Hash: meta.HashSecret("p1"), CreatedAt: mT0, Expiry: expiry}},
		Created:   mChange(mAlice), Updated: mChange(mAlice)}
	s.must("CreateToken", s.CreateToken(ctx, tok))
	wantErr(t, "CreateToken again", s.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "ci-TOKEN", ScopeMap: "push"}), meta.ErrResourceExists)
	wantErr(t, "CreateToken with an unknown scope map", s.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "x", ScopeMap: "nope"}), meta.ErrResourceNotFound)

	got, err := s.Token(ctx, r.ID, "ci-token")
	wantErr(t, "Token", err, nil)
	if err != nil {
		return
	}
	if got.Name != "CI-token" || got.ScopeMap != "_repositories_pull" || !got.Enabled || got.Generation != 1 ||
		!slices.Equal(got.ScopeMapActions, []string{"repositories/*/content/read"}) || got.Passwords[1].Hash != nil {
		t.Errorf("Token = %+v", got)
	}
	p := got.Passwords[0]
	for _, tc := range []struct {
		password string
		at       time.Time
		want     bool
	}{{"p1", mT0, true}, {"p1", expiry, false}, {"p2", mT0, false}, {"", mT0, false}} {
		if p.Valid(tc.password, tc.at) != tc.want {
			t.Errorf("password1.Valid(%q, %v) = %v", tc.password, tc.at, !tc.want)
		}
	}
	if !p.CreatedAt.Equal(mT0) || !p.Expiry.Equal(expiry) {
		t.Errorf("password1 times = %v, %v", p.CreatedAt, p.Expiry)
	}

	got, err = s.UpdateToken(ctx, r.ID, "CI-TOKEN", func(t *meta.Token) error {
		t.Enabled, t.ScopeMap, t.Updated = false, "Push", mChange(mBob)
		t.Passwords[1] = meta.TokenPassword{Hash: meta.HashSecret("p2"), CreatedAt: mT0}
		return nil
	})
	wantErr(t, "UpdateToken", err, nil)
	if err == nil && (got.Enabled || got.ScopeMap != "push" || got.Generation != 2 || !slices.Equal(got.ScopeMapActions, []string{"repositories/*/content/write"})) {
		t.Errorf("UpdateToken = %+v", got)
	}
	stored, err := s.Token(ctx, r.ID, "ci-token")
	wantErr(t, "Token after update", err, nil)
	if err == nil && (stored.Enabled || stored.Generation != 2 || !stored.Passwords[1].Valid("p2", mT0) || !stored.Passwords[1].Expiry.IsZero() || stored.Updated.By != mBob) {
		t.Errorf("Token after update = %+v", stored)
	}
	_, err = s.UpdateToken(ctx, r.ID, "ci-token", func(t *meta.Token) error { t.ScopeMap = "nope"; return nil })
	wantErr(t, "UpdateToken to an unknown scope map", err, meta.ErrResourceNotFound)

	s.must("CreateToken", s.CreateToken(ctx, &meta.Token{RegistryID: r.ID, Name: "another", ScopeMap: "push"}))
	tokens, err := s.Tokens(ctx, r.ID)
	wantErr(t, "Tokens", err, nil)
	if len(tokens) != 2 || tokens[0].Name != "another" || tokens[1].Name != "CI-token" {
		t.Errorf("Tokens = %+v", tokens)
	}
	wantErr(t, "DeleteToken", s.DeleteToken(ctx, r.ID, "CI-TOKEN"), nil)
	wantErr(t, "DeleteToken again", s.DeleteToken(ctx, r.ID, "ci-token"), meta.ErrResourceNotFound)
}

func testMgmtRoleAssignments(t *testing.T, s *mstore) {
	ctx := t.Context()
	sub := "/subscriptions/" + mSubA
	group := sub + "/resourceGroups/G"
	reg := group + "/providers/Microsoft.ContainerRegistry/registries/reg01"
	s.assign("ra1", sub, "owner", mAlice)
	s.assign("ra2", group, "reader", mBob)
	s.assign("ra3", reg, "acrpull", mBob)
	s.assign("ra4", "/subscriptions/"+mSubB, "owner", mBob)
	a := &meta.RoleAssignment{Name: "ra5", Scope: reg, RoleDefinitionID: "acrpush", PrincipalID: mAlice, PrincipalType: "User",
		Description: "why", Condition: "cond", ConditionVersion: "2.0", Created: mChange(mBob), Updated: mChange(mBob)}
	s.must("CreateRoleAssignment", s.CreateRoleAssignment(ctx, a))

	wantErr(t, "CreateRoleAssignment of a taken name", s.CreateRoleAssignment(ctx, &meta.RoleAssignment{Name: "RA1", Scope: reg,
		RoleDefinitionID: "x", PrincipalID: "y"}), meta.ErrResourceExists)
	wantErr(t, "CreateRoleAssignment of the same role, principal and scope", s.CreateRoleAssignment(ctx, &meta.RoleAssignment{
		Name: "ra9", Scope: strings.ToUpper(reg) + "/", RoleDefinitionID: "acrpull", PrincipalID: mBob}), meta.ErrResourceExists)

	got, err := s.RoleAssignment(ctx, "RA5")
	wantErr(t, "RoleAssignment", err, nil)
	if err == nil {
		w := *a
		got.Created.At, got.Updated.At, w.Created.At, w.Updated.At = mT0, mT0, mT0, mT0
		if *got != w {
			t.Errorf("RoleAssignment =\n%+v, want\n%+v", *got, w)
		}
	}
	_, err = s.RoleAssignment(ctx, "nope")
	wantErr(t, "RoleAssignment of an unknown name", err, meta.ErrResourceNotFound)

	lower := strings.ToLower
	for _, tc := range []struct {
		name string
		q    meta.RoleAssignmentQuery
		want []string
	}{
		{"all", meta.RoleAssignmentQuery{}, []string{"ra1", "ra2", "ra3", "ra5", "ra4"}},
		{"data plane: mBob at the registry and above", meta.RoleAssignmentQuery{AtScopes: []string{reg, group, sub, "/"}, PrincipalIDs: []string{mBob}}, []string{"ra2", "ra3"}},
		{"scopes compare case-insensitively", meta.RoleAssignmentQuery{AtScopes: []string{lower(reg) + "/", lower(sub)}}, []string{"ra1", "ra3", "ra5"}},
		{"at the group and below", meta.RoleAssignmentQuery{AtScopes: []string{group}, Under: group}, []string{"ra2", "ra3", "ra5"}},
		{"below the subscription only", meta.RoleAssignmentQuery{Under: sub}, []string{"ra2", "ra3", "ra5"}},
		{"below the root", meta.RoleAssignmentQuery{Under: "/"}, []string{"ra1", "ra2", "ra3", "ra5", "ra4"}},
		{"principals", meta.RoleAssignmentQuery{PrincipalIDs: []string{strings.ToUpper(mAlice)}}, []string{"ra1", "ra5"}},
		{"nothing at an unknown scope", meta.RoleAssignmentQuery{AtScopes: []string{"/subscriptions/x"}}, nil},
	} {
		sameStrings(t, "RoleAssignments, "+tc.name, s.assignmentNames(tc.q), tc.want)
	}

	deleted, err := s.DeleteRoleAssignment(ctx, "ra3")
	wantErr(t, "DeleteRoleAssignment", err, nil)
	if err == nil && (deleted.Name != "ra3" || deleted.PrincipalID != mBob) {
		t.Errorf("DeleteRoleAssignment returned %+v", deleted)
	}
	_, err = s.DeleteRoleAssignment(ctx, "ra3")
	wantErr(t, "DeleteRoleAssignment again", err, meta.ErrResourceNotFound)
}

func testMgmtPrincipalGeneration(t *testing.T, s *mstore) {
	if g := s.generation(mAlice); g != 0 {
		t.Errorf("generation of a principal never assigned = %d, want 0", g)
	}
	if g := s.generation(); g != 0 {
		t.Errorf("generation of no principals = %d, want 0", g)
	}
	s.assign("ra1", "/subscriptions/"+mSubA, "owner", mAlice)
	g1 := s.generation(mAlice)
	s.assign("ra2", "/subscriptions/"+mSubB, "owner", mBob)
	if s.generation(mAlice) != g1 {
		t.Error("alice's generation changed with mBob's assignment")
	}
	sum := s.generation(mAlice, mBob)
	_, err := s.DeleteRoleAssignment(t.Context(), "ra2")
	wantErr(t, "DeleteRoleAssignment", err, nil)
	if got := s.generation(mAlice, mBob); got <= sum {
		t.Errorf("generation of mAlice and mBob after removing mBob's assignment = %d, was %d", got, sum)
	}
	if g1 <= 0 {
		t.Errorf("generation after an assignment = %d, want > 0", g1)
	}
}

func testMgmtEvents(t *testing.T, s *mstore) {
	ctx := t.Context()
	reg := "/subscriptions/" + mSubA + "/resourceGroups/G/providers/Microsoft.ContainerRegistry/registries/reg01"
	events := []meta.Event{
		{ID: "e1", Time: mT0, Subscription: mSubA, ResourceGroup: "G", ResourceID: reg, Operation: "write", Status: "Succeeded", HTTPStatus: 201, CorrelationID: "c1"},
		{ID: "e2", Time: mT0.Add(time.Minute), Subscription: mSubA, ResourceGroup: "G", ResourceID: reg + "/tokens/t", Operation: "tokens/write",
			Status: "Failed", SubStatus: "AuthorizationFailed", HTTPStatus: 403, Caller: mBob, CallerAppID: "app", TenantID: mTenant, Method: "PUT", CorrelationID: "c2", ClientIP: "127.0.0.1"},
		{ID: "e3", Time: mT0.Add(2 * time.Minute), Subscription: mSubA, ResourceGroup: "H", ResourceID: "/subscriptions/" + mSubA + "/resourceGroups/H", Operation: "delete", Status: "Succeeded", HTTPStatus: 200},
		{ID: "e4", Time: mT0.Add(2 * time.Minute), Subscription: mSubB, ResourceID: "/subscriptions/" + mSubB, Operation: "x", Status: "Succeeded", HTTPStatus: 200},
		{ID: "e5", Time: mT0.Add(3 * time.Minute), Subscription: mSubA, ResourceGroup: "G", ResourceID: reg + "1", Operation: "write", Status: "Succeeded", HTTPStatus: 200},
	}
	for i := range events {
		s.must("RecordEvent", s.RecordEvent(ctx, &events[i]))
	}
	for _, tc := range []struct {
		name string
		q    meta.EventQuery
		want []string
	}{
		{"subscription, newest first", meta.EventQuery{Subscription: mSubA}, []string{"e5", "e3", "e2", "e1"}},
		{"time range, inclusive", meta.EventQuery{Subscription: mSubA, From: mT0.Add(time.Minute), To: mT0.Add(2 * time.Minute)}, []string{"e3", "e2"}},
		{"resource group", meta.EventQuery{Subscription: mSubA, ResourceGroup: "g"}, []string{"e5", "e2", "e1"}},
		{"resource and below", meta.EventQuery{Subscription: mSubA, ResourceID: strings.ToLower(reg)}, []string{"e2", "e1"}},
		{"correlation id", meta.EventQuery{Subscription: mSubA, CorrelationID: "c2"}, []string{"e2"}},
		{"limit", meta.EventQuery{Subscription: mSubA, Limit: 2}, []string{"e5", "e3"}},
	} {
		got, err := s.Events(ctx, tc.q)
		wantErr(t, "Events, "+tc.name, err, nil)
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		sameStrings(t, "Events, "+tc.name, ids, tc.want)
	}
	got, err := s.Events(ctx, meta.EventQuery{Subscription: mSubA, CorrelationID: "c2"})
	if err == nil && len(got) == 1 {
		e := got[0]
		e.Time = events[1].Time
		if e != events[1] {
			t.Errorf("Events returned\n%+v, want\n%+v", e, events[1])
		}
	}
}
