package agent

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// BindError is a service that could not open its address at start-up.
type BindError struct {
	Service string
	Action  string // what failed; "listen on" when empty
	Addr    string
	Var     string // the variable that sets the address
	Err     error
}

func (e *BindError) Error() string {
	action := e.Action
	if action == "" {
		action = "listen on"
	}
	return fmt.Sprintf("%s: cannot %s %s: %v; %s", e.Service, action, e.Addr, e.Err, e.Hint())
}

func (e *BindError) Unwrap() error { return e.Err }

// Hint says what a person can do about it.
func (e *BindError) Hint() string {
	switch {
	case errors.Is(e.Err, syscall.EADDRINUSE):
		return fmt.Sprintf("another program holds this port: stop it, or set %s to another port or to off", e.Var)
	case e.Action == "read" && (errors.Is(e.Err, syscall.EACCES) || errors.Is(e.Err, syscall.EPERM)):
		return fmt.Sprintf("the agent's user cannot read it: make it readable by the service (a group it has, or chmod 644), or set %s to another file", e.Var)
	case e.Action != "" && (errors.Is(e.Err, syscall.EACCES) || errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EROFS)):
		return fmt.Sprintf("the agent's user cannot write there: fix its owner or set %s to a writable directory", e.Var)
	case errors.Is(e.Err, syscall.EACCES) || errors.Is(e.Err, syscall.EPERM):
		return fmt.Sprintf("ports below 1024 need CAP_NET_BIND_SERVICE: run under the systemd unit (it grants it) or `setcap cap_net_bind_service=+ep edge-agent`, or set %s to a port above 1023", e.Var)
	case errors.Is(e.Err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf("no interface of this machine has that address: set %s to one it has, or to :PORT for all", e.Var)
	}
	return fmt.Sprintf("check %s", e.Var)
}

// listenTCPAndUDP opens the same address for TCP and UDP. With port 0
// (tests), the UDP socket takes the port the kernel gave TCP, retrying
// when that one is taken for UDP.
func listenTCPAndUDP(addr string) (net.Listener, net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("tcp: %w", unwrapOp(err))
		}
		p := port
		if p == "0" {
			p = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		}
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, p))
		if err == nil {
			return ln, pc, nil
		}
		ln.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, fmt.Errorf("udp: %w", unwrapOp(err))
		}
	}
}

// unwrapOp drops net.OpError's repetition of the address, which BindError
// already names.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}
