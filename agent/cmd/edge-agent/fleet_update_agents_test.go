package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/internal/updatetest"
	"edge-agent/transport/testenv"
)

// supervised runs the agent as systemd's Restart= would: started again
// (through the launcher) 200 ms after it exits, at most 10 times.
type supervised struct {
	log    testenv.LockedBuffer
	mu     sync.Mutex
	starts int
	stop   chan struct{}
	done   chan struct{}
}

func supervise(t *testing.T, env []string) *supervised {
	t.Helper()
	s := &supervised{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			cmd := command(context.Background(), env, "run")
			cmd.Stdout, cmd.Stderr = &s.log, &s.log
			if err := cmd.Start(); err != nil {
				s.log.Write([]byte("start: " + err.Error() + "\n"))
				return
			}
			s.mu.Lock()
			s.starts++
			n := s.starts
			s.mu.Unlock()
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			select {
			case <-s.stop:
				cmd.Process.Kill()
				<-exited
				return
			case <-exited:
			}
			if n >= 10 {
				return
			}
			select {
			case <-s.stop:
				return
			case <-time.After(200 * time.Millisecond): // RestartSec
			}
		}
	}()
	t.Cleanup(func() {
		close(s.stop)
		<-s.done
		if t.Failed() {
			t.Logf("agent log:\n%s", s.log.String())
		}
	})
	return s
}

func (s *supervised) startCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// fleet update against two real agents on mosquitto: with --canary 1 and
// a binary that exits at once, the canary is rolled back and the other
// device is never asked (exit 1); with a good binary both end healthy on
// it (exit 0).
func TestFleetUpdateCanaryAgainstAgents(t *testing.T) {
	s := newActionsSetup(t)
	m := testenv.StartMosquitto(t)
	base := []string{"EDGE_UPDATE=on", "EDGE_MQTT_URL=" + m.URL, "EDGE_UPDATE_HEALTH_WINDOW=5s", "EDGE_ACTIONS_AUTHORIZED_KEYS=" + s.keysFile,
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off", "EDGE_MQTT_INTERVAL=1s"}
	op := newOperator(t, m.URL, "", "", "edge/+/state", "edge/+/events/+")
	agents := map[string]*supervised{}
	for _, id := range []string{"a-canary", "b-rest"} {
		agents[id] = supervise(t, append(base, "EDGE_DEVICE_ID="+id, "STATE_DIRECTORY="+t.TempDir()))
		op.stateWhere(t, id, func(st deviceState) bool { return st.Update.Enabled })
	}
	fleetUpdate := func(dir, version string) (int, string) {
		t.Helper()
		cmd := command(context.Background(), nil, "fleet", "update", "--binaries", dir, "--version", version, "--device", "a-canary", "--device", "b-rest",
			"--canary", "1", "--broker", m.URL, "--key", s.key.Path, "--listen", "127.0.0.1:0", "--timeout", "60s")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}

	bad := t.TempDir()
	if _, err := updatetest.Build(bad, updatetest.Spec{Name: "edge-agent-linux-" + hostArch(), Version: "v3.0.0-exits", OnRun: "fail"}); err != nil {
		t.Fatal(err)
	}
	code, out := fleetUpdate(bad, "v3.0.0-exits")
	if code != 1 || !strings.Contains(out, "rolled back") || !strings.Contains(out, "skipped") {
		t.Errorf("fleet update with a failing canary: exit %d\n%s", code, out)
	}
	d := op.eventData(t, "a-canary", "update_failed", nil)
	if d["to"] != "v3.0.0-exits" {
		t.Errorf("canary's update_failed %v", d)
	}
	if strings.Contains(agents["b-rest"].log.String(), "v3.0.0-exits") || agents["b-rest"].startCount() != 1 {
		t.Errorf("the device after the canary was asked (%d starts):\n%s", agents["b-rest"].startCount(), agents["b-rest"].log.String())
	}

	good := t.TempDir()
	buildAgentAs(t, filepath.Join(good, "edge-agent-linux-"+hostArch()), "v2.2.0-test")
	began := time.Now()
	code, out = fleetUpdate(good, "v2.2.0-test")
	took := time.Since(began)
	if code != 0 {
		t.Fatalf("fleet update with a good binary: exit %d\n%s", code, out)
	}
	t.Logf("two devices updated in %v:\n%s", took.Round(time.Millisecond), out)
	for _, id := range []string{"a-canary", "b-rest"} {
		op.stateWhere(t, id, func(st deviceState) bool { return st.Version == "v2.2.0-test" && !st.Update.Trial })
	}
	if _, err := os.Stat(filepath.Join(good, "edge-agent-linux-"+hostArch()+".sig")); err != nil {
		t.Errorf("no signature written beside the binary: %v", err)
	}
}

// hostArch is the name make cross gives this machine's build.
func hostArch() string {
	out, _ := exec.Command("go", "env", "GOARCH").Output()
	return strings.TrimSpace(string(out))
}

// buildAgentAs builds this command with version linked in, to path.
func buildAgentAs(t *testing.T, path, version string) {
	t.Helper()
	built := buildAgent(t, filepath.Dir(path), version)
	if err := os.Rename(built, path); err != nil {
		t.Fatal(err)
	}
}
