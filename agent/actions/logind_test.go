package actions

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/agent/authz"
	"edge-agent/internal/dbustest"
)

// Reboot and poweroff go to logind's Manager on the bus, non-interactive;
// the replay counter is on disk before logind hears of the reboot.
func TestLogindRebootPowerOff(t *testing.T) {
	bus := dbustest.StartBus(t)
	logind := dbustest.StartLogind(t, bus)
	s := newSigned(t)
	// What the counters file held when logind was called; written on the
	// stand-in's goroutine, which only the socket orders with this one.
	var mu sync.Mutex
	var fileAtCall []string
	logind.OnCall(func(dbustest.Call) {
		b, _ := os.ReadFile(s.counters)
		mu.Lock()
		fileAtCall = append(fileAtCall, string(b))
		mu.Unlock()
	})
	r := newRunner(t, Config{
		Allowed: []string{"reboot", "poweroff"}, Verifier: s.verifier, DeviceID: device,
		Power: Logind{Address: bus},
	})
	for _, action := range []string{"reboot", "poweroff"} {
		res, err := handle(t, r, action, s.payload(t, action))
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		if res.Counter != s.next || res.Key != "op@laptop" {
			t.Errorf("%s: %+v", action, res)
		}
	}
	calls := logind.Calls()
	if len(calls) != 2 || calls[0] != (dbustest.Call{Method: "Reboot"}) || calls[1] != (dbustest.Call{Method: "PowerOff"}) {
		t.Fatalf("logind got %+v", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fileAtCall) != 2 || !strings.Contains(fileAtCall[0], `:1764547200000000001}`) || !strings.Contains(fileAtCall[1], `:1764547200000000002}`) {
		t.Errorf("counters file when logind was called: %q", fileAtCall)
	}
	// After the reboot: the same command again is a replay.
	store, err := authz.OpenStore(s.counters)
	if err != nil {
		t.Fatal(err)
	}
	s.verifier = authz.NewVerifier(s.verifier.Keys(), store)
	r = newRunner(t, Config{Allowed: []string{"reboot"}, Verifier: s.verifier, DeviceID: device, Power: Logind{Address: bus}})
	s.next = 1764547200000000000
	_, err = handle(t, r, "reboot", s.payload(t, "reboot"))
	wantReason(t, err, authz.Replay)
	if len(logind.Calls()) != 2 {
		t.Errorf("replayed reboot reached logind")
	}
}

// polkit's refusal is a clear failed reply, for both of logind's ways of
// saying no.
func TestLogindAccessDenied(t *testing.T) {
	bus := dbustest.StartBus(t)
	logind := dbustest.StartLogind(t, bus)
	log, logs := logBuffer()
	r := newRunner(t, Config{Allowed: []string{"reboot", "poweroff"}, Auth: Broker, Power: Logind{Address: bus}, Logger: log})
	for _, name := range []string{"org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"} {
		logind.Fail(name, "Interactive authentication required.")
		_, err := handle(t, r, "poweroff", nil)
		wantReason(t, err, authz.Failed)
		for _, want := range []string{name, "polkit must allow org.freedesktop.login1.power-off"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v does not say %q", err, want)
			}
		}
	}
	logind.Fail("org.freedesktop.login1.OperationInProgress", "There's already a shutdown or sleep operation in progress")
	_, err := handle(t, r, "reboot", nil)
	wantReason(t, err, authz.Failed)
	if !strings.Contains(err.Error(), "already a shutdown") {
		t.Errorf("%v", err)
	}
	if c := r.Counters(); c["failures"] != 3 || c["refused_failed"] != 3 || c["accepted"] != 3 {
		t.Errorf("counters %v", c)
	}
	if n := countLines(logs, "action failed"); n != 3 {
		t.Errorf("%d failure lines:\n%s", n, logs.String())
	}
}

// No bus, or a bus without logind: unsupported, with the reason.
func TestLogindMissing(t *testing.T) {
	bus := dbustest.StartBus(t)
	nowhere := "unix:path=" + filepath.Join(t.TempDir(), "no-bus")
	for _, c := range []struct{ addr, want string }{
		{nowhere, "no D-Bus at " + nowhere + ": Reboot needs systemd-logind"},
		{bus, "no systemd-logind on " + bus + " (org.freedesktop.DBus.Error.ServiceUnknown)"},
	} {
		r := newRunner(t, Config{Allowed: []string{"reboot"}, Auth: Broker, Power: Logind{Address: c.addr}})
		_, err := handle(t, r, "reboot", nil)
		wantReason(t, err, authz.Unsupported)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v does not say %q", err, c.want)
		}
	}
}

// A logind that does not answer: the call ends at the timeout.
func TestLogindTimeout(t *testing.T) {
	bus := dbustest.StartBus(t)
	logind := dbustest.StartLogind(t, bus)
	release := make(chan struct{})
	logind.OnCall(func(dbustest.Call) { <-release })
	defer close(release)
	start := time.Now()
	err := Logind{Address: bus, Timeout: 200 * time.Millisecond}.Reboot(context.Background())
	wantReason(t, err, authz.Failed)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
