package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The management records (meta.Management). Writes to registries, scope maps, tokens and
// role assignments (and deleting a resource group, which removes role assignments) run in
// accessTx, one at a time, so a check for an existing name followed by the insert cannot
// race with another such write; the unique constraints back the checks up (a violation is
// meta.ErrResourceExists) where a write runs outside it (subscriptions, resource groups).

var _ meta.Management = (*Store)(nil)

// CreateSubscription stores a subscription.
func (s *Store) CreateSubscription(ctx context.Context, sub *meta.Subscription) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO subscriptions (id, tenant_id, display_name, created_at)
		VALUES ($1, $2, $3, $4)`, nameKey(sub.ID), sub.TenantID, sub.DisplayName, nanos(sub.CreatedAt))
	return mgmtErr(err, "create subscription %s", sub.ID)
}

// Subscription returns a subscription by id.
func (s *Store) Subscription(ctx context.Context, id string) (*meta.Subscription, error) {
	sub, err := one(scanSubscription(s.pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE id = $1`, nameKey(id))))
	return sub, mgmtErr(err, "subscription %s", id)
}

// Subscriptions lists the subscriptions of a tenant ("" for all).
func (s *Store) Subscriptions(ctx context.Context, tenantID string) ([]meta.Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE $1 = '' OR tenant_id = $1 ORDER BY id`, tenantID)
	subs, err := scanRows(rows, err, scanSubscription)
	return subs, mgmtErr(err, "subscriptions")
}

const subscriptionColumns = `id, tenant_id, display_name, created_at`

func scanSubscription(sc scanner) (meta.Subscription, error) {
	var sub meta.Subscription
	var created int64
	err := sc.Scan(&sub.ID, &sub.TenantID, &sub.DisplayName, &created)
	sub.CreatedAt = fromNanos(created)
	return sub, err
}

// PutResourceGroup creates a resource group or updates its tags, in one statement: of two
// concurrent creations, the second updates. (xmax = 0) tells a row this statement inserted
// from one it updated.
func (s *Store) PutResourceGroup(ctx context.Context, g *meta.ResourceGroup) (created bool, err error) {
	tags, err := toJSON(g.Tags)
	if err != nil {
		return false, mgmtErr(err, "put resource group %s/%s", g.Subscription, g.Name)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO resource_groups (subscription_id, name_key, name, location, tags, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (subscription_id, name_key) DO UPDATE SET tags = excluded.tags
		RETURNING xmax = 0`, nameKey(g.Subscription), nameKey(g.Name), g.Name, g.Location, tags, nanos(g.CreatedAt)).Scan(&created)
	return created, mgmtErr(err, "put resource group %s/%s", g.Subscription, g.Name)
}

const resourceGroupColumns = `subscription_id, name, location, tags, created_at`

func scanResourceGroup(sc scanner) (meta.ResourceGroup, error) {
	var g meta.ResourceGroup
	var tags []byte
	var created int64
	if err := sc.Scan(&g.Subscription, &g.Name, &g.Location, &tags, &created); err != nil {
		return g, err
	}
	g.CreatedAt = fromNanos(created)
	return g, json.Unmarshal(tags, &g.Tags)
}

// ResourceGroup returns a resource group.
func (s *Store) ResourceGroup(ctx context.Context, subscription, name string) (*meta.ResourceGroup, error) {
	g, err := one(scanResourceGroup(s.pool.QueryRow(ctx, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_id = $1 AND name_key = $2`, nameKey(subscription), nameKey(name))))
	return g, mgmtErr(err, "resource group %s/%s", subscription, name)
}

// ResourceGroups lists a subscription's resource groups.
func (s *Store) ResourceGroups(ctx context.Context, subscription string) ([]meta.ResourceGroup, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_id = $1 ORDER BY name_key`, nameKey(subscription))
	groups, err := scanRows(rows, err, scanResourceGroup)
	return groups, mgmtErr(err, "resource groups %s", subscription)
}

// DeleteResourceGroup removes an empty resource group and the role assignments in it. It
// locks the group's row first, so a registry cannot be created in it meanwhile (that
// insert's foreign-key check waits for the lock, then finds the group gone).
func (s *Store) DeleteResourceGroup(ctx context.Context, subscription, name string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var scope string
		err := tx.QueryRow(ctx, `SELECT '/subscriptions/' || subscription_id || '/resourcegroups/' || name_key
			FROM resource_groups WHERE subscription_id = $1 AND name_key = $2 FOR UPDATE`,
			nameKey(subscription), nameKey(name)).Scan(&scope)
		if err != nil {
			return err
		}
		var inUse bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registries
			WHERE subscription_id = $1 AND resource_group_key = $2)`, nameKey(subscription), nameKey(name)).Scan(&inUse); err != nil {
			return err
		}
		if inUse {
			return meta.ErrResourceInUse
		}
		if err := deleteAssignmentsFrom(ctx, tx, scope); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM resource_groups WHERE subscription_id = $1 AND name_key = $2`,
			nameKey(subscription), nameKey(name))
		return err
	})
	return mgmtErr(err, "delete resource group %s/%s", subscription, name)
}

// CreateRegistry stores a registry and its initial scope maps.
func (s *Store) CreateRegistry(ctx context.Context, r *meta.Registry, scopeMaps []meta.ScopeMap) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM resource_groups WHERE subscription_id = $1 AND name_key = $2`,
			nameKey(r.Subscription), nameKey(r.ResourceGroup)); err != nil {
			return err
		}
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM registries WHERE id = $1 OR name_key = $2 OR login_server = $3`,
			r.ID, nameKey(r.Name), nameKey(r.LoginServer)); err != nil {
			return err
		}
		v, err := registryValues(r)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO registries (id, subscription_id, resource_group_key,
			name_key, name, location, created_at, created_by, created_by_type, generation,
			`+registryMutableColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, `+placeholders(10, len(v))+`)`,
			append([]any{r.ID, nameKey(r.Subscription), nameKey(r.ResourceGroup), nameKey(r.Name), r.Name,
				r.Location, nanos(r.Created.At), r.Created.By, r.Created.ByType}, v...)...); err != nil {
			return err
		}
		for i := range scopeMaps {
			m := scopeMaps[i]
			m.RegistryID = r.ID
			if err := insertScopeMap(ctx, tx, &m); err != nil {
				return err
			}
		}
		return nil
	})
	return mgmtErr(err, "create registry %s", r.Name)
}

// registryMutableColumns are the columns UpdateRegistry writes, in registryValues order.
const registryMutableColumns = `login_server, sku, tags, admin_user_enabled, anonymous_pull_enabled,
	public_network_access, network_default_action, ip_rules, aad_auth_as_arm, role_assignment_mode,
	admin1_sealed, admin1_hash, admin2_sealed, admin2_hash, updated_at, updated_by, updated_by_type`

func registryValues(r *meta.Registry) ([]any, error) {
	tags, err := toJSON(r.Tags)
	if err != nil {
		return nil, err
	}
	rules, err := toJSON(r.Settings.IPRules)
	if err != nil {
		return nil, err
	}
	st := r.Settings
	return []any{nameKey(r.LoginServer), r.SKU, tags, st.AdminUserEnabled, st.AnonymousPullEnabled, st.PublicNetworkAccess,
		st.NetworkDefaultAction, rules, st.AADAuthAsARMPolicy, st.RoleAssignmentMode,
		orEmpty(r.Admin[0].Sealed), orEmpty(r.Admin[0].Hash), orEmpty(r.Admin[1].Sealed), orEmpty(r.Admin[1].Hash),
		nanos(r.Updated.At), r.Updated.By, r.Updated.ByType}, nil
}

const registryColumns = `id, subscription_id, (SELECT g.name FROM resource_groups g
	WHERE g.subscription_id = registries.subscription_id AND g.name_key = registries.resource_group_key),
	name, location, created_at, created_by, created_by_type, generation, ` + registryMutableColumns

func scanRegistry(sc scanner) (meta.Registry, error) {
	var r meta.Registry
	var tags, rules []byte
	var created, updated int64
	st := &r.Settings
	if err := sc.Scan(&r.ID, &r.Subscription, &r.ResourceGroup, &r.Name, &r.Location,
		&created, &r.Created.By, &r.Created.ByType, &r.Generation,
		&r.LoginServer, &r.SKU, &tags, &st.AdminUserEnabled, &st.AnonymousPullEnabled, &st.PublicNetworkAccess,
		&st.NetworkDefaultAction, &rules, &st.AADAuthAsARMPolicy, &st.RoleAssignmentMode,
		&r.Admin[0].Sealed, &r.Admin[0].Hash, &r.Admin[1].Sealed, &r.Admin[1].Hash,
		&updated, &r.Updated.By, &r.Updated.ByType); err != nil {
		return r, err
	}
	r.Created.At, r.Updated.At = fromNanos(created), fromNanos(updated)
	for _, p := range []*[]byte{&r.Admin[0].Sealed, &r.Admin[0].Hash, &r.Admin[1].Sealed, &r.Admin[1].Hash} {
		*p = bytesOrNil(*p)
	}
	return r, errors.Join(json.Unmarshal(tags, &r.Tags), json.Unmarshal(rules, &st.IPRules))
}

func registryWhere(ctx context.Context, q queryer, where string, args ...any) (*meta.Registry, error) {
	return one(scanRegistry(q.QueryRow(ctx, `SELECT `+registryColumns+` FROM registries WHERE `+where, args...)))
}

// Registry returns a registry by subscription, resource group and name.
func (s *Store) Registry(ctx context.Context, subscription, resourceGroup, name string) (*meta.Registry, error) {
	r, err := registryWhere(ctx, s.pool, `subscription_id = $1 AND resource_group_key = $2 AND name_key = $3`,
		nameKey(subscription), nameKey(resourceGroup), nameKey(name))
	return r, mgmtErr(err, "registry %s", name)
}

// RegistryByLoginServer returns the registry whose login server is loginServer.
func (s *Store) RegistryByLoginServer(ctx context.Context, loginServer string) (*meta.Registry, error) {
	r, err := registryWhere(ctx, s.pool, `login_server = $1`, nameKey(loginServer))
	return r, mgmtErr(err, "registry at %s", loginServer)
}

// RegistryByID returns a registry by id.
func (s *Store) RegistryByID(ctx context.Context, id string) (*meta.Registry, error) {
	r, err := registryWhere(ctx, s.pool, `id = $1`, id)
	return r, mgmtErr(err, "registry %s", id)
}

// Registries lists registries of a subscription ("" for all) and resource group ("" for all).
func (s *Store) Registries(ctx context.Context, subscription, resourceGroup string) ([]meta.Registry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+registryColumns+` FROM registries
		WHERE ($1 = '' OR subscription_id = $1) AND ($2 = '' OR resource_group_key = $2) ORDER BY name_key`,
		nameKey(subscription), nameKey(resourceGroup))
	regs, err := scanRows(rows, err, scanRegistry)
	return regs, mgmtErr(err, "registries")
}

// UpdateRegistry changes a registry through fn and increases its generation.
func (s *Store) UpdateRegistry(ctx context.Context, id string, fn func(*meta.Registry) error) (*meta.Registry, error) {
	var r *meta.Registry
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var err error
		if r, err = registryWhere(ctx, tx, `id = $1`, id); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM registries WHERE login_server = $1 AND id <> $2`,
			nameKey(r.LoginServer), id); err != nil {
			return err
		}
		v, err := registryValues(r)
		if err != nil {
			return err
		}
		r.Generation++
		n := len(v)
		_, err = tx.Exec(ctx, `UPDATE registries SET (`+registryMutableColumns+`, generation) = (`+
			placeholders(1, n+1)+`) WHERE id = $`+strconv.Itoa(n+2), append(v, r.Generation, id)...)
		return err
	})
	if err != nil {
		return nil, mgmtErr(err, "update registry %s", id)
	}
	return r, nil
}

// RemoveRegistry removes a registry with its scope maps, tokens and role assignments.
func (s *Store) RemoveRegistry(ctx context.Context, id string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var scope string
		err := tx.QueryRow(ctx, `SELECT '/subscriptions/' || subscription_id || '/resourcegroups/' ||
			resource_group_key || '/providers/microsoft.containerregistry/registries/' || name_key
			FROM registries WHERE id = $1`, id).Scan(&scope)
		if err != nil {
			return err
		}
		if err := deleteAssignmentsFrom(ctx, tx, scope); err != nil {
			return err
		}
		// Tokens first: they refer to the scope maps.
		for _, q := range []string{`DELETE FROM tokens WHERE registry_id = $1`,
			`DELETE FROM scope_maps WHERE registry_id = $1`, `DELETE FROM registries WHERE id = $1`} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return mgmtErr(err, "remove registry %s", id)
}

// rejectExisting returns meta.ErrResourceExists when query finds a row.
func rejectExisting(ctx context.Context, q queryer, query string, args ...any) error {
	var one int
	switch err := q.QueryRow(ctx, query, args...).Scan(&one); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return meta.ErrResourceExists
}

// requireExisting returns pgx.ErrNoRows (meta.ErrResourceNotFound) when query finds no row.
func requireExisting(ctx context.Context, q queryer, query string, args ...any) error {
	var one int
	return q.QueryRow(ctx, query, args...).Scan(&one)
}

// mgmtErr maps database errors to the meta sentinels of the management records and adds
// context: no row is "not found", a unique violation "exists", a foreign-key violation (a
// parent removed meanwhile) "not found".
func mgmtErr(err error, format string, args ...any) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		err = meta.ErrResourceNotFound
	case pgCode(err) == uniqueViolation:
		err = fmt.Errorf("%w (%v)", meta.ErrResourceExists, err)
	case pgCode(err) == foreignKeyViolation:
		err = fmt.Errorf("%w (a referenced record: %v)", meta.ErrResourceNotFound, err)
	}
	return wrapf(err, format, args...)
}

// nameKey is the form in which ARM names compare.
func nameKey(name string) string { return strings.ToLower(name) }

// placeholders is "$from, ..., $(from+n-1)".
func placeholders(from, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(p, ", ")
}

// toJSON encodes v for a jsonb column; nil becomes JSON null, as in SQLite's text column.
func toJSON(v any) ([]byte, error) {
	return json.Marshal(v)
}
