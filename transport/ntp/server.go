package ntp

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"edge-agent/transport/ntp/protocol"
	"edge-agent/transport/udpguard"
)

// DefaultStratum is served while the host clock is synchronised, when
// Server.Stratum is zero: a LAN device that follows public stratum-2
// servers is stratum 3.
const DefaultStratum = 3

// precision is log2 of the clock's resolution as clients see it: the
// kernel stamps in nanoseconds, but reading the clock and the path to
// user space cost about a microsecond.
const precision = -20

// stateRefresh is how often the kernel's clock state is read again.
const stateRefresh = time.Second

// ErrNotUDP is returned by ServePacket for a PacketConn that is not UDP.
var ErrNotUDP = errors.New("ntp: ServePacket needs a *net.UDPConn")

// Server is the SNTP server. The zero value serves the kernel's clock
// state at DefaultStratum, with no fallback, no rate limit and no kiss.
type Server struct {
	// Stratum is served while the host clock is synchronised (1-15);
	// default DefaultStratum.
	Stratum uint8
	// FallbackStratum, 1-15, keeps serving an unsynchronised clock at that
	// stratum instead of leap 3; 0 (default) is off.
	FallbackStratum uint8
	// Limiter limits answered requests per source; nil is unlimited.
	Limiter *udpguard.Limiter
	// KissOfDeath answers a limited source with a RATE kiss (at most one
	// every two seconds per source) instead of silence.
	KissOfDeath bool
	// Clock reports the host clock; default KernelClock.
	Clock ClockSource
	// Logger gets errors and state changes, never a line per request.
	Logger *slog.Logger

	stats stats
}

type stats struct {
	requests, replies                     atomic.Uint64
	dropShort, dropMode, dropVersion      atomic.Uint64
	dropPort, rateLimited, kisses         atomic.Uint64
	sendErrors, clockErrors               atomic.Uint64
	synced, stratum, dispersionMicros     atomic.Uint64
	kernelStamps, userStamps, batchesRead atomic.Uint64
}

// Counters returns the server's counters and its view of the clock.
func (s *Server) Counters() map[string]uint64 {
	st := &s.stats
	return map[string]uint64{
		"requests":             st.requests.Load(),
		"replies":              st.replies.Load(),
		"dropped_short":        st.dropShort.Load(),
		"dropped_mode":         st.dropMode.Load(),
		"dropped_version":      st.dropVersion.Load(),
		"dropped_source_port":  st.dropPort.Load(),
		"rate_limited":         st.rateLimited.Load(),
		"kiss_of_death_sent":   st.kisses.Load(),
		"send_errors":          st.sendErrors.Load(),
		"clock_errors":         st.clockErrors.Load(),
		"clock_synchronised":   st.synced.Load(),
		"stratum_served":       st.stratum.Load(),
		"root_dispersion_us":   st.dispersionMicros.Load(),
		"kernel_rx_timestamps": st.kernelStamps.Load(),
		"user_rx_timestamps":   st.userStamps.Load(),
		"receive_batches":      st.batchesRead.Load(),
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ServePacket answers SNTP requests on pc until ctx ends, then closes pc
// and returns nil.
func (s *Server) ServePacket(ctx context.Context, pc net.PacketConn) error {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return ErrNotUDP
	}
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	defer pc.Close()
	err := s.serve(ctx, uc, s.newResponder())
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// responder holds what answering needs; it belongs to the one goroutine
// that serves a socket.
type responder struct {
	s       *Server
	clock   ClockSource
	tracker tracker
	cur     reply
	read    time.Time // when cur was worked out
	kiss    *udpguard.Limiter
}

func (s *Server) newResponder() *responder {
	r := &responder{s: s, clock: s.Clock, kiss: udpguard.NewLimiter(0.5, 1, 0)}
	if r.clock == nil {
		r.clock = KernelClock{}
	}
	r.tracker.stratum = s.Stratum
	if r.tracker.stratum == 0 {
		r.tracker.stratum = DefaultStratum
	}
	r.tracker.fallback = s.FallbackStratum
	return r
}

func (r *responder) refresh(now time.Time) {
	if !r.read.IsZero() && now.Sub(r.read) < stateRefresh && now.After(r.read) {
		return
	}
	st, err := r.clock.ClockState()
	if err != nil {
		// Without the kernel's word the clock must be taken as unknown.
		r.s.stats.clockErrors.Add(1)
		st = ClockState{MaxError: unsyncThreshold}
	}
	prev := r.cur
	r.cur = r.tracker.reply(st, now)
	r.read = now
	if prev.synced != r.cur.synced || prev.stratum != r.cur.stratum || r.s.stats.stratum.Load() == 0 && r.cur.stratum != 0 {
		r.s.logger().Info("clock state", "synchronised", r.cur.synced, "stratum", r.cur.stratum, "leap", r.cur.leap, "max_error", st.MaxError)
	}
	var synced uint64
	if r.cur.synced {
		synced = 1
	}
	r.s.stats.synced.Store(synced)
	r.s.stats.stratum.Store(uint64(r.cur.stratum))
	r.s.stats.dispersionMicros.Store(uint64(r.cur.dispersion.Duration() / time.Microsecond))
}

// answer writes the reply to req into out (48 bytes) and reports whether
// there is one. The transmit timestamp is left for stampTransmit, just
// before the reply leaves. rx is the datagram's receive time, served as
// such: a kernel timestamp is wall clock only. now, from time.Now, is
// what the rate limits and the clock state's refresh count on: its
// monotonic reading keeps them right when the wall clock steps.
func (r *responder) answer(req []byte, src netip.AddrPort, rx, now time.Time, out []byte) bool {
	st := &r.s.stats
	st.requests.Add(1)
	switch {
	case len(req) < protocol.PacketSize:
		st.dropShort.Add(1)
		return false
	case protocol.Mode(req[0]&7) != protocol.ModeClient:
		st.dropMode.Add(1)
		return false
	}
	version := (req[0] >> 3) & 7
	if version < 1 || version > 4 {
		st.dropVersion.Add(1)
		return false
	}
	if src.Port() == 0 {
		st.dropPort.Add(1)
		return false
	}
	r.refresh(now)
	p := protocol.Packet{
		Version:     version,
		Mode:        protocol.ModeServer,
		Poll:        int8(req[2]),
		Precision:   precision,
		OriginTime:  protocol.Timestamp(binary.BigEndian.Uint64(req[40:])),
		ReceiveTime: protocol.TimestampFromTime(rx),
	}
	if !r.s.Limiter.Allow(src.Addr(), now) {
		st.rateLimited.Add(1)
		if !r.s.KissOfDeath || !r.kiss.Allow(src.Addr(), now) {
			return false
		}
		st.kisses.Add(1)
		p.Leap, p.Stratum, p.ReferenceID = protocol.LeapNotInSync, 0, protocol.RefID("RATE")
		p.Put(out)
		return true
	}
	c := &r.cur
	p.Leap, p.Stratum, p.ReferenceID = c.leap, c.stratum, c.refID
	p.ReferenceTime, p.RootDispersion = c.refTime, c.dispersion
	p.Put(out)
	st.replies.Add(1)
	return true
}

// stampTransmit sets the transmit timestamp of a reply built by answer.
func stampTransmit(out []byte, now time.Time) {
	binary.BigEndian.PutUint64(out[40:], uint64(protocol.TimestampFromTime(now)))
}
