package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cerulean-registry/cerulean/connector"
)

// armView is what the diagnosis reads of a registry through ARM.
type armView struct {
	ID, Name, Subscription string
	Properties             struct {
		LoginServer          string `json:"loginServer"`
		AdminUserEnabled     bool   `json:"adminUserEnabled"`
		AnonymousPullEnabled bool   `json:"anonymousPullEnabled"`
		RoleAssignmentMode   string `json:"roleAssignmentMode"`
		Policies             struct {
			AzureADAuthenticationAsArmPolicy struct {
				Status string `json:"status"`
			} `json:"azureADAuthenticationAsArmPolicy"`
		} `json:"policies"`
	} `json:"properties"`
}

var errNoARM = errors.New("no credential that can read ARM")

// loadARM finds the registry in ARM through the inspecting session, once.
func (r *run) loadARM(ctx context.Context) (*armView, error) {
	if r.arm != nil || r.armErr != nil {
		return r.arm, r.armErr
	}
	if r.opts.ARM == nil {
		r.armErr = errNoARM
		return nil, r.armErr
	}
	ref, err := findRegistry(ctx, r.opts.ARM, r.host)
	if err != nil {
		r.armErr = err
		return nil, err
	}
	var v armView
	if err := r.opts.ARM.ARMGet(ctx, ref.ResourceID, &v); err != nil {
		r.armErr = err
		return nil, err
	}
	v.ID, v.Name, v.Subscription = ref.ResourceID, ref.Name, ref.Subscription
	r.arm = &v
	return r.arm, nil
}

// findRegistry looks up a login server in ARM: the session's covered registries, then
// every subscription it can list.
func findRegistry(ctx context.Context, s *connector.Session, host string) (connector.RegistryRef, error) {
	conn := s.Connection()
	subs := conn.Subscriptions
	if len(subs) == 0 {
		var err error
		if subs, err = s.Subscriptions(ctx); err != nil {
			return connector.RegistryRef{}, err
		}
	}
	for _, sub := range subs {
		refs, err := s.RegistriesIn(ctx, sub)
		if err != nil {
			return connector.RegistryRef{}, err
		}
		for _, ref := range refs {
			if strings.EqualFold(ref.LoginServer, host) {
				return ref, nil
			}
		}
	}
	return connector.RegistryRef{}, fmt.Errorf("%w: no registry with login server %s in subscriptions %s",
		errNotInARM, host, strings.Join(subs, ", "))
}

var errNotInARM = errors.New("registry not found in ARM")

func (r *run) abac(ctx context.Context) bool {
	v, err := r.loadARM(ctx)
	return err == nil && v.Properties.RoleAssignmentMode == "AbacRepositoryPermissions"
}

// unknownWhy is the reason when ARM cannot say more.
func (r *run) unknownWhy(err error) string {
	if errors.Is(err, errNoARM) {
		return "unknown without ARM access (test with a connection that can read the registry, --arm-connection)"
	}
	return "unknown: ARM could not be read (" + shortErr(err) + ")"
}

// tokenRefused explains a refused repository-scoped token from its ARM resource.
func (r *run) tokenRefused(ctx context.Context, user string) Step {
	v, err := r.loadARM(ctx)
	if err != nil {
		return fail(CredentialsRejected, fmt.Sprintf("%s refused token %s (401): it is disabled, its password expired, "+
			"or the password is wrong; which is %s", r.host, user, r.unknownWhy(err)))
	}
	var tok struct {
		Properties struct {
			Status      string `json:"status"`
			ScopeMapID  string `json:"scopeMapId"`
			Credentials struct {
				Passwords []struct {
					Name   string     `json:"name"`
					Expiry *time.Time `json:"expiry"`
				} `json:"passwords"`
			} `json:"credentials"`
		} `json:"properties"`
	}
	if err := r.opts.ARM.ARMGet(ctx, v.ID+"/tokens/"+user, &tok); err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return fail(TokenNotFound, fmt.Sprintf("registry %s has no token named %s", v.Name, user))
		}
		return fail(CredentialsRejected, fmt.Sprintf("%s refused token %s (401); why is %s", r.host, user, r.unknownWhy(err)))
	}
	if strings.EqualFold(tok.Properties.Status, "disabled") {
		return fail(TokenDisabled, fmt.Sprintf("token %s of registry %s is disabled", user, v.Name))
	}
	now := r.opts.Now()
	var expired, valid []string
	named := r.conn.Credential.PasswordName
	for _, p := range tok.Properties.Credentials.Passwords {
		switch {
		case p.Expiry != nil && !p.Expiry.After(now):
			if named == "" || strings.EqualFold(named, p.Name) {
				expired = append(expired, fmt.Sprintf("%s expired on %s", p.Name, p.Expiry.UTC().Format(time.RFC3339)))
			}
		case named == "" || strings.EqualFold(named, p.Name):
			until := "no expiry"
			if p.Expiry != nil {
				until = "valid until " + p.Expiry.UTC().Format(time.RFC3339)
			}
			valid = append(valid, p.Name+" "+until)
		}
	}
	switch {
	case len(expired) > 0 && len(valid) == 0:
		return fail(PasswordExpired, fmt.Sprintf("token %s: %s; generate a new password and rotate the connection",
			user, strings.Join(expired, ", ")))
	case len(expired) > 0:
		return fail(CredentialsRejected, fmt.Sprintf("token %s is enabled; %s while %s: if the connection holds the expired "+
			"one, generate a new password and rotate; otherwise the password is wrong", user, strings.Join(expired, ", "),
			strings.Join(valid, ", ")))
	case len(valid) == 0:
		return fail(PasswordExpired, fmt.Sprintf("token %s has no password (generate one)", user))
	}
	return fail(PasswordWrong, fmt.Sprintf("token %s is enabled and its passwords are current (%s): the connection's password "+
		"is not one of them (regenerated since?)", user, strings.Join(valid, ", ")))
}

// adminRefused explains a refused admin user from the registry's ARM resource.
func (r *run) adminRefused(ctx context.Context, user string) Step {
	v, err := r.loadARM(ctx)
	if err != nil {
		return fail(CredentialsRejected, fmt.Sprintf("%s refused the admin user %s (401): the admin user is disabled or the "+
			"password is wrong; which is %s", r.host, user, r.unknownWhy(err)))
	}
	if !v.Properties.AdminUserEnabled {
		return fail(AdminUserDisabled, fmt.Sprintf("the admin user of registry %s is disabled (adminUserEnabled is false)", v.Name))
	}
	var creds struct {
		Username  string `json:"username"`
		Passwords []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"passwords"`
	}
	if err := r.opts.ARM.ARMPost(ctx, v.ID+"/listCredentials", &creds); err != nil {
		return fail(CredentialsRejected, fmt.Sprintf("the admin user of %s is enabled, so the password is wrong or was "+
			"regenerated; the passwords could not be compared (%s)", v.Name, shortErr(err)))
	}
	if !strings.EqualFold(creds.Username, user) {
		return fail(PasswordWrong, fmt.Sprintf("the admin user of %s is %s, not %s", v.Name, creds.Username, user))
	}
	for _, p := range creds.Passwords {
		if r.s.PasswordMatches(p.Value) {
			return fail(CredentialsRejected, fmt.Sprintf("the connection holds the admin user's current %s, yet %s refused it", p.Name, r.host))
		}
	}
	return fail(PasswordWrong, fmt.Sprintf("the admin user of %s is enabled, but the connection's password is neither "+
		"password nor password2 (regenerated since?)", v.Name))
}

// repositoryFromScopeMap finds a repository a token's scope map lets it read.
func (r *run) repositoryFromScopeMap(ctx context.Context) string {
	v, err := r.loadARM(ctx)
	if err != nil {
		return ""
	}
	var tok struct {
		Properties struct {
			ScopeMapID string `json:"scopeMapId"`
		} `json:"properties"`
	}
	if r.opts.ARM.ARMGet(ctx, v.ID+"/tokens/"+r.conn.Credential.Username, &tok) != nil || tok.Properties.ScopeMapID == "" {
		return ""
	}
	var sm struct {
		Properties struct {
			Actions []string `json:"actions"`
		} `json:"properties"`
	}
	if r.opts.ARM.ARMGet(ctx, tok.Properties.ScopeMapID, &sm) != nil {
		return ""
	}
	for _, a := range sm.Properties.Actions {
		repo, ok := strings.CutSuffix(strings.TrimPrefix(a, "repositories/"), "/content/read")
		if ok && strings.HasPrefix(a, "repositories/") && !strings.Contains(repo, "*") {
			return repo
		}
	}
	return ""
}

// armStep: ARM registry discovery, as the inventory does it.
func (r *run) armStep(ctx context.Context) Step {
	s, through := r.s, ""
	if !r.conn.Credential.Kind.Entra() {
		if r.opts.ARM == nil {
			return Step{Status: Skip, Code: ARMNotApplicable, Reason: fmt.Sprintf("%s credentials do not reach ARM; registries "+
				"are the connection's own list", r.conn.Credential.Kind)}
		}
		s, through = r.opts.ARM, " (through connection "+r.opts.ARM.Connection().Name+")"
	}
	if st := r.report.Step(StepSignIn); st != nil && st.Status == Fail && s == r.s {
		return Step{Status: Skip, Code: Blocked, Reason: "not tried: sign-in failed"}
	}
	if r.host == "" {
		refs, err := s.Registries(ctx)
		if err != nil {
			return armFailure(s.Connection(), err)
		}
		return pass(fmt.Sprintf("ARM lists %d registries%s", len(refs), through), nil)
	}
	ref, err := findRegistry(ctx, s, r.host)
	if err != nil {
		st := armFailure(s.Connection(), err)
		if st.Code == ARMRegistryNotFound && len(r.conn.Registries) > 0 && s == r.s {
			// The connection lists its registries: ARM discovery is not needed.
			st.Status = Warn
			st.Reason += "; the connection lists its registries, so it does not need ARM discovery"
		}
		return st
	}
	return pass(fmt.Sprintf("ARM lists registry %s with login server %s in subscription %s%s", ref.Name, ref.LoginServer,
		ref.Subscription, through), map[string]string{"resourceId": ref.ResourceID, "subscription": ref.Subscription,
		"resourceGroup": ref.ResourceGroup})
}

func armFailure(conn connector.Connection, err error) Step {
	var re *azcore.ResponseError
	var se *connector.SignInError
	var af *azidentity.AuthenticationFailedError
	switch {
	case errors.Is(err, errNotInARM):
		return fail(ARMRegistryNotFound, err.Error())
	case errors.As(err, &se) || errors.As(err, &af):
		code, reason := classifySignIn(conn, err)
		return fail(code, "signing in for ARM: "+reason)
	case errors.As(err, &re) && re.StatusCode == http.StatusForbidden:
		return fail(ARMForbidden, fmt.Sprintf("ARM refused (403 %s): the identity has no role that reads registries (Reader or "+
			"above) in this subscription", re.ErrorCode))
	case errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized:
		return fail(ARMTokenRefused, fmt.Sprintf("ARM refused the token (401 %s)", re.ErrorCode))
	case errors.As(err, &re):
		return fail(ARMFailed, fmt.Sprintf("ARM answered %d %s", re.StatusCode, re.ErrorCode))
	}
	code, reason := classifyNetError("ARM", err)
	if code == EndpointUnreachable || code == EndpointDNS {
		code = ARMUnreachable
	}
	return fail(code, reason)
}

func shortErr(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("%d %s", re.StatusCode, re.ErrorCode)
	}
	return short(err.Error())
}
