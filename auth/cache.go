package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The data plane reads the same few records on every request: the registry, the
// repository token, the principal and its role assignments. records keeps them in memory
// for as long as nothing has changed: every change to them (a management or directory
// write) moves the epoch first, and a lookup under a new epoch starts from an empty cache.
// Revocation therefore still takes effect on the next request; only unchanged records are
// served from memory.
type records struct {
	store Store
	entra Entra
	epoch func() uint64

	mu          sync.Mutex
	at          uint64
	registries  map[string]*meta.Registry
	tokens      map[[2]string]*meta.Token
	principals  map[string]*meta.Principal
	generations map[string]int64
	assignments map[string][]meta.RoleAssignment // by principal and scopes
	secrets     map[[32]byte]verifiedSecret      // by SHA-256 of appID and secret
}

// verifiedSecret is a service principal whose client secret was checked, until when the
// check may be reused.
type verifiedSecret struct {
	principal *meta.Principal
	until     time.Time
}

// secretReuse bounds how long a checked client secret is trusted without asking the
// identity plane again: removing the secret or disabling the principal moves the epoch
// and takes effect at once; a secret reaching its expiry date is refused within this.
const secretReuse = time.Minute

func newRecords(store Store, entra Entra, epoch func() uint64) *records {
	r := &records{store: store, entra: entra, epoch: epoch}
	r.reset(epoch())
	return r
}

func (r *records) reset(at uint64) {
	r.at = at
	r.registries = map[string]*meta.Registry{}
	r.tokens = map[[2]string]*meta.Token{}
	r.principals = map[string]*meta.Principal{}
	r.generations = map[string]int64{}
	r.assignments = map[string][]meta.RoleAssignment{}
	r.secrets = map[[32]byte]verifiedSecret{}
}

// maxEntries bounds each map: a flood of distinct names must not grow memory without end.
const maxEntries = 4096

// cached looks key up in the map m picks, or loads it and keeps it if the epoch did not
// move meanwhile (a load that raced with a change is used once, not kept).
func cached[K comparable, V any](r *records, m func(*records) map[K]V, key K, load func() (V, error)) (V, error) {
	at := r.epoch()
	r.mu.Lock()
	if at != r.at {
		r.reset(at)
	}
	if v, ok := m(r)[key]; ok {
		r.mu.Unlock()
		return v, nil
	}
	r.mu.Unlock()
	v, err := load()
	if err != nil {
		return v, err
	}
	r.mu.Lock()
	if r.at == at && r.epoch() == at {
		if mm := m(r); len(mm) < maxEntries {
			mm[key] = v
		}
	}
	r.mu.Unlock()
	return v, nil
}

func (r *records) RegistryByLoginServer(ctx context.Context, ls string) (*meta.Registry, error) {
	return cached(r, func(r *records) map[string]*meta.Registry { return r.registries }, ls,
		func() (*meta.Registry, error) { return r.store.RegistryByLoginServer(ctx, ls) })
}

// Token also remembers that a name is no token (nil), since every Basic sign-in of a
// service principal asks first: creating a token is a management write, which moves the
// epoch.
func (r *records) Token(ctx context.Context, registryID, name string) (*meta.Token, error) {
	t, err := cached(r, func(r *records) map[[2]string]*meta.Token { return r.tokens }, [2]string{registryID, name},
		func() (*meta.Token, error) {
			t, err := r.store.Token(ctx, registryID, name)
			if errors.Is(err, meta.ErrResourceNotFound) {
				return nil, nil
			}
			return t, err
		})
	if err == nil && t == nil {
		return nil, meta.ErrResourceNotFound
	}
	return t, err
}

func (r *records) PrincipalGeneration(ctx context.Context, ids ...string) (int64, error) {
	if len(ids) != 1 {
		return r.store.PrincipalGeneration(ctx, ids...)
	}
	return cached(r, func(r *records) map[string]int64 { return r.generations }, ids[0],
		func() (int64, error) { return r.store.PrincipalGeneration(ctx, ids[0]) })
}

func (r *records) RoleAssignments(ctx context.Context, q meta.RoleAssignmentQuery) ([]meta.RoleAssignment, error) {
	if q.Under != "" || len(q.PrincipalIDs) != 1 {
		return r.store.RoleAssignments(ctx, q)
	}
	key := q.PrincipalIDs[0]
	for _, s := range q.AtScopes {
		key += "\x00" + s
	}
	return cached(r, func(r *records) map[string][]meta.RoleAssignment { return r.assignments }, key,
		func() ([]meta.RoleAssignment, error) { return r.store.RoleAssignments(ctx, q) })
}

func (r *records) PrincipalByObjectID(ctx context.Context, oid string) (*meta.Principal, error) {
	return cached(r, func(r *records) map[string]*meta.Principal { return r.principals }, oid,
		func() (*meta.Principal, error) { return r.entra.PrincipalByObjectID(ctx, oid) })
}

// verified remembers tokens whose signature was checked: a signature stays valid, so only
// the expiry (and, on each use, the token's generations) need checking again.
type verified struct {
	mu     sync.Mutex
	claims map[[32]byte]Claims
}

func (v *verified) get(raw string, now time.Time) (Claims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.claims[sha256.Sum256([]byte(raw))]
	if !ok || c.Expiry == nil || !now.Before(c.Expiry.Time()) {
		return Claims{}, false
	}
	return c, true
}

func (v *verified) put(raw string, c Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.claims == nil || len(v.claims) >= maxEntries {
		v.claims = map[[32]byte]Claims{} // start over rather than track age: tokens are short-lived
	}
	v.claims[sha256.Sum256([]byte(raw))] = c
}

// VerifyClientSecret checks a service principal's secret once per epoch and minute.
func (r *records) VerifyClientSecret(ctx context.Context, appID, secret string) (*meta.Principal, error) {
	key := sha256.Sum256([]byte(appID + "\x00" + secret))
	now := time.Now()
	v, err := cached(r, func(r *records) map[[32]byte]verifiedSecret { return r.secrets }, key,
		func() (verifiedSecret, error) {
			p, err := r.entra.VerifyClientSecret(ctx, appID, secret)
			return verifiedSecret{principal: p, until: now.Add(secretReuse)}, err
		})
	if err != nil {
		return nil, err
	}
	if now.After(v.until) {
		r.mu.Lock()
		delete(r.secrets, key)
		r.mu.Unlock()
		return r.VerifyClientSecret(ctx, appID, secret)
	}
	return v.principal, nil
}
