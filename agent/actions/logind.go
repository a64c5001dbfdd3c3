package actions

import (
	"context"
	"errors"
	"time"

	"github.com/godbus/dbus/v5"

	"edge-agent/agent/authz"
)

// DefaultLogindTimeout bounds a call to logind, D-Bus's own default.
const DefaultLogindTimeout = 25 * time.Second

// Logind reboots and powers off through systemd-logind's Manager over
// D-Bus (Reboot and PowerOff with interactive false: the agent never asks
// for a password). polkit decides whether the agent's user may; a rule
// must allow org.freedesktop.login1.reboot and .power-off for it.
type Logind struct {
	// Address is the bus to call; empty means the system bus
	// (DBUS_SYSTEM_BUS_ADDRESS, else /var/run/dbus/system_bus_socket).
	Address string
	// Timeout bounds the connection and the call; 0 means
	// DefaultLogindTimeout.
	Timeout time.Duration
}

// Reboot asks logind to reboot. Errors are *authz.Refusal: Unsupported
// without a bus or a logind on it, Failed when logind or polkit refuses.
func (l Logind) Reboot(ctx context.Context) error { return l.call(ctx, "Reboot", "reboot") }

// PowerOff asks logind to power off, with the errors of Reboot.
func (l Logind) PowerOff(ctx context.Context) error {
	return l.call(ctx, "PowerOff", "power-off")
}

func (l Logind) call(ctx context.Context, method, polkitAction string) error {
	timeout := l.Timeout
	if timeout == 0 {
		timeout = DefaultLogindTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := l.Address
	if addr == "" {
		addr = "the system bus"
	}
	var conn *dbus.Conn
	var err error
	// WithContext closes the connection when ctx ends, which also ends a
	// handshake with a bus that does not answer.
	if l.Address == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.Connect(l.Address, dbus.WithContext(ctx))
	}
	if err != nil {
		return &authz.Refusal{Reason: authz.Unsupported, Message: "no D-Bus at " + addr + ": " + method + " needs systemd-logind", Err: err}
	}
	defer conn.Close()
	call := conn.Object("org.freedesktop.login1", "/org/freedesktop/login1").
		CallWithContext(ctx, "org.freedesktop.login1.Manager."+method, 0, false)
	if call.Err == nil {
		return nil
	}
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(call.Err, &dep):
		de = *dep
	case errors.As(call.Err, &de):
	default:
		return &authz.Refusal{Reason: authz.Failed, Message: "logind " + method + " on " + addr, Err: call.Err}
	}
	switch de.Name {
	case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
		"org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.UnknownInterface",
		"org.freedesktop.DBus.Error.UnknownMethod":
		return &authz.Refusal{Reason: authz.Unsupported, Message: "no systemd-logind on " + addr + " (" + de.Name + ")", Err: call.Err}
	case "org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired":
		return &authz.Refusal{Reason: authz.Failed,
			Message: "logind refused " + method + " (" + de.Name + "): polkit must allow org.freedesktop.login1." + polkitAction + " for the agent's user",
			Err:     call.Err}
	}
	return &authz.Refusal{Reason: authz.Failed, Message: "logind " + method + " failed (" + de.Name + ")", Err: call.Err}
}
