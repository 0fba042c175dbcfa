package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/management"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// acrSigningPurpose names the key set of ACR refresh and access tokens, apart from the
// identity plane's.
const acrSigningPurpose = "acr"

// Brute-force limits: 10 failed sign-ins at once per client address and per username,
// then one every 6 seconds.
const (
	failureBurst = 10
	failureEvery = 6 * time.Second
)

// newAuth builds the data plane's token service and gate on the management records. Its
// Entra side is the identity plane, which Run starts before any request arrives.
func (s *Server) newAuth() error {
	store, ok := s.meta.(auth.Store)
	keyStore, kok := s.meta.(meta.SigningKeys)
	if !ok || !kok {
		return errors.New("auth: the metadata store keeps no management records or signing keys")
	}
	keys, err := signing.New(signing.Options{Store: keyStore, MasterKey: s.masterKey, Purpose: acrSigningPurpose,
		MaxTokenLifetime: max(s.cfg.RefreshTokenTTL, s.cfg.AccessTokenTTL), Logger: s.log})
	if err != nil {
		return err
	}
	auditStore, ok := s.meta.(meta.AuditLog)
	if !ok {
		return errors.New("auth: the metadata store keeps no audit log")
	}
	// The audit log writes in the background (Server.Close flushes it); every decision of
	// the gate goes through it.
	s.audit = auth.NewAuditLog(auth.AuditLogOptions{Store: auditStore, Retention: s.cfg.AuditRetention, Logger: s.log})
	s.auth = auth.New(auth.Options{
		Store: store, Entra: entraPlane{s}, Keys: keys,
		RefreshTTL: s.cfg.RefreshTokenTTL, AccessTTL: s.cfg.AccessTokenTTL,
		Limiter: auth.NewLimiter(failureBurst, failureEvery, nil),
		Audit:   s.audit,
		Epoch:   s.epoch.Epoch,
		Logger:  s.log,
	})
	return nil
}

// entraPlane is the identity plane as the token service sees it.
type entraPlane struct{ s *Server }

var errIdentityNotStarted = errors.New("identity plane not started")

func (e entraPlane) VerifyAccessToken(ctx context.Context, raw string, audiences ...string) (identity.Claims, error) {
	if e.s.identity == nil {
		return identity.Claims{}, errIdentityNotStarted
	}
	return e.s.identity.VerifyAccessToken(ctx, raw, audiences...)
}

func (e entraPlane) VerifyClientSecret(ctx context.Context, appID, secret string) (*meta.Principal, error) {
	if e.s.identity == nil {
		return nil, errIdentityNotStarted
	}
	return e.s.identity.VerifyClientSecret(ctx, appID, secret)
}

func (e entraPlane) PrincipalByObjectID(ctx context.Context, objectID string) (*meta.Principal, error) {
	if e.s.identity == nil {
		return nil, errIdentityNotStarted
	}
	return e.s.identity.PrincipalByObjectID(ctx, objectID)
}

// accessEpoch counts changes to the records the data plane authenticates with (registries,
// tokens, scope maps, role assignments, principals). The token service caches those
// records until the count moves.
type accessEpoch struct{ n atomic.Uint64 }

func (e *accessEpoch) Epoch() uint64 { return e.n.Load() }

// bumpOnWrite moves the epoch for every write request h serves, when the response starts:
// after the handler committed its change and before the client can see the answer, so a
// data-plane request made after the answer never meets a cached old record.
func (e *accessEpoch) bumpOnWrite(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		bw := &bumpWriter{ResponseWriter: w, bump: func() { e.n.Add(1) }}
		defer bw.once() // a handler that wrote nothing still may have changed something
		h.ServeHTTP(bw, r)
	})
}

type bumpWriter struct {
	http.ResponseWriter
	bump func()
	done bool
}

func (b *bumpWriter) once() {
	if !b.done {
		b.done = true
		b.bump()
	}
}

func (b *bumpWriter) WriteHeader(code int) {
	b.once()
	b.ResponseWriter.WriteHeader(code)
}

func (b *bumpWriter) Write(p []byte) (int, error) {
	b.once()
	return b.ResponseWriter.Write(p)
}

func (b *bumpWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// writesAccessRecords reports whether a path belongs to an API that changes what the data
// plane authenticates with: the management plane and the directory (Graph) API.
func writesAccessRecords(path string) bool {
	return management.Owns(path) || strings.HasPrefix(path, "/v1.0/") || strings.HasPrefix(path, "/cerulean/identity/")
}
