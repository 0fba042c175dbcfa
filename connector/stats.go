package connector

import "sync/atomic"

// Stats counts what a registry client (or a whole session) sent.
type Stats struct {
	// Requests are registry requests (/v2, /acr/v1), retries and challenge probes included.
	Requests int64 `json:"requests"`
	// TokenRequests are calls to /oauth2/token; Exchanges to /oauth2/exchange.
	TokenRequests int64 `json:"tokenRequests"`
	Exchanges     int64 `json:"exchanges"`
	// EntraTokens are token requests to the Entra credential (which caches on its own).
	EntraTokens int64 `json:"entraTokens"`
	// Retries are requests sent again after 429/503; Throttled the 429/503 answers seen.
	Retries   int64 `json:"retries"`
	Throttled int64 `json:"throttled"`
	// ChallengeRenewals are fresh tokens fetched because a 401 named a scope not held
	// (or refused a held one).
	ChallengeRenewals int64 `json:"challengeRenewals"`
}

func (a Stats) add(b Stats) Stats {
	return Stats{a.Requests + b.Requests, a.TokenRequests + b.TokenRequests, a.Exchanges + b.Exchanges,
		a.EntraTokens + b.EntraTokens, a.Retries + b.Retries, a.Throttled + b.Throttled, a.ChallengeRenewals + b.ChallengeRenewals}
}

type counters struct {
	requests, tokenRequests, exchanges, entraTokens, retries, throttled, renewals atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{c.requests.Load(), c.tokenRequests.Load(), c.exchanges.Load(), c.entraTokens.Load(),
		c.retries.Load(), c.throttled.Load(), c.renewals.Load()}
}
