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

	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/guid"
)

// Bootstrap: on first start with an empty data directory, serve creates a tenant with an
// owner service principal (identity plane), picks a subscription id, a resource group and
// the default registry's name, and records them in DIR/bootstrap.json (0600, see
// graph.Bootstrap) for the operator and `cerulean` client verbs. The owner's client id and
// secret may be preset (--bootstrap-client-id, CERULEAN_BOOTSTRAP_CLIENT_SECRET) for
// automation.

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
