package texttime

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// seedServerPrints does what the seed server does with each line of stdin
// (the empty one included) at the instant in argv, and prints it as the
// seed client would.
const seedServerPrints = `import sys, time
tm = time.localtime(int(sys.argv[1]))
for line in sys.stdin:
    print(time.strftime(line.strip() or "%Y-%m-%d-%X", tm))
`

// The seed tutorial's client, run against the agent, prints what the
// seed server would have sent it.
func TestSeedClient(t *testing.T) {
	py := testenv.Python(t)
	const tz = "Europe/Berlin"
	const secs = 1700000000
	s := &Server{Location: loadZone(t, tz), Now: func() time.Time { return time.Unix(secs, 0) }}
	port := strconv.Itoa(startUDP(t, s).Port)
	input := strings.Join([]string{
		"",
		"%c",
		"%A %d %B %Y, %I:%M %p",
		"时间 %H:%M:%S",
		"%5Y|%-d|%_d|%#b|%^a|%s|%z|%Z",
		"%G-W%V-%u %j",
		"unknown %Q and a trailing %",
		strings.Repeat("-", 250) + "%774Y", // a reply of exactly 1024 bytes
	}, "\n") + "\n"

	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, args...)
		cmd.Env = pythonEnv(tz)
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python3 %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	got := run("testdata/seed_time_client.py", port)
	want := run("-c", seedServerPrints, strconv.Itoa(secs))
	if got != want {
		t.Errorf("seed client printed\n%s\nthe seed server would have sent\n%s", got, want)
	}
	if n := strings.Count(got, "\n"); n != 8 {
		t.Errorf("%d lines, want 8", n)
	}
}
