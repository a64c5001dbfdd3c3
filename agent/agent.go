package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"edge-agent/firmware-bridge"
	"edge-agent/transport/echo"
	"edge-agent/transport/filerecv"
	"edge-agent/transport/ntp"
	"edge-agent/transport/texttime"
	"edge-agent/transport/udpguard"
)

// Agent runs the configured services for the life of a context.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	services []*service

	events eventLog
	files  recentFiles

	// Set up by New, for the console and the firmware bridge to reach.
	console  *firmwarebridge.Console
	firmware *firmwarebridge.Link
	mqtt     *bridgeService
	actions  *actionsService
	updates  *updater

	mu      sync.Mutex
	started time.Time
	onStop  []func()
}

// RegisterOnStop registers f to run, on a goroutine of its own, when Run
// begins to stop once its services are serving, whatever the cause: its
// context ended, the restart action, a service failing. The services may
// still be stopping then: main bounds how long that may take.
func (a *Agent) RegisterOnStop(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onStop = append(a.onStop, f)
}

// counterSource is how the status model reads a service's counters.
type counterSource interface {
	Counters() map[string]uint64
}

// service is one configured service: how to bind it and how to serve it.
type service struct {
	name     string
	envVar   string // the variable holding its address
	addr     string // as configured; Off when disabled
	counters counterSource
	// bind opens the service's sockets and returns the address bound and
	// the function that serves them until ctx ends.
	bind func(addr string) (bound string, serve func(ctx context.Context) error, err error)

	bound string // guarded by Agent.mu
}

// New prepares an agent from a validated configuration. log may be nil.
func New(cfg Config, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: log}
	a.updates = a.newUpdater()
	a.services = []*service{a.echoService(), a.ntpService(), a.timeService(), a.fileService()}
	// Actions before MQTT: the bridge hands them its requests.
	a.services = append(a.services, a.actionsService())
	a.services = append(a.services, a.mqttServices()...)
	a.services = append(a.services, a.consoleService(), a.firmwareService())
	return a
}

func (a *Agent) fileService() *service {
	c := a.cfg.File
	s := &filerecv.Server{
		MaxSize:           int64(c.MaxSize),
		MinFree:           int64(c.MinFree),
		MaxConns:          c.MaxConns,
		MaxConnsPerSource: c.MaxConnsPerSource,
		Token:             c.Token,
		HeaderTimeout:     c.HeaderTimeout,
		IdleTimeout:       c.IdleTimeout,
		PartialTTL:        c.PartialTTL,
		OnFile: func(r filerecv.Received) {
			a.files.add(r)
			a.events.add("file_received", r)
		},
		Logger: a.log.With("service", "file"),
	}
	return &service{
		name: "file", envVar: Prefix + "_FILE_ADDR", addr: c.Addr, counters: s,
		bind: func(addr string) (string, func(context.Context) error, error) {
			st, err := filerecv.OpenStore(c.Dir, c.PartialTTL)
			if err != nil {
				return "", nil, &BindError{Service: "file", Action: "use directory", Addr: c.Dir, Var: Prefix + "_FILE_DIR", Err: err}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				st.Close()
				return "", nil, fmt.Errorf("tcp: %w", unwrapOp(err))
			}
			s.Store = st
			return ln.Addr().String(), func(ctx context.Context) error {
				defer st.Close()
				return s.Serve(ctx, ln)
			}, nil
		},
	}
}

// perSource is the rate rule of every UDP service: rate a second per
// source address, in bursts of up to one second's worth.
func perSource(rate float64) *udpguard.Limiter {
	return udpguard.NewLimiter(rate, int(max(rate, 1)), 0)
}

// udpService is a service on one UDP socket.
func udpService(name, envVar, addr string, c counterSource, serve func(context.Context, net.PacketConn) error) *service {
	return &service{
		name: name, envVar: envVar, addr: addr, counters: c,
		bind: func(addr string) (string, func(context.Context) error, error) {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				return "", nil, fmt.Errorf("udp: %w", unwrapOp(err))
			}
			return pc.LocalAddr().String(), func(ctx context.Context) error { return serve(ctx, pc) }, nil
		},
	}
}

func (a *Agent) ntpService() *service {
	c := a.cfg.NTP
	s := &ntp.Server{
		Stratum:         c.Stratum,
		FallbackStratum: c.FallbackStratum,
		Limiter:         perSource(c.RateLimit),
		KissOfDeath:     c.KissOfDeath,
		Logger:          a.log.With("service", "ntp"),
	}
	return udpService("ntp", Prefix+"_NTP_ADDR", c.Addr, s, s.ServePacket)
}

func (a *Agent) timeService() *service {
	c := a.cfg.Time
	s := &texttime.Server{
		// Replies to the agent's own UDP services could start a loop.
		Guard:  &udpguard.Guard{Limiter: perSource(c.RateLimit), OwnPorts: a.udpPorts()},
		Logger: a.log.With("service", "time"),
	}
	return udpService("time", Prefix+"_TIME_ADDR", c.Addr, s, s.ServePacket)
}

func (a *Agent) echoService() *service {
	c := a.cfg.Echo
	s := &echo.Server{
		Mode:              c.Mode,
		MaxConns:          c.MaxConns,
		MaxConnsPerSource: c.MaxConnsPerSource,
		MaxPending:        int64(c.MaxPending),
		IdleTimeout:       c.IdleTimeout,
		Guard:             &udpguard.Guard{Limiter: perSource(c.UDPRateLimit)},
		Logger:            a.log.With("service", "echo"),
	}
	return &service{
		name: "echo", envVar: Prefix + "_ECHO_ADDR", addr: c.Addr, counters: s,
		bind: func(addr string) (string, func(context.Context) error, error) {
			ln, pc, err := listenTCPAndUDP(addr)
			if err != nil {
				return "", nil, err
			}
			s.Guard.OwnPorts = append(a.udpPorts(), uint16(pc.LocalAddr().(*net.UDPAddr).Port))
			return ln.Addr().String(), func(ctx context.Context) error {
				g, ctx := errgroup.WithContext(ctx)
				g.Go(func() error { return s.Serve(ctx, ln) })
				g.Go(func() error { return s.ServePacket(ctx, pc) })
				return g.Wait()
			}, nil
		},
	}
}

// Run binds every enabled service, then serves them all until ctx ends or
// one fails. A service that cannot bind stops the start-up before anything
// is served, with a *BindError. Run returns nil after a clean shutdown,
// and ErrRestart after the restart action stopped it.
func (a *Agent) Run(ctx context.Context) error {
	begun := time.Now()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	a.actions.watchRestart(stop)
	var serves []func(context.Context) error
	var names []string
	for _, s := range a.services {
		if s.addr == Off {
			a.log.Info("service off", "service", s.name, "var", s.envVar)
			continue
		}
		bound, serve, err := s.bind(s.addr)
		if err != nil {
			releaseAll(serves)
			be := &BindError{Service: s.name, Addr: s.addr, Var: s.envVar, Err: err}
			errors.As(err, &be)
			a.updates.fail("a service did not start: " + be.Error())
			return be
		}
		a.mu.Lock()
		s.bound = bound
		a.mu.Unlock()
		serves = append(serves, serve)
		names = append(names, s.name)
		a.log.Info("listening", "service", s.name, "addr", bound)
	}
	a.mu.Lock()
	a.started = time.Now()
	a.mu.Unlock()
	a.log.Info("edge-agent started", "version", Build().Version, "services", len(serves))

	g, gctx := errgroup.WithContext(ctx)
	context.AfterFunc(gctx, func() {
		a.mu.Lock()
		fs := slices.Clone(a.onStop)
		a.mu.Unlock()
		for _, f := range fs {
			go f()
		}
	})
	for i, serve := range serves {
		g.Go(func() error {
			if err := serve(gctx); err != nil {
				// Recorded before the group stops the others, so the
				// status bridge still publishes it on its way out.
				a.events.add("service_error", map[string]string{"service": names[i], "error": err.Error()})
				return fmt.Errorf("%s: %w", names[i], err)
			}
			return nil
		})
	}
	// After the services: a version on trial commits once they work.
	if a.updates.store != nil {
		g.Go(func() error { return a.updates.settle(gctx, begun) })
	} else {
		a.updates.ready()
	}
	if every := a.updates.watchdogInterval(); every > 0 {
		g.Go(func() error { return a.updates.watchdog(gctx, every) })
	}
	err := g.Wait()
	if err == nil && errors.Is(context.Cause(ctx), ErrRestart) {
		a.log.Info("edge-agent stopped to restart")
		return ErrRestart
	}
	a.log.Info("edge-agent stopped")
	return err
}

// releaseAll closes the sockets of services bound before a later one
// failed: a serve given an ended context closes what it owns and returns.
func releaseAll(serves []func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, serve := range serves {
		serve(ctx)
	}
}

// udpPorts lists the configured ports of the agent's UDP services, so
// that none of them answers another agent's service (see udpguard).
func (a *Agent) udpPorts() []uint16 {
	var ports []uint16
	for _, addr := range []string{a.cfg.Echo.Addr, a.cfg.Time.Addr} {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.ParseUint(p, 10, 16); err == nil && n != 0 {
				ports = append(ports, uint16(n))
			}
		}
	}
	return ports
}
