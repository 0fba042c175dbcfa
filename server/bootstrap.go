package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Bootstrap: on first start with an empty data directory, serve creates a tenant with an
// owner service principal (identity plane), picks a subscription id, a resource group and
// the default registry's name, and records them in DIR/bootstrap.json (0600, see
// graph.Bootstrap) for the operator and `cerulean` client verbs. The owner's client id and
// secret may be preset (--bootstrap-client-id, CERULEAN_BOOTSTRAP_CLIENT_SECRET) for
// automation.

// Replicas: every replica of a shared store (--metadata postgres://…) starts from a copy of
// the same data directory's DIR/tls (the local CA, so clients trust every replica),
// DIR/keys (the master key, which seals the signing keys and passwords in the store) and
// DIR/bootstrap.json (the owner's credentials), all taken from the replica that started
// first; each serves the same login server (--host, the load balancer's name). Replicas
// that start together on a new store bootstrap it once: the bootstrap runs under the
// store's lock (meta.Locker). A replica whose master key is not the one that sealed the
// store's keys refuses to start (checkMasterKey).

// bootstrapLock names the store lock the bootstrap runs under.
const bootstrapLock = "bootstrap"

// Defaults of the bootstrap's management records.
const (
	bootstrapResourceGroup = "cerulean"
	bootstrapRegistryName  = "cerulean"
)

func bootstrapFile(dataDir string) string { return filepath.Join(dataDir, "bootstrap.json") }

// bootstrapPlan returns the bootstrap record of an earlier start, or a new one for this
// start (ids chosen, credentials left to the identity plane); existed says which.
func (s *Server) bootstrapPlan() (plan *graph.Bootstrap, existed bool, err error) {
	plan = &graph.Bootstrap{}
	b, err := os.ReadFile(bootstrapFile(s.cfg.DataDir))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, plan); err != nil {
			return nil, false, fmt.Errorf("%s: %w", bootstrapFile(s.cfg.DataDir), err)
		}
		return plan, true, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, err
	}
	return &graph.Bootstrap{
		SubscriptionID: guid.New(), // a random GUID, as ARM's subscription ids are
		ResourceGroup:  bootstrapResourceGroup,
		RegistryName:   bootstrapRegistryName,
	}, false, nil
}

// bootstrap creates the directory's tenant and owner when the directory has none, then
// the management records (bootstrapManagement), and writes the plan to the bootstrap
// file. It returns the file's path when there is one.
func (s *Server) bootstrap(ctx context.Context, plan *graph.Bootstrap, existed bool, loginServer string) (string, error) {
	path := bootstrapFile(s.cfg.DataDir)
	if s.sharedStore() {
		// Replicas starting together on a new shared store: one bootstraps it, the others
		// wait and then find its tenant.
		if l, ok := s.meta.(meta.Locker); ok {
			release, err := l.Lock(ctx, bootstrapLock)
			if err != nil {
				return "", fmt.Errorf("bootstrap: %w", err)
			}
			defer release()
		}
		if err := s.checkMasterKey(ctx); err != nil {
			return "", err
		}
	}
	owner, err := s.identity.Bootstrap(ctx, identity.BootstrapOptions{
		ClientID: s.cfg.BootstrapClientID, ClientSecret: s.cfg.BootstrapClientSecret})
	switch {
	case err != nil:
		return "", fmt.Errorf("bootstrap: %w", err)
	case owner == nil && existed && plan.LoginServer == loginServer && plan.CAFile == s.caFile:
		return path, nil
	case owner == nil && existed:
		// The server moved (another port or --host): the file keeps telling clients where.
		plan.LoginServer, plan.AuthorityHost, plan.CAFile = loginServer, "https://"+loginServer+"/", s.caFile
		return path, s.writeBootstrap(path, plan)
	case owner == nil && s.sharedStore():
		s.log.Warn("the shared store was bootstrapped by another replica: copy its bootstrap file here "+
			"(with DIR/tls and DIR/keys) for the owner's credentials", slog.String("file", path))
		return "", nil
	case owner == nil:
		s.log.Warn("directory already bootstrapped but its bootstrap file is gone; its owner secret cannot be shown again",
			slog.String("file", path))
		return "", nil
	}
	plan.TenantID, plan.ClientID, plan.ClientSecret, plan.OwnerObjectID = owner.TenantID, owner.ClientID, owner.ClientSecret, owner.ObjectID
	plan.LoginServer, plan.AuthorityHost, plan.CAFile = loginServer, "https://"+loginServer+"/", s.caFile
	if err := s.bootstrapManagement(ctx, plan); err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.writeBootstrap(path, plan); err != nil {
		return "", err
	}
	s.log.Info("bootstrapped", slog.String("tenant", owner.TenantID), slog.String("owner_client_id", owner.ClientID),
		slog.String("file", path))
	return path, nil
}

// writeBootstrap writes the bootstrap file, readable by its owner only: it holds a secret.
func (s *Server) writeBootstrap(path string, plan *graph.Bootstrap) error {
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

// bootstrapManagement is the management plane's part of the first start, called once the
// tenant and owner exist: the subscription, resource group and registry of b become
// records, and b.OwnerObjectID is assigned Owner over the subscription (bootstrapRecords).
func (s *Server) bootstrapManagement(ctx context.Context, b *graph.Bootstrap) error {
	return s.bootstrapRecords(ctx, b)
}

// checkMasterKey fails the start of a replica whose master key does not open the signing
// keys of the shared store: it would issue no token and accept no password. Every replica
// must use the same DIR/keys/master.key. On a new store it creates the first keys of both
// issuers (the identity plane's and the token service's), under the bootstrap lock: two
// replicas creating a first key at the same moment could each find the other's not yet
// valid at their own clock's "now".
func (s *Server) checkMasterKey(ctx context.Context) error {
	store, ok := s.meta.(meta.SigningKeys)
	if !ok {
		return nil
	}
	for _, k := range []struct {
		purpose  string
		lifetime time.Duration
	}{
		{identity.SigningPurpose, identity.SigningKeyLifetime},
		{acrSigningPurpose, max(s.cfg.RefreshTokenTTL, s.cfg.AccessTokenTTL)},
	} {
		keys, err := signing.New(signing.Options{Store: store, MasterKey: s.masterKey, Purpose: k.purpose,
			MaxTokenLifetime: k.lifetime, Logger: s.log})
		if err == nil {
			_, err = keys.JWKS(ctx)
		}
		if err != nil {
			return fmt.Errorf("the master key %s does not open the signing keys of the shared metadata store "+
				"(every replica must use a copy of the same DIR/keys): %w", filepath.Join(s.cfg.DataDir, signing.MasterKeyFile), err)
		}
	}
	return nil
}
