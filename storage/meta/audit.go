package meta

import (
	"context"
	"time"
)

// The audit log: every decision of the data plane's gate (package auth), allowed or
// denied. It is append-only apart from pruning by age, it refers to registries by id
// without depending on them (the trail of a removed registry stays until it ages out), and
// it never holds a secret: principals are named (access.Principal.String()), never by
// their credentials.

// AuditEvent is one decision of the data plane's gate.
type AuditEvent struct {
	Time      time.Time
	Registry  string // registry id
	Principal string // e.g. "admin:<name>", "token:<name>", "entra:<tenant>/<oid>", "anonymous"
	// Repository is the repository asked for; "" when the request was for the registry
	// itself (the catalog) or for no scope at all.
	Repository string
	// Action is what was asked: the actions of a repository scope ("pull", "pull,push",
	// "delete"), the whole scope otherwise ("registry:catalog:*"), "" for none.
	Action    string
	Allowed   bool
	Client    string // client address, without port
	RequestID string // the request's id (X-Request-Id), "" when it had none
}

// AuditOutcome selects events by their answer.
type AuditOutcome int

// The outcomes a query may select.
const (
	AuditAny AuditOutcome = iota
	AuditAllowed
	AuditDenied
)

// AuditQuery selects audit events, newest first. Empty fields match everything; strings
// match exactly.
type AuditQuery struct {
	Registry   string // registry id
	Principal  string
	Repository string
	Outcome    AuditOutcome
	Since      time.Time // inclusive; zero: unbounded
	Until      time.Time // exclusive; zero: unbounded
	Limit      int       // <= 0: no limit
}

// AuditLog stores audit events. Writes come in batches from a background writer: the
// request path never waits for them.
type AuditLog interface {
	// AppendAudit stores events in one transaction: all or none. An empty batch is a
	// no-op.
	AppendAudit(ctx context.Context, events []AuditEvent) error
	// AuditEvents lists the events q selects, newest first; events of the same time come
	// out in the reverse of the order they were appended.
	AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// PruneAudit removes the events older than before (strictly) and returns how many.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}
