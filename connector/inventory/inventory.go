package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Target is one registry to inventory.
type Target struct {
	Name          string // the registry's name, when known (ARM discovery)
	LoginServer   string // host[:port]; requests go to https://LoginServer
	ResourceID    string
	Subscription  string
	ResourceGroup string
	// Repositories, when set, are inventoried instead of the catalog's: credentials
	// scoped to repositories (ACR tokens) can never list the catalog.
	Repositories []string
	// Since, when set, makes the run incremental: only repositories, manifests and tags
	// updated at or after it are read and written.
	Since time.Time
}

// Opener returns the client for a login server (connector.Session.Registry).
type Opener func(ctx context.Context, loginServer string) (Client, error)

// Detail is how much a crawl reads per manifest.
type Detail string

const (
	// DetailFull reads, besides the ACR metadata, every listed manifest (annotations,
	// subject, config digest) and every image config blob (labels, created).
	DetailFull Detail = "full"
	// DetailMetadata reads the /acr/v1 listings only: a few requests per repository.
	DetailMetadata Detail = "metadata"
)

// ReferrerMode is how a crawl finds referrers.
type ReferrerMode string

const (
	// ReferrersScan derives them from the manifests themselves: every referrer lives in
	// its subject's repository, so reading each listed manifest (DetailFull) finds each
	// subject without a request more, and an incremental run finds a new signature of an
	// old image because the signature itself is new. With DetailMetadata it finds none.
	ReferrersScan ReferrerMode = "scan"
	// ReferrersAPI asks GET /v2/{name}/referrers/{digest} for every listed manifest that
	// is not itself a referrer: one request per manifest more.
	ReferrersAPI ReferrerMode = "api"
	// ReferrersNone writes no referrer records.
	ReferrersNone ReferrerMode = "none"
)

// Options tune a run; the zero value is the defaults.
type Options struct {
	// Concurrency bounds the requests in flight to each registry (default 8).
	Concurrency int
	// Parallel is how many registries are crawled at once (default 2).
	Parallel int
	// PageSize is n of every listing (default 100, what the Azure CLI asks; the server
	// may give fewer and Link the rest).
	PageSize int
	// TokenBatch is how many repositories share one prefetched token, when the client is
	// a Prefetcher (default 20; 1 disables batching).
	TokenBatch int
	Detail     Detail       // default DetailFull
	Referrers  ReferrerMode // default ReferrersScan
	// Progress, when set, counts the crawl as it goes (for a progress bar).
	Progress *Progress
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.TokenBatch <= 0 {
		o.TokenBatch = 20
	}
	if o.Detail == "" {
		o.Detail = DetailFull
	}
	if o.Referrers == "" {
		o.Referrers = ReferrersScan
	}
	return o
}

// Validate reports an option out of its range.
func (o Options) Validate() error {
	switch o.Detail {
	case "", DetailFull, DetailMetadata:
	default:
		return fmt.Errorf("detail %q: use %q or %q", o.Detail, DetailFull, DetailMetadata)
	}
	switch o.Referrers {
	case "", ReferrersScan, ReferrersAPI, ReferrersNone:
	default:
		return fmt.Errorf("referrers %q: use %q, %q or %q", o.Referrers, ReferrersScan, ReferrersAPI, ReferrersNone)
	}
	if o.PageSize > 10000 {
		return fmt.Errorf("page size %d: at most 10000", o.PageSize)
	}
	return nil
}

// Result is how one registry's crawl went.
type Result struct {
	Target Target
	Counts Counts
	// Watermark is where the next incremental run may start: the registry's own clock
	// (its Date header, to the second) when the crawl began. Everything changed after it
	// was either seen by this crawl or is newer than it. Zero if no answer came.
	Watermark time.Time
	// Complete is true when no error record was written for the registry: then Watermark
	// may be stored.
	Complete bool
}

// Run inventories targets, Parallel at a time, writing every record to out, and returns
// one Result per target, in order. Per-repository (and per-registry) failures are error
// records, not errors; Run fails only when out fails or ctx ends.
func Run(ctx context.Context, targets []Target, open Opener, out Sink, opts Options) ([]Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	opts.Progress.addRegistries(len(targets))
	w := &syncSink{out: out}
	results := make([]Result, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for i, t := range targets {
		g.Go(func() error {
			var err error
			results[i], err = crawlRegistry(gctx, t, open, w, opts)
			opts.Progress.registryDone()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return results, err
	}
	return results, ctx.Err()
}

// syncSink serializes writes from concurrent crawls; a repository's records go out
// together.
type syncSink struct {
	mu  sync.Mutex
	out Sink
}

func (s *syncSink) write(recs ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if err := s.out.Write(r); err != nil {
			return fmt.Errorf("writing the inventory: %w", err)
		}
	}
	return nil
}

// crawl is one registry's crawl in progress.
type crawl struct {
	target   Target
	client   Client
	opts     Options
	out      *syncSink
	progress *Progress
	sem      chan struct{} // one token per request in flight

	requests      atomic.Int64
	configsCached atomic.Int64
	configs       sync.Map // digest → *configEntry, shared by the registry's repositories

	mu     sync.Mutex
	counts Counts
	date   time.Time // the earliest Date the registry answered
}

// crawlRegistry inventories one registry and writes its registry record last.
func crawlRegistry(ctx context.Context, t Target, open Opener, out *syncSink, opts Options) (Result, error) {
	c := &crawl{target: t, opts: opts, out: out, progress: opts.Progress, sem: make(chan struct{}, opts.Concurrency)}
	client, err := open(ctx, t.LoginServer)
	if err == nil {
		c.client = client
		err = c.run(ctx)
	} else if ctx.Err() == nil {
		err = c.fail(Record{Op: "connect", Error: err.Error()})
	}
	if err != nil {
		return c.result(), err
	}
	if err := ctx.Err(); err != nil {
		return c.result(), err
	}
	res := c.result()
	complete := res.Complete
	counts := res.Counts
	return res, out.write(Record{Kind: KindRegistry, Registry: t.LoginServer, Name: t.Name, ResourceID: t.ResourceID,
		Subscription: t.Subscription, ResourceGroup: t.ResourceGroup, Since: t.Since, Watermark: res.Watermark,
		Complete: &complete, Counts: &counts})
}

func (c *crawl) result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := c.counts
	counts.Requests, counts.ConfigsCached = c.requests.Load(), c.configsCached.Load()
	return Result{Target: c.target, Counts: counts, Watermark: c.date, Complete: counts.Errors == 0}
}

// noteDate keeps the earliest Date header of the crawl, the registry's clock at its start.
func (c *crawl) noteDate(h string) {
	d, err := http.ParseTime(h)
	if err != nil {
		return
	}
	c.mu.Lock()
	if c.date.IsZero() || d.Before(c.date) {
		c.date = d.UTC()
	}
	c.mu.Unlock()
}

// fail writes an error record of the registry (or of rec.Repository) and counts it.
func (c *crawl) fail(rec Record) error {
	rec.Kind, rec.Registry = KindError, c.target.LoginServer
	c.count(func(n *Counts) { n.Errors++ })
	c.progress.error()
	return c.out.write(rec)
}

func (c *crawl) count(f func(*Counts)) {
	c.mu.Lock()
	f(&c.counts)
	c.mu.Unlock()
}

// errorRecord describes err, met doing op on repository (and digest).
func errorRecord(op, repository, digest string, err error) Record {
	return Record{Kind: KindError, Op: op, Repository: repository, Digest: digest, Status: statusOf(err), Error: err.Error()}
}

// run lists the repositories and crawls them, Concurrency at a time, each batch of
// TokenBatch under one prefetched token.
func (c *crawl) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	batch := func(names []string) error {
		c.progress.addRepositories(len(names))
		for len(names) > 0 {
			n := min(len(names), c.opts.TokenBatch)
			c.prefetch(gctx, names[:n])
			for _, name := range names[:n] {
				if gctx.Err() != nil {
					return nil // a failed write stopped the crawl; Wait reports it
				}
				g.Go(func() error { return c.repository(gctx, name) })
			}
			names = names[n:]
		}
		return nil
	}
	var err error
	if len(c.target.Repositories) > 0 {
		err = batch(c.target.Repositories)
	} else {
		err = c.catalog(gctx, batch)
	}
	if werr := g.Wait(); werr != nil {
		return werr
	}
	return err
}

// prefetch asks one token for a batch of repositories, when the client can. Failure is
// not an error: each request then gets its own token.
func (c *crawl) prefetch(ctx context.Context, names []string) {
	p, ok := c.client.(Prefetcher)
	if !ok || c.opts.TokenBatch <= 1 {
		return
	}
	scopes := make([]string, len(names))
	for i, n := range names {
		scopes[i] = repoScope(n)
	}
	_ = p.Prefetch(ctx, scopes...)
}

// catalog pages through /acr/v1/_catalog, handing each page to each. A catalog the
// credential may not list (a repository-scoped token) is an error record that says so.
func (c *crawl) catalog(ctx context.Context, each func([]string) error) error {
	u := c.url("/acr/v1/_catalog", fmt.Sprintf("n=%d", c.opts.PageSize))
	for u != nil {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		next, err := c.getJSON(ctx, u, &page, catalogScope)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			rec := errorRecord("catalog", "", "", err)
			if s := statusOf(err); s == http.StatusUnauthorized || s == http.StatusForbidden {
				rec.Error = "the credential may not list the catalog (repository-scoped tokens never can): " +
					"name the repositories to inventory; " + err.Error()
			}
			return c.fail(rec)
		}
		if err := each(page.Repositories); err != nil {
			return err
		}
		u = next
	}
	return nil
}

// errStop ends a listing early: the rest is older than Since.
var errStop = errors.New("stop")
