package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEpochMovesOnAccessWrites(t *testing.T) {
	t.Parallel()
	var e accessEpoch
	var seen uint64
	h := e.bumpOnWrite(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = e.Epoch() // the change is committed by now, the answer not yet sent
		w.WriteHeader(http.StatusOK)
	}))
	for _, tt := range []struct {
		method string
		bumps  bool
	}{
		{http.MethodGet, false}, {http.MethodHead, false},
		{http.MethodPut, true}, {http.MethodPatch, true}, {http.MethodPost, true}, {http.MethodDelete, true},
	} {
		before := e.Epoch()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/subscriptions/x", nil))
		if moved := e.Epoch() != before; moved != tt.bumps {
			t.Errorf("%s moved the epoch: %v, want %v", tt.method, moved, tt.bumps)
		}
		if tt.bumps && seen != before {
			t.Errorf("%s: the epoch moved before the handler ran", tt.method)
		}
	}
	for path, want := range map[string]bool{
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r": true,
		"/v1.0/servicePrincipals/x": true,
		"/cerulean/identity/hosts":  true,
		"/v2/app/manifests/v1":      false,
		"/oauth2/token":             false,
		"/tenant/oauth2/v2.0/token": false,
	} {
		if got := writesAccessRecords(path); got != want {
			t.Errorf("writesAccessRecords(%q) = %v, want %v", path, got, want)
		}
	}
}
