package bench

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// newClients returns n clients of ep, each with its own connection (n clients stand for
// n docker daemons, not for one multiplexed connection), already open and signed in so
// that TLS handshakes and token requests stay out of the timed work.
func newClients(ctx context.Context, n int, ep endpoint, http2 bool) ([]*client, error) {
	cs := make([]*client, n)
	for i := range cs {
		c, err := newClient(ep, http2)
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	if _, err := warm(ctx, cs); err != nil {
		closeClients(cs)
		return nil, err
	}
	return cs, nil
}

func closeClients(cs []*client) {
	for _, c := range cs {
		c.close()
	}
}

// eachWorker runs fn once for every worker (usually a client), concurrently; w is the
// worker's index. It returns the first error, which cancels the others' context.
func eachWorker[W any](ctx context.Context, workers []W, fn func(ctx context.Context, w int, worker W) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for w, worker := range workers {
		g.Go(func() error { return fn(ctx, w, worker) })
	}
	return g.Wait()
}

// forEach calls fn(ctx, worker, i) for every i in [0, n), spread over the workers as each
// becomes free, and stops at the first error.
func forEach[W any](ctx context.Context, workers []W, n int, fn func(ctx context.Context, worker W, i int) error) error {
	var next atomic.Int64
	return eachWorker(ctx, workers, func(ctx context.Context, _ int, worker W) error {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			if err := fn(ctx, worker, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// warm makes every client open its connection and sign in, and returns the protocol
// they speak.
func warm(ctx context.Context, clients []*client) (string, error) {
	protos := make([]string, len(clients))
	err := eachWorker(ctx, clients, func(ctx context.Context, w int, c *client) error {
		var err error
		if protos[w], err = c.proto(ctx); err != nil {
			return err
		}
		return c.signIn(ctx)
	})
	if err != nil {
		return "", err
	}
	return protos[0], nil
}

// loadResult is the outcome of a fixed-duration request loop.
type loadResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (l loadResult) rate() float64 { return float64(l.requests) / l.elapsed.Seconds() }

// hammer sends requests (one call of req each) from every client in a loop for d and
// measures the request rate and latency. The clients should be warm (see warm).
func hammer(ctx context.Context, clients []*client, d time.Duration, req func(context.Context, *client) error) (loadResult, error) {
	lat := make([][]time.Duration, len(clients))
	start := time.Now()
	deadline := start.Add(d)
	err := eachWorker(ctx, clients, func(ctx context.Context, w int, c *client) error {
		for t := time.Now(); t.Before(deadline); {
			if err := req(ctx, c); err != nil {
				return err
			}
			now := time.Now()
			lat[w] = append(lat[w], now.Sub(t))
			t = now
		}
		return nil
	})
	if err != nil {
		return loadResult{}, err
	}
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	return loadResult{requests: len(all), elapsed: elapsed, p50: percentile(all, 50), p99: percentile(all, 99)}, nil
}

// percentile returns the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100 // ceil(n·p/100), 1-based
	return sorted[max(rank, 1)-1]
}
