package server

import (
	"context"
	"errors"
	"time"

	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/identity"
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
	s.auth = auth.New(auth.Options{
		Store: store, Entra: entraPlane{s}, Keys: keys,
		RefreshTTL: s.cfg.RefreshTokenTTL, AccessTTL: s.cfg.AccessTokenTTL,
		Limiter: auth.NewLimiter(failureBurst, failureEvery, nil),
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
