package filerecv

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

func TestSeedClientUploadsUnchanged(t *testing.T) {
	py := testenv.Python(t)
	var events []Received
	var mu sync.Mutex
	ts := start(t, &Server{OnFile: func(r Received) { mu.Lock(); events = append(events, r); mu.Unlock() }})
	files := map[string][]byte{
		"澳门最大线上赌场开业啦.mp4": randomBytes(300_000),
		"empty.txt":       {},
		"lines.txt":       []byte("line one\nline two\n\nno newline at the end"),
	}
	args := []string{"testdata/seed_upload_client.py", strings.Split(ts.addr, ":")[1]}
	for name, data := range files {
		args = append(args, writeTemp(t, data), name)
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("seed client: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "0" {
		t.Errorf("the seed client received %s bytes back, want 0", out)
	}
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(ts.dir, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: stored %d bytes (%v), want the %d sent", name, len(got), err, len(data))
		}
	}
	testenv.WaitFor(t, "3 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 })
	if got := ts.Counters()["files"]; got != 3 {
		t.Errorf("files = %d", got)
	}
}

func TestBigEndianLengthAccepted(t *testing.T) {
	ts := start(t, &Server{})
	header := `{"file_name": "be.bin", "file_size": 3}`
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, int32(len(header)))
	b.WriteString(header + "abc")
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(b.Bytes())
	c.Close()
	testenv.WaitFor(t, "the file", func() bool { return ts.counter("files")() == 1 })
	if got, _ := os.ReadFile(filepath.Join(ts.dir, "be.bin")); string(got) != "abc" {
		t.Errorf("stored %q", got)
	}
}

func TestAcknowledgedUpload(t *testing.T) {
	ts := start(t, &Server{})
	data := randomBytes(5<<20 + 17)
	var progress []int64
	res, err := ts.send(t, "fw.bin", data, SendOptions{Progress: func(done, total int64) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "fw.bin" || res.Size != int64(len(data)) || res.SHA256 != hex.EncodeToString(sha(data)) {
		t.Errorf("result %+v", res)
	}
	if len(progress) < 2 || progress[len(progress)-1] != int64(len(data)) {
		t.Errorf("progress %v", progress)
	}
	got, err := os.ReadFile(filepath.Join(ts.dir, "fw.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, %v", len(got), err)
	}
	if names := ts.files(t); len(names) != 1 {
		t.Errorf("directory holds %v, want only the file", names)
	}
}

// Every bad input ends that connection or file, leaves nothing under a
// final name, is counted, and the next upload still works.
func TestBadInputs(t *testing.T) {
	huge := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name  string
		wire  []byte
		count string
	}{
		{"length -1", []byte{0xff, 0xff, 0xff, 0xff}, "rejected_bad_header"},
		{"length 0", []byte{0, 0, 0, 0}, "rejected_bad_header"},
		{"length over 64 KiB both ways", []byte{0x01, 0x00, 0x01, 0x01}, "rejected_bad_header"},
		{"length huge", []byte{0xff, 0xff, 0xff, 0x7f}, "rejected_bad_header"},
		{"header not JSON", legacyFrame(`file_name=x`, nil), "rejected_bad_header"},
		{"header an array", legacyFrame(`["x", 1]`, nil), "rejected_bad_header"},
		{"header truncated", legacyFrame(`{"file_name": "x", "file_size": 1}`, nil)[:20], "rejected_bad_header"},
		{"file_size missing", legacyFrame(`{"file_name": "x"}`, nil), "rejected_bad_header"},
		{"file_size negative", legacyFrame(`{"file_name": "x", "file_size": -1}`, nil), "rejected_bad_size"},
		{"file_size fractional", legacyFrame(`{"file_name": "x", "file_size": 1.5}`, []byte("ab")), "rejected_bad_size"},
		{"file_size a string", legacyFrame(`{"file_name": "x", "file_size": "1"}`, []byte("a")), "rejected_bad_size"},
		{"file_size over the max", legacyFrame(`{"file_name": "x", "file_size": 1000001}`, nil), "rejected_too_large"},
		{"name empty", legacyFrame(`{"file_name": "", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name dot", legacyFrame(`{"file_name": ".", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name dotdot", legacyFrame(`{"file_name": "..", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name with slash", legacyFrame(`{"file_name": "../etc/passwd", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name with backslash", legacyFrame(`{"file_name": "a\\b", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name with NUL", legacyFrame(`{"file_name": "a\u0000b", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name with ANSI escape", legacyFrame(`{"file_name": "\u001b[31mred", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name with C1 CSI", legacyFrame(`{"file_name": "a\u009bb", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name over 255 bytes", legacyFrame(`{"file_name": "`+huge+`", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"name not UTF-8", legacyFrame("{\"file_name\": \"a\xffb\", \"file_size\": 1}", []byte("a")), "rejected_bad_header"},
		{"name reserved", legacyFrame(`{"file_name": ".edge-tmp-x", "file_size": 1}`, []byte("a")), "rejected_bad_name"},
		{"cut in the header", legacyFrame(`{"file_name": "cut", "file_size": 10}`, nil)[:3], "rejected_bad_header"},
		{"cut in the body", legacyFrame(`{"file_name": "cut", "file_size": 10}`, []byte("12345")), "rejected_io_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := start(t, &Server{MaxSize: 1000000})
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(tc.wire)
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := c.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !isReset(err)) {
				t.Errorf("connection: read %d, %v; want it closed with nothing sent", n, err)
			}
			c.Close()
			testenv.WaitFor(t, tc.count, func() bool { return ts.counter(tc.count)() == 1 })
			if names := ts.files(t); len(names) != 0 {
				t.Errorf("directory holds %v after a bad upload", names)
			}
			ts.mustServe(t)
		})
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

func TestAcknowledgedRefusals(t *testing.T) {
	ts := start(t, &Server{MaxSize: 1 << 20, Token: "s3cret"})
	for _, tc := range []struct {
		name string
		data []byte
		opts SendOptions
		code Code
	}{
		{"wrong token", []byte("x"), SendOptions{Token: "guess"}, CodeBadToken},
		{"no token", []byte("x"), SendOptions{}, CodeBadToken},
		{"too large", make([]byte, 1<<20+1), SendOptions{Token: "s3cret"}, CodeTooLarge},
		{"bad name", []byte("x"), SendOptions{Token: "s3cret"}, CodeBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "ok.bin"
			if tc.code == CodeBadName {
				name = "a/b"
			}
			_, err := ts.send(t, name, tc.data, tc.opts)
			var re *ReplyError
			if !errors.As(err, &re) || re.Code != tc.code || re.Message == "" {
				t.Fatalf("got %v, want a %s refusal with a reason", err, tc.code)
			}
			ts.mustServe(t)
		})
	}
}

func TestChecksumMismatchKeepsThePreviousVersion(t *testing.T) {
	ts := start(t, &Server{})
	old := []byte("version 1")
	if _, err := ts.send(t, "cfg", old, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	// A header promising one checksum and a body with another.
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := []byte("version 2, corrupted")
	h := Header{FileName: "cfg", FileSize: int64(len(body)), SHA256: sha([]byte("version 2")), Ack: true}
	if err := WriteHeader(c, h, false); err != nil {
		t.Fatal(err)
	}
	var ready, res map[string]any
	if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" {
		t.Fatalf("ready: %v %v", ready, err)
	}
	c.Write(body)
	if err := ReadFrame(c, &res); err != nil || res["status"] != "error" || res["code"] != string(CodeChecksumMismatch) {
		t.Fatalf("result: %v %v", res, err)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.dir, "cfg")); !bytes.Equal(got, old) {
		t.Errorf("after a mismatch the file holds %q", got)
	}
	if names := ts.files(t); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
	// The connection carries on.
	h = Header{FileName: "cfg", FileSize: int64(len(body)), SHA256: sha(body), Ack: true}
	WriteHeader(c, h, false)
	ReadFrame(c, &ready)
	c.Write(body)
	if err := ReadFrame(c, &res); err != nil || res["status"] != "ok" {
		t.Fatalf("next file on the same connection: %v %v", res, err)
	}
}

func TestResumeAfterACut(t *testing.T) {
	ts := start(t, &Server{})
	data := randomBytes(3 << 20)
	cut := int64(1<<20 + 4321)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{FileName: "big.img", FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: true}
	WriteHeader(c, h, false)
	var ready map[string]any
	if err := ReadFrame(c, &ready); err != nil || ready["offset"] != float64(0) {
		t.Fatalf("ready: %v %v", ready, err)
	}
	c.Write(data[:cut])
	c.Close()
	testenv.WaitFor(t, "the cut upload to be counted", func() bool { return ts.counter("rejected_io_error")() == 1 })
	if _, err := os.Stat(filepath.Join(ts.dir, "big.img")); !os.IsNotExist(err) {
		t.Fatalf("a cut upload is visible under its name: %v", err)
	}
	res, err := ts.send(t, "big.img", data, SendOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != cut {
		t.Errorf("resumed from %d, want %d", res.ResumedFrom, cut)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.dir, "big.img")); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs")
	}
	if names := ts.files(t); len(names) != 1 {
		t.Errorf("directory holds %v after the resumed upload", names)
	}
}

func TestSlowSenderIsCut(t *testing.T) {
	ts := start(t, &Server{IdleTimeout: 200 * time.Millisecond, HeaderTimeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"silent", nil},
		{"half a header", []byte{40, 0}},
		{"stalled body", legacyFrame(`{"file_name": "slow", "file_size": 100}`, []byte("abc"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.counter("rejected_timeout")()
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(tc.wire)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
				t.Fatalf("a stalled sender: %v, want the server to close", err)
			}
			if tc.wire != nil {
				testenv.WaitFor(t, "rejected_timeout", func() bool { return ts.counter("rejected_timeout")() > before })
			}
		})
	}
	if names := ts.files(t); len(names) != 0 {
		t.Errorf("directory holds %v", names)
	}
}

func TestConnectionCaps(t *testing.T) {
	ts := start(t, &Server{MaxConnsPerSource: 2})
	var open []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
	}
	testenv.WaitFor(t, "2 connections", func() bool { return ts.counter("conns_active")() == 2 })
	extra, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Fatalf("connection over the per-source cap: %v", err)
	}
	if got := ts.counter("rejected_too_many_connections")(); got != 1 {
		t.Errorf("rejected_too_many_connections = %d", got)
	}
	open[0].Close()
	testenv.WaitFor(t, "1 connection", func() bool { return ts.counter("conns_active")() == 1 })
	ts.mustServe(t)
}

func TestConcurrentUploadsOfOneName(t *testing.T) {
	ts := start(t, &Server{})
	// The first holds the name: header sent, body pending.
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := []byte("the first sender's file")
	WriteHeader(c, Header{FileName: "same", FileSize: int64(len(first)), SHA256: sha(first), Ack: true}, false)
	var ready map[string]any
	if err := ReadFrame(c, &ready); err != nil {
		t.Fatal(err)
	}
	_, err = ts.send(t, "same", []byte("the second"), SendOptions{})
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != CodeBusy {
		t.Fatalf("second upload of the same name: %v, want busy", err)
	}
	c.Write(first)
	var res map[string]any
	if err := ReadFrame(c, &res); err != nil || res["status"] != "ok" {
		t.Fatalf("first upload: %v %v", res, err)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.dir, "same")); !bytes.Equal(got, first) {
		t.Errorf("stored %q", got)
	}
}

func TestSymlinkInTheDirectoryDoesNotLeadOutside(t *testing.T) {
	ts := start(t, &Server{})
	outside := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(outside, []byte("keep me"), 0o600)
	if err := os.Symlink(outside, filepath.Join(ts.dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.send(t, "link", []byte("overwrite"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(outside); string(got) != "keep me" {
		t.Fatalf("the file outside now holds %q", got)
	}
	info, err := os.Lstat(filepath.Join(ts.dir, "link"))
	if err != nil || !info.Mode().IsRegular() {
		t.Errorf("link is now %v, %v; want a regular file in its place", info.Mode(), err)
	}
	// A symlink where a partial upload would go is refused, not followed.
	data := []byte("resumable")
	h := Header{FileName: "r", FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: true}
	os.Symlink(outside, filepath.Join(ts.dir, partialName(h)))
	if _, err := ts.send(t, "r", data, SendOptions{Resume: true}); err == nil {
		t.Error("an upload through a planted partial symlink succeeded")
	}
	if got, _ := os.ReadFile(outside); string(got) != "keep me" {
		t.Fatalf("the file outside now holds %q", got)
	}
}

func TestFreeSpaceReserve(t *testing.T) {
	st, err := OpenStore(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	free, err := st.Free()
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, &Server{Store: st, MinFree: free}) // nothing may be written
	_, err = ts.send(t, "x", []byte("data"), SendOptions{})
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != CodeNoSpace {
		t.Fatalf("upload into the reserve: %v, want no_space", err)
	}
}

func TestChecksumAfterTheBody(t *testing.T) {
	ts := start(t, &Server{})
	body := []byte("streamed while hashed")
	for _, tc := range []struct {
		name    string
		trailer any
		status  string
		code    Code
	}{
		{"matching", map[string]string{"sha256": hex.EncodeToString(sha(body))}, "ok", ""},
		{"mismatch", map[string]string{"sha256": hex.EncodeToString(sha([]byte("other")))}, "error", CodeChecksumMismatch},
		{"not hex", map[string]string{"sha256": "zz"}, "error", CodeBadChecksum},
		{"missing", map[string]string{"md5": "x"}, "error", CodeBadChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			WriteHeader(c, Header{FileName: "s-" + tc.name, FileSize: int64(len(body)), SHA256Follows: true, Ack: true}, false)
			var ready, res map[string]any
			if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" {
				t.Fatalf("ready: %v %v", ready, err)
			}
			c.Write(body)
			tr, _ := AppendFrame(nil, tc.trailer)
			c.Write(tr)
			if err := ReadFrame(c, &res); err != nil || res["status"] != tc.status || (tc.code != "" && res["code"] != string(tc.code)) {
				t.Fatalf("result %v %v, want %s %s", res, err, tc.status, tc.code)
			}
			_, err = os.Stat(filepath.Join(ts.dir, "s-"+tc.name))
			if (err == nil) != (tc.status == "ok") {
				t.Errorf("stored: %v", err)
			}
		})
	}
}
