package connector

import (
	"net/http"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/diagnose"
)

// TestDiagnoseBasic runs the staged test for the kinds the Azure SDK does not model:
// the admin user, repository-scoped tokens and anonymous pull, with each refusal
// explained from the registry's ARM side when a connection that can read it is given.
func TestDiagnoseBasic(t *testing.T) {
	f := start(t)
	owner := f.ownerSession(t)
	host := f.CreateRegistry(t, "team1", "Premium", nil)
	f.push(t, host, "samples/hello", "v1")
	f.push(t, host, "other/app", "v1")

	basicPass := with(allPass, map[string]want{
		diagnose.StepSignIn: {diagnose.Skip, diagnose.OK, ""},
		diagnose.StepARM:    {diagnose.Skip, diagnose.ARMNotApplicable, ""},
	})

	t.Run("admin user", func(t *testing.T) {
		user, password := f.adminPassword(t, "team1")
		cred := connector.Credential{Kind: connector.AdminUser, Username: user}
		diag(t, f.open(t, f.conn("admin", cred, host), connector.Secrets{Password: password}), diagnose.Options{}, basicPass)
		// With a connection that reads ARM, the arm step runs through it.
		diag(t, f.open(t, f.conn("admin", cred, host), connector.Secrets{Password: password}), diagnose.Options{ARM: owner},
			with(basicPass, map[string]want{diagnose.StepARM: {diagnose.Pass, diagnose.OK, "through connection owner"}}))

		diag(t, f.open(t, f.conn("admin-bad", cred, host), connector.Secrets{Password: "not-the-password"}), diagnose.Options{ARM: owner},
			map[string]want{diagnose.StepExchange: {diagnose.Fail, diagnose.PasswordWrong, "neither password nor password2"}})

		f.UpdateRegistry(t, "team1", map[string]any{"adminUserEnabled": false})
		s := f.open(t, f.conn("admin-off", cred, host), connector.Secrets{Password: password})
		diag(t, s, diagnose.Options{ARM: owner}, map[string]want{
			diagnose.StepExchange: {diagnose.Fail, diagnose.AdminUserDisabled, "admin user of registry team1 is disabled"},
			diagnose.StepCatalog:  {diagnose.Skip, diagnose.Blocked, ""},
		})
		// Without ARM the data plane cannot say which: "unknown".
		diag(t, f.open(t, f.conn("admin-off", cred, host), connector.Secrets{Password: password}), diagnose.Options{},
			map[string]want{diagnose.StepExchange: {diagnose.Fail, diagnose.CredentialsRejected, "unknown without ARM access"}})
	})

	t.Run("repository token", func(t *testing.T) {
		password := f.repositoryToken(t, "team1", "scanner", "repositories/samples/hello/content/read", "repositories/samples/hello/metadata/read")
		cred := connector.Credential{Kind: connector.RepositoryToken, Username: "scanner", PasswordName: "password1"}
		tokenPass := with(basicPass, map[string]want{
			diagnose.StepCatalog: {diagnose.Warn, diagnose.CatalogNotAllowedForTokens, "repository-scoped tokens cannot list the catalog"},
		})
		// The repository to test comes from --repository, or from the scope map through ARM.
		diag(t, f.open(t, f.conn("tok", cred, host), connector.Secrets{Password: password}), diagnose.Options{Repository: "samples/hello"}, tokenPass)
		rep := diag(t, f.open(t, f.conn("tok", cred, host), connector.Secrets{Password: password}), diagnose.Options{ARM: owner},
			with(tokenPass, map[string]want{diagnose.StepARM: {diagnose.Pass, diagnose.OK, ""}}))
		if rep.Step(diagnose.StepTags).Details["repository"] != "samples/hello" {
			t.Errorf("tags step %+v", rep.Step(diagnose.StepTags))
		}
		// Without either, there is nothing to pull: skipped, not failed.
		diag(t, f.open(t, f.conn("tok", cred, host), connector.Secrets{Password: password}), diagnose.Options{}, map[string]want{
			diagnose.StepTags: {diagnose.Skip, diagnose.NoRepository, ""},
		})
		// A repository outside the scope map.
		diag(t, f.open(t, f.conn("tok", cred, host), connector.Secrets{Password: password}), diagnose.Options{Repository: "other/app"},
			map[string]want{diagnose.StepTags: {diagnose.Fail, diagnose.ScopeMapDenies, "does not allow content/read on repository other/app"}})

		// password2 expired yesterday, and the connection holds password2.
		yesterday := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
		pw2 := f.generatePassword(t, "team1", "scanner", "password2", &yesterday)
		cred2 := cred
		cred2.PasswordName = "password2"
		diag(t, f.open(t, f.conn("tok-expired", cred2, host), connector.Secrets{Password: pw2}), diagnose.Options{ARM: owner},
			map[string]want{diagnose.StepExchange: {diagnose.Fail, diagnose.PasswordExpired, "password2 expired on " + yesterday.Format(time.RFC3339)}})

		f.armRaw(t, http.MethodPatch, f.RegistryID("team1")+"/tokens/scanner", map[string]any{"properties": map[string]any{"status": "disabled"}}, nil)
		diag(t, f.open(t, f.conn("tok-off", cred, host), connector.Secrets{Password: password}), diagnose.Options{ARM: owner},
			map[string]want{diagnose.StepExchange: {diagnose.Fail, diagnose.TokenDisabled, "token scanner of registry team1 is disabled"}})

		missing := cred
		missing.Username = "nobody"
		diag(t, f.open(t, f.conn("tok-missing", missing, host), connector.Secrets{Password: password}), diagnose.Options{ARM: owner},
			map[string]want{diagnose.StepExchange: {diagnose.Fail, diagnose.TokenNotFound, "no token named nobody"}})
	})

	t.Run("anonymous", func(t *testing.T) {
		cred := connector.Credential{Kind: connector.Anonymous}
		anonPass := with(basicPass, map[string]want{
			diagnose.StepCatalog: {diagnose.Warn, diagnose.CatalogNotAllowedAnonymous, ""},
		})
		diag(t, f.open(t, f.conn("anon", cred, host), connector.Secrets{}), diagnose.Options{Repository: "samples/hello"}, map[string]want{
			diagnose.StepExchange: {diagnose.Pass, diagnose.OK, "anonymous access token"},
			diagnose.StepTags:     {diagnose.Fail, diagnose.AnonymousPullDisabled, "anonymous pull is disabled"},
		})
		f.UpdateRegistry(t, "team1", map[string]any{"anonymousPullEnabled": true})
		diag(t, f.open(t, f.conn("anon", cred, host), connector.Secrets{}), diagnose.Options{Repository: "samples/hello"}, anonPass)
	})
}
