package management

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Admin-user credentials: listCredentials and regenerateCredential (2025-11-01
// RegistryListCredentials.json, RegistryRegenerateCredential.json). The passwords are
// sealed at rest, because listCredentials shows them again, and hashed for the data plane.

// adminPasswordNames are the names of the admin user's two passwords, in meta order.
var adminPasswordNames = [2]string{"password", "password2"}

type credentialsJSON struct {
	Username  string         `json:"username"`
	Passwords []passwordJSON `json:"passwords"`
}

type passwordJSON struct {
	Name         string  `json:"name"`
	Value        string  `json:"value,omitempty"`
	CreationTime *string `json:"creationTime,omitempty"`
	Expiry       *string `json:"expiry,omitempty"`
}

// passwordAlphabet: letters and digits only, so a password needs no quoting in a shell,
// a URL or a Basic credential.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// passwordLength gives 52 × log2(62) ≈ 309 random bits: above 256, and the length of
// ACR's current passwords.
const passwordLength = 52

// newPassword returns a random password.
func newPassword() string {
	return randomString(passwordLength)
}

// randomString draws n characters of passwordAlphabet uniformly (rejection sampling: 248
// is the largest multiple of 62 below 256).
func randomString(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, passwordAlphabet[b%62])
			}
		}
	}
	return string(out)
}

// adminPassword returns a new admin password of registry id, sealed and hashed.
func (s *Service) adminPassword(id string, index int) meta.AdminPassword {
	pw := newPassword()
	return meta.AdminPassword{Sealed: s.sealer.Seal([]byte(pw), sealContext(id, index)), Hash: meta.HashSecret(pw)}
}

// sealContext binds a sealed admin password to its registry and slot.
func sealContext(id string, index int) []byte {
	return []byte("cerulean admin password/" + id + "/" + adminPasswordNames[index])
}

// credentials opens the registry's admin passwords.
func (s *Service) credentials(r *meta.Registry) (*credentialsJSON, error) {
	out := &credentialsJSON{Username: r.Name}
	for i, p := range r.Admin {
		pw, err := s.sealer.Open(p.Sealed, sealContext(r.ID, i))
		if err != nil {
			return nil, fmt.Errorf("open admin password of %s: %w", r.Name, err)
		}
		out.Passwords = append(out.Passwords, passwordJSON{Name: adminPasswordNames[i], Value: string(pw)})
	}
	return out, nil
}

func adminDisabled(r *meta.Registry) *Error {
	return badRequest("AdminUserDisabled", fmt.Sprintf("The admin user of registry '%s' is disabled. "+
		"Set adminUserEnabled to true (az acr update -n %s --admin-enabled true) first.", r.Name, r.Name))
}

func (s *Service) listCredentials(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = c.p.target()
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	if !r.Settings.AdminUserEnabled {
		return nil, adminDisabled(r)
	}
	creds, err := s.credentials(r)
	if err != nil {
		return nil, err
	}
	return ok(creds)
}

// regenerateCredential replaces one admin password; the other keeps working, so clients
// can move over before the next rotation.
func (s *Service) regenerateCredential(ctx context.Context, c *call) (*reply, error) {
	var in struct {
		Name string `json:"name"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, err := oneOf("name", in.Name, adminPasswordNames[:]...)
	if err != nil {
		return nil, err
	}
	c.resourceID = c.p.target()
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	r, err = s.store.UpdateRegistry(ctx, r.ID, func(r *meta.Registry) error {
		if !r.Settings.AdminUserEnabled {
			return adminDisabled(r)
		}
		i := slices.Index(adminPasswordNames[:], name)
		r.Admin[i] = s.adminPassword(r.ID, i)
		r.Updated = c.caller.change(c.now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	creds, err := s.credentials(r)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: creds}, nil
}
