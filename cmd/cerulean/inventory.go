package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/inventory"
)

// inventoryFlags are `cerulean inventory`'s options.
type inventoryFlags struct {
	store        storeFlags // as `cerulean connect` locates connections
	output       string
	registries   []string
	repositories []string
	since        string
	incremental  bool
	noWatermark  bool
	noProgress   bool
	stats        bool
	opts         inventory.Options
	detail       string
	referrers    string
}

func newInventoryCmd() *cobra.Command {
	var f inventoryFlags
	cmd := &cobra.Command{
		Use:   "inventory CONNECTION",
		Short: "List the repositories, manifests, tags and referrers of a connection's registries",
		Long: `Inventory every registry of a saved connection (ARM discovery across its subscriptions,
or its given login servers): repositories, manifests with their ACR metadata (digest, media
type, size, platform, times, tags, changeable attributes), annotations (base image), config
labels and created time (config blobs only, never layers), tags, and referrers (signatures,
SBOMs). Records go to standard output as JSON lines (default), one JSON array, or CSV; each
has a "kind": registry, repository, manifest, tag, referrer or error. A repository that cannot
be read is an error record and the crawl goes on; the exit status is then 1.

Incremental runs: --incremental starts from the watermark the last complete run of the
connection left for each registry (in STORE/inventory/); --since starts from a time
(RFC 3339) or a duration ago (24h). Only what changed at or after it is written; deletions,
and attribute changes of an otherwise unchanged repository, do not show.

A progress bar is drawn on standard error when it is a terminal.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInventory(cmd, args[0], &f)
		},
	}
	f.store.flags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", inventory.FormatJSONL, "output `format`: "+strings.Join(inventory.Formats(), ", "))
	fl.StringSliceVar(&f.registries, "registry", nil, "inventory only these `login-server`s of the connection (repeatable)")
	fl.StringSliceVar(&f.repositories, "repository", nil, "inventory these `name`s instead of the catalog's (repeatable; for repository-scoped tokens, which cannot list it)")
	fl.StringVar(&f.since, "since", "", "only what changed since `time` (RFC 3339) or a duration ago (24h); overrides --incremental")
	fl.BoolVar(&f.incremental, "incremental", false, "only what changed since the last complete run's watermark")
	fl.BoolVar(&f.noWatermark, "no-watermark", false, "do not store this run's watermarks")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	fl.BoolVar(&f.stats, "stats", false, "print the requests made (registry, token, throttled) to standard error at the end")
	fl.IntVar(&f.opts.Concurrency, "concurrency", 8, "requests in flight per registry")
	fl.IntVar(&f.opts.Parallel, "parallel", 2, "registries crawled at once")
	fl.IntVar(&f.opts.PageSize, "page-size", 100, "`n` of every listing request")
	fl.IntVar(&f.opts.TokenBatch, "token-batch", 20, "repositories per token request")
	fl.StringVar(&f.detail, "detail", string(inventory.DetailFull), "full (manifests and image configs too) or metadata (the /acr/v1 listings only)")
	fl.StringVar(&f.referrers, "referrers", string(inventory.ReferrersScan), "scan (from the manifests read), api (the referrers API per manifest) or none")
	return cmd
}

func runInventory(cmd *cobra.Command, name string, f *inventoryFlags) error {
	ctx := cmd.Context()
	f.opts.Detail, f.opts.Referrers = inventory.Detail(f.detail), inventory.ReferrerMode(f.referrers)
	if err := f.opts.Validate(); err != nil {
		return err
	}
	since, err := parseSince(f.since, time.Now())
	if err != nil {
		return err
	}
	store, _, err := f.store.open()
	if err != nil {
		return err
	}
	conn, secrets, err := store.Get(name)
	if err != nil {
		return err
	}
	sess, err := connector.Open(ctx, conn, secrets)
	if err != nil {
		return err
	}
	refs, err := sess.Registries(ctx)
	if err != nil {
		return err
	}
	targets := selectTargets(inventory.Targets(refs), f.registries, f.repositories)
	marks, err := inventory.OpenWatermarks(store.Dir(), name)
	if err != nil {
		return err
	}
	for i := range targets {
		targets[i].Since = since
		if since.IsZero() && f.incremental {
			if targets[i].Since, err = marks.Get(targets[i].LoginServer); err != nil {
				return err
			}
		}
	}

	out, err := inventory.NewWriter(cmd.OutOrStdout(), f.output)
	if err != nil {
		return err
	}
	var bar *inventory.Bar
	if stderr := cmd.ErrOrStderr(); !f.noProgress && isTerminal(stderr) {
		f.opts.Progress = new(inventory.Progress)
		bar = inventory.StartBar(f.opts.Progress, stderr, 200*time.Millisecond)
	}
	results, runErr := inventory.Run(ctx, targets, inventory.SessionOpener(sess), out, f.opts)
	if bar != nil {
		bar.Stop()
	}
	if err := out.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	if !f.noWatermark {
		if err := marks.Save(ctx, results); err != nil {
			return fmt.Errorf("storing the watermarks: %w", err)
		}
	}
	if f.stats || bar != nil {
		st := sess.Stats()
		fmt.Fprintf(cmd.ErrOrStderr(), "inventory: %d registries, %d requests, %d token requests, %d throttled (%d retried)\n",
			len(results), st.Requests, st.TokenRequests, st.Throttled, st.Retries)
	}
	errs := 0
	for _, r := range results {
		errs += r.Counts.Errors
	}
	if errs > 0 {
		return fmt.Errorf("inventory incomplete: %d error records", errs)
	}
	return nil
}

// selectTargets keeps the targets named by registries (all when none; a named login
// server not discovered is added, and the session decides whether the connection covers
// it) and gives each the repositories, when named.
func selectTargets(all []inventory.Target, registries, repositories []string) []inventory.Target {
	out := all
	if len(registries) > 0 {
		out = nil
		for _, r := range registries {
			host := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(r, "https://"), "/"))
			i := slices.IndexFunc(all, func(t inventory.Target) bool { return t.LoginServer == host })
			if i >= 0 {
				out = append(out, all[i])
			} else {
				out = append(out, inventory.Target{LoginServer: host})
			}
		}
	}
	for i := range out {
		out[i].Repositories = repositories
	}
	return out
}

// parseSince reads --since: an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("--since: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (24h)")
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
