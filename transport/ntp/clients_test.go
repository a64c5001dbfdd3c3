package ntp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	beevik "github.com/beevik/ntp"

	"edge-agent/transport/testenv"
)

// Real clients against the server: the Go client of this package,
// github.com/beevik/ntp, Python's ntplib and chronyd.

func TestQuery(t *testing.T) {
	for _, tc := range []struct {
		name  string
		st    ClockState
		fb    uint8
		check func(*Response, error) error
	}{
		{"synchronised", synced, 0, func(r *Response, err error) error {
			if err != nil || r.Stratum != DefaultStratum || r.Delay < 0 || r.Delay > 50*time.Millisecond || r.Offset.Abs() > 50*time.Millisecond {
				return fmt.Errorf("%+v %v", r, err)
			}
			return nil
		}},
		{"unsynchronised", unsynced, 0, func(r *Response, err error) error {
			if !errors.Is(err, ErrUnsynchronised) || r == nil || r.Leap != 3 {
				return fmt.Errorf("%+v %v, want ErrUnsynchronised", r, err)
			}
			return nil
		}},
		{"fallback", unsynced, 10, func(r *Response, err error) error {
			if err != nil || r.Stratum != 10 {
				return fmt.Errorf("%+v %v", r, err)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := start(t, &Server{Clock: &fakeClock{st: tc.st}, FallbackStratum: tc.fb})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tc.check(Query(ctx, addr.String())); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBeevikValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		st    ClockState
		fb    uint8
		valid bool
	}{
		{"synchronised", synced, 0, true},
		{"fallback", unsynced, 10, true},
		{"unsynchronised", unsynced, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := start(t, &Server{Clock: &fakeClock{st: tc.st}, FallbackStratum: tc.fb})
			r, err := beevik.QueryWithOptions(addr.IP.String(), beevik.QueryOptions{Port: addr.Port, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = r.Validate()
			if (err == nil) != tc.valid {
				t.Fatalf("Validate() = %v, want valid=%v (%+v)", err, tc.valid, r)
			}
			if tc.valid && (r.ClockOffset.Abs() > 10*time.Millisecond || r.RTT > 50*time.Millisecond) {
				t.Errorf("offset %v rtt %v", r.ClockOffset, r.RTT)
			}
		})
	}
}

func TestPythonNtplib(t *testing.T) {
	py := testenv.Python(t)
	if err := exec.Command(py, "-c", "import ntplib").Run(); err != nil {
		msg := "needs Python ntplib (Debian package python3-ntplib; make test installs it)"
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	addr := start(t, &Server{Clock: &fakeClock{st: synced}})
	for _, version := range []int{2, 3, 4} {
		script := fmt.Sprintf(`import ntplib
r = ntplib.NTPClient().request("127.0.0.1", port=%d, version=%d, timeout=5)
print(r.version, r.mode, r.stratum, r.leap, ntplib.ref_id_to_text(r.ref_id, r.stratum), "%%.6f" %% r.offset, "%%.6f" %% r.delay)`, addr.Port, version)
		out, err := exec.Command(py, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("ntplib: %v\n%s", err, out)
		}
		f := strings.Fields(string(out))
		if len(f) != 7 || f[0] != strconv.Itoa(version) || f[1] != "4" || f[2] != "3" || f[3] != "0" {
			t.Fatalf("ntplib saw %q", out)
		}
		offset, _ := strconv.ParseFloat(f[5], 64)
		delay, _ := strconv.ParseFloat(f[6], 64)
		if offset < -0.01 || offset > 0.01 || delay < 0 || delay > 0.05 {
			t.Errorf("ntplib offset %v delay %v", offset, delay)
		}
	}
}

// chronyd -Q measures the server without touching the clock. It must take
// the agent as a source when it serves good time, report a loopback offset
// under 200 µs, and refuse an unsynchronised agent.
func TestChronyd(t *testing.T) {
	chronyd := testenv.Program(t, "chrony", "chronyd", "/usr/sbin/chronyd")
	for _, tc := range []struct {
		name   string
		st     ClockState
		fb     uint8
		accept bool
	}{
		{"fallback stratum", unsynced, 10, true},
		{"synchronised", synced, 0, true},
		{"unsynchronised", unsynced, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := start(t, &Server{Clock: &fakeClock{st: tc.st}, FallbackStratum: tc.fb})
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := []string{"-Q", "-t", "15",
				fmt.Sprintf("server 127.0.0.1 port %d iburst minpoll -6 maxpoll -6", addr.Port),
				"pidfile " + dir + "/chronyd.pid"}
			if os.Geteuid() == 0 {
				// Stay root: the temporary pidfile directory is root's.
				args = append(args, "-u", "root")
			}
			cmd := exec.CommandContext(ctx, chronyd, args...)
			out, _ := cmd.CombinedOutput()
			t.Logf("chronyd: %s", out)
			m := wrongBy.FindStringSubmatch(string(out))
			switch {
			case tc.accept && m == nil:
				t.Fatalf("chronyd did not accept the server")
			case tc.accept:
				off, _ := strconv.ParseFloat(m[1], 64)
				if off < -200e-6 || off > 200e-6 {
					t.Errorf("chronyd offset %v s, want under 200 µs", off)
				}
			case !strings.Contains(string(out), "No suitable source"):
				t.Fatalf("chronyd did not refuse the unsynchronised server")
			}
		})
	}
}
