package filerecv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// sendFileScript is the example client, which these tests keep honest: it
// documents the protocol, so it must go on speaking it.
const sendFileScript = "../../scripts/send_file.py"

// runSendFile runs the example client, as send_file.py OPTS HOST PORT
// FILES, against ts with EDGE_FILE_TOKEN set to envToken (left out if
// empty), and returns its output lines and exit status. Any other failure
// to run, or output on stderr, fails the test.
func runSendFile(t *testing.T, ts *testServer, envToken string, opts []string, files ...string) ([]string, int) {
	t.Helper()
	py := testenv.Python(t)
	host, port, err := net.SplitHostPort(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(append([]string{sendFileScript}, opts...), host, port)
	argv = append(argv, files...)
	cmd := exec.CommandContext(ctx, py, argv...)
	// A clean environment: UTF-8 output whatever the caller's locale, and
	// no token inherited from the machine running the tests.
	cmd.Env = []string{"LANG=C.UTF-8", "PATH=/usr/bin:/bin"}
	if envToken != "" {
		cmd.Env = append(cmd.Env, "EDGE_FILE_TOKEN="+envToken)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("send_file.py: %v\n%s", err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("send_file.py wrote to stderr:\n%s", stderr.Bytes())
	}
	return strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n"), code
}

// writeNamed writes data to a file called name in a fresh directory, since
// the client sends a file under its base name.
func writeNamed(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func storedLine(name string, data []byte) string {
	return fmt.Sprintf("%s: %d bytes stored, sha256 %s", name, len(data), hex.EncodeToString(sha(data)))
}

func checkStored(t *testing.T, ts *testServer, name string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(ts.dir, name))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("%s: stored %d bytes (%v), want the %d sent", name, len(got), err, len(data))
	}
}

func checkLines(t *testing.T, got []string, code int, want []string, wantCode int) {
	t.Helper()
	if code != wantCode || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("send_file.py exited %d, printed\n\t%s\nwant %d and\n\t%s",
			code, strings.Join(got, "\n\t"), wantCode, strings.Join(want, "\n\t"))
	}
}

func TestPythonClientSends(t *testing.T) {
	const token = "s3cret"
	ts := start(t, &Server{Token: token})
	big, notes := randomBytes(300_000), []byte("line one\nline two\n")
	lines, code := runSendFile(t, ts, token, nil, writeNamed(t, "big.bin", big), writeNamed(t, "notes.txt", notes))
	checkLines(t, lines, code, []string{storedLine("big.bin", big), storedLine("notes.txt", notes)}, 0)
	checkStored(t, ts, "big.bin", big)
	checkStored(t, ts, "notes.txt", notes)
	if n := ts.counter("conns_total")(); n != 1 {
		t.Errorf("two files took %d connections, want 1", n)
	}

	const chinese = "季度报告 2024.txt"
	report := []byte("第一季度\n")
	lines, code = runSendFile(t, ts, "", []string{"--token", token, "--as", chinese}, writeNamed(t, "report.txt", report))
	checkLines(t, lines, code, []string{storedLine(chinese, report)}, 0)
	checkStored(t, ts, chinese, report)
	if names := ts.files(t); len(names) != 3 {
		t.Errorf("directory holds %q, want the 3 files sent", names)
	}
}

func TestPythonClientWrongToken(t *testing.T) {
	ts := start(t, &Server{Token: "s3cret"})
	// Two files: a refusal of the header leaves the connection in step, so
	// the second is refused for its own token rather than lost.
	lines, code := runSendFile(t, ts, "s3cret", []string{"--token", "guess"},
		writeNamed(t, "a.bin", randomBytes(1000)), writeNamed(t, "b.bin", nil))
	const why = ": refused: bad_token: a valid token is required"
	checkLines(t, lines, code, []string{"a.bin" + why, "b.bin" + why}, 1)
	if n := ts.counter("conns_total")(); n != 1 {
		t.Errorf("two refused files took %d connections, want 1", n)
	}
	if names := ts.files(t); len(names) != 0 {
		t.Errorf("directory holds %q after refusals", names)
	}
}

func TestPythonClientResumes(t *testing.T) {
	const token = "s3cret"
	ts := start(t, &Server{Token: token})
	data := randomBytes(2 << 20)
	cut := 1<<20 + 4321
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{FileName: "big.img", FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: true, Token: token}
	if err := WriteHeader(c, h, false); err != nil {
		t.Fatal(err)
	}
	var ready map[string]any
	if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" || ready["offset"] != float64(0) {
		t.Fatalf("ready: %v %v", ready, err)
	}
	if _, err := c.Write(data[:cut]); err != nil {
		t.Fatal(err)
	}
	c.Close()
	testenv.WaitFor(t, "the cut upload to be counted", func() bool { return ts.counter("rejected_io_error")() == 1 })

	lines, code := runSendFile(t, ts, token, []string{"--resume"}, writeNamed(t, "big.img", data))
	checkLines(t, lines, code, []string{storedLine("big.img", data) + fmt.Sprintf(", resumed from %d", cut)}, 0)
	checkStored(t, ts, "big.img", data)
	if names := ts.files(t); len(names) != 1 {
		t.Errorf("directory holds %q after the resumed upload", names)
	}
}
