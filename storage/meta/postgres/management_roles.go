package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// scopeKey is the form in which ARM scopes compare: lower case, no trailing slash ("" for
// the root scope "/").
func scopeKey(scope string) string { return strings.TrimRight(nameKey(scope), "/") }

// CreateRoleAssignment stores a role assignment and increases its principal's generation.
func (s *Store) CreateRoleAssignment(ctx context.Context, a *meta.RoleAssignment) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		if err := rejectExisting(ctx, tx, `SELECT 1 FROM role_assignments WHERE name = $1 OR
			(principal_id = $2 AND role_definition_id = $3 AND scope_key = $4)`,
			nameKey(a.Name), nameKey(a.PrincipalID), nameKey(a.RoleDefinitionID), scopeKey(a.Scope)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO role_assignments (name, scope, scope_key,
			role_definition_id, principal_id, principal_type, description, condition_expr, condition_version,
			created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			nameKey(a.Name), a.Scope, scopeKey(a.Scope), nameKey(a.RoleDefinitionID), nameKey(a.PrincipalID), a.PrincipalType,
			a.Description, a.Condition, a.ConditionVersion, nanos(a.Created.At), a.Created.By, a.Created.ByType,
			nanos(a.Updated.At), a.Updated.By, a.Updated.ByType); err != nil {
			return err
		}
		return bumpPrincipal(ctx, tx, a.PrincipalID)
	})
	return mgmtErr(err, "create role assignment %s", a.Name)
}

const roleAssignmentColumns = `name, scope, role_definition_id, principal_id, principal_type, description,
	condition_expr, condition_version, created_at, created_by, created_by_type, updated_at, updated_by, updated_by_type`

func scanRoleAssignment(sc scanner) (meta.RoleAssignment, error) {
	var a meta.RoleAssignment
	var created, updated int64
	err := sc.Scan(&a.Name, &a.Scope, &a.RoleDefinitionID, &a.PrincipalID, &a.PrincipalType, &a.Description,
		&a.Condition, &a.ConditionVersion, &created, &a.Created.By, &a.Created.ByType, &updated, &a.Updated.By, &a.Updated.ByType)
	a.Created.At, a.Updated.At = fromNanos(created), fromNanos(updated)
	return a, err
}

func roleAssignmentIn(ctx context.Context, q queryer, name string) (*meta.RoleAssignment, error) {
	return one(scanRoleAssignment(q.QueryRow(ctx, `SELECT `+roleAssignmentColumns+`
		FROM role_assignments WHERE name = $1`, nameKey(name))))
}

// RoleAssignment returns a role assignment by name.
func (s *Store) RoleAssignment(ctx context.Context, name string) (*meta.RoleAssignment, error) {
	a, err := roleAssignmentIn(ctx, s.pool, name)
	return a, mgmtErr(err, "role assignment %s", name)
}

// RoleAssignments lists the role assignments q selects.
func (s *Store) RoleAssignments(ctx context.Context, q meta.RoleAssignmentQuery) ([]meta.RoleAssignment, error) {
	var where, scopes []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.AtScopes) > 0 {
		keys := make([]string, len(q.AtScopes))
		for i, sc := range q.AtScopes {
			keys[i] = scopeKey(sc)
		}
		scopes = append(scopes, `scope_key = ANY (`+arg(keys)+`)`)
	}
	if q.Under != "" {
		// Strictly below: the scope followed by a slash (starts_with, unlike LIKE, has no
		// wildcards to escape).
		scopes = append(scopes, `starts_with(scope_key, `+arg(scopeKey(q.Under)+"/")+`)`)
	}
	if len(scopes) > 0 {
		where = append(where, "("+strings.Join(scopes, " OR ")+")")
	}
	if len(q.PrincipalIDs) > 0 {
		ids := make([]string, len(q.PrincipalIDs))
		for i, p := range q.PrincipalIDs {
			ids[i] = nameKey(p)
		}
		where = append(where, `principal_id = ANY (`+arg(ids)+`)`)
	}
	query := `SELECT ` + roleAssignmentColumns + ` FROM role_assignments`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.pool.Query(ctx, query+` ORDER BY scope_key, name`, args...)
	as, err := scanRows(rows, err, scanRoleAssignment)
	return as, mgmtErr(err, "role assignments")
}

// DeleteRoleAssignment removes a role assignment and increases its principal's generation.
func (s *Store) DeleteRoleAssignment(ctx context.Context, name string) (*meta.RoleAssignment, error) {
	var a *meta.RoleAssignment
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var err error
		if a, err = one(scanRoleAssignment(tx.QueryRow(ctx, `DELETE FROM role_assignments WHERE name = $1
			RETURNING `+roleAssignmentColumns, nameKey(name)))); err != nil {
			return err
		}
		return bumpPrincipal(ctx, tx, a.PrincipalID)
	})
	if err != nil {
		return nil, mgmtErr(err, "delete role assignment %s", name)
	}
	return a, nil
}

// bumpGenerations is the statement that increases by one the generation of each
// principal that the rows of source name (in a column principal_id).
func bumpGenerations(source string) string {
	return `INSERT INTO principal_generations (principal_id, generation)
	SELECT DISTINCT principal_id, 1 FROM ` + source + `
	ON CONFLICT (principal_id) DO UPDATE SET generation = principal_generations.generation + 1`
}

// deleteAssignmentsFrom removes the role assignments at scope (a lower-case nameKey) and
// below it, increasing the generations of their principals, in one statement.
func deleteAssignmentsFrom(ctx context.Context, tx pgx.Tx, scope string) error {
	_, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM role_assignments
		WHERE scope_key = $1 OR starts_with(scope_key, $1 || '/') RETURNING principal_id) `+
		bumpGenerations("gone"), scope)
	return err
}

// bumpPrincipal increases the generation of a principal.
func bumpPrincipal(ctx context.Context, tx pgx.Tx, principal string) error {
	_, err := tx.Exec(ctx, bumpGenerations("(SELECT $1::text AS principal_id) p"), nameKey(principal))
	return err
}

// PrincipalGeneration returns the sum of the principals' generations.
func (s *Store) PrincipalGeneration(ctx context.Context, principalIDs ...string) (int64, error) {
	if len(principalIDs) == 0 {
		return 0, nil
	}
	ids := make([]string, len(principalIDs))
	for i, p := range principalIDs {
		ids[i] = nameKey(p)
	}
	var gen int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(generation), 0)::bigint FROM principal_generations
		WHERE principal_id = ANY ($1)`, ids).Scan(&gen)
	return gen, mgmtErr(err, "principal generation")
}

// RecordEvent appends an entry to the activity log.
func (s *Store) RecordEvent(ctx context.Context, e *meta.Event) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO activity_events (id, at, tenant_id, subscription_id,
		resource_group, resource_group_key, resource_id, resource_key, operation, caller, caller_app_id,
		status, sub_status, http_status, method, correlation_id, client_ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		e.ID, nanos(e.Time), e.TenantID, nameKey(e.Subscription), e.ResourceGroup, nameKey(e.ResourceGroup),
		e.ResourceID, scopeKey(e.ResourceID), e.Operation, e.Caller, e.CallerAppID, e.Status, e.SubStatus,
		e.HTTPStatus, e.Method, e.CorrelationID, e.ClientIP)
	return wrapf(err, "record event %s", e.ID)
}

// Events lists activity-log entries, newest first.
func (s *Store) Events(ctx context.Context, q meta.EventQuery) ([]meta.Event, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{`subscription_id = ` + arg(nameKey(q.Subscription))}
	if !q.From.IsZero() {
		where = append(where, `at >= `+arg(q.From.UnixNano()))
	}
	if !q.To.IsZero() {
		where = append(where, `at <= `+arg(q.To.UnixNano()))
	}
	if q.ResourceGroup != "" {
		where = append(where, `resource_group_key = `+arg(nameKey(q.ResourceGroup)))
	}
	if q.ResourceID != "" {
		k := scopeKey(q.ResourceID)
		where = append(where, `(resource_key = `+arg(k)+` OR starts_with(resource_key, `+arg(k+"/")+`))`)
	}
	if q.CorrelationID != "" {
		where = append(where, `correlation_id = `+arg(q.CorrelationID))
	}
	limit := arg(sqlLimit(q.Limit))
	rows, err := s.pool.Query(ctx, `SELECT id, at, tenant_id, subscription_id, resource_group, resource_id,
		operation, caller, caller_app_id, status, sub_status, http_status, method, correlation_id, client_ip
		FROM activity_events WHERE `+strings.Join(where, " AND ")+` ORDER BY at DESC, seq DESC LIMIT `+limit, args...)
	events, err := scanRows(rows, err, func(sc scanner) (meta.Event, error) {
		var e meta.Event
		var at int64
		err := sc.Scan(&e.ID, &at, &e.TenantID, &e.Subscription, &e.ResourceGroup, &e.ResourceID, &e.Operation,
			&e.Caller, &e.CallerAppID, &e.Status, &e.SubStatus, &e.HTTPStatus, &e.Method, &e.CorrelationID, &e.ClientIP)
		e.Time = fromNanos(at)
		return e, err
	})
	return events, wrapf(err, "events")
}
