// Package dbustest runs a real D-Bus for tests: a dbus-daemon of the
// test's own on a socket in its temporary directory (Debian package
// dbus-daemon; without it the test is skipped, and fails under CI=true),
// and a stand-in for systemd-logind's Manager object on it.
package dbustest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"edge-agent/transport/testenv"
)

// A bus of the session kind that lets everyone own any name and call
// anything: the policy of the system bus is not what is under test.
const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// StartBus runs dbus-daemon until the test ends and returns its address,
// unix:path=....
func StartBus(t testing.TB) string {
	t.Helper()
	path := testenv.Program(t, "dbus-daemon", "dbus-daemon")
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, config, sock), 0o600); err != nil {
		t.Fatal(err)
	}
	exited, log := testenv.StartDaemon(t, "dbus-daemon", exec.Command(path, "--nofork", "--config-file="+conf))
	addr := "unix:path=" + sock
	testenv.WaitFor(t, "dbus-daemon at "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("dbus-daemon exited:\n%s", log.String())
		default:
		}
		c, err := dbus.Connect(addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// Call is one method call the stand-in received.
type Call struct {
	Method      string // Reboot or PowerOff
	Interactive bool
}

// Logind answers org.freedesktop.login1.Manager's Reboot(b) and
// PowerOff(b) at /org/freedesktop/login1 under the name
// org.freedesktop.login1, recording each call. It succeeds unless told
// to answer with a D-Bus error.
type Logind struct {
	mu      sync.Mutex
	calls   []Call
	errName string
	errMsg  string
	onCall  func(Call)
}

// StartLogind connects to the bus at addr, takes logind's name and
// exports the Manager until the test ends.
func StartLogind(t testing.TB, addr string) *Logind {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &Logind{}
	methods := map[string]any{
		"Reboot":   func(interactive bool) *dbus.Error { return l.call("Reboot", interactive) },
		"PowerOff": func(interactive bool) *dbus.Error { return l.call("PowerOff", interactive) },
	}
	if err := conn.ExportMethodTable(methods, "/org/freedesktop/login1", "org.freedesktop.login1.Manager"); err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	reply, err := conn.RequestName("org.freedesktop.login1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("dbustest: RequestName: %v %v", reply, err)
	}
	return l
}

func (l *Logind) call(method string, interactive bool) *dbus.Error {
	c := Call{Method: method, Interactive: interactive}
	l.mu.Lock()
	l.calls = append(l.calls, c)
	name, msg, hook := l.errName, l.errMsg, l.onCall
	l.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	if name != "" {
		return dbus.NewError(name, []any{msg})
	}
	return nil
}

// Calls returns the calls received so far.
func (l *Logind) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Call(nil), l.calls...)
}

// Fail makes every later call answer with the D-Bus error name and
// message, as logind does when polkit refuses
// (org.freedesktop.DBus.Error.AccessDenied,
// org.freedesktop.DBus.Error.InteractiveAuthorizationRequired). An empty
// name makes calls succeed again.
func (l *Logind) Fail(name, message string) {
	l.mu.Lock()
	l.errName, l.errMsg = name, message
	l.mu.Unlock()
}

// OnCall runs f at each call, on the bus's goroutine, before it is
// answered: what the test must check while the caller is still waiting.
func (l *Logind) OnCall(f func(Call)) {
	l.mu.Lock()
	l.onCall = f
	l.mu.Unlock()
}
