package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The management records (meta.Management). Every write runs in one BEGIN IMMEDIATE
// transaction on the single writer connection, so a check for an existing name followed by
// the insert cannot race with another writer: uniqueness errors come from those checks,
// not from parsing driver errors.

var _ meta.Management = (*Store)(nil)

// CreateSubscription stores a subscription.
func (s *Store) CreateSubscription(ctx context.Context, sub *meta.Subscription) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM subscriptions WHERE id = ?`, nameKey(sub.ID)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (id, tenant_id, display_name, created_at)
			VALUES (?, ?, ?, ?)`, nameKey(sub.ID), sub.TenantID, sub.DisplayName, nanosOrZero(sub.CreatedAt))
		return err
	})
	return wrapf(err, "create subscription %s", sub.ID)
}

// Subscription returns a subscription by id.
func (s *Store) Subscription(ctx context.Context, id string) (*meta.Subscription, error) {
	sub, err := oneRow(scanSubscription(s.r.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE id = ?`, nameKey(id))))
	return sub, wrapf(err, "subscription %s", id)
}

// Subscriptions lists the subscriptions of a tenant ("" for all).
func (s *Store) Subscriptions(ctx context.Context, tenantID string) ([]meta.Subscription, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE ? = '' OR tenant_id = ? ORDER BY id`, tenantID, tenantID)
	subs, err := scanRows(rows, err, scanSubscription)
	return subs, wrapf(err, "subscriptions")
}

const subscriptionColumns = `id, tenant_id, display_name, created_at`

func scanSubscription(sc rowScanner) (meta.Subscription, error) {
	var sub meta.Subscription
	var created int64
	err := sc.Scan(&sub.ID, &sub.TenantID, &sub.DisplayName, &created)
	sub.CreatedAt = timeOrZero(created)
	return sub, err
}

// PutResourceGroup creates a resource group or updates its tags.
func (s *Store) PutResourceGroup(ctx context.Context, g *meta.ResourceGroup) (created bool, err error) {
	err = inTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM subscriptions WHERE id = ?`, nameKey(g.Subscription)); err != nil {
			return err
		}
		tags, err := toJSON(g.Tags)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE resource_groups SET tags = ?
			WHERE subscription_id = ? AND name_key = ?`, tags, nameKey(g.Subscription), nameKey(g.Name))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO resource_groups
			(subscription_id, name_key, name, location, tags, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			nameKey(g.Subscription), nameKey(g.Name), g.Name, g.Location, tags, nanosOrZero(g.CreatedAt))
		return err
	})
	return created, wrapf(err, "put resource group %s/%s", g.Subscription, g.Name)
}

const resourceGroupColumns = `subscription_id, name, location, tags, created_at`

func scanResourceGroup(sc rowScanner) (meta.ResourceGroup, error) {
	var g meta.ResourceGroup
	var tags string
	var created int64
	if err := sc.Scan(&g.Subscription, &g.Name, &g.Location, &tags, &created); err != nil {
		return g, err
	}
	g.CreatedAt = timeOrZero(created)
	return g, fromJSON(tags, &g.Tags)
}

// ResourceGroup returns a resource group.
func (s *Store) ResourceGroup(ctx context.Context, subscription, name string) (*meta.ResourceGroup, error) {
	g, err := oneRow(scanResourceGroup(s.r.QueryRowContext(ctx, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_id = ? AND name_key = ?`, nameKey(subscription), nameKey(name))))
	return g, wrapf(err, "resource group %s/%s", subscription, name)
}

// ResourceGroups lists a subscription's resource groups.
func (s *Store) ResourceGroups(ctx context.Context, subscription string) ([]meta.ResourceGroup, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_id = ? ORDER BY name_key`, nameKey(subscription))
	groups, err := scanRows(rows, err, scanResourceGroup)
	return groups, wrapf(err, "resource groups %s", subscription)
}

// DeleteResourceGroup removes an empty resource group and the role assignments in it.
func (s *Store) DeleteResourceGroup(ctx context.Context, subscription, name string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var scope string
		err := tx.QueryRowContext(ctx, `SELECT '/subscriptions/' || subscription_id || '/resourcegroups/' || name_key
			FROM resource_groups WHERE subscription_id = ? AND name_key = ?`, nameKey(subscription), nameKey(name)).Scan(&scope)
		if err != nil {
			return noRowsNotFound(err)
		}
		var inUse bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM registries
			WHERE subscription_id = ? AND resource_group_key = ?)`, nameKey(subscription), nameKey(name)).Scan(&inUse); err != nil {
			return err
		}
		if inUse {
			return meta.ErrResourceInUse
		}
		if err := deleteAssignmentsFrom(ctx, tx, scope); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM resource_groups WHERE subscription_id = ? AND name_key = ?`,
			nameKey(subscription), nameKey(name))
		return err
	})
	return wrapf(err, "delete resource group %s/%s", subscription, name)
}

// CreateRegistry stores a registry and its initial scope maps.
func (s *Store) CreateRegistry(ctx context.Context, r *meta.Registry, scopeMaps []meta.ScopeMap) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM resource_groups WHERE subscription_id = ? AND name_key = ?`,
			nameKey(r.Subscription), nameKey(r.ResourceGroup)); err != nil {
			return err
		}
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM registries WHERE id = ? OR name_key = ? OR login_server = ?`,
			r.ID, nameKey(r.Name), nameKey(r.LoginServer)); err != nil {
			return err
		}
		v, err := registryValues(r)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO registries (id, subscription_id, resource_group_key,
			name_key, name, location, created_at, created_by, created_by_type, generation,
			`+registryMutableColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, `+sqlPlaceholders(len(v))+`)`,
			append([]any{r.ID, nameKey(r.Subscription), nameKey(r.ResourceGroup), nameKey(r.Name), r.Name,
				r.Location, nanosOrZero(r.Created.At), r.Created.By, r.Created.ByType}, v...)...); err != nil {
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
	return wrapf(err, "create registry %s", r.Name)
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
		b64(r.Admin[0].Sealed), b64(r.Admin[0].Hash), b64(r.Admin[1].Sealed), b64(r.Admin[1].Hash),
		nanosOrZero(r.Updated.At), r.Updated.By, r.Updated.ByType}, nil
}

const registryColumns = `id, subscription_id, (SELECT g.name FROM resource_groups g
	WHERE g.subscription_id = registries.subscription_id AND g.name_key = registries.resource_group_key),
	name, location, created_at, created_by, created_by_type, generation, ` + registryMutableColumns

func scanRegistry(sc rowScanner) (meta.Registry, error) {
	var r meta.Registry
	var tags, rules string
	var admin [4]string
	var created, updated int64
	st := &r.Settings
	if err := sc.Scan(&r.ID, &r.Subscription, &r.ResourceGroup, &r.Name, &r.Location,
		&created, &r.Created.By, &r.Created.ByType, &r.Generation,
		&r.LoginServer, &r.SKU, &tags, &st.AdminUserEnabled, &st.AnonymousPullEnabled, &st.PublicNetworkAccess,
		&st.NetworkDefaultAction, &rules, &st.AADAuthAsARMPolicy, &st.RoleAssignmentMode,
		&admin[0], &admin[1], &admin[2], &admin[3], &updated, &r.Updated.By, &r.Updated.ByType); err != nil {
		return r, err
	}
	r.Created.At, r.Updated.At = timeOrZero(created), timeOrZero(updated)
	var err error
	for i, p := range []*[]byte{&r.Admin[0].Sealed, &r.Admin[0].Hash, &r.Admin[1].Sealed, &r.Admin[1].Hash} {
		*p, err = unb64(admin[i])
		if err != nil {
			return r, err
		}
	}
	return r, errors.Join(fromJSON(tags, &r.Tags), fromJSON(rules, &st.IPRules))
}

func registryWhere(ctx context.Context, q rowQueryer, where string, args ...any) (*meta.Registry, error) {
	return oneRow(scanRegistry(q.QueryRowContext(ctx, `SELECT `+registryColumns+` FROM registries WHERE `+where, args...)))
}

// Registry returns a registry by subscription, resource group and name.
func (s *Store) Registry(ctx context.Context, subscription, resourceGroup, name string) (*meta.Registry, error) {
	r, err := registryWhere(ctx, s.r, `subscription_id = ? AND resource_group_key = ? AND name_key = ?`,
		nameKey(subscription), nameKey(resourceGroup), nameKey(name))
	return r, wrapf(err, "registry %s", name)
}

// RegistryByLoginServer returns the registry whose login server is loginServer.
func (s *Store) RegistryByLoginServer(ctx context.Context, loginServer string) (*meta.Registry, error) {
	r, err := registryWhere(ctx, s.r, `login_server = ?`, nameKey(loginServer))
	return r, wrapf(err, "registry at %s", loginServer)
}

// RegistryByID returns a registry by id.
func (s *Store) RegistryByID(ctx context.Context, id string) (*meta.Registry, error) {
	r, err := registryWhere(ctx, s.r, `id = ?`, id)
	return r, wrapf(err, "registry %s", id)
}

// Registries lists registries of a subscription ("" for all) and resource group ("" for all).
func (s *Store) Registries(ctx context.Context, subscription, resourceGroup string) ([]meta.Registry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+registryColumns+` FROM registries
		WHERE (? = '' OR subscription_id = ?) AND (? = '' OR resource_group_key = ?) ORDER BY name_key`,
		subscription, nameKey(subscription), resourceGroup, nameKey(resourceGroup))
	regs, err := scanRows(rows, err, scanRegistry)
	return regs, wrapf(err, "registries")
}

// UpdateRegistry changes a registry through fn and increases its generation.
func (s *Store) UpdateRegistry(ctx context.Context, id string, fn func(*meta.Registry) error) (*meta.Registry, error) {
	var r *meta.Registry
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		if r, err = registryWhere(ctx, tx, `id = ?`, id); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM registries WHERE login_server = ? AND id <> ?`,
			nameKey(r.LoginServer), id); err != nil {
			return err
		}
		v, err := registryValues(r)
		if err != nil {
			return err
		}
		r.Generation++
		_, err = tx.ExecContext(ctx, `UPDATE registries SET (`+registryMutableColumns+`, generation) = (`+
			sqlPlaceholders(len(v)+1)+`) WHERE id = ?`, append(v, r.Generation, id)...)
		return err
	})
	if err != nil {
		return nil, wrapfErr(err, "update registry %s", id)
	}
	return r, nil
}

// RemoveRegistry removes a registry with its scope maps, tokens and role assignments.
func (s *Store) RemoveRegistry(ctx context.Context, id string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var scope string
		err := tx.QueryRowContext(ctx, `SELECT '/subscriptions/' || subscription_id || '/resourcegroups/' ||
			resource_group_key || '/providers/microsoft.containerregistry/registries/' || name_key
			FROM registries WHERE id = ?`, id).Scan(&scope)
		if err != nil {
			return noRowsNotFound(err)
		}
		if err := deleteAssignmentsFrom(ctx, tx, scope); err != nil {
			return err
		}
		// Tokens first: they refer to the scope maps.
		for _, q := range []string{`DELETE FROM tokens WHERE registry_id = ?`,
			`DELETE FROM scope_maps WHERE registry_id = ?`, `DELETE FROM registries WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return wrapf(err, "remove registry %s", id)
}

// rejectExisting returns meta.ErrResourceExists when query finds a row.
func rejectExisting(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	var one int
	switch err := tx.QueryRowContext(ctx, query, args...).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return meta.ErrResourceExists
}

// requireExisting returns meta.ErrResourceNotFound when query finds no row.
func requireExisting(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	var one int
	return noRowsNotFound(tx.QueryRowContext(ctx, query, args...).Scan(&one))
}

// wrapf adds context to a store error, keeping the meta sentinels visible to errors.Is.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return wrapfErr(err, format, args...)
}

func wrapfErr(err error, format string, args ...any) error {
	return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), err)
}

// nameKey is the form in which ARM names compare.
func nameKey(name string) string { return strings.ToLower(name) }

func sqlPlaceholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func fromJSON(s string, v any) error {
	return json.Unmarshal([]byte(s), v)
}
