// Package diagnose tests a connection as a staged diagnosis, as `cerulean connect test`
// shows it: the endpoint is reachable and its TLS valid; the /v2/ challenge's realm and
// service are the login server (the host check every credential relies on); sign-in
// (tenant, object id and audience, never the token); the exchange at the registry's
// token service; the catalog; one tag list; one manifest read; ARM registry discovery.
//
// Each step passes or fails with a stable code (codes.go) and a reason in plain words,
// derived from the exact answers Entra ID, the registry's token service and /v2 give
// (acr-protocol.md §1). Where the data plane cannot say why (a repository token's
// password and its token's status are refused with the same 401), the diagnosis reads the
// registry's ARM side when a credential that can read it is available, and says
// "unknown" otherwise.
package diagnose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/connector"
)

// Status of a step.
type Status string

// Step statuses. Warn is a finding that is expected for the credential kind (a
// repository token cannot list the catalog) and does not fail the test.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Warn Status = "warn"
	Skip Status = "skip"
)

// Step names, in order.
const (
	StepEndpoint  = "endpoint"
	StepChallenge = "challenge"
	StepSignIn    = "signin"
	StepExchange  = "exchange"
	StepCatalog   = "catalog"
	StepTags      = "tags"
	StepManifest  = "manifest"
	StepARM       = "arm"
)

// Step is the outcome of one stage.
type Step struct {
	Name     string            `json:"step"`
	Status   Status            `json:"status"`
	Code     string            `json:"code"`
	Reason   string            `json:"reason"`
	Details  map[string]string `json:"details,omitempty"`
	Duration time.Duration     `json:"durationNs"`
}

// Report is the whole diagnosis.
type Report struct {
	Connection string          `json:"connection"`
	Kind       string          `json:"credentialKind"`
	Cloud      string          `json:"cloud"`
	Registry   string          `json:"registry"`
	OK         bool            `json:"ok"`
	Steps      []Step          `json:"steps"`
	Stats      connector.Stats `json:"stats"`
}

// Failed returns the first failed step, or nil.
func (r *Report) Failed() *Step {
	for i := range r.Steps {
		if r.Steps[i].Status == Fail {
			return &r.Steps[i]
		}
	}
	return nil
}

// Step returns the step of a name, or nil.
func (r *Report) Step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Options tune a diagnosis.
type Options struct {
	// Registry is the login server to test; default: the first the connection covers.
	Registry string
	// Repository to list tags of and read a manifest from; default: the catalog's first.
	Repository string
	// ARM is a session that can read the registry's ARM side (the registry, its tokens,
	// its admin credentials), to tell why the data plane refused. Default: the tested
	// session itself when it signs in to Entra ID.
	ARM *connector.Session
	// Now is the clock for expiry comparisons (default time.Now).
	Now func() time.Time
}

// run holds a diagnosis in progress.
type run struct {
	s      *connector.Session
	conn   connector.Connection
	opts   Options
	report *Report
	reg    *connector.RegistryClient
	host   string
	arm    *armView // what ARM says about the registry, once read
	repo   string
	tag    string
	armErr error
}

// Run diagnoses the session's connection. It never fails as a whole: every problem is a
// step's finding.
func Run(ctx context.Context, s *connector.Session, opts Options) *Report {
	conn := s.Connection()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ARM == nil && conn.Credential.Kind.Entra() {
		opts.ARM = s
	}
	r := &run{s: s, conn: conn, opts: opts, report: &Report{Connection: conn.Name, Kind: string(conn.Credential.Kind), Cloud: conn.Cloud.Name}}
	r.host = opts.Registry
	var discovery []connector.RegistryRef
	var discoveryErr error
	if r.host == "" {
		discovery, discoveryErr = s.Registries(ctx)
		if len(discovery) > 0 {
			r.host = discovery[0].LoginServer
		}
	}
	r.report.Registry = r.host
	if r.host == "" {
		// Nothing to reach: say who signs in, and let the ARM step say why no registry.
		reason := "no registry to test: the connection lists none and ARM discovery found none"
		if discoveryErr != nil {
			reason = "no registry to test: ARM discovery failed (see the arm step)"
		}
		for _, n := range []string{StepEndpoint, StepChallenge} {
			r.add(Step{Name: n, Status: Skip, Code: Blocked, Reason: reason})
		}
		st := r.timed(StepSignIn, func() Step { return r.signIn(ctx) })
		for _, n := range []string{StepExchange, StepCatalog, StepTags, StepManifest} {
			r.add(Step{Name: n, Status: Skip, Code: Blocked, Reason: reason})
		}
		if st.Status != Fail && discoveryErr == nil {
			r.add(Step{Name: StepARM, Status: Fail, Code: ARMRegistryNotFound, Reason: "ARM lists no registry in the " +
				"connection's subscriptions (or none the identity can read: Reader or above is needed)"})
			r.finish()
			return r.report
		}
	} else {
		r.registrySteps(ctx)
	}
	r.timed(StepARM, func() Step { return r.armStep(ctx) })
	r.finish()
	return r.report
}

func (r *run) finish() {
	r.report.OK = r.report.Failed() == nil
	r.report.Stats = r.s.Stats()
}

func (r *run) add(st Step) { r.report.Steps = append(r.report.Steps, st) }

// timed runs a step and records it with its duration.
func (r *run) timed(name string, f func() Step) Step {
	start := time.Now()
	st := f()
	st.Name, st.Duration = name, time.Since(start)
	r.add(st)
	return st
}

// registrySteps are the data-plane stages; a failure blocks the ones after it.
func (r *run) registrySteps(ctx context.Context) {
	var err error
	r.reg, err = r.s.Registry(ctx, r.host)
	if err != nil {
		r.add(Step{Name: StepEndpoint, Status: Fail, Code: HostNotAllowed, Reason: err.Error()})
		r.blockFrom(StepChallenge)
		return
	}
	stages := []struct {
		name string
		f    func(context.Context) Step
	}{
		{StepEndpoint, r.endpoint}, {StepChallenge, r.challenge}, {StepSignIn, r.signIn}, {StepExchange, r.exchange},
		{StepCatalog, r.catalog}, {StepTags, r.tags}, {StepManifest, r.manifest},
	}
	for i, stage := range stages {
		st := r.timed(stage.name, func() Step { return stage.f(ctx) })
		if st.Status == Fail {
			for _, rest := range stages[i+1:] {
				r.add(Step{Name: rest.name, Status: Skip, Code: Blocked, Reason: "not tried: the " + stage.name + " step failed"})
			}
			return
		}
	}
}

func (r *run) blockFrom(first string) {
	started := false
	for _, n := range []string{StepEndpoint, StepChallenge, StepSignIn, StepExchange, StepCatalog, StepTags, StepManifest} {
		if n == first {
			started = true
		}
		if started {
			r.add(Step{Name: n, Status: Skip, Code: Blocked, Reason: "not tried"})
		}
	}
}

func pass(reason string, details map[string]string) Step {
	return Step{Status: Pass, Code: OK, Reason: reason, Details: details}
}

func fail(code, reason string) Step { return Step{Status: Fail, Code: code, Reason: reason} }

// endpoint: GET /v2/ without credentials, classifying network and TLS failures.
func (r *run) endpoint(ctx context.Context) Step {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+r.host+"/v2/", nil)
	if err != nil {
		return fail(NotARegistry, err.Error())
	}
	resp, err := r.s.HTTP().Do(req)
	if err != nil {
		code, reason := classifyNetError(r.host, err)
		return fail(code, reason)
	}
	defer drain(resp)
	details := map[string]string{"status": resp.Status}
	if st := resp.TLS; st != nil && len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		details["tlsVersion"] = tlsVersion(st.Version)
		details["certificateSubject"] = leaf.Subject.String()
		details["certificateIssuer"] = leaf.Issuer.String()
		details["certificateExpires"] = leaf.NotAfter.UTC().Format(time.RFC3339)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK:
		return pass(fmt.Sprintf("%s answers over TLS with a certificate this machine trusts", r.host), details)
	case resp.StatusCode == http.StatusForbidden:
		return fail(NetworkDenied, fmt.Sprintf("%s refuses this client before any sign-in (403): its network rules "+
			"(networkRuleSet, publicNetworkAccess) do not admit this address", r.host))
	case resp.StatusCode == http.StatusTooManyRequests:
		return fail(Throttled, fmt.Sprintf("%s is throttling this client (429)", r.host))
	case resp.StatusCode >= 500:
		return fail(RegistryUnavailable, fmt.Sprintf("%s answers %s: the registry is unavailable", r.host, resp.Status))
	}
	return fail(NotARegistry, fmt.Sprintf("%s answers %s on /v2/: it is not a registry endpoint", r.host, resp.Status))
}

// challenge: the realm and service must be the login server.
func (r *run) challenge(ctx context.Context) Step {
	ch, err := r.reg.Challenge(ctx)
	if err != nil {
		return fail(ChallengeMissing, fmt.Sprintf("/v2/ did not answer with a Bearer challenge: %v", err))
	}
	details := map[string]string{"realm": ch.Realm, "service": ch.Service}
	if ch.Scheme == "" {
		return pass("/v2/ answers without sign-in: no challenge to check", details)
	}
	if err := r.reg.VerifyChallenge(ch); err != nil {
		return Step{Status: Fail, Code: ChallengeHostMismatch, Details: details, Reason: fmt.Sprintf(
			"the challenge of %s names realm %q and service %q, not %s itself: no credential or Entra token is "+
				"sent to another host", r.host, ch.Realm, ch.Service, r.host)}
	}
	return pass(fmt.Sprintf("the challenge's realm and service are %s", r.host), details)
}

// signIn: an Entra token for the exchange's audience; shows who signed in.
func (r *run) signIn(ctx context.Context) Step {
	kind := r.conn.Credential.Kind
	if !kind.Entra() {
		who := map[connector.CredentialKind]string{connector.AdminUser: "the admin user " + r.conn.Credential.Username,
			connector.RepositoryToken: "the repository-scoped token " + r.conn.Credential.Username, connector.Anonymous: "no one (anonymous)"}[kind]
		return Step{Status: Skip, Code: OK, Reason: fmt.Sprintf("no Entra sign-in: %s signs in at the registry's token service", who)}
	}
	audience := r.s.EntraAudience()
	tok, err := r.s.EntraToken(ctx, audience)
	if err != nil {
		code, reason := classifySignIn(r.conn, err)
		return fail(code, reason)
	}
	c, _ := connector.DecodeClaims(tok.Token)
	details := map[string]string{"tenant": c.TenantID, "objectId": c.ObjectID, "appId": c.AppID,
		"audience": c.AudienceString(), "expiresAt": tok.ExpiresOn.UTC().Format(time.RFC3339)}
	return pass(fmt.Sprintf("signed in to Entra ID as object %s of tenant %s, for audience %s", c.ObjectID, c.TenantID, c.AudienceString()), details)
}

// exchange: Entra token → ACR refresh token; or the Basic/anonymous sign-in at /oauth2/token.
func (r *run) exchange(ctx context.Context) Step {
	kind := r.conn.Credential.Kind
	if kind.Entra() {
		tok, err := r.reg.RefreshToken(ctx)
		if err == nil {
			return pass(fmt.Sprintf("%s exchanged the Entra token for a refresh token", r.host),
				map[string]string{"refreshTokenExpiresAt": tok.ExpiresAt.UTC().Format(time.RFC3339)})
		}
		return r.exchangeRefused(ctx, err)
	}
	tok, err := r.reg.AccessToken(ctx)
	if err != nil {
		return r.basicRefused(ctx, err)
	}
	what := "anonymous access token"
	if kind != connector.Anonymous {
		what = fmt.Sprintf("access token for %s", r.conn.Credential.Username)
	}
	return pass(fmt.Sprintf("%s's token service issued an %s", r.host, what),
		map[string]string{"accessTokenExpiresAt": tok.ExpiresAt.UTC().Format(time.RFC3339)})
}

// exchangeRefused explains a refused exchange: with ARM-audience tokens, by trying the
// ACR audience; otherwise from the registry's answer.
func (r *run) exchangeRefused(ctx context.Context, err error) Step {
	var te *connector.TokenError
	if !errors.As(err, &te) {
		return transportFailure(err)
	}
	switch {
	case te.Status == http.StatusNotFound:
		return fail(RegistryUnknown, fmt.Sprintf("%s hosts no registry at this login server (%s)", r.host, te.Code))
	case te.Status == http.StatusTooManyRequests:
		return fail(SignInThrottled, fmt.Sprintf("%s is throttling sign-ins; retry after %s", r.host, te.RetryAfter))
	case te.Status != http.StatusUnauthorized:
		return fail(UnexpectedResponse, fmt.Sprintf("the exchange at %s failed: %v", r.host, te))
	}
	if r.s.EntraAudience() != connector.DefaultACRAudience && r.s.EntraAudience() != r.conn.Cloud.ACRAudience {
		if _, err2 := r.reg.Exchange(ctx, connector.DefaultACRAudience); err2 == nil {
			return fail(ExchangeRefusedARMAudience, fmt.Sprintf("registry %s refuses ARM-audience tokens (%s): its "+
				"azureADAuthenticationAsArmPolicy is disabled; ACR-audience tokens are accepted: set the connection's "+
				"audience to %q", r.host, r.s.EntraAudience(), connector.AudienceACR))
		}
	}
	return fail(ExchangeRefused, fmt.Sprintf("%s refused the Entra token (401 %s): the principal is disabled, or the "+
		"token's tenant or audience is not one this registry accepts", r.host, te.Code))
}

// basicRefused explains a refused Basic sign-in, from ARM when it can be read.
func (r *run) basicRefused(ctx context.Context, err error) Step {
	var te *connector.TokenError
	if !errors.As(err, &te) {
		return transportFailure(err)
	}
	switch {
	case te.Status == http.StatusNotFound:
		return fail(RegistryUnknown, fmt.Sprintf("%s hosts no registry at this login server", r.host))
	case te.Status == http.StatusTooManyRequests:
		return fail(SignInThrottled, fmt.Sprintf("%s is slowing down sign-ins after failures (429); retry after %s",
			r.host, te.RetryAfter))
	case te.Status != http.StatusUnauthorized:
		return fail(UnexpectedResponse, fmt.Sprintf("the token service of %s failed: %v", r.host, te))
	}
	user := r.conn.Credential.Username
	switch r.conn.Credential.Kind {
	case connector.RepositoryToken:
		return r.tokenRefused(ctx, user)
	case connector.AdminUser:
		return r.adminRefused(ctx, user)
	}
	return fail(CredentialsRejected, fmt.Sprintf("%s refused anonymous access (401)", r.host))
}

// catalog: registry:catalog:* and one page of /v2/_catalog.
func (r *run) catalog(ctx context.Context) Step {
	kind := r.conn.Credential.Kind
	tok, err := r.reg.AccessToken(ctx, "registry:catalog:*")
	if err != nil {
		return transportFailure(err)
	}
	if tok.Claims && !tok.Grants("registry", "catalog", "*") {
		switch kind {
		case connector.RepositoryToken:
			return Step{Status: Warn, Code: CatalogNotAllowedForTokens, Reason: "repository-scoped tokens cannot list the " +
				"catalog (ACR never grants registry:catalog:* to them)" + r.repoHint()}
		case connector.Anonymous:
			return Step{Status: Warn, Code: CatalogNotAllowedAnonymous, Reason: "anonymous access cannot list the catalog" + r.repoHint()}
		case connector.AdminUser:
			return fail(AccessDenied, fmt.Sprintf("%s did not grant the admin user catalog listing", r.host))
		}
		if r.abac(ctx) {
			return fail(CatalogListerMissing, fmt.Sprintf("registry %s uses ABAC repository permissions: the role "+
				"\"Container Registry Repository Catalog Lister\" is missing for %s", r.registryName(), r.principal()))
		}
		return fail(ACRPullMissing, fmt.Sprintf("AcrPull on registry %s is missing for %s (the token service granted no "+
			"catalog listing, which comes with pull)", r.registryName(), r.principal()))
	}
	var body struct {
		Repositories []string `json:"repositories"`
	}
	st, ok := r.get(ctx, "/v2/_catalog?n=100", &body, "registry:catalog:*")
	if !ok {
		return st
	}
	if r.repo == "" && r.opts.Repository == "" && len(body.Repositories) > 0 {
		r.repo = body.Repositories[0]
	}
	return pass(fmt.Sprintf("listed %d repositories (first page)", len(body.Repositories)),
		map[string]string{"repositories": fmt.Sprint(len(body.Repositories))})
}

func (r *run) repoHint() string {
	if r.opts.Repository != "" {
		return ""
	}
	return "; give a repository to test pulls"
}

// tags: repository:R:pull and /v2/R/tags/list.
func (r *run) tags(ctx context.Context) Step {
	if r.opts.Repository != "" {
		r.repo = r.opts.Repository
	}
	if r.repo == "" && r.conn.Credential.Kind == connector.RepositoryToken {
		r.repo = r.repositoryFromScopeMap(ctx)
	}
	if r.repo == "" {
		if st := r.report.Step(StepCatalog); st != nil && st.Status == Pass {
			return Step{Status: Skip, Code: RegistryEmpty, Reason: fmt.Sprintf("registry %s has no repositories", r.host)}
		}
		return Step{Status: Skip, Code: NoRepository, Reason: "no repository known to test: give one"}
	}
	scope := "repository:" + r.repo + ":pull"
	tok, err := r.reg.AccessToken(ctx, scope)
	if err != nil {
		return transportFailure(err)
	}
	if tok.Claims && !tok.Grants("repository", r.repo, "pull") {
		return r.pullDenied(ctx)
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	st, ok := r.get(ctx, "/v2/"+r.repo+"/tags/list?n=100", &body, scope)
	if !ok {
		return st
	}
	if len(body.Tags) > 0 {
		r.tag = body.Tags[0]
	}
	return pass(fmt.Sprintf("listed %d tags of %s", len(body.Tags), r.repo),
		map[string]string{"repository": r.repo, "tags": fmt.Sprint(len(body.Tags))})
}

// pullDenied explains why the token service granted no pull on the repository.
func (r *run) pullDenied(ctx context.Context) Step {
	switch r.conn.Credential.Kind {
	case connector.RepositoryToken:
		return fail(ScopeMapDenies, fmt.Sprintf("the scope map of token %s does not allow content/read on repository %s",
			r.conn.Credential.Username, r.repo))
	case connector.Anonymous:
		return fail(AnonymousPullDisabled, fmt.Sprintf("anonymous pull is disabled on registry %s", r.registryName()))
	case connector.AdminUser:
		return fail(AccessDenied, fmt.Sprintf("%s did not grant the admin user pull on %s", r.host, r.repo))
	}
	if r.abac(ctx) {
		return fail(RepositoryReaderMissing, fmt.Sprintf("registry %s uses ABAC repository permissions: no role assignment "+
			"(Container Registry Repository Reader or above) grants %s content/read on repository %s",
			r.registryName(), r.principal(), r.repo))
	}
	return fail(ACRPullMissing, fmt.Sprintf("AcrPull on registry %s is missing for %s (the token service granted no pull on %s)",
		r.registryName(), r.principal(), r.repo))
}

// manifest: GET /v2/R/manifests/<first tag>.
func (r *run) manifest(ctx context.Context) Step {
	if r.repo == "" {
		return Step{Status: Skip, Code: NoRepository, Reason: "no repository to read a manifest from"}
	}
	if r.tag == "" {
		return Step{Status: Skip, Code: NoTags, Reason: fmt.Sprintf("repository %s has no tags", r.repo)}
	}
	req, _ := http.NewRequest(http.MethodGet, "/v2/"+r.repo+"/manifests/"+url.PathEscape(r.tag), nil)
	req.Header.Set("Accept", strings.Join([]string{"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json", "*/*;q=0.1"}, ", "))
	resp, err := r.reg.Do(ctx, req, "repository:"+r.repo+":pull")
	if err != nil {
		return transportFailure(err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return r.statusFailure(resp, "manifest "+r.repo+":"+r.tag)
	}
	return pass(fmt.Sprintf("read manifest %s:%s", r.repo, r.tag), map[string]string{
		"reference": r.repo + ":" + r.tag, "digest": resp.Header.Get("Docker-Content-Digest"), "mediaType": resp.Header.Get("Content-Type")})
}

// get sends an authenticated GET and decodes a 200 JSON answer.
func (r *run) get(ctx context.Context, path string, out any, scopes ...string) (Step, bool) {
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	resp, err := r.reg.Do(ctx, req, scopes...)
	if err != nil {
		return transportFailure(err), false
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return r.statusFailure(resp, path), false
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil {
		return fail(UnexpectedResponse, fmt.Sprintf("%s: unreadable answer: %v", path, err)), false
	}
	return Step{}, true
}

// statusFailure maps a registry error answer.
func (r *run) statusFailure(resp *http.Response, what string) Step {
	e := connector.ResponseError(what, resp).(*connector.TokenError)
	switch {
	case resp.StatusCode == http.StatusNotFound && e.Code == "MANIFEST_UNKNOWN":
		return fail(ManifestNotFound, fmt.Sprintf("%s: not found", what))
	case resp.StatusCode == http.StatusNotFound:
		return fail(RepositoryNotFound, fmt.Sprintf("%s: repository %s not found (%s)", what, r.repo, e.Code))
	case resp.StatusCode == http.StatusUnauthorized:
		return fail(AccessDenied, fmt.Sprintf("%s: refused (401) although the token service granted the scope: the "+
			"token was revoked or the repository's readEnabled/listEnabled is off", what))
	case resp.StatusCode == http.StatusForbidden:
		return fail(NetworkDenied, fmt.Sprintf("%s: refused (403 %s)", what, e.Code))
	case resp.StatusCode == http.StatusTooManyRequests:
		return fail(Throttled, fmt.Sprintf("%s: throttled (429) after retries", what))
	case resp.StatusCode >= 500:
		return fail(RegistryUnavailable, fmt.Sprintf("%s: %s", what, resp.Status))
	}
	return fail(UnexpectedResponse, fmt.Sprintf("%s: %v", what, e))
}

func (r *run) principal() string {
	if st := r.report.Step(StepSignIn); st != nil && st.Details["objectId"] != "" {
		return "object id " + st.Details["objectId"]
	}
	return "this identity"
}

func (r *run) registryName() string {
	if r.arm != nil && r.arm.Name != "" {
		return r.arm.Name
	}
	return r.host
}

func transportFailure(err error) Step {
	if errors.Is(err, connector.ErrChallengeHostMismatch) {
		return fail(ChallengeHostMismatch, err.Error())
	}
	var se *connector.SignInError
	if errors.As(err, &se) {
		return fail(SignInFailed, err.Error())
	}
	code, reason := classifyNetError("", err)
	return fail(code, reason)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
