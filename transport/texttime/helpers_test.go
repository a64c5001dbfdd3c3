package texttime

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// zoneDir is where both Python (through glibc) and the tests read zones,
// so that the two sides use the same rules.
const zoneDir = "/usr/share/zoneinfo"

// loadZone reads a zone from zoneDir rather than through time.LoadLocation,
// which could fall back to the copy inside the Go installation and so
// disagree with glibc about a recent rule change.
func loadZone(t testing.TB, name string) *time.Location {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(zoneDir, name))
	if err != nil {
		msg := "needs " + filepath.Join(zoneDir, name) + " (Debian package tzdata): " + err.Error()
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		t.Fatalf("zone %s: %v", name, err)
	}
	return loc
}

// pythonEnv is a clean environment for python3 under zone tz: LC_CTYPE in
// UTF-8 (Debian's default) and nothing inherited that could change it.
func pythonEnv(tz string) []string {
	return []string{"TZ=" + tz, "LANG=C.UTF-8", "PATH=/usr/bin:/bin"}
}

// pythonStrftime runs testdata/strftime.py once under zone tz and returns
// its results, indexed by instant and then by format; nil where Python
// raised.
func pythonStrftime(t *testing.T, py, tz string, formats []string, instants []int64) [][]*string {
	t.Helper()
	in, err := json.Marshal(map[string]any{"formats": formats, "instants": instants})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/strftime.py")
	cmd.Env = pythonEnv(tz)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 under TZ=%s: %v\n%s", tz, err, stderr.Bytes())
	}
	var res [][]*string
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python3 output: %v", err)
	}
	if len(res) != len(instants) {
		t.Fatalf("python3 gave %d rows for %d instants", len(res), len(instants))
	}
	return res
}

// startUDP serves s on a loopback port until the test ends; setup, if
// given, sees the port before serving starts.
func startUDP(t testing.TB, s *Server, setup ...func(port int)) *net.UDPAddr {
	return testenv.ServeUDP(t, s.ServePacket, setup...)
}

// dial returns a client socket connected to srv.
func dial(t testing.TB, srv *net.UDPAddr) *net.UDPConn { return testenv.DialUDP(t, srv) }

// roundTrip sends req on c and returns the reply.
func roundTrip(t testing.TB, c *net.UDPConn, req []byte) []byte {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("request %q: %v", req, err)
	}
	return buf[:n]
}

func counter(s *Server, name string) func() uint64 {
	return func() uint64 { return s.Counters()[name] }
}
