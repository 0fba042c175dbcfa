package azblob

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/opencontainers/go-digest"
)

// clockSkew backdates a SAS's start, so a client whose clock is a little behind the
// service's can use it at once.
const clockSkew = 5 * time.Minute

// Redirect implements blob.Redirector: a read-only SAS URL for d that expires after ttl,
// signed with the account key (a service SAS) or, with Entra authorisation, with a user
// delegation key (a user-delegation SAS, at most 7 days).
func (s *Store) Redirect(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error) {
	u, err := s.redirect(ctx, d, ttl)
	if err != nil {
		return "", blobErr("redirect", d, err)
	}
	return u, nil
}

func (s *Store) redirect(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error) {
	name, err := s.blobName(d)
	if err != nil {
		return "", err
	}
	return s.signRead(ctx, name, ttl)
}

// signRead returns the URL of blob name with a read-only SAS that expires after ttl.
func (s *Store) signRead(ctx context.Context, name string, ttl time.Duration) (string, error) {
	now := time.Now().UTC()
	c := s.c.NewBlobClient(name)
	v := sas.BlobSignatureValues{
		StartTime:     now.Add(-clockSkew),
		ExpiryTime:    now.Add(ttl),
		Permissions:   (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: s.containerName,
		BlobName:      name,
	}
	if strings.HasPrefix(c.URL(), "https:") {
		v.Protocol = sas.ProtocolHTTPS
	}
	var qp sas.QueryParameters
	var err error
	switch {
	case s.key != nil:
		qp, err = v.SignWithSharedKey(s.key)
	case s.svc != nil:
		var udc *service.UserDelegationCredential
		if udc, err = s.udk.get(ctx, s.svc, v.ExpiryTime); err == nil {
			qp, err = v.SignWithUserDelegation(udc)
		}
	default:
		err = fmt.Errorf("no key to sign with: %w", errors.ErrUnsupported)
	}
	if err != nil {
		return "", err
	}
	return c.URL() + "?" + qp.Encode(), nil
}

// udkLife is how long a fetched user delegation key is valid; it is replaced once a SAS
// that it signs would outlive it.
const udkLife = 24 * time.Hour

// udkCache keeps the current user delegation key, so a redirect costs no request.
type udkCache struct {
	mu      sync.Mutex
	cred    *service.UserDelegationCredential
	expires time.Time
}

// get returns a key valid until at least until.
func (c *udkCache) get(ctx context.Context, svc *service.Client, until time.Time) (*service.UserDelegationCredential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cred != nil && !c.expires.Before(until) {
		return c.cred, nil
	}
	now := time.Now().UTC()
	expires := now.Add(udkLife)
	if until.After(expires) {
		expires = until
	}
	start, end := now.Add(-clockSkew).Format(sas.TimeFormat), expires.Format(sas.TimeFormat)
	cred, err := svc.GetUserDelegationCredential(ctx, service.KeyInfo{Start: &start, Expiry: &end}, nil)
	if err != nil {
		return nil, fmt.Errorf("get user delegation key: %w", err)
	}
	c.cred, c.expires = cred, expires
	return cred, nil
}
