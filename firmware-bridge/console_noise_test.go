package firmwarebridge

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// passwordConsole runs a console with a password on a pseudo-terminal
// that is read as fast as it writes, on a clock the test moves.
func passwordConsole(t *testing.T) (*Console, *reader, *atomic.Int64) {
	t.Helper()
	path := portPath(t)
	r := plugReader(t, path)
	clock := new(atomic.Int64) // seconds past an epoch
	c := &Console{Port: PortConfig{Path: path}, Password: "s3cret", Lockout: time.Minute, Commands: testCommands()}
	c.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	testenv.Run(t, c.Run)
	r.expect(t, "Password: ")
	return c, r, clock
}

// loginAfterNoise types the password until it logs in: an attempt that
// comes too soon after noise is taken for noise, the next, after a quiet
// moment, is not.
func loginAfterNoise(t *testing.T, r *reader) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.write(t, "\x03s3cret\r")
		wait := time.Now().Add(time.Second)
		for time.Now().Before(wait) {
			if strings.Contains(r.rest(), "logged in; type help for the commands\r\nedge> ") {
				r.expect(t, "edge> ")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not logged in 10s after the noise; read %q", tail(r.rest()))
		}
	}
}

func counters(t *testing.T, c *Console, want map[string]uint64) {
	t.Helper()
	m := c.Counters()
	for k, v := range want {
		if m[k] != v {
			t.Errorf("counter %s = %d, want %d (all: %v)", k, m[k], v, m)
		}
	}
}

// Enter pressed to wake the console, however often and with whatever
// line end, is not a failed login; three wrong passwords still lock.
func TestConsoleEmptyLinesAreNotFailedLogins(t *testing.T) {
	c, r, _ := passwordConsole(t)
	for _, enter := range []string{"\r", "\r", "\r\n", "\n", "\n", "\r\n", "\r", "\r", "\r\n", "\n"} {
		r.write(t, enter)
		if got := r.expect(t, "Password: "); got != "\r\nPassword: " {
			t.Fatalf("Enter answered %q, want a new prompt", got)
		}
	}
	r.write(t, "s3cret\r")
	r.expect(t, "\r\nlogged in; type help for the commands\r\nedge> ")
	counters(t, c, map[string]uint64{"login_failures": 0, "lockouts": 0})

	r.write(t, "logout\r")
	r.expect(t, "Password: ")
	for _, wrong := range []string{"guess", "\r", "s3cre", "\r\n", "S3CRET"} {
		r.write(t, wrong+"\r")
	}
	r.expect(t, "wrong password; locked for 1m0s\r\nPassword: ")
	r.write(t, "s3cret\r")
	r.expect(t, "locked after 3 failed logins")
	counters(t, c, map[string]uint64{"login_failures": 3, "lockouts": 1})
}

// floatingPin makes n bytes of what a UART reads from an RX pin left
// unconnected: NUL for the breaks while it floats low, bytes of the form
// 0xFF<<k from glitches that look like a start bit, and some of anything,
// line ends included.
func floatingPin(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch p := rng.IntN(100); {
		case p < 45:
			b[i] = 0
		case p < 85:
			b[i] = 0xff << rng.IntN(8)
		case p < 88:
			b[i] = "\r\n"[rng.IntN(2)]
		default:
			b[i] = byte(rng.IntN(256))
		}
	}
	return b
}

// Line noise is never a login attempt: a long burst of it, line ends and
// all, locks nobody out, and the owner logs in after it.
func TestConsoleNoiseDoesNotLockOut(t *testing.T) {
	c, r, _ := passwordConsole(t)
	noise := floatingPin(rand.New(rand.NewPCG(1, 2)), 256<<10)
	for chunk := range slices.Chunk(noise, 4096) {
		r.write(t, string(chunk))
	}
	// A line in a burst of noise is noise; once the port has been
	// quiet a moment, the owner's is not. Ctrl-C first, as someone at a
	// terminal would, to drop what noise began.
	loginAfterNoise(t, r)
	m := c.Counters()
	if m["login_failures"] != 0 || m["lockouts"] != 0 || m["noise_lines"] == 0 {
		t.Errorf("after %d bytes of noise: %v", len(noise), m)
	}
	t.Logf("%d bytes of noise: %d noise lines, %d lines too long", len(noise), m["noise_lines"], m["lines_too_long"])

	// Logged in, noise runs nothing and answers nothing but the prompt.
	r.write(t, "\x00stat\xffus\r")
	if got := r.expect(t, "edge> "); got != "stat\xffus\r\nedge> " {
		t.Errorf("a noise line logged in: %q", got)
	}
	counters(t, c, map[string]uint64{"commands": 0, "unknown_commands": 0})
}

// A wrong password more than the lockout after the last one starts a new
// row: three wrong ones spread over hours do not lock, three close do.
func TestConsoleFailuresAgeOut(t *testing.T) {
	c, r, clock := passwordConsole(t)
	for range 3 {
		r.write(t, "guess\r")
		r.expect(t, "\r\nwrong password\r\nPassword: ")
		clock.Add(61)
	}
	counters(t, c, map[string]uint64{"login_failures": 3, "lockouts": 0})
	for range 2 {
		r.write(t, "guess\r")
		r.expect(t, "\r\nwrong password\r\nPassword: ")
		clock.Add(59)
	}
	r.write(t, "guess\r")
	r.expect(t, "\r\nwrong password; locked for 1m0s\r\nPassword: ")
	counters(t, c, map[string]uint64{"login_failures": 6, "lockouts": 1})
}

// A session that is logged in is logged out after IdleLogout without a
// typed line, also while noise keeps coming.
func TestConsoleNoiseDoesNotKeepASessionAlive(t *testing.T) {
	path := portPath(t)
	r := plugReader(t, path)
	c := &Console{Port: PortConfig{Path: path}, Password: "s3cret", IdleLogout: 500 * time.Millisecond}
	testenv.Run(t, c.Run)
	r.expect(t, "Password: ")
	r.write(t, "s3cret\r")
	r.expect(t, "edge> ")
	rng := rand.New(rand.NewPCG(3, 4))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.rest(), "logged out after") {
		if time.Now().After(deadline) {
			t.Fatal("still logged in after 10s of noise")
		}
		r.write(t, string(floatingPin(rng, 64)))
		time.Sleep(20 * time.Millisecond) // a noise rate, not a wait for a condition
	}
}

// BenchmarkConsoleNoise is the cost of noise at the password prompt: the
// whole process's CPU time (the console, and the test's writer and
// reader of the pseudo-terminal) per byte of noise read. A UART at
// 115200 baud brings at most 11,520 bytes a second.
func BenchmarkConsoleNoise(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ttyBENCH")
	r := plugReader(b, path)
	c := &Console{Port: PortConfig{Path: path}, Password: "s3cret"}
	testenv.Run(b, c.Run)
	testenv.WaitFor(b, "the console up", func() bool { return c.Counters()["link_up"] == 1 })
	noise := floatingPin(rand.New(rand.NewPCG(5, 6)), 4096)
	b.SetBytes(int64(len(noise)))
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for range b.N {
		if _, err := r.master.Write(noise); err != nil {
			b.Fatal(err)
		}
	}
	want := uint64(b.N * len(noise))
	testenv.WaitFor(b, "the noise read", func() bool { return c.Counters()["bytes_in"] >= want })
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(want), "cpu-ns/B")
	if m := c.Counters(); m["login_failures"] != 0 {
		b.Errorf("noise counted as failed logins: %v", m)
	}
}
