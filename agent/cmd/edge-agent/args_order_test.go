package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// run runs the binary and returns its exit status and combined output.
func runBinary(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// Flags after the operands, as with scp and curl: send stores FILE under
// the --as name instead of sending a file called "--as".
func TestSendFlagsAfterOperands(t *testing.T) {
	dir := t.TempDir()
	recv := filepath.Join(dir, "received")
	addrs := startCommand(t, command(context.Background(), []string{"EDGE_FILE_ADDR=127.0.0.1:0", "EDGE_FILE_DIR=" + recv,
		"EDGE_FILE_MIN_FREE=0", "EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run"), "file")
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	for name, body := range map[string]string{"report.txt": "the report\n", "--as": "a file named --as\n"} {
		os.WriteFile(filepath.Join(work, name), []byte(body), 0o644)
	}
	send := func(args ...string) (int, string) {
		cmd := command(context.Background(), nil, append([]string{"send"}, args...)...)
		cmd.Dir = work
		return runBinary(t, cmd)
	}

	if code, out := send(addrs["file"], "--as", "stored.txt", "report.txt"); code != 0 {
		t.Fatalf("send HOST --as NAME FILE: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(recv, "stored.txt")); err != nil || string(b) != "the report\n" {
		t.Errorf("stored.txt: %q %v, want the report", b, err)
	}
	if code, out := send(addrs["file"], "report.txt", "--timeout", "5s", "--as", "last.txt"); code != 0 {
		t.Fatalf("send HOST FILE --timeout 5s --as NAME: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(recv, "last.txt")); err != nil || string(b) != "the report\n" {
		t.Errorf("last.txt: %q %v, want the report", b, err)
	}
	// -- ends the flags: the file literally named --as goes up as itself.
	if code, out := send(addrs["file"], "--", "--as"); code != 0 {
		t.Fatalf("send HOST -- --as: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(recv, "--as")); err != nil || string(b) != "a file named --as\n" {
		t.Errorf("--as: %q %v", b, err)
	}
	// A trailing --as without its name is bad usage, not a name "--".
	if code, out := send(addrs["file"], "report.txt", "--as", "x", "--as"); code != 2 || !strings.Contains(out, "flag needs an argument") {
		t.Errorf("a dangling --as: exit %d\n%s", code, out)
	}
	entries, _ := os.ReadDir(recv)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "--as last.txt stored.txt" {
		t.Errorf("received %q, want --as, last.txt and stored.txt", names)
	}
}

// echo HOST:PORT hi --udp goes over UDP: a UDP socket of the test's own,
// with nothing on TCP at its port, is the only one that can answer.
func TestEchoFlagAfterMessage(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 512)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		got <- string(buf[:n])
		pc.WriteTo([]byte(strings.ToUpper(string(buf[:n]))), from)
	}()
	code, out := runBinary(t, command(context.Background(), nil, "echo", pc.LocalAddr().String(), "hi", "--udp", "--timeout", "5s"))
	if code != 0 || out != "HI\n" {
		t.Fatalf("echo HOST:PORT hi --udp: exit %d, %q; want 0 and HI", code, out)
	}
	select {
	case m := <-got:
		if m != "hi" {
			t.Errorf("datagram %q, want hi (the flags are not part of the message)", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram")
	}
}

// time HOST --format FMT asks the text time service, and config takes its
// flag as before.
func TestTimeAndConfigFlagsAfterOperands(t *testing.T) {
	addrs := startCommand(t, command(context.Background(), []string{"EDGE_TIME_ADDR=127.0.0.1:0",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off"}, "run"), "time")
	code, out := runBinary(t, command(context.Background(), nil, "time", addrs["time"], "--format", "%Y"))
	if year := strconv.Itoa(time.Now().Year()); code != 0 || strings.TrimSpace(out) != year {
		t.Errorf("time HOST --format %%Y: exit %d, %q; want %s", code, out, year)
	}
	if code, out := runBinary(t, command(context.Background(), nil, "config", "--markdown")); code != 0 || !strings.Contains(out, "| `EDGE_ECHO_MODE` | `upper` |") {
		t.Errorf("config --markdown: exit %d\n%s", code, out)
	}
	if code, out := runBinary(t, command(context.Background(), nil, "config", "extra")); code != 2 || !strings.Contains(out, "usage: edge-agent config") {
		t.Errorf("config extra: exit %d\n%s", code, out)
	}
	if code, out := runBinary(t, command(context.Background(), nil, "ports", "--bogus")); code != 2 || !strings.Contains(out, "usage: edge-agent ports") {
		t.Errorf("ports --bogus: exit %d\n%s", code, out)
	}
}

// The help fits an 80-column terminal and shows the fleet's login flags.
func TestHelpFitsEightyColumns(t *testing.T) {
	code, out := runBinary(t, command(context.Background(), nil, "help"))
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
	}
	for _, want := range []string{"--username", "--password-file", "--ca-file", "--cert-file", "--key-file", "-- ends them"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %s", want)
		}
	}
	_, out = runBinary(t, command(context.Background(), nil, "fleet", "--help"))
	for _, want := range []string{"-username", "-password-file", "EDGE_MQTT_PASSWORD_FILE", "-ca-file", "-cert-file", "-key-file"} {
		if !strings.Contains(out, want) {
			t.Errorf("fleet --help does not mention %s:\n%s", want, out)
		}
	}
}
