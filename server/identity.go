package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/internal/cliconn"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// secretKeyPurpose names the key, derived from the master key, that hashes client and
// host secrets; changing it invalidates every stored secret.
const secretKeyPurpose = "cerulean identity client secrets v1"

// startIdentity builds the identity plane, whose issuer is https://<loginServer>, and
// bootstraps the directory on first start. It returns the bootstrap file's path, "" when
// there is none.
func (s *Server) startIdentity(ctx context.Context, loginServer string) (string, error) {
	dir, ok := s.meta.(meta.Directory)
	if !ok {
		return "", errors.New("identity: the metadata store keeps no directory")
	}
	keys, err := signing.New(signing.Options{Store: dir, MasterKey: s.masterKey, Purpose: identity.SigningPurpose,
		MaxTokenLifetime: identity.SigningKeyLifetime, Logger: s.log})
	if err != nil {
		return "", err
	}
	// Fetching external OIDC issuers' documents trusts the system roots plus --federation-ca.
	client, err := cliconn.HTTPClient(s.cfg.FederationCA, 15*time.Second)
	if err != nil {
		return "", fmt.Errorf("--federation-ca: %w", err)
	}
	plan, existed, err := s.bootstrapPlan()
	if err != nil {
		return "", err
	}
	s.identity, err = identity.New(identity.Options{
		Directory: dir, Keys: keys, SecretKey: s.masterKey.Derive(secretKeyPurpose),
		BaseURL:          "https://" + loginServer,
		ResourceScope:    "/subscriptions/" + plan.SubscriptionID + "/resourceGroups/" + plan.ResourceGroup,
		FederationClient: client, Logger: s.log,
	})
	if err != nil {
		return "", err
	}
	return s.bootstrap(ctx, plan, existed, loginServer)
}

// announceIdentity tells the operator where the bootstrap file is and how to reach the
// identity plane.
func (s *Server) announceIdentity(w io.Writer, bootstrapFile string) {
	fmt.Fprintf(w, "  identity: authority %s (azidentity: cloud.Configuration.ActiveDirectoryAuthorityHost)\n", s.identity.BaseURL())
	if bootstrapFile != "" {
		fmt.Fprintf(w, "  bootstrap: %s (tenant, subscription, owner client id and secret; keep it safe)\n", bootstrapFile)
	}
}
