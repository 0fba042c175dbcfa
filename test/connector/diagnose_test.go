package connector

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/diagnose"
	"github.com/cerulean-registry/cerulean/identity/graph"
)

// want is an expected step outcome: status and code; reason (optional) must be part of
// the step's reason.
type want struct {
	status diagnose.Status
	code   string
	reason string
}

func diag(t *testing.T, s *connector.Session, opts diagnose.Options, expect map[string]want) *diagnose.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep := diagnose.Run(ctx, s, opts)
	for step, w := range expect {
		st := rep.Step(step)
		switch {
		case st == nil:
			t.Errorf("no %s step", step)
		case st.Status != w.status || st.Code != w.code || !strings.Contains(st.Reason, w.reason):
			t.Errorf("%s: %s %s %q, want %s %s %q", step, st.Status, st.Code, st.Reason, w.status, w.code, w.reason)
		}
	}
	if t.Failed() {
		for _, st := range rep.Steps {
			t.Logf("  %s %s %s %s %v", st.Status, st.Name, st.Code, st.Reason, st.Details)
		}
	}
	return rep
}

// allPass is a connection that works end to end.
var allPass = map[string]want{
	diagnose.StepEndpoint: {diagnose.Pass, diagnose.OK, ""}, diagnose.StepChallenge: {diagnose.Pass, diagnose.OK, ""},
	diagnose.StepSignIn: {diagnose.Pass, diagnose.OK, ""}, diagnose.StepExchange: {diagnose.Pass, diagnose.OK, ""},
	diagnose.StepCatalog: {diagnose.Pass, diagnose.OK, ""}, diagnose.StepTags: {diagnose.Pass, diagnose.OK, ""},
	diagnose.StepManifest: {diagnose.Pass, diagnose.OK, ""}, diagnose.StepARM: {diagnose.Pass, diagnose.OK, ""},
}

func with(base map[string]want, changes map[string]want) map[string]want {
	out := map[string]want{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

// TestDiagnoseEntra runs the staged test for every Entra credential kind: each signs in
// and pulls, and each failure gets its diagnosis.
func TestDiagnoseEntra(t *testing.T) {
	f := start(t)
	f.push(t, f.host, "samples/hello", "v1")
	regScope := f.RegistryID(f.Boot.RegistryName)

	// A service principal with AcrPull (data) and Reader (ARM discovery).
	sp := f.NewPrincipal(t, "puller")
	f.Assign(t, regScope, roleAcrPull, sp.ObjectID, "")
	f.Assign(t, regScope, roleReader, sp.ObjectID, "")
	spCred := connector.Credential{Kind: connector.ServicePrincipalSecret, ClientID: sp.ClientID}

	t.Run("service principal secret", func(t *testing.T) {
		var logs logBuffer
		s := f.open(t, f.conn("sp", spCred), connector.Secrets{ClientSecret: sp.Secret},
			connector.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		rep := diag(t, s, diagnose.Options{}, allPass)
		if st := rep.Step(diagnose.StepSignIn); st.Details["objectId"] != sp.ObjectID || st.Details["tenant"] != f.Boot.TenantID ||
			st.Details["audience"] != connector.DefaultACRAudience {
			t.Errorf("sign-in details %v", st.Details)
		}
		if rep.Registry != f.host || !rep.OK {
			t.Errorf("registry %s ok %v", rep.Registry, rep.OK)
		}
		// No secret and no token (JWTs start with eyJ) in the logs or the report.
		if l := logs.String(); l == "" || strings.Contains(l, sp.Secret) || strings.Contains(l, "eyJ") {
			t.Errorf("logs hold a secret or a token (or nothing): %s", l)
		}
	})
	t.Run("service principal secret, ARM audience", func(t *testing.T) {
		cred := spCred
		cred.Audience = connector.AudienceARM
		rep := diag(t, f.open(t, f.conn("sp-arm", cred), connector.Secrets{ClientSecret: sp.Secret}), diagnose.Options{}, allPass)
		if aud := rep.Step(diagnose.StepSignIn).Details["audience"]; strings.TrimSuffix(aud, "/") != "https://management.core.windows.net" {
			t.Errorf("audience %s", aud)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		diag(t, f.open(t, f.conn("sp-bad", spCred, f.host), connector.Secrets{ClientSecret: "not-the-secret"}), diagnose.Options{}, map[string]want{
			diagnose.StepChallenge: {diagnose.Pass, diagnose.OK, ""},
			diagnose.StepSignIn:    {diagnose.Fail, diagnose.SignInInvalidSecret, sp.ClientID},
			diagnose.StepExchange:  {diagnose.Skip, diagnose.Blocked, ""},
			diagnose.StepARM:       {diagnose.Skip, diagnose.Blocked, ""},
		})
	})
	t.Run("unknown client", func(t *testing.T) {
		cred := spCred
		cred.ClientID = "11111111-2222-3333-4444-555555555555"
		diag(t, f.open(t, f.conn("sp-unknown", cred), connector.Secrets{ClientSecret: "x"}), diagnose.Options{}, map[string]want{
			// It lists no registry and cannot discover one: sign-in is still diagnosed.
			diagnose.StepEndpoint: {diagnose.Skip, diagnose.Blocked, "ARM discovery failed"},
			diagnose.StepSignIn:   {diagnose.Fail, diagnose.SignInUnknownClient, cred.ClientID},
			diagnose.StepExchange: {diagnose.Skip, diagnose.Blocked, ""},
			diagnose.StepARM:      {diagnose.Skip, diagnose.Blocked, ""},
		})
	})
	t.Run("no AcrPull", func(t *testing.T) {
		other := f.NewPrincipal(t, "no-roles")
		c := f.conn("sp-noroles", connector.Credential{Kind: connector.ServicePrincipalSecret, ClientID: other.ClientID}, f.host)
		diag(t, f.open(t, c, connector.Secrets{ClientSecret: other.Secret}), diagnose.Options{}, map[string]want{
			diagnose.StepSignIn:   {diagnose.Pass, diagnose.OK, ""},
			diagnose.StepExchange: {diagnose.Pass, diagnose.OK, ""},
			diagnose.StepCatalog:  {diagnose.Fail, diagnose.ACRPullMissing, "AcrPull on registry " + f.host + " is missing for object id " + other.ObjectID},
			diagnose.StepTags:     {diagnose.Skip, diagnose.Blocked, ""},
			// It lists the registry itself, so ARM discovery is not needed: a warning.
			diagnose.StepARM: {diagnose.Warn, diagnose.ARMRegistryNotFound, f.host},
		})
		// Told which repository, when one is given.
		diag(t, f.open(t, c, connector.Secrets{ClientSecret: other.Secret}), diagnose.Options{Repository: "samples/hello"}, map[string]want{
			diagnose.StepCatalog: {diagnose.Fail, diagnose.ACRPullMissing, ""},
		})
	})
	t.Run("registry refuses ARM-audience tokens", func(t *testing.T) {
		host := f.CreateRegistry(t, "armoff", "Premium", map[string]any{
			"policies": map[string]any{"azureADAuthenticationAsArmPolicy": map[string]any{"status": "disabled"}}})
		f.Assign(t, f.RegistryID("armoff"), roleAcrPull, sp.ObjectID, "")
		f.push(t, host, "samples/hello", "v1")
		cred := spCred
		cred.Audience = connector.AudienceARM
		diag(t, f.open(t, f.conn("sp-armoff", cred, host), connector.Secrets{ClientSecret: sp.Secret}), diagnose.Options{}, map[string]want{
			diagnose.StepSignIn:   {diagnose.Pass, diagnose.OK, ""},
			diagnose.StepExchange: {diagnose.Fail, diagnose.ExchangeRefusedARMAudience, "refuses ARM-audience tokens"},
		})
		// The ACR audience works there.
		diag(t, f.open(t, f.conn("sp-armoff-acr", spCred, host), connector.Secrets{ClientSecret: sp.Secret}), diagnose.Options{},
			map[string]want{diagnose.StepManifest: {diagnose.Pass, diagnose.OK, ""}})
	})

	t.Run("service principal certificate", func(t *testing.T) {
		nsp, err := f.Graph.CreateServicePrincipalWithSecret(t.Context(), "cert-app", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		der, pemBytes := certificatePEM(t)
		if _, err := f.Graph.AddKey(t.Context(), nsp.ApplicationObjectID, graph.KeyCredential{Type: "AsymmetricX509Cert", Usage: "Verify", Key: der}); err != nil {
			t.Fatal(err)
		}
		f.Assign(t, regScope, roleReader, nsp.ObjectID, "")
		cred := connector.Credential{Kind: connector.ServicePrincipalCertificate, ClientID: nsp.AppID}
		diag(t, f.open(t, f.conn("cert", cred), connector.Secrets{Certificate: pemBytes}), diagnose.Options{}, allPass)
		_, otherPEM := certificatePEM(t)
		diag(t, f.open(t, f.conn("cert-bad", cred), connector.Secrets{Certificate: otherPEM}), diagnose.Options{}, map[string]want{
			diagnose.StepSignIn: {diagnose.Fail, diagnose.SignInCertRejected, nsp.AppID},
		})
	})

	t.Run("workload identity", func(t *testing.T) {
		wi := f.NewPrincipal(t, "workload")
		app, err := f.Graph.ResolveApplication(t.Context(), wi.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		const subject = "system:serviceaccount:ns:scanner"
		if _, err := f.Graph.AddFederatedCredential(t.Context(), app.ID, graph.FederatedIdentityCredential{Name: "k8s",
			Issuer: f.issuer.url, Subject: subject, Audiences: []string{"api://AzureADTokenExchange"}}); err != nil {
			t.Fatal(err)
		}
		f.Assign(t, regScope, roleReader, wi.ObjectID, "")
		cred := connector.Credential{Kind: connector.WorkloadIdentity, ClientID: wi.ClientID, TokenFile: f.issuer.tokenFile(t, subject)}
		diag(t, f.open(t, f.conn("wi", cred), connector.Secrets{}), diagnose.Options{}, allPass)
		cred.TokenFile = f.issuer.tokenFile(t, "system:serviceaccount:ns:other")
		diag(t, f.open(t, f.conn("wi-subject", cred), connector.Secrets{}), diagnose.Options{}, map[string]want{
			diagnose.StepSignIn: {diagnose.Fail, diagnose.SignInNoFederation, "subject"},
		})
		cred.TokenFile = "/nonexistent/azure-identity-token"
		diag(t, f.open(t, f.conn("wi-file", cred), connector.Secrets{}), diagnose.Options{}, map[string]want{
			diagnose.StepSignIn: {diagnose.Fail, diagnose.SignInTokenFile, ""},
		})
	})

	ua, err := f.Graph.CreateManagedIdentity(t.Context(), "scanner-id")
	if err != nil {
		t.Fatal(err)
	}
	host, err := f.Graph.CreateIdentityHost(t.Context(), "edge1", []string{ua.ClientID})
	if err != nil {
		t.Fatal(err)
	}
	f.Assign(t, regScope, roleReader, ua.PrincipalID, "")
	f.Assign(t, regScope, roleReader, host.SystemAssigned.PrincipalID, "")
	stray, err := f.Graph.CreateManagedIdentity(t.Context(), "not-attached")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("managed identity, IMDS", func(t *testing.T) {
		unsetMIEnv(t)
		for _, tc := range []struct {
			name string
			cred connector.Credential
		}{
			{"system-assigned", connector.Credential{Kind: connector.ManagedIdentity}},
			{"user-assigned by client id", connector.Credential{Kind: connector.ManagedIdentity, ClientID: ua.ClientID}},
			{"user-assigned by resource id", connector.Credential{Kind: connector.ManagedIdentity, ResourceID: ua.ResourceID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rep := diag(t, f.open(t, f.conn("mi", tc.cred), connector.Secrets{}), diagnose.Options{}, allPass)
				want := ua.PrincipalID
				if tc.cred.ClientID == "" && tc.cred.ResourceID == "" {
					want = host.SystemAssigned.PrincipalID
				}
				if got := rep.Step(diagnose.StepSignIn).Details["objectId"]; got != want {
					t.Errorf("signed in as %s, want %s", got, want)
				}
			})
		}
		diag(t, f.open(t, f.conn("mi-stray", connector.Credential{Kind: connector.ManagedIdentity, ClientID: stray.ClientID}), connector.Secrets{}),
			diagnose.Options{}, map[string]want{diagnose.StepSignIn: {diagnose.Fail, diagnose.ManagedIdentityUnknown, ""}})
	})
	t.Run("managed identity, App Service", func(t *testing.T) {
		unsetMIEnv(t)
		t.Setenv("IDENTITY_ENDPOINT", f.Srv.URL+"/metadata/identity/oauth2/token")
		t.Setenv("IDENTITY_HEADER", host.Secret)
		diag(t, f.open(t, f.conn("mi-app", connector.Credential{Kind: connector.ManagedIdentity, ClientID: ua.ClientID}), connector.Secrets{}),
			diagnose.Options{}, allPass)
	})
	t.Run("managed identity, none here", func(t *testing.T) {
		unsetMIEnv(t)
		// No IMDS answers: a transport that reaches the server but not 169.254.169.254.
		noIMDS := &http.Client{Transport: imdsRewrite{addr: freeAddr(t), imds: http.DefaultTransport, next: f.Transport()}}
		// (An identity not used before: MSAL caches managed-identity tokens process-wide.)
		s := f.open(t, f.conn("mi-none", connector.Credential{Kind: connector.ManagedIdentity, ObjectID: ua.PrincipalID}), connector.Secrets{},
			connector.WithHTTPClient(noIMDS), connector.WithRetry(0, time.Second))
		diag(t, s, diagnose.Options{}, map[string]want{diagnose.StepSignIn: {diagnose.Fail, diagnose.ManagedIdentityAbsent, ""}})
	})

	t.Run("Azure CLI", func(t *testing.T) {
		if _, err := exec.LookPath("az"); err != nil {
			t.Skip("az not installed (scripts/install-test-deps.sh installs Debian's azure-cli)")
		}
		cli := f.NewPrincipal(t, "cli-user")
		f.Assign(t, regScope, roleReader, cli.ObjectID, "")
		t.Setenv("AZURE_CONFIG_DIR", t.TempDir())
		t.Setenv("REQUESTS_CA_BUNDLE", f.Srv.CAFile)
		t.Setenv("AZURE_CORE_COLLECT_TELEMETRY", "0")
		cred := connector.Credential{Kind: connector.AzureCLI}
		diag(t, f.open(t, f.conn("az-out", cred), connector.Secrets{}), diagnose.Options{}, map[string]want{
			diagnose.StepSignIn: {diagnose.Fail, diagnose.AzureCLINotSignedIn, "az login"},
		})
		az := func(args ...string) {
			t.Helper()
			if out, err := exec.CommandContext(t.Context(), "az", args...).CombinedOutput(); err != nil {
				t.Fatalf("az %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		az("cloud", "register", "-n", "cerulean", "--endpoint-resource-manager", f.Srv.URL+"/",
			"--endpoint-active-directory", f.Srv.URL+"/adfs", "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
			"--suffix-acr-login-server-endpoint", "."+f.cloud.ACRSuffix)
		az("cloud", "set", "-n", "cerulean")
		az("login", "--service-principal", "-u", cli.ClientID, "-p", cli.Secret, "--tenant", "adfs", "--allow-no-subscriptions")
		rep := diag(t, f.open(t, f.conn("az", cred), connector.Secrets{}), diagnose.Options{}, allPass)
		if got := rep.Step(diagnose.StepSignIn).Details["objectId"]; got != cli.ObjectID {
			t.Errorf("signed in as %s, want %s", got, cli.ObjectID)
		}
	})

	t.Run("TLS untrusted", func(t *testing.T) {
		c := f.conn("no-ca", spCred, f.host)
		c.Cloud.CAFile = ""
		s, err := connector.Open(t.Context(), c, connector.Secrets{ClientSecret: sp.Secret}, connector.WithRetry(0, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		diag(t, s, diagnose.Options{}, map[string]want{
			diagnose.StepEndpoint:  {diagnose.Fail, diagnose.TLSUntrusted, "Cerulean local CA"},
			diagnose.StepChallenge: {diagnose.Skip, diagnose.Blocked, ""},
		})
	})
	t.Run("endpoint unreachable", func(t *testing.T) {
		addr := freeAddr(t)
		diag(t, f.open(t, f.conn("closed", spCred, addr), connector.Secrets{ClientSecret: sp.Secret}), diagnose.Options{}, map[string]want{
			diagnose.StepEndpoint: {diagnose.Fail, diagnose.EndpointUnreachable, "refuses connections"},
		})
	})
	t.Run("challenge names another host", func(t *testing.T) {
		// A proxy in front of the server rewrites the realm, as a hostile or misconfigured
		// front end would: no Entra token may be requested or sent.
		target, _ := url.Parse(f.Srv.URL)
		var exchanges atomic.Int64
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = f.Srv.Transport()
		rp.ModifyResponse = func(r *http.Response) error {
			if h := r.Header.Get("Www-Authenticate"); h != "" {
				r.Header.Set("Www-Authenticate", strings.Replace(h, "https://"+f.host, "https://login.attacker.example", 1))
			}
			return nil
		}
		proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth2/exchange" || r.URL.Path == "/oauth2/token" {
				exchanges.Add(1)
			}
			r.Host = f.host
			rp.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		ph := strings.TrimPrefix(proxy.URL, "https://")
		cred := &countingCredential{}
		s := f.open(t, f.conn("proxied", spCred, ph), connector.Secrets{ClientSecret: sp.Secret},
			connector.WithHTTPClient(proxy.Client()), connector.WithCredential(cred))
		diag(t, s, diagnose.Options{}, map[string]want{
			diagnose.StepEndpoint:  {diagnose.Pass, diagnose.OK, ""},
			diagnose.StepChallenge: {diagnose.Fail, diagnose.ChallengeHostMismatch, "login.attacker.example"},
			diagnose.StepSignIn:    {diagnose.Skip, diagnose.Blocked, ""},
		})
		// And a plain request through the registry client refuses too.
		reg, _ := s.Registry(t.Context(), ph)
		req, _ := http.NewRequest(http.MethodGet, "/v2/_catalog", nil)
		if _, err := reg.Do(t.Context(), req, "registry:catalog:*"); err == nil {
			t.Error("request sent despite the challenge mismatch")
		}
		if exchanges.Load() != 0 || cred.acr.Load() != 0 {
			t.Errorf("%d token-service requests and %d ACR-audience Entra token requests despite the mismatch", exchanges.Load(), cred.acr.Load())
		}
	})
}

// unsetMIEnv clears the variables that steer azidentity's managed identity elsewhere.
func unsetMIEnv(t *testing.T) {
	for _, v := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
		"IDENTITY_SERVER_THUMBPRINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
