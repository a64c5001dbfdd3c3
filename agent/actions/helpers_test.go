package actions

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edge-agent/agent/authz"
	"edge-agent/internal/sshtest"
	"edge-agent/transport/testenv"
)

const device = "pi-1"

// signed is a signed-mode setup: an operator's key made by ssh-keygen,
// listed in authorized_keys, and a replay counters file.
type signed struct {
	key      sshtest.Key
	verifier *authz.Verifier
	counters string // the counters file
	next     uint64
}

func newSigned(t *testing.T) *signed {
	t.Helper()
	k := sshtest.NewKey(t, "ed25519", "op@laptop")
	keys, err := authz.ParseAuthorizedKeys([]byte(k.AuthorizedLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "replay-counters.json")
	store, err := authz.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return &signed{key: k, verifier: authz.NewVerifier(keys, store), counters: path, next: 1764547200000000000}
}

// payload signs a command for action with ssh-keygen, with a counter above
// every one before.
func (s *signed) payload(t *testing.T, action string, args ...string) []byte {
	t.Helper()
	s.next++
	return s.payloadWith(t, s.key, authz.Command{Device: device, Action: action, Args: args, Counter: s.next})
}

func (s *signed) payloadWith(t *testing.T, k sshtest.Key, c authz.Command) []byte {
	t.Helper()
	text, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return sshtest.Payload(t, k, string(text))
}

// logBuffer is a logger whose lines the test reads.
func logBuffer() (*slog.Logger, *testenv.LockedBuffer) {
	var b testenv.LockedBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func newRunner(t *testing.T, cfg Config) *Runner {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scriptDir is an actions directory with the given sh scripts, mode 0755.
func scriptDir(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func handle(t *testing.T, r *Runner, action string, payload []byte) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Handle(ctx, action, payload, false)
}

func wantReason(t *testing.T, err error, want authz.Reason) {
	t.Helper()
	if got := authz.ReasonOf(err); got != want {
		t.Fatalf("got %v (reason %v), want %v", err, got, want)
	}
}

func countLines(b *testenv.LockedBuffer, substr string) int {
	return bytes.Count([]byte(b.String()), []byte(substr))
}
