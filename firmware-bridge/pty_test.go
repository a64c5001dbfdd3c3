package firmwarebridge

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// changes collects LinkChange reports.
type changes struct {
	mu  sync.Mutex
	all []LinkChange
}

func (c *changes) add(lc LinkChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, lc)
}

func (c *changes) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, lc := range c.all {
		if lc.Up {
			parts = append(parts, "up")
		} else {
			parts = append(parts, "down")
		}
	}
	return strings.Join(parts, ",")
}

func portPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "ttyTEST")
}
