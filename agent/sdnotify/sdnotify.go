// Package sdnotify tells systemd how a service is doing (sd_notify(3)):
// that it is ready, that it is alive (the watchdog), that its start
// needs longer. Without $NOTIFY_SOCKET every call does nothing, so the
// agent runs the same outside systemd.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Messages the agent sends.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// ExtendTimeout asks systemd to wait d longer for READY=1 (or for the
// stop) than the unit's timeout says, counted from now.
func ExtendTimeout(d time.Duration) string {
	return "EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(d.Microseconds(), 10)
}

// Notify sends state (lines of VAR=VALUE) to $NOTIFY_SOCKET. It returns
// false, nil when there is no socket: not started by systemd, or by a
// unit that does not listen.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return false, fmt.Errorf("sdnotify: NOTIFY_SOCKET=%q is not a socket path", path)
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	return true, nil
}

// WatchdogInterval is how often to send Watchdog: half the unit's
// WatchdogSec= as systemd passes it ($WATCHDOG_USEC), for this process
// ($WATCHDOG_PID, when set). 0 when there is no watchdog.
func WatchdogInterval() (time.Duration, error) {
	s := os.Getenv("WATCHDOG_USEC")
	if s == "" {
		return 0, nil
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil || us <= 0 {
		return 0, errors.New("sdnotify: WATCHDOG_USEC=" + strconv.Quote(s) + " is not a positive number")
	}
	return time.Duration(us) * time.Microsecond / 2, nil
}
