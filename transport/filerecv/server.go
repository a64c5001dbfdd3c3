package filerecv

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"edge-agent/transport/peer"
)

// Defaults used where a Server field is zero.
const (
	DefaultMaxSize           = 1 << 30
	DefaultMaxConns          = 32
	DefaultMaxConnsPerSource = 4
	DefaultHeaderTimeout     = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
)

// Server receives files over the framed protocol of seed 003 into a Store.
type Server struct {
	// Store is where files go; required.
	Store *Store
	// MaxSize is the largest file accepted; default DefaultMaxSize.
	MaxSize int64
	// MinFree is the space to leave free on the file system: a file that
	// would eat into it is refused before a byte is written.
	MinFree int64
	// MaxConns caps open connections; default DefaultMaxConns.
	MaxConns int
	// MaxConnsPerSource caps open connections from one source (an IPv4
	// address, or the /64 of an IPv6 one: see peer.Key); default
	// DefaultMaxConnsPerSource.
	MaxConnsPerSource int
	// Token, when set, must be sent in every header (the seed's own client
	// cannot, and is refused). A source's third wrong token in a row locks
	// it out: its connections are closed at once for 1 s, and each further
	// wrong token locks it out for twice as long, up to 5 min.
	Token string
	// HeaderTimeout bounds the wait for a complete header, from the
	// connection or the end of the previous file; default
	// DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// IdleTimeout cuts a sender whose body stalls this long (a slowloris);
	// default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// PartialTTL is how long an interrupted resumable upload is kept after
	// its last write; default the Store's (DefaultPartialTTL). Expiry runs
	// every PartialTTL/4, at most an hour apart.
	PartialTTL time.Duration
	// OnFile, if set, is told of each file published. It runs on the
	// connection's goroutine and must not block.
	OnFile func(Received)
	// Logger gets errors and a line per received file.
	Logger *slog.Logger

	stats       stats
	lockout     peer.Lockout // through tokenLockout; tests replace its clock
	lockoutOnce sync.Once

	mu        sync.Mutex
	busy      map[string]bool
	perSource peer.Counter
	conns     map[net.Conn]struct{}
}

// Received describes a published file.
type Received struct {
	Name        string        `json:"name"`
	Size        int64         `json:"size"`
	SHA256      string        `json:"sha256"`
	Duration    time.Duration `json:"duration_ns"`
	Peer        string        `json:"peer"`
	ResumedFrom int64         `json:"resumed_from,omitempty"`
	Verified    bool          `json:"verified"` // the sender's sha256 matched
}

func (s *Server) maxSize() int64 {
	if s.MaxSize > 0 {
		return s.MaxSize
	}
	return DefaultMaxSize
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Serve receives on every connection accepted from ln until ctx ends, then
// closes ln and every connection and returns nil once all its goroutines
// have finished; an upload cut that way leaves nothing under its name.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Store == nil {
		return errors.New("filerecv: Server.Store is nil")
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.mu.Lock()
	s.busy, s.conns = map[string]bool{}, map[net.Conn]struct{}{}
	s.mu.Unlock()
	s.stats.store.Store(s.Store)
	var wg sync.WaitGroup
	expireCtx, stopExpiring := context.WithCancel(ctx)
	wg.Go(func() { s.expirePartials(expireCtx) })
	defer func() {
		stopExpiring()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors and the like: back off, as net/http does.
			s.stats.acceptErrors.Add(1)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		src := peer.KeyOfAddr(c.RemoteAddr())
		if s.Token != "" && s.tokenLockout().Locked(src) {
			s.stats.reject(CodeTokenLockout)
			c.Close()
			continue
		}
		if reason := s.admitConn(c, src); reason != "" {
			s.stats.reject(reason)
			c.Close()
			continue
		}
		wg.Go(func() {
			defer s.releaseConn(c, src)
			s.handle(c, src)
		})
	}
}

// admitConn applies the connection caps; it returns the reason for a refusal.
func (s *Server) admitConn(c net.Conn, src peer.Key) Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= orDefault(s.MaxConns, DefaultMaxConns) ||
		!s.perSource.Acquire(src, orDefault(s.MaxConnsPerSource, DefaultMaxConnsPerSource)) {
		return CodeTooManyConns
	}
	s.conns[c] = struct{}{}
	s.stats.connsActive.Add(1)
	s.stats.connsTotal.Add(1)
	return ""
}

func (s *Server) releaseConn(c net.Conn, src peer.Key) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.perSource.Release(src)
	s.stats.connsActive.Add(-1)
}

// claim marks name as being uploaded; false if another connection is at it.
func (s *Server) claim(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[name] {
		return false
	}
	s.busy[name] = true
	return true
}

func (s *Server) unclaim(name string) {
	s.mu.Lock()
	delete(s.busy, name)
	s.mu.Unlock()
}

// partialTTL is how long partial uploads are kept.
func (s *Server) partialTTL() time.Duration { return orDefault(s.PartialTTL, s.Store.ttl) }

// expiryInterval is how often expiry runs for a given TTL: a quarter of
// it, so a partial goes at most 25% late, and at least hourly.
func expiryInterval(ttl time.Duration) time.Duration {
	return max(min(time.Hour, ttl/4), 100*time.Millisecond)
}

// expirePartials removes abandoned partial uploads until ctx ends, so a
// long-running agent does not keep them for ever. Uploads in progress are
// never touched (Store.Expire).
func (s *Server) expirePartials(ctx context.Context) {
	ttl := s.partialTTL()
	t := time.NewTicker(expiryInterval(ttl))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.Store.Expire(ttl)
			s.stats.expired.Add(uint64(n))
			if err != nil {
				s.logger().Warn("expiring partial uploads", "err", err)
			} else if n > 0 {
				s.logger().Info("expired partial uploads", "count", n, "ttl", ttl)
			}
		}
	}
}
