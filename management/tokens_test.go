package management_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
)

func TestScopeMapsAndTokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	f := e.acr(owner)
	maps, tokens, regs := f.NewScopeMapsClient(), f.NewTokensClient(), f.NewRegistriesClient()

	var system []string
	for pager := maps.NewListPager(group, "cerulean", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Value {
			if *m.Properties.Type == "SystemDefined" {
				system = append(system, *m.Name)
			}
		}
	}
	if !slices.Equal(system, []string{"_repositories_admin", "_repositories_pull", "_repositories_pull_metadata_read",
		"_repositories_push", "_repositories_push_metadata_write"}) {
		t.Errorf("system scope maps = %q", system)
	}

	create := func(name string, actions ...string) (armcontainerregistry.ScopeMap, error) {
		p, err := maps.BeginCreate(ctx, group, "cerulean", name, armcontainerregistry.ScopeMap{
			Properties: &armcontainerregistry.ScopeMapProperties{Description: to.Ptr("d"), Actions: to.SliceOfPtrs(actions...)}}, nil)
		if err != nil {
			return armcontainerregistry.ScopeMap{}, err
		}
		res, err := p.PollUntilDone(ctx, nil)
		return res.ScopeMap, err
	}
	m, err := create("samplesRead", "repositories/samples/*/content/read", "repositories/hello/metadata/read")
	if err != nil || *m.Properties.Type != "UserDefined" || len(m.Properties.Actions) != 2 {
		t.Fatalf("create scope map = %+v, %v", m, err)
	}
	for _, tc := range []struct {
		name, scopeMap string
		actions        []string
		code           string
	}{
		{"unknown permission", "badmap1", []string{"repositories/x/content/readwrite"}, "InvalidParameter"},
		{"no repository", "badmap2", []string{"repositories/content/read"}, "InvalidParameter"},
		{"two wildcards", "badmap3", []string{"repositories/a/*/b/*/content/read"}, "InvalidParameter"},
		{"no actions", "badmap4", nil, "InvalidParameter"},
		{"system map", "_repositories_pull", []string{"repositories/*/content/write"}, "InvalidParameter"},
		{"short name", "abc", []string{"repositories/*/content/read"}, "InvalidResourceName"},
	} {
		_, err := create(tc.scopeMap, tc.actions...)
		wantARMError(t, "create scope map, "+tc.name, err, http.StatusBadRequest, tc.code)
	}

	scopeMapID := registryID("cerulean") + "/scopeMaps/samplesRead"
	tp, err := tokens.BeginCreate(ctx, group, "cerulean", "ciToken", armcontainerregistry.Token{Properties: &armcontainerregistry.TokenProperties{
		ScopeMapID: to.Ptr(scopeMapID), Status: to.Ptr(armcontainerregistry.TokenStatusEnabled)}}, nil)
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	tok, err := tp.PollUntilDone(ctx, nil)
	if err != nil || *tok.Properties.Status != armcontainerregistry.TokenStatusEnabled || *tok.Properties.ScopeMapID != scopeMapID {
		t.Fatalf("create token = %+v, %v", tok, err)
	}
	_, err = tokens.BeginCreate(ctx, group, "cerulean", "ciToken2", armcontainerregistry.Token{Properties: &armcontainerregistry.TokenProperties{
		ScopeMapID: to.Ptr(registryID("cerulean") + "/scopeMaps/nothere")}}, nil)
	wantARMError(t, "create token with a missing scope map", err, http.StatusNotFound, "ResourceNotFound")

	expiry := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	gp, err := regs.BeginGenerateCredentials(ctx, group, "cerulean", armcontainerregistry.GenerateCredentialsParameters{
		TokenID: tok.ID, Expiry: &expiry}, nil)
	if err != nil {
		t.Fatalf("generateCredentials: %v", err)
	}
	gen, err := gp.PollUntilDone(ctx, nil)
	if err != nil || *gen.Username != "ciToken" || len(gen.Passwords) != 2 {
		t.Fatalf("generateCredentials = %+v, %v", gen, err)
	}
	for i, p := range gen.Passwords {
		if *p.Name != []armcontainerregistry.TokenPasswordName{"password1", "password2"}[i] || len(*p.Value) != 52 || !p.Expiry.Equal(expiry) {
			t.Errorf("generated password %d = %s %d chars, expiry %v", i, *p.Name, len(*p.Value), p.Expiry)
		}
	}
	got, err := tokens.Get(ctx, group, "cerulean", "ciToken", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps := got.Properties.Credentials.Passwords; len(ps) != 2 || ps[0].Value != nil || ps[1].Value != nil || !ps[0].Expiry.Equal(expiry) {
		t.Errorf("GET token shows passwords %+v: want names and expiry, never values", ps)
	}
	reg, err := e.store.Registry(ctx, subID, group, "cerulean")
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.store.Token(ctx, reg.ID, "ciToken")
	if err != nil || !st.Passwords[0].Valid(*gen.Passwords[0].Value, time.Now()) || !st.Passwords[1].Valid(*gen.Passwords[1].Value, time.Now()) {
		t.Errorf("the stored hashes do not match the generated passwords (%v)", err)
	}

	// Regenerating password1 alone leaves password2 working.
	gp, err = regs.BeginGenerateCredentials(ctx, group, "cerulean", armcontainerregistry.GenerateCredentialsParameters{
		TokenID: tok.ID, Name: to.Ptr(armcontainerregistry.TokenPasswordNamePassword1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gen1, err := gp.PollUntilDone(ctx, nil)
	if err != nil || len(gen1.Passwords) != 1 || *gen1.Passwords[0].Name != "password1" || gen1.Passwords[0].Expiry != nil {
		t.Fatalf("generate password1 = %+v, %v", gen1, err)
	}
	st2, _ := e.store.Token(ctx, reg.ID, "ciToken")
	if st2.Passwords[0].Valid(*gen.Passwords[0].Value, time.Now()) || !st2.Passwords[1].Valid(*gen.Passwords[1].Value, time.Now()) ||
		st2.Generation <= st.Generation {
		t.Error("after regenerating password1: the old one must fail, password2 must work, the generation must grow")
	}

	up, err := tokens.BeginUpdate(ctx, group, "cerulean", "ciToken", armcontainerregistry.TokenUpdateParameters{
		Properties: &armcontainerregistry.TokenUpdateProperties{Status: to.Ptr(armcontainerregistry.TokenStatusDisabled)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := up.PollUntilDone(ctx, nil); err != nil || *res.Properties.Status != armcontainerregistry.TokenStatusDisabled {
		t.Errorf("disable token = %+v, %v", res, err)
	}

	_, err = maps.BeginDelete(ctx, group, "cerulean", "samplesRead", nil)
	wantARMError(t, "delete a scope map in use", err, http.StatusConflict, "ScopeMapInUse")
	_, err = maps.BeginDelete(ctx, group, "cerulean", "_repositories_admin", nil)
	wantARMError(t, "delete a system scope map", err, http.StatusBadRequest, "InvalidParameter")
	if p, err := tokens.BeginDelete(ctx, group, "cerulean", "ciToken", nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := maps.BeginDelete(ctx, group, "cerulean", "samplesRead", nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, err = tokens.Get(ctx, group, "cerulean", "ciToken", nil)
	wantARMError(t, "get a deleted token", err, http.StatusNotFound, "ResourceNotFound")
}
