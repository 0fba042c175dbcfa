package connector

import (
	"context"
	"strings"
)

// Prefetch asks the token service once for all scopes (space-joined in one token
// request, as Docker clients send several) and caches the token under the whole set and
// under each scope it grants, so that later requests asking any one of those scopes use
// it without a token request of their own. A crawl of many repositories (package
// inventory) prefetches for a batch of them and so makes one token request per batch
// rather than one per repository. Scopes whose own token is still fresh are not asked
// again; a scope the token service does not grant is not cached, so its requests fetch
// (and are refused) on their own.
func (c *RegistryClient) Prefetch(ctx context.Context, scopes ...string) error {
	set := canonicalScopes(scopes)
	now := c.s.cfg.now()
	var need []string
	c.mu.Lock()
	for _, s := range set {
		if t := c.access[s]; !t.valid(now) {
			need = append(need, s)
		}
	}
	c.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	if err := c.Check(ctx); err != nil {
		return err
	}
	t, err := c.fetchAccess(ctx, need)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.access[strings.Join(need, " ")] = &t
	for _, s := range need {
		// A token whose grants cannot be read (not a JWT) is trusted for every scope: a
		// refusal then costs one 401 and a fresh token, as Do already handles.
		if t.Access == nil || grantsScope(t, s) {
			c.access[s] = &t
		}
	}
	return nil
}

// grantsScope reports whether t's access claim allows every action of scope.
func grantsScope(t Token, scope string) bool {
	typ, name, actions, ok := splitScope(scope)
	if !ok {
		return false
	}
	for _, a := range actions {
		if !t.Grants(typ, name, a) {
			return false
		}
	}
	return true
}
