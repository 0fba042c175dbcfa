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
// Record puts the event into a bounded channel and returns; one goroutine takes events
// from it in batches and appends each batch in one transaction, and prunes by age.
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
	ch   chan Event

	// ctx bounds every store call; Close cancels it when its own context ends first.
	ctx    context.Context
	cancel context.CancelFunc

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the goroutine has returned
	closed    atomic.Bool
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
	a := &AuditLog{opts: opts, ch: make(chan Event, opts.Buffer), stop: make(chan struct{}), done: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.run()
	return a
}

// Record queues e for writing and never blocks: when the buffer is full, or the log is
// closed, e is dropped and counted.
func (a *AuditLog) Record(e Event) {
	if a.closed.Load() {
		a.dropped.Add(1)
		return
	}
	select {
	case a.ch <- e:
	default:
		a.dropped.Add(1)
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
		a.closed.Store(true)
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
	w := auditWriter{log: a, batch: make([]meta.AuditEvent, 0, a.opts.BatchSize)}
	w.prune()
	for {
		select {
		case e := <-a.ch:
			w.add(e)
			if len(w.batch) >= a.opts.BatchSize {
				w.flush()
			}
		case <-flush.C:
			w.flush()
			w.warn(false)
		case <-prune.C:
			w.prune()
		case <-a.stop:
			w.drain()
			return
		}
	}
}

// auditWriter is the goroutine's state.
type auditWriter struct {
	log   *AuditLog
	batch []meta.AuditEvent

	lastWarn              time.Time
	warnedDrop, warnedErr uint64 // Dropped and Failed as of the last warning
}

func (w *auditWriter) add(e Event) {
	w.batch = append(w.batch, meta.AuditEvent{
		Time: e.Time, Registry: e.Registry, Principal: e.Principal, Repository: e.Repository,
		Action: e.Action, Allowed: e.Allowed, Client: e.Client, RequestID: e.RequestID,
	})
}

// flush writes the batch, if any, in one call.
func (w *auditWriter) flush() {
	if len(w.batch) == 0 {
		return
	}
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

// drain writes what is buffered once Close was called.
func (w *auditWriter) drain() {
	a := w.log
	for empty := false; !empty; {
		select {
		case e := <-a.ch:
			w.add(e)
			if len(w.batch) >= a.opts.BatchSize {
				w.flush()
			}
		default:
			empty = true
		}
	}
	w.flush()
	w.warn(true)
}
