package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/cerulean-registry/cerulean/connector/internal/filelock"
)

// Watermarks are the stored starting points of incremental runs, one per (connection,
// registry): DIR/inventory/CONNECTION.json under the connector's directory. A watermark
// is a Result's Watermark, saved only for complete crawls, so an incremental run from it
// misses nothing but deletions (which no listing can show).
type Watermarks struct {
	path string
}

// watermarkFile is the file's shape.
type watermarkFile struct {
	Version    int                       `json:"version"`
	Registries map[string]watermarkEntry `json:"registries"`
}

type watermarkEntry struct {
	Watermark time.Time `json:"watermark"`
	Saved     time.Time `json:"saved"`
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// OpenWatermarks returns the watermarks of connection in the connector directory dir.
func OpenWatermarks(dir, connection string) (*Watermarks, error) {
	if dir == "" {
		return nil, errors.New("inventory: no connector directory for watermarks")
	}
	if !safeName.MatchString(connection) {
		return nil, fmt.Errorf("inventory: connection name %q cannot name a file", connection)
	}
	return &Watermarks{path: filepath.Join(dir, "inventory", connection+".json")}, nil
}

// Path is the file holding the watermarks.
func (w *Watermarks) Path() string { return w.path }

// Get returns the watermark of a login server, zero when none is stored.
func (w *Watermarks) Get(loginServer string) (time.Time, error) {
	f, err := w.read()
	if err != nil {
		return time.Time{}, err
	}
	return f.Registries[loginServer].Watermark, nil
}

// Save stores the watermarks of the complete results that looked back at least as far
// as the stored ones (a full run, or one since at most the stored watermark); a stored
// watermark later than a new one stays (another run saw more).
func (w *Watermarks) Save(ctx context.Context, results []Result) error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
		return err
	}
	l, err := filelock.Acquire(ctx, w.path+".lock")
	if err != nil {
		return fmt.Errorf("inventory: lock %s: %w", w.path, err)
	}
	defer l.Unlock()
	f, err := w.read()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, r := range results {
		if !r.Complete || r.Watermark.IsZero() {
			continue
		}
		old := f.Registries[r.Target.LoginServer]
		if old.Watermark.After(r.Watermark) {
			continue
		}
		// A run that started later than the stored watermark (--since) cannot vouch for
		// what changed between the two.
		if since := r.Target.Since; !since.IsZero() && (old.Watermark.IsZero() || since.After(old.Watermark)) {
			continue
		}
		f.Registries[r.Target.LoginServer] = watermarkEntry{Watermark: r.Watermark.UTC(), Saved: now}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(w.path, append(b, '\n'))
}

func (w *Watermarks) read() (*watermarkFile, error) {
	f := &watermarkFile{Version: 1, Registries: map[string]watermarkEntry{}}
	b, err := os.ReadFile(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("%s: %w", w.path, err)
	}
	if f.Registries == nil {
		f.Registries = map[string]watermarkEntry{}
	}
	return f, nil
}

// writeFileAtomic writes b to a temporary file beside path (mode 0600), syncs it and
// renames it over path.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
