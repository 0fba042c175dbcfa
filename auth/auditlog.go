package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// AuditStore is where an AuditLog writes: the append and prune of meta.AuditLog.
type AuditStore interface {
	AppendAudit(ctx context.Context, events []meta.AuditEvent) error
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// Defaults of AuditLogOptions.
const (
	DefaultAuditBuffer     = 8192
	DefaultAuditBatch      = 500
	DefaultAuditFlushEvery = 250 * time.Millisecond
	DefaultAuditPruneEvery = time.Hour
	DefaultAuditWarnEvery  = 10 * time.Second
)

// AuditLogOptions configure an AuditLog; zero fields take the defaults.
type AuditLogOptions struct {
	Store AuditStore
	// Buffer is how many events wait while the store is busy; beyond it events are
	// dropped (see AuditLog).
	Buffer int
	// BatchSize and FlushEvery: a batch is written when it holds BatchSize events, or
	// FlushEvery after the last write, whichever comes first.
	BatchSize  int
	FlushEvery time.Duration
	// Retention: events older than this are pruned every PruneEvery (and once at start);
	// 0 keeps them all.
	Retention  time.Duration
	PruneEvery time.Duration
	// WarnEvery bounds the warnings about dropped or unwritten events to one per interval.
	WarnEvery time.Duration
	Now       func() time.Time // for the retention cut-off; time.Now when nil
	Logger    *slog.Logger
}

// AuditLog is the Auditor that keeps the audit trail in a store, off the request path:
// Record appends the event to a bounded queue and returns; one goroutine takes the queue
// in batches and appends each batch in one transaction, and prunes by age. The queue
// holds memory for the events actually waiting, not for the whole bound: a server that
// keeps up spends a batch's worth, one that falls behind grows it up to Buffer.
//
// Drop policy: when the buffer is full (the store has been slower than the requests for
// a while) Record drops the event rather than wait or grow without bound. Blocking would
// make every pull wait on a metadata write, which the project rules out, and an unbounded
// buffer trades the loss for running out of memory. The loss is never silent: Dropped
// counts it, and a warning with the count is logged at most once per WarnEvery. A batch
// the store refuses is not retried (the store is failing; retrying would only grow the
// backlog); Failed counts its events, with the same warning.
//
// Close writes what is buffered; call it once requests have stopped (graceful shutdown).
type AuditLog struct {
	opts AuditLogOptions

	// Events wait in queue, or taken from it by the writer; together at most Buffer.
	mu     sync.Mutex
	queue  []Event
	taken  int           // taken by the writer, not yet handed to the store
	closed bool          // by Close: Record drops
	wake   chan struct{} // the queue holds a batch (capacity 1)

	// ctx bounds every store call; Close cancels it when its own context ends first.
	ctx    context.Context
	cancel context.CancelFunc

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the goroutine has returned
	closeOnce sync.Once
	lastErr   error // the store's last refusal; written by the goroutine, read after done

	written, dropped, failed atomic.Uint64
}

var _ Auditor = (*AuditLog)(nil)

// NewAuditLog starts an AuditLog writing to opts.Store.
func NewAuditLog(opts AuditLogOptions) *AuditLog {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultAuditBuffer
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultAuditBatch
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultAuditFlushEvery
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = DefaultAuditPruneEvery
	}
	if opts.WarnEvery <= 0 {
		opts.WarnEvery = DefaultAuditWarnEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &AuditLog{opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.run()
	return a
}

// Record queues e for writing and never blocks: when the buffer is full, or the log is
// closed, e is dropped and counted.
func (a *AuditLog) Record(e Event) {
	a.mu.Lock()
	if a.closed || len(a.queue)+a.taken >= a.opts.Buffer {
		a.mu.Unlock()
		a.dropped.Add(1)
		return
	}
	a.queue = append(a.queue, e)
	batch := len(a.queue) >= a.opts.BatchSize
	a.mu.Unlock()
	if batch {
		select {
		case a.wake <- struct{}{}:
		default: // the writer is already woken
		}
	}
}

// Written is how many events the store has accepted.
func (a *AuditLog) Written() uint64 { return a.written.Load() }

// Dropped is how many events were dropped because the buffer was full (or the log closed).
func (a *AuditLog) Dropped() uint64 { return a.dropped.Load() }

// Failed is how many events were lost because the store refused their batch.
func (a *AuditLog) Failed() uint64 { return a.failed.Load() }

// Close stops taking events and writes those buffered. If ctx ends first, the write in
// progress is abandoned and the rest is lost (and counted in Failed). Record may still be
// called after Close; it drops. Close is idempotent.
func (a *AuditLog) Close(ctx context.Context) error {
	failed := a.failed.Load()
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		close(a.stop)
	})
	select {
	case <-a.done:
	case <-ctx.Done():
		a.cancel()
		<-a.done
	}
	a.cancel()
	if lost := a.failed.Load() - failed; lost > 0 {
		return fmt.Errorf("audit: %d events not written at close: %w", lost, a.lastErr)
	}
	return nil
}

func (a *AuditLog) run() {
	defer close(a.done)
	flush := time.NewTicker(a.opts.FlushEvery)
	defer flush.Stop()
	prune := time.NewTicker(a.opts.PruneEvery)
	defer prune.Stop()
	w := auditWriter{log: a}
	w.prune()
	for {
		select {
		case <-a.wake:
			w.writeQueued(false)
		case <-flush.C:
			w.writeQueued(true)
			w.warn(false)
		case <-prune.C:
			w.prune()
		case <-a.stop:
			w.writeQueued(true) // Record drops from now on: these are the last events
			w.warn(true)
			return
		}
	}
}

// auditWriter is the goroutine's state.
type auditWriter struct {
	log   *AuditLog
	spare []Event // the queue's other half, swapped in when the writer takes the queue
	batch []meta.AuditEvent

	lastWarn              time.Time
	warnedDrop, warnedErr uint64 // Dropped and Failed as of the last warning
}

// writeQueued writes the queued events in batches of BatchSize, and a last, partial
// batch only when all (the flush interval has passed, or the log is closing); otherwise
// the partial batch goes back to the head of the queue.
func (w *auditWriter) writeQueued(all bool) {
	a := w.log
	a.mu.Lock()
	events := a.queue
	a.queue, a.taken = w.spare, len(events)
	a.mu.Unlock()
	n := len(events)
	if !all {
		n -= n % a.opts.BatchSize
	}
	for rest := events[:n]; len(rest) > 0; {
		k := min(len(rest), a.opts.BatchSize)
		for _, e := range rest[:k] {
			w.batch = append(w.batch, meta.AuditEvent{
				Time: e.Time, Registry: e.Registry, Principal: e.Principal, Repository: e.Repository,
				Action: e.Action, Allowed: e.Allowed, Client: e.Client, RequestID: e.RequestID,
			})
		}
		a.mu.Lock()
		a.taken -= k // in the store's hands: no longer waiting
		a.mu.Unlock()
		w.flush()
		rest = rest[k:]
	}
	left := copy(events, events[n:])
	clear(events[left:]) // drop the strings for the collector
	a.mu.Lock()
	events = append(events[:left], a.queue...) // what came meanwhile queues behind
	w.spare, a.queue, a.taken = a.queue, events, 0
	a.mu.Unlock()
	clear(w.spare)
	if cap(w.spare) > 2*a.opts.BatchSize {
		w.spare = nil // a burst's backlog is not kept: the next one grows the queue again
	}
	w.spare = w.spare[:0]
}

// flush writes the batch in one call.
func (w *auditWriter) flush() {
	a := w.log
	n := uint64(len(w.batch))
	if err := a.opts.Store.AppendAudit(a.ctx, w.batch); err != nil {
		a.failed.Add(n)
		a.lastErr = err
	} else {
		a.written.Add(n)
	}
	clear(w.batch) // drop the strings for the collector
	w.batch = w.batch[:0]
}

// warn logs what was lost since the last warning, at most once per WarnEvery unless
// final.
func (w *auditWriter) warn(final bool) {
	a := w.log
	dropped, failed := a.dropped.Load(), a.failed.Load()
	if dropped == w.warnedDrop && failed == w.warnedErr || !final && time.Since(w.lastWarn) < a.opts.WarnEvery {
		return
	}
	attrs := []any{
		slog.Uint64("dropped", dropped-w.warnedDrop), slog.Uint64("failed", failed-w.warnedErr),
		slog.Uint64("dropped_total", dropped), slog.Uint64("failed_total", failed),
		slog.Int("buffer", a.opts.Buffer),
	}
	if failed != w.warnedErr {
		attrs = append(attrs, slog.Any("err", a.lastErr))
	}
	a.opts.Logger.Warn("audit events lost: the store did not keep up (dropped) or refused them (failed)", attrs...)
	w.lastWarn, w.warnedDrop, w.warnedErr = time.Now(), dropped, failed
}

// prune removes the events past retention.
func (w *auditWriter) prune() {
	a := w.log
	if a.opts.Retention <= 0 {
		return
	}
	before := a.opts.Now().Add(-a.opts.Retention)
	n, err := a.opts.Store.PruneAudit(a.ctx, before)
	switch {
	case err != nil && a.ctx.Err() == nil:
		a.opts.Logger.Warn("audit: prune", slog.Any("err", err))
	case n > 0:
		a.opts.Logger.Info("audit: pruned events", slog.Int("count", n), slog.Duration("retention", a.opts.Retention))
	}
}
