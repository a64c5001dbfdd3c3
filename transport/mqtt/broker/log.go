package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Broker warnings can come once per packet (a slow subscriber's full
// queue, a client sending garbage), so at most logBurst of them are
// written per logWindow; the next one written says how many were not.
const (
	logBurst  = 10
	logWindow = time.Minute
)

// refusedPublish is the library's error line for a PUBLISH a hook
// refused, one per packet.
const refusedPublish = "publish packet error"

// brokerLog passes the broker library's warnings and errors to the
// agent's logger and drops its informational lines, which describe
// every client and hook.
type brokerLog struct {
	h   slog.Handler
	lim *logLimit // shared by every handler derived from one brokerLog
}

type logLimit struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

func newBrokerLog(h slog.Handler) brokerLog {
	return brokerLog{h: h, lim: new(logLimit)}
}

func (b brokerLog) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && b.h.Enabled(ctx, level)
}

func (b brokerLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == refusedPublish {
		return nil // the broker's own refusals, counted where they are made
	}
	ok, suppressed := b.lim.allow(time.Now())
	if !ok {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed_before", suppressed))
	}
	return b.h.Handle(ctx, r)
}

func (b brokerLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return brokerLog{h: b.h.WithAttrs(attrs), lim: b.lim}
}

func (b brokerLog) WithGroup(name string) slog.Handler {
	return brokerLog{h: b.h.WithGroup(name), lim: b.lim}
}

// allow reports whether a line at now may be written and, if so, how many
// were dropped since the last one written.
func (l *logLimit) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= logWindow {
		l.start, l.n = now, 0
	}
	if l.n >= logBurst {
		l.suppressed++
		return false, 0
	}
	l.n++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
