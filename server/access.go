package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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
	limiter := auth.NewLimiter(failureBurst, failureEvery, nil)
	if s.sharedStore() {
		// Replicas share the sign-in budgets and follow each other's access changes.
		if l, ok := s.meta.(meta.Limits); ok {
			limiter.Shared(l, s.log)
		}
		if r, ok := s.meta.(epochReader); ok {
			s.epoch.follow(r, s.log)
		}
	}
	s.auth = auth.New(auth.Options{
		Store: store, Entra: entraPlane{s}, Keys: keys,
		RefreshTTL: s.cfg.RefreshTokenTTL, AccessTTL: s.cfg.AccessTokenTTL,
		Limiter: limiter,
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

// sharedStore reports whether the metadata store is shared with other replicas (not the
// data directory's SQLite).
func (s *Server) sharedStore() bool { return s.cfg.Metadata != "" }

// accessEpoch counts changes to the records the data plane authenticates with (registries,
// tokens, scope maps, role assignments, principals). The token service caches those
// records until the count moves.
//
// With a shared store, another replica's change must move it too, before this replica
// answers any request made after that change was acknowledged (a token disabled through
// one replica is refused by every replica on the next request). The store's change feed
// (watchAccess) moves it within moments, but a notification is not a guarantee of order;
// so every data-plane request first syncs: it waits for a read of the store's epoch that
// started after the request arrived, and the count moves if the store's did. Requests
// arriving together share one read (at most one is in flight, and the next serves every
// request that arrived meanwhile), so this costs one small query per round trip to the
// store, not one per request.
type accessEpoch struct {
	n      atomic.Uint64
	shared *epochSync // nil: the store is this process's own
}

// epochReader is a shared store's access epoch (storage/meta/postgres).
type epochReader interface {
	AccessEpoch(ctx context.Context) (uint64, error)
}

// epochSync batches reads of the shared store's epoch.
type epochSync struct {
	store epochReader
	log   *slog.Logger

	mu      sync.Mutex
	running bool        // a read is in flight (runSync is running)
	next    *epochRound // the round that starts once the running read is done; nil if none asked
	last    uint64      // the store's epoch at the last read (runSync only)
	seen    bool
	warned  time.Time // last warning of a failed read (runSync only)
}

// epochRound is one read of the store's epoch; done closes once the local count reflects it.
type epochRound struct{ done chan struct{} }

// syncTimeout bounds one read of the store's epoch.
const syncTimeout = 5 * time.Second

// follow makes the epoch follow store's (see accessEpoch).
func (e *accessEpoch) follow(store epochReader, log *slog.Logger) {
	e.shared = &epochSync{store: store, log: log}
}

// sync returns once the epoch reflects every change committed in the shared store before
// sync was called (or ctx ended). Without a shared store it returns at once.
func (e *accessEpoch) sync(ctx context.Context) {
	s := e.shared
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.next == nil {
		s.next = &epochRound{done: make(chan struct{})}
	}
	r := s.next
	if !s.running {
		s.running, s.next = true, nil
		go e.runSync(r)
	}
	s.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

// runSync reads the store's epoch for round r, then for each round asked for meanwhile,
// until none is.
func (e *accessEpoch) runSync(r *epochRound) {
	s := e.shared
	for {
		ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
		v, err := s.store.AccessEpoch(ctx)
		cancel()
		switch {
		case err != nil:
			// Whether anything changed is unknown: drop what is cached (its loads will
			// meet the same store).
			e.n.Add(1)
			if now := time.Now(); now.Sub(s.warned) > time.Minute {
				s.warned = now
				s.log.Warn("access epoch not read from the shared store", slog.Any("err", err))
			}
		case !s.seen || v != s.last:
			s.seen, s.last = true, v
			e.n.Add(1)
		}
		close(r.done)
		s.mu.Lock()
		if s.next == nil {
			s.running = false
			s.mu.Unlock()
			return
		}
		r, s.next = s.next, nil
		s.mu.Unlock()
	}
}

// syncsAccess reports whether a request to path authenticates with the cached access
// records: the registry data plane and its token service.
func syncsAccess(path string) bool {
	return strings.HasPrefix(path, "/v2/") || path == "/v2" || strings.HasPrefix(path, "/acr/") ||
		strings.HasPrefix(path, "/oauth2/")
}

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
