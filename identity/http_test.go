package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/identity/graph"
)

// TestAADErrorTable pins the one map from sign-in error to wire answer: every kind
// renders its status, OAuth error and AADSTS code, with the description after the code.
func TestAADErrorTable(t *testing.T) {
	s := &Service{base: testBase, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, row := range aadErrors {
		t.Run(row.kind.Error(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeAAD(s, rec, httptest.NewRequest(http.MethodPost, "/", nil), fmt.Errorf("context: %w", fail(row.kind, "what went wrong.")))
			var body aadError
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			wantDesc := "what went wrong."
			if row.code != 0 {
				wantDesc = fmt.Sprintf("AADSTS%d: what went wrong.", row.code)
			}
			if rec.Code != row.status || body.Error != row.oauth || !strings.HasPrefix(body.Description, wantDesc+"\r\nTrace ID: ") ||
				(row.code != 0) != (len(body.Codes) == 1 && body.Codes[0] == row.code) || body.TraceID == "" || body.Timestamp == "" {
				t.Errorf("%d %+v", rec.Code, body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Error("error answers must not be cached")
			}
		})
	}
}

func TestAADErrorHidesInternalDetail(t *testing.T) {
	var logs bytes.Buffer
	s := &Service{base: testBase, now: time.Now, log: slog.New(slog.NewTextHandler(&logs, nil))}
	rec := httptest.NewRecorder()
	writeAAD(s, rec, httptest.NewRequest(http.MethodPost, "/", nil), errors.New("database password is hunter2"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") || !strings.Contains(rec.Body.String(), "AADSTS50000") {
		t.Errorf("internal error answer %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Error("internal error detail not logged")
	}
}

func TestGraphErrorTable(t *testing.T) {
	s := &Service{base: testBase, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, row := range graphErrors {
		rec := httptest.NewRecorder()
		writeGraph(s, rec, httptest.NewRequest(http.MethodGet, "/", nil), fail(row.kind, "detail"))
		var body graph.ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != row.status || body.Error.Code != row.code {
			t.Errorf("%v: %d %+v, want %d %s", row.kind, rec.Code, body, row.status, row.code)
		}
	}
}

// TestGraphAuthorization: only the tenant's owner may call the directory API.
func TestGraphAuthorization(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	app, _ := e.s.CreateApplication(ctx, e.owner.TenantID, "plain")
	if _, err := e.s.CreateServicePrincipal(ctx, e.owner.TenantID, app.AppID); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := e.s.AddSecret(ctx, e.owner.TenantID, app.ObjectID, "", time.Time{})
	token := func(clientID, secret, scope string) string {
		_, body := e.post("/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {clientID}, "client_secret": {secret}, "scope": {scope}})
		return body["access_token"].(string)
	}
	list := func(tok string) int {
		req := httptest.NewRequest(http.MethodGet, testBase+"/v1.0/applications", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		status, _ := e.do(req)
		return status
	}
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"owner, Graph audience", token(e.owner.ClientID, e.owner.ClientSecret, graph.Scope), 200},
		{"owner, server audience", token(e.owner.ClientID, e.owner.ClientSecret, testBase+"/.default"), 200},
		{"owner, ARM audience", token(e.owner.ClientID, e.owner.ClientSecret, "https://management.azure.com/.default"), 401},
		{"not an owner", token(app.AppID, secret, graph.Scope), 403},
		{"no token", "", 401},
		{"garbage", "abc.def.ghi", 401},
	} {
		if got := list(tc.token); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
}

// BenchmarkClientSecretToken measures client-secret sign-ins through the HTTP handler
// (form parsing, store lookups, HMAC check, RS256 signature, JSON), in process.
func BenchmarkClientSecretToken(b *testing.B) {
	e := newEnv(b)
	body := e.secretForm("https://management.azure.com/.default").Encode()
	path := testBase + "/" + e.owner.TenantID + "/oauth2/v2.0/token"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
