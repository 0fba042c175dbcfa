package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// AuditListOptions select and format the events `cerulean audit list` prints.
type AuditListOptions struct {
	Registry   string // a registry's name (any case) or id; "" for all
	Principal  string // e.g. admin:<name>, token:<name>, entra:<tenant>/<object id>, anonymous
	Repository string
	Denied     bool // only denials
	// Since and Until bound the events' time: a duration back from now ("1h", "30m") or an
	// RFC 3339 time; "" for unbounded. Since is inclusive, Until exclusive.
	Since, Until string
	Limit        int    // <= 0: all
	Output       string // table or json
	Now          time.Time
}

// AuditList prints the audit events of dataDir's metadata store that opts selects, newest
// first. It reads the store directly, which is safe while a server runs on the same
// directory (SQLite in WAL mode); events reach the store within a second of the decision.
func AuditList(ctx context.Context, stores Stores, opts AuditListOptions, out io.Writer) error {
	if opts.Output != "table" && opts.Output != "json" {
		return fmt.Errorf("--output %q: want table or json", opts.Output)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	q := meta.AuditQuery{Principal: opts.Principal, Repository: opts.Repository, Limit: opts.Limit}
	if opts.Denied {
		q.Outcome = meta.AuditDenied
	}
	var err error
	if q.Since, err = parseWhen(opts.Since, opts.Now); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if q.Until, err = parseWhen(opts.Until, opts.Now); err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	// Opening the store would create an empty database; a typo should fail instead.
	if stores.Metadata == "" {
		if _, err := os.Stat(filepath.Join(stores.DataDir, "metadata.db")); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	store, err := stores.openMeta(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	md, ok := store.(auditStore)
	if !ok {
		return fmt.Errorf("the metadata store keeps no audit log")
	}
	names, err := registryNames(ctx, md)
	if err != nil {
		return err
	}
	if opts.Registry != "" {
		if q.Registry, err = registryByNameOrID(opts.Registry, names); err != nil {
			return err
		}
	}
	events, err := md.AuditEvents(ctx, q)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeAuditJSON(out, events, names)
	}
	return writeAuditTable(out, events, names)
}

// parseWhen reads a duration back from now or an RFC 3339 time; "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive duration back from now", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a duration (1h, 30m) or an RFC 3339 time", s)
	}
	return t, nil
}

// registryNames maps the ids of the registries the store holds to their names.
func registryNames(ctx context.Context, md meta.Management) (map[string]string, error) {
	regs, err := md.Registries(ctx, "", "")
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(regs))
	for _, r := range regs {
		names[r.ID] = r.Name
	}
	return names, nil
}

// registryByNameOrID resolves --registry. An id no registry has any longer is taken as
// is: the trail of a removed registry outlives it.
func registryByNameOrID(s string, names map[string]string) (string, error) {
	if _, ok := names[s]; ok {
		return s, nil
	}
	for id, name := range names {
		if strings.EqualFold(name, s) {
			return id, nil
		}
	}
	if isRegistryID(s) {
		return s, nil
	}
	return "", fmt.Errorf("--registry %q: no registry of that name or id", s)
}

// isRegistryID reports whether s has the form of a registry id: 32 lower-case hex digits.
func isRegistryID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// auditJSON is an event as `audit list -o json` prints it.
type auditJSON struct {
	Time         time.Time `json:"time"`
	Registry     string    `json:"registry"`
	RegistryName string    `json:"registryName,omitempty"`
	Principal    string    `json:"principal"`
	Repository   string    `json:"repository"`
	Action       string    `json:"action"`
	Allowed      bool      `json:"allowed"`
	Client       string    `json:"client"`
	RequestID    string    `json:"requestId"`
}

func writeAuditJSON(w io.Writer, events []meta.AuditEvent, names map[string]string) error {
	items := make([]auditJSON, len(events))
	for i, e := range events {
		items[i] = auditJSON{Time: e.Time.UTC(), Registry: e.Registry, RegistryName: names[e.Registry],
			Principal: e.Principal, Repository: e.Repository, Action: e.Action, Allowed: e.Allowed,
			Client: e.Client, RequestID: e.RequestID}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(items)
}

func writeAuditTable(w io.Writer, events []meta.AuditEvent, names map[string]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREGISTRY\tPRINCIPAL\tACTION\tREPOSITORY\tRESULT\tCLIENT\tREQUEST ID")
	for _, e := range events {
		reg := names[e.Registry]
		if reg == "" {
			reg = e.Registry
		}
		result := "denied"
		if e.Allowed {
			result = "allowed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339Nano), reg,
			cellOr(e.Principal), cellOr(e.Action), cellOr(e.Repository), result, cellOr(e.Client), cellOr(e.RequestID))
	}
	return tw.Flush()
}

// cellOr keeps a table's columns when a value is empty.
func cellOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// auditStore is what `audit list` reads: the audit log, and registry names to show.
type auditStore interface {
	meta.Management
	meta.AuditLog
}
