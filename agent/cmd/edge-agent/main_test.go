package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edge-agent-test")
	if err != nil {
		panic(err)
	}
	// Readable by all, so the privilege test can run it as nobody.
	os.Chmod(dir, 0o755)
	binary = filepath.Join(dir, "edge-agent")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command runs the binary with only the given EDGE_ variables set.
func command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// The file receiver would bind :8080 and create ./received, the
	// embedded broker bind 1883: tests that want them say so.
	cmd.Env = append(cmd.Env, "EDGE_FILE_ADDR=off", "EDGE_MQTT_URL=off")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

var listening = regexp.MustCompile(`msg=listening service=(\S+) addr=(\S+)`)

// startCommand starts cmd and returns the address each of the named
// services reported listening on.
func startCommand(t *testing.T, cmd *exec.Cmd, services ...string) map[string]string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
	}()
	addrs := map[string]string{}
	deadline := time.After(10 * time.Second)
	for len(addrs) < len(services) {
		select {
		case f := <-found:
			if slices.Contains(services, f[0]) {
				addrs[f[0]] = f[1]
			}
		case <-deadline:
			t.Fatalf("agent did not report listening for %v (got %v)", services, addrs)
		}
	}
	return addrs
}

// startAgent starts the binary with only echo, on a free loopback port.
func startAgent(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	cmd := command(context.Background(), []string{"EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	return cmd, startCommand(t, cmd, "echo")["echo"]
}

func TestSignalsStopTheAgentCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, addr := startAgent(t)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			reply := make([]byte, 4)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, reply); err != nil || string(reply) != "PING" {
				t.Fatalf("echo before the signal: %q %v", reply, err)
			}
			sent := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after %v: %v, want status 0", sig, err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("still running 2s after %v", sig)
			}
			t.Logf("exited %v after %v", time.Since(sent), sig)
			c.SetReadDeadline(time.Now().Add(time.Second))
			if n, err := c.Read(reply); err != io.EOF {
				t.Errorf("open connection after exit: %d, %v; want EOF (a clean close)", n, err)
			}
		})
	}
}

// A configuration the services cannot start with exits 78 (EX_CONFIG),
// the one status the unit does not restart on.
func TestInvalidConfigExitsConfigNamingTheVariable(t *testing.T) {
	out, err := command(context.Background(), []string{"EDGE_ECHO_MODE=shout", "EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitConfig {
		t.Fatalf("exit: %v, want status 78\n%s", err, out)
	}
	if !strings.Contains(string(out), "EDGE_ECHO_MODE") || !strings.Contains(string(out), "upper, plain") {
		t.Errorf("message %q does not name the variable and what it accepts", out)
	}
}

func TestAddressInUseExitsNonZeroWithOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	cmd := command(context.Background(), []string{"EDGE_ECHO_ADDR=" + ln.Addr().String(), "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off", "EDGE_LOG_LEVEL=error"}, "run")
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "echo") || !strings.Contains(lines[0], ln.Addr().String()) || !strings.Contains(lines[0], "EDGE_ECHO_ADDR") {
		t.Errorf("stderr %q: want one line naming the service, the address and the variable", stderr.String())
	}
}

// Without CAP_NET_BIND_SERVICE a port below 1024 is refused; the message
// says how to grant it. Needs root to drop to nobody.
func TestPrivilegedPortWithoutCapabilityExplainsWhatToDo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the agent as an unprivileged user")
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("every port is unprivileged on this machine (net.ipv4.ip_unprivileged_port_start=0)")
	}
	cmd := command(context.Background(), []string{"EDGE_ECHO_ADDR=127.0.0.1:7", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off", "EDGE_LOG_LEVEL=error"}, "run")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; stderr %q", err, stderr.String())
	}
	if line := strings.TrimSpace(stderr.String()); strings.Count(line, "\n") != 0 || !strings.Contains(line, "CAP_NET_BIND_SERVICE") || !strings.Contains(line, "127.0.0.1:7") {
		t.Errorf("stderr %q: want one line naming the address and CAP_NET_BIND_SERVICE", line)
	}
}

func TestSubcommands(t *testing.T) {
	_, addr := startAgent(t)
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"version"}, "", 0, "edge-agent "},
		{[]string{"help"}, "", 0, "Usage:"},
		{[]string{"--help"}, "", 0, "Usage:"},
		{[]string{"bogus"}, "", 2, "unknown command"},
		{[]string{"config"}, "", 0, "EDGE_ECHO_ADDR"},
		{[]string{"config", "--markdown"}, "", 0, "| `EDGE_ECHO_MODE` | `upper` |"},
		{[]string{"echo", addr, "hello", "你好"}, "", 0, "HELLO 你好\n"},
		{[]string{"echo", "--udp", addr, "abc"}, "", 0, "ABC\n"},
		{[]string{"echo", addr}, "one\ntwo\n", 0, "ONE\nTWO\n"},
		{[]string{"echo"}, "", 2, "usage"},
		{[]string{"run", "extra"}, "", 2, "no arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := command(context.Background(), nil, tc.args...)
			cmd.Stdin = strings.NewReader(tc.stdin)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
		})
	}
}

func TestEchoClientReportsNoReply(t *testing.T) {
	// A UDP port nobody answers on.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	out, err := command(context.Background(), nil, "echo", "--udp", "--timeout", "200ms", pc.LocalAddr().String(), "x").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "no reply") {
		t.Errorf("exit %v, output %q; want status 1 and 'no reply'", err, out)
	}
}
