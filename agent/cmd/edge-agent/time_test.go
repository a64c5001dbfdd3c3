package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/ntp"
	"edge-agent/transport/testenv"
)

// ntpdig only talks to port 123, so the agent runs on port 123 inside a
// network namespace of the test's own, where nothing else can be.
func TestNtpdigInANetworkNamespace(t *testing.T) {
	unshare := testenv.Program(t, "util-linux", "unshare")
	ntpdig := testenv.Program(t, "ntpsec-ntpdig", "ntpdig")
	testenv.Program(t, "iproute2", "ip")
	if out, err := exec.Command(unshare, "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	// The agent serves the host clock: at its stratum when the kernel says
	// it is synchronised, else at the fallback stratum set here.
	want := "s10"
	if st, err := (ntp.KernelClock{}).ClockState(); err == nil && st.Synchronised && st.MaxError < 16*time.Second {
		want = "s3"
	}
	script := fmt.Sprintf(`set -e
ip link set lo up
EDGE_NTP_ADDR=127.0.0.1:123 EDGE_NTP_FALLBACK_STRATUM=10 EDGE_ECHO_ADDR=off EDGE_TIME_ADDR=off %q run 2>"$LOG" &
pid=$!
i=0
until grep -q 'service=ntp' "$LOG"; do i=$((i+1)); [ $i -lt 200 ] || exit 3; sleep 0.05; done
rc=0
%q -t 5 127.0.0.1 || rc=$?
kill $pid
wait $pid
exit $rc`, binary, ntpdig)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-n", "sh", "-c", script)
	cmd.Env = append(cmd.Environ(), "LOG="+t.TempDir()+"/agent.log")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ntpdig: %v\n%s", err, out)
	}
	// e.g. 2026-11-23 08:20:00.123456 (+0000) +0.000012 +/- 0.000100 127.0.0.1 s10 no-leap
	line := regexp.MustCompile(`([-+][0-9.]+) \+/- ([0-9.]+) 127\.0\.0\.1 (s\d+) (\S+)`).FindStringSubmatch(string(out))
	if line == nil || line[3] != want || line[4] != "no-leap" {
		t.Fatalf("ntpdig said %q, want %s no-leap", out, want)
	}
	// Same clock on both ends: the offset is only the asymmetry of the
	// two one-way delays, which the error bound ntpdig prints (half the
	// round trip, plus dispersion) covers; on a busy machine that can be
	// a millisecond or more.
	off, _ := strconv.ParseFloat(line[1], 64)
	bound, _ := strconv.ParseFloat(line[2], 64)
	if math.Abs(off) > bound+0.0005 {
		t.Errorf("ntpdig offset %s s beyond its error bound %s s", line[1], line[2])
	}
}

func TestTimeClient(t *testing.T) {
	cmd := command(context.Background(), []string{"EDGE_NTP_ADDR=127.0.0.1:0", "EDGE_NTP_FALLBACK_STRATUM=9", "EDGE_TIME_ADDR=127.0.0.1:0", "EDGE_ECHO_ADDR=off"}, "run")
	addrs := startCommand(t, cmd, "ntp", "time")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"time", addrs["ntp"]}, 0, "stratum    9"},
		{[]string{"time", "--format", "%Y", addrs["time"]}, 0, time.Now().Format("2006")},
		{[]string{"time", "--format", "\xff", addrs["time"]}, 1, "error: "},
		{[]string{"time"}, 2, "usage"},
		{[]string{"time", "--timeout", "200ms", "127.0.0.1:9"}, 1, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := command(context.Background(), nil, tc.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
		})
	}
}

func TestSendClient(t *testing.T) {
	dir := t.TempDir()
	cmd := command(context.Background(), []string{"EDGE_FILE_ADDR=127.0.0.1:0", "EDGE_FILE_DIR=" + dir, "EDGE_FILE_TOKEN=tok",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	addr := startCommand(t, cmd, "file")["file"]
	src := t.TempDir()
	os.WriteFile(src+"/a.bin", []byte("first file"), 0o600)
	os.WriteFile(src+"/b.bin", []byte("second"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"send", "--token", "tok", addr, src + "/a.bin", src + "/b.bin"}, 0, "b.bin: 6 B stored and verified"},
		{[]string{"send", "--token", "tok", "--as", "renamed.bin", addr, src + "/a.bin"}, 0, "renamed.bin: 10 B stored and verified"},
		{[]string{"send", "--token", "wrong", addr, src + "/a.bin"}, 1, "refused by the server: bad_token"},
		{[]string{"send", "--token", "tok", "--as", "../evil", addr, src + "/a.bin"}, 1, "bad_name"},
		{[]string{"send", "--token", "tok", addr, src + "/missing.bin", src + "/b.bin"}, 1, "missing.bin"},
		{[]string{"send", "--as", "x", addr, src + "/a.bin", src + "/b.bin"}, 2, "usage"},
		{[]string{"send", addr}, 2, "usage"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			out, err := command(context.Background(), nil, tc.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
		})
	}
	for name, want := range map[string]string{"a.bin": "first file", "b.bin": "second", "renamed.bin": "first file"} {
		if got, _ := os.ReadFile(dir + "/" + name); string(got) != want {
			t.Errorf("%s holds %q", name, got)
		}
	}
}
