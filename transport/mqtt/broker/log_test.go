package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestBrokerLogKeepsWarningsAndLimitsThem(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(newBrokerLog(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))).With("hook", "x")
	log.Info("client connected")
	log.Debug("packet")
	if out.Len() != 0 {
		t.Fatalf("informational lines passed: %s", out.String())
	}
	for range logBurst + 5 {
		log.Warn("client store quota reached")
	}
	if n := strings.Count(out.String(), "quota reached"); n != logBurst {
		t.Fatalf("%d warnings written, want %d", n, logBurst)
	}
	if !strings.Contains(out.String(), "hook=x") {
		t.Errorf("attributes lost: %s", out.String())
	}

	// The next window's first line reports what the last one dropped.
	lim := log.Handler().(brokerLog).lim
	lim.mu.Lock()
	lim.start = lim.start.Add(-logWindow)
	lim.mu.Unlock()
	out.Reset()
	log.Error("parse will error")
	if !strings.Contains(out.String(), "suppressed_before=5") {
		t.Errorf("want suppressed_before=5 in %q", out.String())
	}
}
