package firmwarebridge

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"edge-agent/transport/testenv"
	"time"
)

func testCommands() []Command {
	return []Command{
		{Name: "status", Help: "how things are", Run: func(w io.Writer, args []string) error {
			fmt.Fprintf(w, "all well\nargs=%q\n", args)
			return nil
		}},
		{Name: "fail", Help: "always fails", Run: func(io.Writer, []string) error {
			return errors.New("it failed")
		}},
	}
}

// A scripted session, typed as a terminal sends it (CR line ends, a
// backspace as DEL), checked byte for byte.
func TestConsoleTranscript(t *testing.T) {
	path := portPath(t)
	cab := testenv.Plug(t, path)
	var ch changes
	c := &Console{Port: PortConfig{Path: path}, Banner: "edge-agent test", Commands: testCommands(), OnChange: ch.add}
	testenv.Run(t, c.Run)

	if got := cab.Expect("edge> "); got != "edge-agent test\r\nedge> " {
		t.Errorf("on open: %q", got)
	}
	testenv.WaitFor(t, "the link up report", func() bool { return ch.summary() == "up" })
	cab.Write("statx\x7fus now\r")
	cab.Write("stat\r")
	cab.Write("\r")
	cab.Write("fail\r")
	cab.Write("help\r\n")
	cab.Write(strings.Repeat("a", 300) + "\r")
	cab.Write("st\x1b[Aatus\r")
	cab.Write("status\x03")

	want := "" +
		"statx\b \bus now\r\nall well\r\nargs=[\"now\"]\r\nedge> " +
		"stat\r\nunknown command \"stat\"; did you mean \"status\"? Type help for the list.\r\nedge> " +
		"\r\nedge> " +
		"fail\r\nerror: it failed\r\nedge> " +
		"help\r\nCommands:\r\n  status    how things are\r\n  fail      always fails\r\n  help      this list\r\n" +
		"Keys: Backspace/DEL edit, Ctrl-U clears the line, Ctrl-C drops it.\r\nedge> " +
		strings.Repeat("a", 256) + strings.Repeat("\a", 44) + "\r\nerror: line too long (at most 256 bytes); nothing run\r\nedge> " +
		"status\r\nall well\r\nargs=[]\r\nedge> " +
		"status^C\r\nedge> "
	if got := cab.Expect("status^C\r\nedge> "); got != want {
		t.Errorf("transcript:\n got %q\nwant %q", got, want)
	}
	c8 := c.Counters()
	for k, v := range map[string]uint64{"link_up": 1, "opens": 1, "commands": 4, "unknown_commands": 1, "lines_too_long": 1} {
		if c8[k] != v {
			t.Errorf("counter %s = %d, want %d (all: %v)", k, c8[k], v, c8)
		}
	}
}

// Wrong passwords lock logins for a while; the password is never echoed;
// the right one after the lockout lets commands run.
func TestConsolePasswordLockout(t *testing.T) {
	path := portPath(t)
	cab := testenv.Plug(t, path)
	var clock atomic.Int64 // seconds past an epoch, moved by the test
	c := &Console{Port: PortConfig{Path: path}, Password: "s3cret", Lockout: time.Minute, Commands: testCommands()}
	c.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	testenv.Run(t, c.Run)

	script := []struct{ typed, want string }{
		{"", "Password: "},
		{"status\r", "\r\nwrong password\r\nPassword: "},
		{"guess\r", "\r\nwrong password\r\nPassword: "},
		{"s3cre\x7f\x7fcre\r", "\r\nwrong password; locked for 1m0s\r\nPassword: "},
		{"s3cret\r", "\r\nlocked after 3 failed logins: try again in 1m0s\r\nPassword: "},
		{"", "advance 61s"},
		{"s3cret\r", "\r\nlogged in; type help for the commands\r\nedge> "},
		{"status\r", "status\r\nall well\r\nargs=[]\r\nedge> "},
		{"logout\r", "logout\r\nlogged out\r\nPassword: "},
		{"status\r", "\r\nwrong password\r\nPassword: "},
	}
	for _, step := range script {
		if step.want == "advance 61s" {
			clock.Add(61)
			continue
		}
		cab.Write(step.typed)
		if got := cab.Expect(step.want); got != step.want {
			t.Errorf("typed %q: got %q, want %q", step.typed, got, step.want)
		}
	}
	m := c.Counters()
	if m["login_failures"] != 4 || m["lockouts"] != 1 || m["commands"] != 2 {
		t.Errorf("counters: %v", m)
	}
}
