package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

var auditColumns = []string{"at", "registry_id", "principal", "repository", "action", "allowed", "client", "request_id"}

// AppendAudit stores a batch of audit events in one transaction, through COPY: one round
// trip for the lot, and seq numbers in the order of the batch.
func (s *Store) AppendAudit(ctx context.Context, events []meta.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, auditColumns,
			pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
				e := events[i]
				return []any{e.Time.UnixNano(), e.Registry, e.Principal, e.Repository, e.Action,
					e.Allowed, e.Client, e.RequestID}, nil
			}))
		return err
	})
	return wrapf(err, "append %d audit events", len(events))
}

// auditQuery is the listing q selects: its SQL and arguments. With a registry it walks
// audit_events_registry_time backwards, otherwise audit_events_time; either gives the
// order.
func auditQuery(q meta.AuditQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.Registry != "" {
		add(`registry_id =`, q.Registry)
	}
	if q.Principal != "" {
		add(`principal =`, q.Principal)
	}
	if q.Repository != "" {
		add(`repository =`, q.Repository)
	}
	switch q.Outcome {
	case meta.AuditAllowed:
		add(`allowed =`, true)
	case meta.AuditDenied:
		add(`allowed =`, false)
	}
	if !q.Since.IsZero() {
		add(`at >=`, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add(`at <`, q.Until.UnixNano())
	}
	query := `SELECT ` + strings.Join(auditColumns, ", ") + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, sqlLimit(q.Limit))
	return query + ` ORDER BY at DESC, seq DESC LIMIT $` + strconv.Itoa(len(args)), args
}

// AuditEvents lists the audit events q selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, q meta.AuditQuery) ([]meta.AuditEvent, error) {
	query, args := auditQuery(q)
	rows, err := s.pool.Query(ctx, query, args...)
	events, err := scanRows(rows, err, func(sc scanner) (meta.AuditEvent, error) {
		var e meta.AuditEvent
		var at int64
		err := sc.Scan(&at, &e.Registry, &e.Principal, &e.Repository, &e.Action, &e.Allowed, &e.Client, &e.RequestID)
		e.Time = time.Unix(0, at).UTC()
		return e, err
	})
	return events, wrapf(err, "audit events")
}

// pruneChunk bounds one pruning statement, so that a backlog after a long pause is
// removed in steps that each hold few row locks and little WAL.
const pruneChunk = 5000

const pruneAuditSQL = `DELETE FROM audit_events WHERE seq IN
	(SELECT seq FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)`

// PruneAudit removes the audit events older than before, a chunk per statement.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, pruneAuditSQL, before.UnixNano(), pruneChunk)
		if err != nil {
			return total, wrapf(err, "prune audit events")
		}
		n := int(tag.RowsAffected())
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}
