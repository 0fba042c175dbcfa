package auth

import "time"

// Event is one data-plane decision: who asked for what, from where, and the answer.
type Event struct {
	Time      time.Time
	Registry  string // registry id
	Principal string // access.Principal.String()
	Scope     string // e.g. repository:app:pull
	Allowed   bool
	Client    string // client address
}

// Auditor records decisions. Record must not block the request: implementations buffer
// and write in the background (no synchronous write on the pull path).
type Auditor interface {
	Record(Event)
}

type nopAuditor struct{}

func (nopAuditor) Record(Event) {}
