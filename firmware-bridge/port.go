package firmwarebridge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// DefaultBaud is the speed of a port whose Baud is 0.
const DefaultBaud = 115200

// PortConfig says which serial port to open and how.
type PortConfig struct {
	// Path is the device, e.g. /dev/ttyAMA0, /dev/ttyGS0 or a udev
	// symlink such as /dev/serial/by-id/...: it is opened afresh after
	// every unplug, so a stable name survives a replug.
	Path string
	// Baud is the line speed; default DefaultBaud.
	Baud int
	// DTR and RTS are the modem control levels set as the port opens.
	// Both false (the default) keep an Arduino from resetting and an
	// ESP32's auto-reset circuit in run mode. Ports without modem lines
	// (pseudo-terminals, USB gadget serial) ignore them.
	DTR, RTS bool
}

// Reopen back-off after a port vanished or could not be opened.
const (
	minReopen = 250 * time.Millisecond
	maxReopen = 10 * time.Second
)

// readPoll is the read timeout: how soon a session notices its context
// has ended. A timed-out read is the library's (0, nil), not an EOF.
const readPoll = 250 * time.Millisecond

// port is what a session needs of an open serial port; serial.Port has it.
type port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	ResetOutputBuffer() error
	SetMode(*serial.Mode) error
	Close() error
}

// LinkChange is reported when a port opens or goes away.
type LinkChange struct {
	Role  string `json:"role"` // console or firmware
	Port  string `json:"port"`
	Up    bool   `json:"up"`
	Error string `json:"error,omitempty"` // why it went down
}

// linkStats are the counters every port keeper keeps.
type linkStats struct {
	up                              atomic.Bool
	opens, disconnects, openErrors  atomic.Uint64
	bytesIn, bytesOut, noModemLines atomic.Uint64
	lastError                       atomic.Pointer[string] // why the port is down
}

// down says why the port is not open, or "" when it is.
func (s *linkStats) down() string {
	if s.up.Load() {
		return ""
	}
	if p := s.lastError.Load(); p != nil {
		return *p
	}
	return "not opened yet"
}

// counters starts a Counters map with what every port has.
func (s *linkStats) counters() map[string]uint64 {
	m := map[string]uint64{}
	var up uint64
	if s.up.Load() {
		up = 1
	}
	m["link_up"] = up
	m["opens"] = s.opens.Load()
	m["disconnects"] = s.disconnects.Load()
	m["open_errors"] = s.openErrors.Load()
	m["bytes_in"] = s.bytesIn.Load()
	m["bytes_out"] = s.bytesOut.Load()
	return m
}

// keeper holds a port open: it opens it, runs a session on it and, when
// the device vanishes (unplugged, EIO, closed under it), reopens it with
// back-off, until its context ends. The rest of the agent never waits on it.
type keeper struct {
	cfg      PortConfig
	role     string
	log      *slog.Logger // nil discards
	onChange func(LinkChange)
	// opened, if set, runs when the port has opened, before it is
	// reported up: what the session needs from its first moment.
	opened func()
	stats  *linkStats
}

// run returns nil when ctx ends; a session's error only closes the port.
func (k *keeper) run(ctx context.Context, session func(ctx context.Context, p port) error) error {
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	wait := minReopen
	var lastErr string
	for ctx.Err() == nil {
		p, err := k.open()
		if err != nil {
			k.stats.openErrors.Add(1)
			if msg := err.Error(); msg != lastErr {
				// Once per new reason, not once per retry.
				k.log.Warn("cannot open the serial port; retrying", "port", k.cfg.Path, "err", err, "hint", openHint(err))
				lastErr = msg
				k.stats.lastError.Store(&msg)
			}
			if !sleep(ctx, wait) {
				return nil
			}
			wait = min(wait*2, maxReopen)
			continue
		}
		wait, lastErr = minReopen, ""
		k.stats.lastError.Store(nil)
		k.stats.opens.Add(1)
		if k.opened != nil {
			k.opened()
		}
		k.stats.up.Store(true)
		k.log.Info("serial port open", "port", k.cfg.Path, "baud", k.cfg.baud())
		k.change(LinkChange{Up: true})

		err = session(ctx, p)
		k.stats.up.Store(false)
		p.Close()
		if ctx.Err() != nil {
			return nil
		}
		k.stats.disconnects.Add(1)
		k.log.Warn("serial port lost; reopening", "port", k.cfg.Path, "err", err)
		why := describe(err)
		k.stats.lastError.Store(&why)
		k.change(LinkChange{Up: false, Error: why})
		if !sleep(ctx, minReopen) {
			return nil
		}
	}
	return nil
}

func (k *keeper) change(c LinkChange) {
	c.Role, c.Port = k.role, k.cfg.Path
	if k.onChange != nil {
		k.onChange(c)
	}
}

func (c PortConfig) baud() int {
	if c.Baud > 0 {
		return c.Baud
	}
	return DefaultBaud
}

// open opens the port with the configured modem levels; a port that has
// no modem lines (a pseudo-terminal answers the ioctl with ENOTTY) is
// opened again without them rather than refused.
func (k *keeper) open() (port, error) {
	mode := &serial.Mode{
		BaudRate:          k.cfg.baud(),
		InitialStatusBits: &serial.ModemOutputBits{DTR: k.cfg.DTR, RTS: k.cfg.RTS},
	}
	p, err := serial.Open(k.cfg.Path, mode)
	var pe *serial.PortError
	if errors.As(err, &pe) && pe.Code() == serial.InvalidSerialPort && strings.Contains(pe.Error(), "modem bits") {
		mode.InitialStatusBits = nil
		p, err = serial.Open(k.cfg.Path, mode)
		if err == nil && k.stats.noModemLines.Add(1) == 1 {
			k.log.Info("the port has no modem lines; DTR and RTS left as they are", "port", k.cfg.Path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("firmwarebridge: open %s: %w", k.cfg.Path, err)
	}
	if err := p.SetReadTimeout(readPoll); err != nil {
		p.Close()
		return nil, fmt.Errorf("firmwarebridge: %s: read timeout: %w", k.cfg.Path, err)
	}
	return p, nil
}

// openHint says what a person can do about an open error.
func openHint(err error) string {
	var pe *serial.PortError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such device yet: plugged in? it is opened as soon as it appears"
	case errors.As(err, &pe) && pe.Code() == serial.PermissionDenied, errors.Is(err, fs.ErrPermission):
		return "permission denied: run the agent in the dialout group (the systemd unit does)"
	case errors.As(err, &pe) && pe.Code() == serial.PortBusy:
		return "in use by another program (a getty? disable serial-getty@ for this port)"
	}
	return "check the device path"
}

// describe names why a session ended, for the link-down event.
func describe(err error) string {
	var pe *serial.PortError
	switch {
	case err == nil:
		return "closed"
	case errors.Is(err, syscall.EIO):
		return "device gone (EIO)"
	case errors.As(err, &pe) && pe.Code() == serial.PortClosed:
		return "device gone (port closed)"
	}
	return err.Error()
}

// sleep waits d unless ctx ends first; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// readLoop reads p until ctx ends, the port fails or handle fails,
// handing every chunk to handle, and an empty one after a quiet readPoll.
// It owns no goroutine: a timed-out read returns (0, nil) and the loop
// looks at ctx again.
func readLoop(ctx context.Context, p port, stats *linkStats, handle func([]byte) error) error {
	buf := make([]byte, 512)
	for {
		if ctx.Err() != nil {
			return nil
		}
		n, err := p.Read(buf)
		if err != nil {
			return err
		}
		stats.bytesIn.Add(uint64(n))
		if err := handle(buf[:n]); err != nil {
			return err
		}
	}
}

// unblockWrites keeps a write blocked on a peer that stopped reading from
// holding up the end of a session: once ctx ends it drops the pending
// output, again every flushEvery, until release. A UART driver wakes the
// writer on a flush itself; a pseudo-terminal only wakes it on a termios
// change, so the mode is set again too. release must run before the port
// is closed: it waits, so no ioctl meets a closed (or reused) descriptor.
func unblockWrites(ctx context.Context, p port, baud int) (release func()) {
	released := make(chan struct{})
	flushed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(flushed)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			p.ResetOutputBuffer()
			p.SetMode(&serial.Mode{BaudRate: baud})
			select {
			case <-released:
				return
			case <-t.C:
			}
		}
	})
	return func() {
		close(released)
		if !stop() {
			<-flushed
		}
	}
}

const flushEvery = 100 * time.Millisecond

// writeAll writes b whole; a tty may take it in parts.
func writeAll(p port, stats *linkStats, b []byte) error {
	for len(b) > 0 {
		n, err := p.Write(b)
		stats.bytesOut.Add(uint64(n))
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("firmwarebridge: write made no progress")
		}
		b = b[n:]
	}
	return nil
}
