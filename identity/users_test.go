package identity

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

const azureCLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

func (e *env) user(upn, password string) *meta.Principal {
	e.t.Helper()
	u, err := e.s.CreateUser(e.t.Context(), e.owner.TenantID, upn, "", password)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func TestPasswordHash(t *testing.T) {
	h := hashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id in PHC form", h)
	}
	if !passwordMatches(h, "correct horse") || passwordMatches(h, "correct horsE") || passwordMatches("", "anything") {
		t.Error("passwordMatches is wrong")
	}
	if passwordMatches(dummyPasswordHash, "cerulean: no such user") {
		t.Error("the dummy hash matches its own password")
	}
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t)
	u := e.user("Ann@Example.com", "hunter2hunter2")
	form := url.Values{"grant_type": {"password"}, "client_id": {azureCLI}, "username": {"ann@example.com"},
		"password": {"hunter2hunter2"}, "client_info": {"1"},
		"scope": {"https://management.core.windows.net//.default openid profile offline_access"}}
	status, body := e.post("/adfs/oauth2/token", form)
	if status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, body)
	}
	c, err := e.s.VerifyAccessToken(t.Context(), body["access_token"].(string), ARMAudiences...)
	if err != nil || c.Kind != meta.KindUser || c.IDType != "user" || c.Name != "ann@example.com" || c.ObjectID != u.ObjectID {
		t.Errorf("user claims %+v, %v", c, err)
	}
	// MSAL builds the account from the ID token (issuer of the ADFS document) and client_info.
	var id idClaims
	if err := e.s.keys.Verify(t.Context(), body["id_token"].(string), signing.Expect{Issuers: []string{testBase + "/adfs"},
		Audiences: []string{azureCLI}}, &id); err != nil || id.UPN != "ann@example.com" || id.TenantID != e.owner.TenantID {
		t.Errorf("ID token %+v, %v", id, err)
	}
	ci, _ := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
	if want := `{"uid":"` + u.ObjectID + `","utid":"` + e.owner.TenantID + `"}`; string(ci) != want {
		t.Errorf("client_info %s, want %s", ci, want)
	}
	refresh := body["refresh_token"].(string)
	if _, err := e.s.VerifyAccessToken(t.Context(), refresh, ARMAudiences...); err == nil {
		t.Error("a refresh token passed as an access token")
	}

	// The refresh token buys tokens for another resource.
	rform := url.Values{"grant_type": {"refresh_token"}, "client_id": {azureCLI}, "refresh_token": {refresh},
		"scope": {"https://containerregistry.azure.net/.default offline_access"}}
	status, body = e.post("/adfs/oauth2/token", rform)
	if status != http.StatusOK {
		t.Fatalf("refresh grant: %d %v", status, body)
	}
	if _, err := e.s.VerifyAccessToken(t.Context(), body["access_token"].(string), ACRAudiences...); err != nil {
		t.Errorf("refreshed token: %v", err)
	}
	rform.Set("client_id", guid.New())
	status, body = e.post("/adfs/oauth2/token", rform)
	wantAADError(t, status, body, 400, 70000)

	// A password change revokes refresh tokens issued before it.
	e.clock.Add(2 * time.Second)
	if _, err := e.dir.UpdatePrincipal(t.Context(), u.ObjectID, func(p *meta.Principal) error {
		p.PasswordHash, p.PasswordChangedAt = hashPassword("new password!"), e.clock.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rform.Set("client_id", azureCLI)
	status, body = e.post("/adfs/oauth2/token", rform)
	wantAADError(t, status, body, 400, 70000)
}

func TestPasswordGrantRefuses(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "hunter2hunter2")
	off := e.user("off@example.com", "hunter2hunter2")
	if _, err := e.s.SetPrincipalEnabled(t.Context(), e.owner.TenantID, off.ObjectID, false); err != nil {
		t.Fatal(err)
	}
	form := func(user, password, client string) url.Values {
		return url.Values{"grant_type": {"password"}, "client_id": {client}, "username": {user}, "password": {password},
			"scope": {"https://management.core.windows.net//.default"}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   int
	}{
		{"wrong password", form("ann@example.com", "nope", azureCLI), 400, 50126},
		{"unknown user", form("bob@example.com", "hunter2hunter2", azureCLI), 400, 50126},
		{"a service principal's id", form(e.owner.ClientID, e.owner.ClientSecret, azureCLI), 400, 50126},
		{"disabled user", form("off@example.com", "hunter2hunter2", azureCLI), 400, 50057},
		{"unknown client", form("ann@example.com", "hunter2hunter2", guid.New()), 400, 700016},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post("/organizations/oauth2/v2.0/token", tc.form)
			wantAADError(t, status, body, tc.status, tc.code)
		})
	}
}

func TestDeviceCodeFlow(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "hunter2hunter2")
	status, dc := e.post("/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {azureCLI},
		"scope": {"https://management.core.windows.net//.default openid offline_access"}})
	if status != 200 || dc["verification_uri"] != testBase+"/devicelogin" || dc["interval"].(float64) != 5 {
		t.Fatalf("devicecode: %d %v", status, dc)
	}
	poll := url.Values{"grant_type": {grantDeviceCode}, "client_id": {azureCLI}, "device_code": {dc["device_code"].(string)}}
	status, body := e.post("/organizations/oauth2/v2.0/token", poll)
	wantAADError(t, status, body, 400, 70016)
	if body["error"] != "authorization_pending" {
		t.Errorf("error %v, want authorization_pending", body["error"])
	}

	// The user approves on the page: a wrong password is refused there, the right one
	// approves.
	page := func(password string) *httptest.ResponseRecorder {
		f := url.Values{"otc": {strings.ToLower(dc["user_code"].(string))}, "username": {"ann@example.com"}, "password": {password}}
		req := httptest.NewRequest(http.MethodPost, testBase+"/devicelogin", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec
	}
	if rec := page("wrong"); rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid username or password") {
		t.Errorf("wrong password on the page: %d %s", rec.Code, rec.Body)
	}
	if rec := page("hunter2hunter2"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "You have signed in") {
		t.Fatalf("approval: %d %s", rec.Code, rec.Body)
	}
	status, body = e.post("/organizations/oauth2/v2.0/token", poll)
	if status != 200 || body["id_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("token after approval: %d %v", status, body)
	}
	// Redeemed once.
	status, body = e.post("/organizations/oauth2/v2.0/token", poll)
	wantAADError(t, status, body, 400, 70019)

	// An unapproved code expires.
	_, dc = e.post("/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {azureCLI}, "scope": {"openid"}})
	e.clock.Add(DeviceCodeLifetime + time.Second)
	poll.Set("device_code", dc["device_code"].(string))
	status, body = e.post("/organizations/oauth2/v2.0/token", poll)
	wantAADError(t, status, body, 400, 70019)
}

func TestManagedIdentityEndpoints(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ua, err := e.s.CreateManagedIdentity(ctx, e.owner.TenantID, "app-id")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.s.CreateManagedIdentity(ctx, e.owner.TenantID, "not-assigned")
	host, system, secret, err := e.s.CreateIdentityHost(ctx, e.owner.TenantID, "edge1", []string{"app-id"})
	if err != nil {
		t.Fatal(err)
	}
	imds := e.s.IMDSHandler("edge1", http.NotFoundHandler())
	get := func(h http.Handler, query string, headers map[string]string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodGet, testBase+"/metadata/identity/oauth2/token?"+query, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	appService := map[string]string{"X-IDENTITY-HEADER": secret}
	metadata := map[string]string{"Metadata": "true"}
	res := "resource=" + url.QueryEscape("https://management.azure.com/")
	for _, tc := range []struct {
		name    string
		h       http.Handler
		query   string
		headers map[string]string
		want    *meta.Principal
		status  int
	}{
		{"app service, system-assigned", e.h, "api-version=2019-08-01&" + res, appService, system, 200},
		{"app service, by client id", e.h, "api-version=2019-08-01&client_id=" + ua.AppID + "&" + res, appService, ua, 200},
		{"app service, by resource id", e.h, "mi_res_id=" + url.QueryEscape(ua.ResourceID) + "&" + res, appService, ua, 200},
		{"imds, system-assigned", imds, "api-version=2018-02-01&" + res, metadata, system, 200},
		{"imds, by object id", imds, "object_id=" + ua.ObjectID + "&" + res, metadata, ua, 200},
		{"imds, by msi_res_id", imds, "msi_res_id=" + url.QueryEscape(ua.ResourceID) + "&" + res, metadata, ua, 200},
		{"identity not on the host", imds, "client_id=" + other.AppID + "&" + res, metadata, nil, 400},
		{"wrong host secret", e.h, res, map[string]string{"X-IDENTITY-HEADER": "nope"}, nil, 401},
		{"no host secret", e.h, res, metadata, nil, 401},
		{"imds without Metadata", imds, res, nil, nil, 400},
		{"imds through a proxy", imds, res, map[string]string{"Metadata": "true", "X-Forwarded-For": "10.0.0.1"}, nil, 400},
		{"no resource", imds, "api-version=2018-02-01", metadata, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(tc.h, tc.query, tc.headers)
			if status != tc.status {
				t.Fatalf("status %d %v, want %d", status, body, tc.status)
			}
			if tc.want == nil {
				if body["access_token"] != nil {
					t.Error("an error answer carries a token")
				}
				return
			}
			for _, k := range []string{"expires_in", "expires_on", "not_before", "ext_expires_in"} {
				if _, ok := body[k].(string); !ok {
					t.Errorf("%s is %T, want a string", k, body[k])
				}
			}
			c, err := e.s.VerifyAccessToken(ctx, body["access_token"].(string), ARMAudiences...)
			if err != nil || c.ObjectID != tc.want.ObjectID || c.AppID != tc.want.AppID || c.Kind != meta.KindManagedIdentity ||
				c.MIResourceID != tc.want.ResourceID || body["client_id"] != tc.want.AppID {
				t.Errorf("claims %+v, %v; body client_id %v; want %s", c, err, body["client_id"], tc.want.ObjectID)
			}
		})
	}
	if host.SystemIdentity != system.ObjectID {
		t.Errorf("host system identity %s, want %s", host.SystemIdentity, system.ObjectID)
	}
}
