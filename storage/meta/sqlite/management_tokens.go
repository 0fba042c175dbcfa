package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// CreateScopeMap stores a scope map.
func (s *Store) CreateScopeMap(ctx context.Context, m *meta.ScopeMap) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM registries WHERE id = ?`, m.RegistryID); err != nil {
			return err
		}
		return insertScopeMap(ctx, tx, m)
	})
	return wrapf(err, "create scope map %s", m.Name)
}

func insertScopeMap(ctx context.Context, tx *sql.Tx, m *meta.ScopeMap) error {
	if err := rejectExisting(ctx, tx, `SELECT 1 FROM scope_maps WHERE registry_id = ? AND name_key = ?`,
		m.RegistryID, nameKey(m.Name)); err != nil {
		return err
	}
	actions, err := toJSON(m.Actions)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO scope_maps (registry_id, name_key, name, description, actions,
		system, created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.RegistryID, nameKey(m.Name), m.Name, m.Description, actions,
		m.System, nanosOrZero(m.Created.At), m.Created.By, m.Created.ByType, nanosOrZero(m.Updated.At), m.Updated.By, m.Updated.ByType)
	return err
}

const scopeMapColumns = `registry_id, name, description, actions, system,
	created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type`

func scanScopeMap(sc rowScanner) (meta.ScopeMap, error) {
	var m meta.ScopeMap
	var actions string
	var created, updated int64
	if err := sc.Scan(&m.RegistryID, &m.Name, &m.Description, &actions, &m.System,
		&created, &m.Created.By, &m.Created.ByType, &updated, &m.Updated.By, &m.Updated.ByType); err != nil {
		return m, err
	}
	m.Created.At, m.Updated.At = timeOrZero(created), timeOrZero(updated)
	return m, fromJSON(actions, &m.Actions)
}

func scopeMapIn(ctx context.Context, q rowQueryer, registryID, name string) (*meta.ScopeMap, error) {
	return oneRow(scanScopeMap(q.QueryRowContext(ctx, `SELECT `+scopeMapColumns+` FROM scope_maps
		WHERE registry_id = ? AND name_key = ?`, registryID, nameKey(name))))
}

// ScopeMap returns a scope map.
func (s *Store) ScopeMap(ctx context.Context, registryID, name string) (*meta.ScopeMap, error) {
	m, err := scopeMapIn(ctx, s.r, registryID, name)
	return m, wrapf(err, "scope map %s", name)
}

// ScopeMaps lists a registry's scope maps.
func (s *Store) ScopeMaps(ctx context.Context, registryID string) ([]meta.ScopeMap, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+scopeMapColumns+` FROM scope_maps
		WHERE registry_id = ? ORDER BY name_key`, registryID)
	maps, err := scanRows(rows, err, scanScopeMap)
	return maps, wrapf(err, "scope maps")
}

// UpdateScopeMap changes a scope map through fn; the tokens using it get a new generation,
// since what they may do changed.
func (s *Store) UpdateScopeMap(ctx context.Context, registryID, name string, fn func(*meta.ScopeMap) error) (*meta.ScopeMap, error) {
	var m *meta.ScopeMap
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		if m, err = scopeMapIn(ctx, tx, registryID, name); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
		actions, err := toJSON(m.Actions)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE scope_maps SET description = ?, actions = ?, updated_at = ?,
			updated_by = ?, updated_by_type = ? WHERE registry_id = ? AND name_key = ?`, m.Description, actions,
			nanosOrZero(m.Updated.At), m.Updated.By, m.Updated.ByType, registryID, nameKey(name)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tokens SET generation = generation + 1
			WHERE registry_id = ? AND scope_map_key = ?`, registryID, nameKey(name))
		return err
	})
	if err != nil {
		return nil, wrapfErr(err, "update scope map %s", name)
	}
	return m, nil
}

// DeleteScopeMap removes a scope map that no token uses.
func (s *Store) DeleteScopeMap(ctx context.Context, registryID, name string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var inUse bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tokens
			WHERE registry_id = ? AND scope_map_key = ?)`, registryID, nameKey(name)).Scan(&inUse); err != nil {
			return err
		}
		if inUse {
			return meta.ErrResourceInUse
		}
		return deletedOne(tx.ExecContext(ctx, `DELETE FROM scope_maps WHERE registry_id = ? AND name_key = ?`,
			registryID, nameKey(name)))
	})
	return wrapf(err, "delete scope map %s", name)
}

// CreateToken stores a token.
func (s *Store) CreateToken(ctx context.Context, t *meta.Token) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM scope_maps WHERE registry_id = ? AND name_key = ?`,
			t.RegistryID, nameKey(t.ScopeMap)); err != nil {
			return err
		}
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM tokens WHERE registry_id = ? AND name_key = ?`,
			t.RegistryID, nameKey(t.Name)); err != nil {
			return err
		}
		v := tokenValues(t)
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (registry_id, name_key, name, created_at, created_by,
			created_by_type, generation, `+tokenMutableColumns+`) VALUES (?, ?, ?, ?, ?, ?, 1, `+sqlPlaceholders(len(v))+`)`,
			append([]any{t.RegistryID, nameKey(t.Name), t.Name, nanosOrZero(t.Created.At), t.Created.By, t.Created.ByType}, v...)...)
		return err
	})
	return wrapf(err, "create token %s", t.Name)
}

// tokenMutableColumns are the columns UpdateToken writes, in tokenValues order.
const tokenMutableColumns = `scope_map_key, enabled, password1_hash, password1_created, password1_expiry,
	password2_hash, password2_created, password2_expiry, updated_at, updated_by, updated_by_type`

func tokenValues(t *meta.Token) []any {
	p1, p2 := t.Passwords[0], t.Passwords[1]
	return []any{nameKey(t.ScopeMap), t.Enabled,
		b64(p1.Hash), nanosOrZero(p1.CreatedAt), nanosOrZero(p1.Expiry), b64(p2.Hash), nanosOrZero(p2.CreatedAt), nanosOrZero(p2.Expiry),
		nanosOrZero(t.Updated.At), t.Updated.By, t.Updated.ByType}
}

const tokenColumns = `t.registry_id, t.name, m.name, m.actions, t.created_at, t.created_by, t.created_by_type,
	t.generation, t.enabled, t.password1_hash, t.password1_created, t.password1_expiry,
	t.password2_hash, t.password2_created, t.password2_expiry, t.updated_at, t.updated_by, t.updated_by_type`

// tokenSelect reads tokens with their scope maps' names (in their casing) and actions.
const tokenSelect = `SELECT ` + tokenColumns + ` FROM tokens t
	JOIN scope_maps m ON m.registry_id = t.registry_id AND m.name_key = t.scope_map_key`

func scanToken(sc rowScanner) (meta.Token, error) {
	var t meta.Token
	var actions, hash1, hash2 string
	var created, updated, c1, e1, c2, e2 int64
	if err := sc.Scan(&t.RegistryID, &t.Name, &t.ScopeMap, &actions, &created, &t.Created.By, &t.Created.ByType,
		&t.Generation, &t.Enabled, &hash1, &c1, &e1, &hash2, &c2, &e2, &updated, &t.Updated.By, &t.Updated.ByType); err != nil {
		return t, err
	}
	t.Created.At, t.Updated.At = timeOrZero(created), timeOrZero(updated)
	var err1, err2 error
	t.Passwords[0] = meta.TokenPassword{CreatedAt: timeOrZero(c1), Expiry: timeOrZero(e1)}
	t.Passwords[1] = meta.TokenPassword{CreatedAt: timeOrZero(c2), Expiry: timeOrZero(e2)}
	t.Passwords[0].Hash, err1 = unb64(hash1)
	t.Passwords[1].Hash, err2 = unb64(hash2)
	return t, errors.Join(err1, err2, fromJSON(actions, &t.ScopeMapActions))
}

func tokenIn(ctx context.Context, q rowQueryer, registryID, name string) (*meta.Token, error) {
	return oneRow(scanToken(q.QueryRowContext(ctx, tokenSelect+` WHERE t.registry_id = ? AND t.name_key = ?`,
		registryID, nameKey(name))))
}

// Token returns a token with its scope map's actions.
func (s *Store) Token(ctx context.Context, registryID, name string) (*meta.Token, error) {
	t, err := tokenIn(ctx, s.r, registryID, name)
	return t, wrapf(err, "token %s", name)
}

// Tokens lists a registry's tokens.
func (s *Store) Tokens(ctx context.Context, registryID string) ([]meta.Token, error) {
	rows, err := s.r.QueryContext(ctx, tokenSelect+` WHERE t.registry_id = ? ORDER BY t.name_key`, registryID)
	tokens, err := scanRows(rows, err, scanToken)
	return tokens, wrapf(err, "tokens")
}

// UpdateToken changes a token through fn and increases its generation.
func (s *Store) UpdateToken(ctx context.Context, registryID, name string, fn func(*meta.Token) error) (*meta.Token, error) {
	var t *meta.Token
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		if t, err = tokenIn(ctx, tx, registryID, name); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		m, err := scopeMapIn(ctx, tx, registryID, t.ScopeMap)
		if err != nil {
			return err
		}
		t.ScopeMap, t.ScopeMapActions = m.Name, m.Actions
		t.Generation++
		v := tokenValues(t)
		_, err = tx.ExecContext(ctx, `UPDATE tokens SET (`+tokenMutableColumns+`, generation) = (`+
			sqlPlaceholders(len(v)+1)+`) WHERE registry_id = ? AND name_key = ?`, append(v, t.Generation, registryID, nameKey(name))...)
		return err
	})
	if err != nil {
		return nil, wrapfErr(err, "update token %s", name)
	}
	return t, nil
}

// DeleteToken removes a token.
func (s *Store) DeleteToken(ctx context.Context, registryID, name string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		return deletedOne(tx.ExecContext(ctx, `DELETE FROM tokens WHERE registry_id = ? AND name_key = ?`,
			registryID, nameKey(name)))
	})
	return wrapf(err, "delete token %s", name)
}
