package postgres

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// CreateScopeMap stores a scope map.
func (s *Store) CreateScopeMap(ctx context.Context, m *meta.ScopeMap) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM registries WHERE id = $1`, m.RegistryID); err != nil {
			return err
		}
		return insertScopeMap(ctx, tx, m)
	})
	return mgmtErr(err, "create scope map %s", m.Name)
}

func insertScopeMap(ctx context.Context, tx pgx.Tx, m *meta.ScopeMap) error {
	if err := rejectExisting(ctx, tx, `SELECT 1 FROM scope_maps WHERE registry_id = $1 AND name_key = $2`,
		m.RegistryID, nameKey(m.Name)); err != nil {
		return err
	}
	actions, err := toJSON(m.Actions)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO scope_maps (registry_id, name_key, name, description, actions,
		system, created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, m.RegistryID, nameKey(m.Name), m.Name, m.Description, actions,
		m.System, nanos(m.Created.At), m.Created.By, m.Created.ByType, nanos(m.Updated.At), m.Updated.By, m.Updated.ByType)
	return err
}

const scopeMapColumns = `registry_id, name, description, actions, system,
	created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type`

func scanScopeMap(sc scanner) (meta.ScopeMap, error) {
	var m meta.ScopeMap
	var actions []byte
	var created, updated int64
	if err := sc.Scan(&m.RegistryID, &m.Name, &m.Description, &actions, &m.System,
		&created, &m.Created.By, &m.Created.ByType, &updated, &m.Updated.By, &m.Updated.ByType); err != nil {
		return m, err
	}
	m.Created.At, m.Updated.At = fromNanos(created), fromNanos(updated)
	return m, json.Unmarshal(actions, &m.Actions)
}

func scopeMapIn(ctx context.Context, q queryer, registryID, name string) (*meta.ScopeMap, error) {
	return one(scanScopeMap(q.QueryRow(ctx, `SELECT `+scopeMapColumns+` FROM scope_maps
		WHERE registry_id = $1 AND name_key = $2`, registryID, nameKey(name))))
}

// ScopeMap returns a scope map.
func (s *Store) ScopeMap(ctx context.Context, registryID, name string) (*meta.ScopeMap, error) {
	m, err := scopeMapIn(ctx, s.pool, registryID, name)
	return m, mgmtErr(err, "scope map %s", name)
}

// ScopeMaps lists a registry's scope maps.
func (s *Store) ScopeMaps(ctx context.Context, registryID string) ([]meta.ScopeMap, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scopeMapColumns+` FROM scope_maps
		WHERE registry_id = $1 ORDER BY name_key`, registryID)
	maps, err := scanRows(rows, err, scanScopeMap)
	return maps, mgmtErr(err, "scope maps")
}

// UpdateScopeMap changes a scope map through fn; the tokens using it get a new generation,
// since what they may do changed.
func (s *Store) UpdateScopeMap(ctx context.Context, registryID, name string, fn func(*meta.ScopeMap) error) (*meta.ScopeMap, error) {
	var m *meta.ScopeMap
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
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
		if _, err := tx.Exec(ctx, `UPDATE scope_maps SET description = $1, actions = $2, updated_at = $3,
			updated_by = $4, updated_by_type = $5 WHERE registry_id = $6 AND name_key = $7`, m.Description, actions,
			nanos(m.Updated.At), m.Updated.By, m.Updated.ByType, registryID, nameKey(name)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tokens SET generation = generation + 1
			WHERE registry_id = $1 AND scope_map_key = $2`, registryID, nameKey(name))
		return err
	})
	if err != nil {
		return nil, mgmtErr(err, "update scope map %s", name)
	}
	return m, nil
}

// DeleteScopeMap removes a scope map that no token uses.
func (s *Store) DeleteScopeMap(ctx context.Context, registryID, name string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var inUse bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens
			WHERE registry_id = $1 AND scope_map_key = $2)`, registryID, nameKey(name)).Scan(&inUse); err != nil {
			return err
		}
		if inUse {
			return meta.ErrResourceInUse
		}
		return affectedOne(tx.Exec(ctx, `DELETE FROM scope_maps WHERE registry_id = $1 AND name_key = $2`,
			registryID, nameKey(name)))
	})
	return mgmtErr(err, "delete scope map %s", name)
}

// CreateToken stores a token.
func (s *Store) CreateToken(ctx context.Context, t *meta.Token) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		if err := requireExisting(ctx, tx, `SELECT 1 FROM scope_maps WHERE registry_id = $1 AND name_key = $2`,
			t.RegistryID, nameKey(t.ScopeMap)); err != nil {
			return err
		}
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM tokens WHERE registry_id = $1 AND name_key = $2`,
			t.RegistryID, nameKey(t.Name)); err != nil {
			return err
		}
		v := tokenValues(t)
		_, err := tx.Exec(ctx, `INSERT INTO tokens (registry_id, name_key, name, created_at, created_by,
			created_by_type, generation, `+tokenMutableColumns+`) VALUES ($1, $2, $3, $4, $5, $6, 1, `+placeholders(7, len(v))+`)`,
			append([]any{t.RegistryID, nameKey(t.Name), t.Name, nanos(t.Created.At), t.Created.By, t.Created.ByType}, v...)...)
		return err
	})
	return mgmtErr(err, "create token %s", t.Name)
}

// tokenMutableColumns are the columns UpdateToken writes, in tokenValues order.
const tokenMutableColumns = `scope_map_key, enabled, password1_hash, password1_created, password1_expiry,
	password2_hash, password2_created, password2_expiry, updated_at, updated_by, updated_by_type`

func tokenValues(t *meta.Token) []any {
	p1, p2 := t.Passwords[0], t.Passwords[1]
	return []any{nameKey(t.ScopeMap), t.Enabled,
		orEmpty(p1.Hash), nanos(p1.CreatedAt), nanos(p1.Expiry), orEmpty(p2.Hash), nanos(p2.CreatedAt), nanos(p2.Expiry),
		nanos(t.Updated.At), t.Updated.By, t.Updated.ByType}
}

const tokenColumns = `t.registry_id, t.name, m.name, m.actions, t.created_at, t.created_by, t.created_by_type,
	t.generation, t.enabled, t.password1_hash, t.password1_created, t.password1_expiry,
	t.password2_hash, t.password2_created, t.password2_expiry, t.updated_at, t.updated_by, t.updated_by_type`

// tokenSelect reads tokens with their scope maps' names (in their casing) and actions.
const tokenSelect = `SELECT ` + tokenColumns + ` FROM tokens t
	JOIN scope_maps m ON m.registry_id = t.registry_id AND m.name_key = t.scope_map_key`

func scanToken(sc scanner) (meta.Token, error) {
	var t meta.Token
	var actions []byte
	var created, updated, c1, e1, c2, e2 int64
	p1, p2 := &t.Passwords[0], &t.Passwords[1]
	if err := sc.Scan(&t.RegistryID, &t.Name, &t.ScopeMap, &actions, &created, &t.Created.By, &t.Created.ByType,
		&t.Generation, &t.Enabled, &p1.Hash, &c1, &e1, &p2.Hash, &c2, &e2, &updated, &t.Updated.By, &t.Updated.ByType); err != nil {
		return t, err
	}
	t.Created.At, t.Updated.At = fromNanos(created), fromNanos(updated)
	p1.Hash, p1.CreatedAt, p1.Expiry = bytesOrNil(p1.Hash), fromNanos(c1), fromNanos(e1)
	p2.Hash, p2.CreatedAt, p2.Expiry = bytesOrNil(p2.Hash), fromNanos(c2), fromNanos(e2)
	return t, json.Unmarshal(actions, &t.ScopeMapActions)
}

func tokenIn(ctx context.Context, q queryer, registryID, name string) (*meta.Token, error) {
	return one(scanToken(q.QueryRow(ctx, tokenSelect+` WHERE t.registry_id = $1 AND t.name_key = $2`,
		registryID, nameKey(name))))
}

// Token returns a token with its scope map's actions.
func (s *Store) Token(ctx context.Context, registryID, name string) (*meta.Token, error) {
	t, err := tokenIn(ctx, s.pool, registryID, name)
	return t, mgmtErr(err, "token %s", name)
}

// Tokens lists a registry's tokens.
func (s *Store) Tokens(ctx context.Context, registryID string) ([]meta.Token, error) {
	rows, err := s.pool.Query(ctx, tokenSelect+` WHERE t.registry_id = $1 ORDER BY t.name_key`, registryID)
	tokens, err := scanRows(rows, err, scanToken)
	return tokens, mgmtErr(err, "tokens")
}

// UpdateToken changes a token through fn and increases its generation.
func (s *Store) UpdateToken(ctx context.Context, registryID, name string, fn func(*meta.Token) error) (*meta.Token, error) {
	var t *meta.Token
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
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
		n := len(v)
		_, err = tx.Exec(ctx, `UPDATE tokens SET (`+tokenMutableColumns+`, generation) = (`+placeholders(1, n+1)+`)
			WHERE registry_id = $`+strconv.Itoa(n+2)+` AND name_key = $`+strconv.Itoa(n+3),
			append(v, t.Generation, registryID, nameKey(name))...)
		return err
	})
	if err != nil {
		return nil, mgmtErr(err, "update token %s", name)
	}
	return t, nil
}

// DeleteToken removes a token.
func (s *Store) DeleteToken(ctx context.Context, registryID, name string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		return affectedOne(tx.Exec(ctx, `DELETE FROM tokens WHERE registry_id = $1 AND name_key = $2`,
			registryID, nameKey(name)))
	})
	return mgmtErr(err, "delete token %s", name)
}
