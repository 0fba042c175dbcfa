package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/observe"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Audiences an Entra token may carry to be exchanged: the ACR audience always, the ARM
// ones (every cloud's spelling) unless the registry disables ARM-audience tokens
// (policies.azureADAuthenticationAsArmPolicy, acr-protocol.md §1.2).
var (
	acrAudiences = []string{"https://containerregistry.azure.net", "https://containerregistry.azure.net/"}
	armAudiences = []string{
		"https://management.azure.com", "https://management.azure.com/",
		"https://management.core.windows.net", "https://management.core.windows.net/",
		"https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/",
		"https://management.core.usgovcloudapi.net", "https://management.core.usgovcloudapi.net/",
		"https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/",
		"https://management.core.chinacloudapi.cn", "https://management.core.chinacloudapi.cn/",
	}
)

// Routes mounts the token service's endpoints (one table, as the ACR reference lists them).
func (s *Service) Routes(mux *http.ServeMux) {
	mux.Handle("GET /oauth2/token", s.handle("oauth2-token", s.tokenGET))
	mux.Handle("POST /oauth2/token", s.handle("oauth2-token", s.tokenPOST))
	mux.Handle("POST /oauth2/exchange", s.handle("oauth2-exchange", s.exchange))
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, reg *meta.Registry) error

// handle resolves the registry the request addresses (its Host; a `service` parameter
// must name the same one), applies its network rules, and renders errors once.
func (s *Service) handle(route string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		observe.SetRoute(r.Context(), route)
		w.Header().Set("Cache-Control", "no-store")
		if err := s.serve(w, r, h); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, h handlerFunc) error {
	reg, err := s.Registry(r.Context(), LoginServer(r))
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if svc := r.Form.Get("service"); svc != "" && !strings.EqualFold(svc, reg.LoginServer) {
		return fmt.Errorf("%w: service %q is not this registry (%s)", errBadRequest, svc, reg.LoginServer)
	}
	if err := CheckNetwork(reg, ClientAddr(r)); err != nil {
		s.record(r.Context(), reg, tokenClaimant(r), nil, false, ClientAddr(r))
		return err
	}
	err = h(w, r, reg)
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrTooManyAttempts) {
		s.record(r.Context(), reg, tokenClaimant(r), nil, false, ClientAddr(r))
	}
	return err
}

// tokenClaimant names who a refused token request claimed to be: the Basic username, the
// form's username (password grant), or the kind of token presented.
func tokenClaimant(r *http.Request) string {
	if user := r.PostForm.Get("username"); user != "" {
		return claimed("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":")))
	}
	switch {
	case r.PostForm.Get("refresh_token") != "":
		return unverifiedPrefix + "refresh-token"
	case r.PostForm.Get("access_token") != "":
		return unverifiedPrefix + "entra-token"
	}
	return claimed(r.Header.Get("Authorization"))
}

var (
	errBadRequest       = errors.New("invalid request")
	errUnsupportedGrant = errors.New("unsupported grant_type")
)

// ClientAddr is the request's client address without its port.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tokenGET is the Docker token flow: Basic credentials (or none, for anonymous pull) and
// repeated scope parameters; offline_token=true also returns a refresh token, which
// `docker login` stores as its identity token.
func (s *Service) tokenGET(w http.ResponseWriter, r *http.Request, reg *meta.Registry) error {
	caller, err := s.Authenticate(r.Context(), reg, r.Header.Get("Authorization"), ClientAddr(r))
	if err != nil {
		return err
	}
	resp, err := s.grant(r.Context(), reg, caller, r.Form["scope"], r.Form.Get("offline_token") == "true")
	if err != nil {
		return err
	}
	body := map[string]any{"access_token": resp.access, "token": resp.access,
		"expires_in": int(s.opts.AccessTTL.Seconds()), "issued_at": s.opts.Now().UTC().Format("2006-01-02T15:04:05Z")}
	if resp.refresh != "" {
		body["refresh_token"] = resp.refresh
	}
	return writeJSON(w, body)
}

// tokenPOST is the OAuth2 form flow: grant_type=refresh_token with an ACR refresh token,
// or grant_type=password with a username and password (or, from the Azure SDK's anonymous
// client, with neither). POST answers hold strings only: External Secrets Operator decodes
// them into map[string]string.
func (s *Service) tokenPOST(w http.ResponseWriter, r *http.Request, reg *meta.Registry) error {
	ctx, client := r.Context(), ClientAddr(r)
	var caller Caller
	var err error
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		caller, err = s.fromToken(ctx, reg, r.PostForm.Get("refresh_token"), grantRefresh)
		err = s.counted(client, NullGUID, err)
	case "password":
		if user := r.PostForm.Get("username"); user != "" {
			caller, err = s.password(ctx, reg, user, r.PostForm.Get("password"), client)
		} else {
			caller = anonymousCaller(reg)
		}
	default:
		return fmt.Errorf("%w: %q", errUnsupportedGrant, r.PostForm.Get("grant_type"))
	}
	if err != nil {
		return err
	}
	resp, err := s.grant(ctx, reg, caller, r.PostForm["scope"], r.PostForm.Get("access_type") == "offline")
	if err != nil {
		return err
	}
	body := map[string]string{"access_token": resp.access}
	if resp.refresh != "" {
		body["refresh_token"] = resp.refresh
	}
	return writeJSON(w, body)
}

// exchange trades an Entra access token for an ACR refresh token (acr-protocol.md §1.2).
func (s *Service) exchange(w http.ResponseWriter, r *http.Request, reg *meta.Registry) error {
	if g := r.PostForm.Get("grant_type"); g != "access_token" {
		return fmt.Errorf("%w: %q (only access_token is supported)", errUnsupportedGrant, g)
	}
	audiences := acrAudiences
	if reg.Settings.AADAuthAsARMPolicy {
		audiences = append(append([]string{}, acrAudiences...), armAudiences...)
	}
	claims, err := s.opts.Entra.VerifyAccessToken(r.Context(), r.PostForm.Get("access_token"), audiences...)
	if err != nil {
		return fmt.Errorf("%w: Entra token refused: %v", ErrUnauthorized, err)
	}
	if t := r.PostForm.Get("tenant"); t != "" && !strings.EqualFold(t, claims.TenantID) {
		return fmt.Errorf("%w: the token is from tenant %s, not %s", ErrUnauthorized, claims.TenantID, t)
	}
	caller, err := s.entraCaller(r.Context(), reg, claims.TenantID, claims.ObjectID, claims.AppID)
	if err != nil {
		return err
	}
	refresh, err := s.refreshToken(r.Context(), reg, caller)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]string{"refresh_token": refresh})
}

type grantResponse struct{ access, refresh string }

// grant decides the requested scopes for caller and issues the access token (and, when
// offline and the caller is not anonymous, a refresh token).
func (s *Service) grant(ctx context.Context, reg *meta.Registry, caller Caller, scopes []string, offline bool) (grantResponse, error) {
	requested, err := access.ParseScopes(scopes)
	if err != nil {
		return grantResponse{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	var granted []access.Scope
	if caller.granted != nil {
		for _, sc := range requested { // an access token used as a credential grants no more than it holds
			if access.Includes(caller.granted, sc) {
				granted = append(granted, sc)
			}
		}
	} else {
		granted = access.Decide(caller.Principal, Settings(reg), requested)
	}
	var resp grantResponse
	if resp.access, err = s.accessToken(ctx, reg, caller, granted); err != nil {
		return resp, err
	}
	if offline && caller.Principal.Kind != access.Anonymous && caller.granted == nil {
		resp.refresh, err = s.refreshToken(ctx, reg, caller)
	}
	return resp, err
}

func (s *Service) accessToken(ctx context.Context, reg *meta.Registry, caller Caller, granted []access.Scope) (string, error) {
	c := newClaims(reg.LoginServer, reg.ID, subject(caller), grantAccess, s.opts.Now(), s.opts.AccessTTL)
	c.Access, c.Binding, c.Tenant, c.AppID = granted, caller.binding, caller.TenantID, caller.AppID
	if c.Access == nil {
		c.Access = []access.Scope{}
	}
	return s.sign(ctx, &c)
}

func (s *Service) refreshToken(ctx context.Context, reg *meta.Registry, caller Caller) (string, error) {
	c := newClaims(reg.LoginServer, reg.ID, subject(caller), grantRefresh, s.opts.Now(), s.opts.RefreshTTL)
	c.Binding, c.Tenant, c.AppID = caller.binding, caller.TenantID, caller.AppID
	c.Permissions = &permissions{Actions: []string{"read", "write", "delete"}, NotActions: []string{}}
	return s.sign(ctx, &c)
}

func (s *Service) sign(ctx context.Context, c *Claims) (string, error) {
	payload, err := encodeClaims(c)
	if err != nil {
		return "", err
	}
	return s.opts.Keys.SignPayload(ctx, payload)
}

func subject(c Caller) string {
	switch c.Principal.Kind {
	case access.Entra:
		return c.Principal.ObjectID
	case access.Anonymous:
		return "anonymous"
	}
	return c.Principal.Name
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err = w.Write(b)
	return err
}

// writeError renders the token service's errors in the distribution envelope ACR uses,
// with the status each needs; the detail goes to the log, not to the client.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusInternalServerError, "UNKNOWN", "internal error"
	var tooMany *TooManyError
	switch {
	case errors.As(err, &tooMany):
		w.Header().Set("Retry-After", strconv.Itoa(int(tooMany.RetryAfter.Seconds()+0.5)))
		status, code, msg = http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many failed sign-ins; retry later"
	case errors.Is(err, ErrUnauthorized):
		status, code, msg = http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information."
	case errors.Is(err, ErrDenied):
		status, code, msg = http.StatusForbidden, "DENIED", err.Error()
	case errors.Is(err, ErrUnknownRegistry):
		status, code, msg = http.StatusNotFound, "NAME_UNKNOWN", err.Error()
	case errors.Is(err, errBadRequest), errors.Is(err, errUnsupportedGrant):
		status, code, msg = http.StatusBadRequest, "UNSUPPORTED", err.Error()
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.opts.Logger.Log(r.Context(), level, "token request refused", "status", status, "err", err.Error())
	b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
