package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/cerulean-registry/cerulean/storage/meta"
	"github.com/cerulean-registry/cerulean/storage/meta/metatest"
)

func TestLimits(t *testing.T) {
	metatest.RunLimits(t, func(t *testing.T) meta.Limits {
		s := open(t, filepath.Join(t.TempDir(), "meta.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
