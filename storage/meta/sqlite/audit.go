package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

var _ meta.AuditLog = (*Store)(nil)

const appendAuditSQL = `INSERT INTO audit_events (at, registry_id, principal, repository, action, allowed, client, request_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// AppendAudit stores a batch of audit events in one transaction (one fsync for the lot).
func (s *Store) AppendAudit(ctx context.Context, events []meta.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, appendAuditSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, e.Time.UnixNano(), e.Registry, e.Principal, e.Repository, e.Action,
				e.Allowed, e.Client, e.RequestID); err != nil {
				return err
			}
		}
		return nil
	})
	return wrapf(err, "append %d audit events", len(events))
}

// auditQuery is the listing q selects: its SQL and arguments. With a registry it walks
// audit_events_registry_time, otherwise audit_events_time; either gives the order.
func auditQuery(q meta.AuditQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where, args = append(where, cond), append(args, arg)
	}
	if q.Registry != "" {
		add(`registry_id = ?`, q.Registry)
	}
	if q.Principal != "" {
		add(`principal = ?`, q.Principal)
	}
	if q.Repository != "" {
		add(`repository = ?`, q.Repository)
	}
	switch q.Outcome {
	case meta.AuditAllowed:
		add(`allowed = ?`, true)
	case meta.AuditDenied:
		add(`allowed = ?`, false)
	}
	if !q.Since.IsZero() {
		add(`at >= ?`, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add(`at < ?`, q.Until.UnixNano())
	}
	query := `SELECT at, registry_id, principal, repository, action, allowed, client, request_id FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY at DESC, seq DESC LIMIT ?`, append(args, sqlLimit(q.Limit))
}

// AuditEvents lists the audit events q selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, q meta.AuditQuery) ([]meta.AuditEvent, error) {
	query, args := auditQuery(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	events, err := scanRows(rows, err, func(sc rowScanner) (meta.AuditEvent, error) {
		var e meta.AuditEvent
		var at int64
		err := sc.Scan(&at, &e.Registry, &e.Principal, &e.Repository, &e.Action, &e.Allowed, &e.Client, &e.RequestID)
		e.Time = time.Unix(0, at).UTC()
		return e, err
	})
	return events, wrapf(err, "audit events")
}

// pruneChunk bounds one pruning transaction, so that pushes (which share the one writer
// connection) wait for a chunk at most, not for the whole backlog after a long pause.
const pruneChunk = 5000

const pruneAuditSQL = `DELETE FROM audit_events WHERE seq IN
	(SELECT seq FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)`

// PruneAudit removes the audit events older than before, a chunk per transaction.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := inTx(ctx, s.w, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, pruneAuditSQL, before.UnixNano(), pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, wrapf(err, "prune audit events")
		}
		total += int(n)
		if n < pruneChunk {
			return total, nil
		}
	}
}
