package auth

import (
	"context"
	"strings"
	"time"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/observe"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Event is one data-plane decision: who asked for what, from where, and the answer.
type Event struct {
	Time      time.Time
	Registry  string // registry id
	Principal string // access.Principal.String(), or unverifiedPrefix+... for a refused credential
	Scope     string // e.g. repository:app:pull; "" for none (the API base)
	// Repository and Action split Scope: a repository scope's name and its actions
	// ("pull", "pull,push"); for the registry scope (the catalog) Repository is "" and
	// Action the whole scope.
	Repository string
	Action     string
	Allowed    bool
	Client     string // client address
	RequestID  string // observe.RequestID of the request
}

// Auditor records decisions. Record must not block the request: implementations buffer
// and write in the background (no synchronous write on the pull path).
type Auditor interface {
	Record(Event)
}

type nopAuditor struct{}

func (nopAuditor) Record(Event) {}

// unverifiedPrefix starts the principal of a refused credential (or of a request the
// network rules refused before its credentials were looked at): what it claimed to be,
// never what it presented as proof.
const unverifiedPrefix = "unverified:"

// maxClaimedName bounds the claimed username kept in the log.
const maxClaimedName = 128

// claimed names who an Authorization header claims to be, for the audit log: the
// username of Basic credentials, never their password; a bearer token is neither decoded
// nor kept.
func claimed(authorization string) string {
	scheme, cred, _ := strings.Cut(authorization, " ")
	switch {
	case authorization == "":
		return "anonymous"
	case strings.EqualFold(scheme, "Basic"):
		user, _, ok := decodeBasic(cred)
		if !ok {
			return unverifiedPrefix + "malformed-basic"
		}
		if len(user) > maxClaimedName {
			user = user[:maxClaimedName]
		}
		return unverifiedPrefix + user
	case strings.EqualFold(scheme, "Bearer"):
		return unverifiedPrefix + "bearer"
	}
	return unverifiedPrefix + "unsupported-scheme"
}

// record hands one decision to the auditor.
func (s *Service) record(ctx context.Context, reg *meta.Registry, principal string, want *access.Scope, allowed bool, client string) {
	e := Event{Time: s.opts.Now(), Registry: reg.ID, Principal: principal, Allowed: allowed, Client: client,
		RequestID: observe.RequestID(ctx)}
	if want != nil {
		e.Scope = want.String()
		e.Action = e.Scope
		if want.Type == access.TypeRepository {
			e.Repository = want.Name
			e.Action = strings.TrimPrefix(e.Scope, access.TypeRepository+":"+want.Name+":")
		}
	}
	s.opts.Audit.Record(e)
}
