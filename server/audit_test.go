package server

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/sqlite"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          {},
		"1h":                        now.Add(-time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"2026-05-01T00:00:00Z":      time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
		"2026-05-01T02:00:00+02:00": time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseWhen(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1h", "yesterday", "2026-05-01"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) succeeded", bad)
		}
	}
}

func TestAuditList(t *testing.T) {
	dir := t.TempDir()
	md, err := sqlite.Open(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const removed = "0123456789abcdef0123456789abcdef" // no registry record: its trail outlives it
	events := []meta.AuditEvent{
		{Time: now.Add(-3 * time.Hour), Registry: removed, Principal: "token:ci", Repository: "app", Action: "pull", Allowed: true, Client: "192.0.2.1", RequestID: "r1"},
		{Time: now.Add(-30 * time.Minute), Registry: removed, Principal: "anonymous", Repository: "app", Action: "pull", Client: "192.0.2.2", RequestID: "r2"},
		{Time: now.Add(-10 * time.Minute), Registry: removed, Principal: "token:ci", Action: "registry:catalog:*", Allowed: true, Client: "192.0.2.1"},
	}
	if err := md.AppendAudit(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	md.Close()

	list := func(opts AuditListOptions) string {
		t.Helper()
		opts.Now = now
		if opts.Output == "" {
			opts.Output = "json"
		}
		var out bytes.Buffer
		if err := AuditList(t.Context(), Stores{DataDir: dir}, opts, &out); err != nil {
			t.Fatalf("AuditList(%+v): %v", opts, err)
		}
		return out.String()
	}
	decode := func(s string) []auditJSON {
		t.Helper()
		var items []auditJSON
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			t.Fatalf("%v in %s", err, s)
		}
		return items
	}
	all := decode(list(AuditListOptions{}))
	if len(all) != 3 || all[0].Action != "registry:catalog:*" || all[2].RequestID != "r1" || !all[2].Time.Equal(events[0].Time) {
		t.Errorf("all events: %+v", all)
	}
	if got := decode(list(AuditListOptions{Registry: removed, Denied: true})); len(got) != 1 || got[0].Principal != "anonymous" || got[0].Allowed {
		t.Errorf("denied in %s: %+v", removed, got)
	}
	if got := decode(list(AuditListOptions{Since: "1h", Principal: "token:ci"})); len(got) != 1 || got[0].Action != "registry:catalog:*" {
		t.Errorf("since 1h, token:ci: %+v", got)
	}
	if got := decode(list(AuditListOptions{Repository: "nothing"})); got == nil || len(got) != 0 {
		t.Errorf("no match: %+v, want an empty array", got)
	}
	if got := decode(list(AuditListOptions{Limit: 1})); len(got) != 1 {
		t.Errorf("limit 1: %d events", len(got))
	}
	table := list(AuditListOptions{Output: "table"})
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 4 ||
		!strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[2], "denied") || !strings.Contains(lines[1], "allowed") {
		t.Errorf("table:\n%s", table)
	}

	for _, bad := range []AuditListOptions{
		{Output: "yaml"}, {Output: "json", Registry: "no-such-registry"}, {Output: "json", Since: "soon"},
	} {
		if err := AuditList(t.Context(), Stores{DataDir: dir}, bad, &bytes.Buffer{}); err == nil {
			t.Errorf("AuditList(%+v) succeeded", bad)
		}
	}
	if err := AuditList(t.Context(), Stores{DataDir: filepath.Join(dir, "typo")}, AuditListOptions{Output: "json"}, &bytes.Buffer{}); err == nil {
		t.Error("AuditList of a missing data directory succeeded")
	}
}
