package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// scopeKey is the form in which ARM scopes compare: lower case, no trailing slash ("" for
// the root scope "/").
func scopeKey(scope string) string { return strings.TrimRight(nameKey(scope), "/") }

// CreateRoleAssignment stores a role assignment and increases its principal's generation.
func (s *Store) CreateRoleAssignment(ctx context.Context, a *meta.RoleAssignment) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM role_assignments WHERE name = ? OR
			(principal_id = ? AND role_definition_id = ? AND scope_key = ?)`,
			nameKey(a.Name), nameKey(a.PrincipalID), nameKey(a.RoleDefinitionID), scopeKey(a.Scope)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO role_assignments (name, scope, scope_key,
			role_definition_id, principal_id, principal_type, description, condition_expr, condition_version,
			created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			nameKey(a.Name), a.Scope, scopeKey(a.Scope), nameKey(a.RoleDefinitionID), nameKey(a.PrincipalID), a.PrincipalType,
			a.Description, a.Condition, a.ConditionVersion, nanosOrZero(a.Created.At), a.Created.By, a.Created.ByType,
			nanosOrZero(a.Updated.At), a.Updated.By, a.Updated.ByType); err != nil {
			return err
		}
		return bumpPrincipals(ctx, tx, a.PrincipalID)
	})
	return wrapf(err, "create role assignment %s", a.Name)
}

const roleAssignmentColumns = `name, scope, role_definition_id, principal_id, principal_type, description,
	condition_expr, condition_version, created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type`

func scanRoleAssignment(sc rowScanner) (meta.RoleAssignment, error) {
	var a meta.RoleAssignment
	var created, updated int64
	err := sc.Scan(&a.Name, &a.Scope, &a.RoleDefinitionID, &a.PrincipalID, &a.PrincipalType, &a.Description,
		&a.Condition, &a.ConditionVersion, &created, &a.Created.By, &a.Created.ByType, &updated, &a.Updated.By, &a.Updated.ByType)
	a.Created.At, a.Updated.At = timeOrZero(created), timeOrZero(updated)
	return a, err
}

func roleAssignmentIn(ctx context.Context, q rowQueryer, name string) (*meta.RoleAssignment, error) {
	return oneRow(scanRoleAssignment(q.QueryRowContext(ctx, `SELECT `+roleAssignmentColumns+`
		FROM role_assignments WHERE name = ?`, nameKey(name))))
}

// RoleAssignment returns a role assignment by name.
func (s *Store) RoleAssignment(ctx context.Context, name string) (*meta.RoleAssignment, error) {
	a, err := roleAssignmentIn(ctx, s.r, name)
	return a, wrapf(err, "role assignment %s", name)
}

// RoleAssignments lists the role assignments q selects.
func (s *Store) RoleAssignments(ctx context.Context, q meta.RoleAssignmentQuery) ([]meta.RoleAssignment, error) {
	var where []string
	var args []any
	var scopes []string
	if len(q.AtScopes) > 0 {
		keys := make([]any, len(q.AtScopes))
		for i, sc := range q.AtScopes {
			keys[i] = scopeKey(sc)
		}
		scopes = append(scopes, `scope_key IN (`+sqlPlaceholders(len(keys))+`)`)
		args = append(args, keys...)
	}
	if q.Under != "" {
		// Strictly below: the scope followed by a slash. substr keeps "_" and "%" in
		// names from acting as LIKE wildcards.
		prefix := scopeKey(q.Under) + "/"
		scopes = append(scopes, `substr(scope_key, 1, ?) = ?`)
		args = append(args, len(prefix), prefix)
	}
	if len(scopes) > 0 {
		where = append(where, "("+strings.Join(scopes, " OR ")+")")
	}
	if len(q.PrincipalIDs) > 0 {
		where = append(where, `principal_id IN (`+sqlPlaceholders(len(q.PrincipalIDs))+`)`)
		for _, p := range q.PrincipalIDs {
			args = append(args, nameKey(p))
		}
	}
	query := `SELECT ` + roleAssignmentColumns + ` FROM role_assignments`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.r.QueryContext(ctx, query+` ORDER BY scope_key, name`, args...)
	as, err := scanRows(rows, err, scanRoleAssignment)
	return as, wrapf(err, "role assignments")
}

// DeleteRoleAssignment removes a role assignment and increases its principal's generation.
func (s *Store) DeleteRoleAssignment(ctx context.Context, name string) (*meta.RoleAssignment, error) {
	var a *meta.RoleAssignment
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		if a, err = roleAssignmentIn(ctx, tx, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM role_assignments WHERE name = ?`, nameKey(name)); err != nil {
			return err
		}
		return bumpPrincipals(ctx, tx, a.PrincipalID)
	})
	if err != nil {
		return nil, wrapfErr(err, "delete role assignment %s", name)
	}
	return a, nil
}

// deleteAssignmentsFrom removes the role assignments at scope (a lower-case nameKey) and below
// it, increasing the generations of their principals.
func deleteAssignmentsFrom(ctx context.Context, tx *sql.Tx, scope string) error {
	const match = `scope_key = ? OR substr(scope_key, 1, ?) = ?`
	args := []any{scope, len(scope) + 1, scope + "/"}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT principal_id FROM role_assignments WHERE `+match, args...)
	principals, err := queryAll[string](rows, err)
	if err != nil {
		return err
	}
	if err := bumpPrincipals(ctx, tx, principals...); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM role_assignments WHERE `+match, args...)
	return err
}

// bumpPrincipals increases the generations of principals.
func bumpPrincipals(ctx context.Context, tx *sql.Tx, principals ...string) error {
	for _, p := range principals {
		if _, err := tx.ExecContext(ctx, `INSERT INTO principal_generations (principal_id, generation) VALUES (?, 1)
			ON CONFLICT (principal_id) DO UPDATE SET generation = principal_generations.generation + 1`, nameKey(p)); err != nil {
			return err
		}
	}
	return nil
}

// PrincipalGeneration returns the sum of the principals' generations.
func (s *Store) PrincipalGeneration(ctx context.Context, principalIDs ...string) (int64, error) {
	if len(principalIDs) == 0 {
		return 0, nil
	}
	args := make([]any, len(principalIDs))
	for i, p := range principalIDs {
		args[i] = nameKey(p)
	}
	var gen int64
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(generation), 0) FROM principal_generations
		WHERE principal_id IN (`+sqlPlaceholders(len(args))+`)`, args...).Scan(&gen)
	return gen, wrapf(err, "principal generation")
}

// RecordEvent appends an entry to the activity log.
func (s *Store) RecordEvent(ctx context.Context, e *meta.Event) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO activity_events (id, at, tenant_id, subscription_id,
			resource_group, resource_group_key, resource_id, resource_key, operation, caller, caller_app_id,
			status, sub_status, http_status, method, correlation_id, client_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, nanosOrZero(e.Time), e.TenantID, nameKey(e.Subscription), e.ResourceGroup, nameKey(e.ResourceGroup),
			e.ResourceID, scopeKey(e.ResourceID), e.Operation, e.Caller, e.CallerAppID, e.Status, e.SubStatus,
			e.HTTPStatus, e.Method, e.CorrelationID, e.ClientIP)
		return err
	})
	return wrapf(err, "record event %s", e.ID)
}

// Events lists activity-log entries, newest first.
func (s *Store) Events(ctx context.Context, q meta.EventQuery) ([]meta.Event, error) {
	where := []string{`subscription_id = ?`}
	args := []any{nameKey(q.Subscription)}
	if !q.From.IsZero() {
		where, args = append(where, `at >= ?`), append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		where, args = append(where, `at <= ?`), append(args, q.To.UnixNano())
	}
	if q.ResourceGroup != "" {
		where, args = append(where, `resource_group_key = ?`), append(args, nameKey(q.ResourceGroup))
	}
	if q.ResourceID != "" {
		k := scopeKey(q.ResourceID)
		where = append(where, `(resource_key = ? OR substr(resource_key, 1, ?) = ?)`)
		args = append(args, k, len(k)+1, k+"/")
	}
	if q.CorrelationID != "" {
		where, args = append(where, `correlation_id = ?`), append(args, q.CorrelationID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, tenant_id, subscription_id, resource_group, resource_id,
		operation, caller, caller_app_id, status, sub_status, http_status, method, correlation_id, client_ip
		FROM activity_events WHERE `+strings.Join(where, " AND ")+` ORDER BY at DESC, seq DESC LIMIT ?`,
		append(args, sqlLimit(q.Limit))...)
	events, err := scanRows(rows, err, func(sc rowScanner) (meta.Event, error) {
		var e meta.Event
		var at int64
		err := sc.Scan(&e.ID, &at, &e.TenantID, &e.Subscription, &e.ResourceGroup, &e.ResourceID, &e.Operation,
			&e.Caller, &e.CallerAppID, &e.Status, &e.SubStatus, &e.HTTPStatus, &e.Method, &e.CorrelationID, &e.ClientIP)
		e.Time = timeOrZero(at)
		return e, err
	})
	return events, wrapf(err, "events")
}
