package filerecv

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"edge-agent/transport/testenv"
)

var helloSum = sha256.Sum256([]byte("hello"))

const helloHex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func TestParseHeaderAccepts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Header
	}{
		// The seed client, byte for byte: json.dumps escapes non-ASCII.
		{`{"file_name": "\u6fb3\u95e8\u6700\u5927\u7ebf\u4e0a\u8d4c\u573a\u5f00\u4e1a\u5566.mp4", "file_size": 1234}`,
			Header{FileName: "澳门最大线上赌场开业啦.mp4", FileSize: 1234}},
		{`{"file_name": "澳门.mp4", "file_size": 5}`, Header{FileName: "澳门.mp4", FileSize: 5}},
		{`{"file_name": "\ud83d\ude00.png", "file_size": 0}`, Header{FileName: "😀.png"}}, // a surrogate pair
		{`{"file_size":7,"file_name":"a"}`, Header{FileName: "a", FileSize: 7}},
		{`{"file_name": "a", "file_size": 7, "sha256_follows": true, "ack": true}`, Header{FileName: "a", FileSize: 7, SHA256Follows: true, Ack: true}},
		{" \t\r\n{ \"file_name\" : \"a\" , \"file_size\" : 9223372036854775807 } \n", Header{FileName: "a", FileSize: 1<<63 - 1}},
		{`{"file_name": "a", "file_size": -0}`, Header{FileName: "a"}},
		// Unknown keys are ignored, whatever they hold, and keys match exactly.
		{`{"file_name": "a", "file_size": 1, "mtime": 1.5e9, "mode": null, "x": [{"file_size": -1}], "FILE_NAME": 3, "Ack": 7}`,
			Header{FileName: "a", FileSize: 1}},
		// Extensions.
		{`{"file_name": "a", "file_size": 5, "sha256": "` + helloHex + `"}`, Header{FileName: "a", FileSize: 5, SHA256: helloSum[:]}},
		{`{"file_name": "a", "file_size": 5, "sha256": "` + strings.ToUpper(helloHex) + `", "ack": true, "resume": true, "token": "s3cret"}`,
			Header{FileName: "a", FileSize: 5, SHA256: helloSum[:], Ack: true, Resume: true, Token: "s3cret"}},
		{`{"file_name": "a", "file_size": 5, "ack": false, "resume": false, "token": ""}`, Header{FileName: "a", FileSize: 5}},
		// Names are ParseHeader's to decode and ValidName's to judge.
		{`{"file_name": "../x", "file_size": 1}`, Header{FileName: "../x", FileSize: 1}},
		{`{"file_name": "\ud800", "file_size": 1}`, Header{FileName: "\ufffd", FileSize: 1}},
		{`{"file_name": "", "file_size": 1}`, Header{FileSize: 1}},
	} {
		got, err := ParseHeader([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseHeader(%s)\n = %v, %v\nwant %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseHeaderRefuses(t *testing.T) {
	const name = `"file_name": "a", `
	for _, tc := range []struct {
		in     string
		code   Code
		reason string
	}{
		{``, CodeBadHeader, "not nothing"},
		{`   `, CodeBadHeader, "not nothing"},
		{`hello`, CodeBadHeader, "not JSON"},
		{`[{"file_name": "a", "file_size": 1}]`, CodeBadHeader, "an array"},
		{`"a.mp4"`, CodeBadHeader, "a string"},
		{`42`, CodeBadHeader, "a number"},
		{`null`, CodeBadHeader, "null"},
		{`true`, CodeBadHeader, "a boolean"},
		{`{"file_name": "a", "file_size": 1`, CodeBadHeader, "ends before"},
		{`{"file_name": "a", "file_si`, CodeBadHeader, "ends before"},
		{`{"file_name": "a", "file_size": 1,}`, CodeBadHeader, "not valid JSON"},
		{`{"file_name": "a" "file_size": 1}`, CodeBadHeader, "not valid JSON"},
		{`{file_name: "a", file_size: 1}`, CodeBadHeader, "not valid JSON"},
		{`{'file_name': 'a', 'file_size': 1}`, CodeBadHeader, "not valid JSON"},
		{`{"file_name": "a", "file_size": 012}`, CodeBadHeader, "not valid JSON"},
		{`{"file_name": "a\x01", "file_size": 1}`, CodeBadHeader, "not valid JSON"},
		{`{"file_name": "a", "file_size": 1}}`, CodeBadHeader, "after its JSON object"},
		{`{"file_name": "a", "file_size": 1}{"file_name": "b", "file_size": 2}`, CodeBadHeader, "after its JSON object"},
		{"{\"file_name\": \"a\", \"file_size\": 1}\x00", CodeBadHeader, "after its JSON object"},
		{"{\"file_name\": \"\xe6\xbe.mp4\", \"file_size\": 1}", CodeBadHeader, "UTF-8 (at byte 15)"},
		{"{\"file_name\": \"\xff\", \"file_size\": 1}", CodeBadHeader, "UTF-8"},
		{`{"file_size": 1}`, CodeBadHeader, `no "file_name"`},
		{`{"file_name": "a", "file_size": 1, "sha256_follows": true}`, CodeBadHeader, "sha256_follows needs"},
		{`{"file_name": "a", "file_size": 1, "sha256_follows": "yes", "ack": true}`, CodeBadHeader, "sha256_follows must be true or false"},
		{`{"file_name": "a", "file_size": 1, "sha256_follows": true, "ack": true, "sha256": "` + strings.Repeat("ab", 32) + `"}`, CodeBadHeader, "no sha256 in the header"},
		{`{"file_name": 7, "file_size": 1}`, CodeBadHeader, "file_name must be a string, not a number (7)"},
		{`{"file_name": null, "file_size": 1}`, CodeBadHeader, "not null"},
		{`{"file_name": ["a"], "file_size": 1}`, CodeBadHeader, "an array"},
		{`{"file_name": "a", "file_name": "b", "file_size": 1}`, CodeBadHeader, "twice"},
		{`{"file_name": "a", "file\u005fname": "b", "file_size": 1}`, CodeBadHeader, "twice"},
		{`{"file_name": "a"}`, CodeBadHeader, `no "file_size"`},
		{`{` + name + `"file_size": -1}`, CodeBadSize, "negative"},
		{`{` + name + `"file_size": -99999999999999999999}`, CodeBadSize, "negative"},
		{`{` + name + `"file_size": 1.5}`, CodeBadSize, "whole number"},
		{`{` + name + `"file_size": 1.0}`, CodeBadSize, "whole number"},
		{`{` + name + `"file_size": 1e3}`, CodeBadSize, "whole number"},
		{`{` + name + `"file_size": 1E3}`, CodeBadSize, "whole number"},
		{`{` + name + `"file_size": "12"}`, CodeBadSize, `a string ("12")`},
		{`{` + name + `"file_size": true}`, CodeBadSize, "a boolean"},
		{`{` + name + `"file_size": null}`, CodeBadSize, "null"},
		{`{` + name + `"file_size": {}}`, CodeBadSize, "an object"},
		{`{` + name + `"file_size": 9223372036854775808}`, CodeBadSize, "64-bit"},
		{`{` + name + `"file_size": 1, "file_size": 2}`, CodeBadHeader, "twice"},
		{`{` + name + `"file_size": 5, "sha256": "` + helloHex[:63] + `"}`, CodeBadChecksum, "got 63 bytes"},
		{`{` + name + `"file_size": 5, "sha256": "` + helloHex + `0"}`, CodeBadChecksum, "got 65 bytes"},
		{`{` + name + `"file_size": 5, "sha256": ""}`, CodeBadChecksum, "got 0 bytes"},
		{`{` + name + `"file_size": 5, "sha256": "` + helloHex[:63] + `g"}`, CodeBadChecksum, "invalid byte"},
		{`{` + name + `"file_size": 5, "sha256": "` + strings.Repeat("é", 32) + `"}`, CodeBadChecksum, "invalid byte"},
		{`{` + name + `"file_size": 5, "sha256": 12345}`, CodeBadChecksum, "not a number"},
		{`{` + name + `"file_size": 5, "sha256": null}`, CodeBadChecksum, "null"},
		{`{` + name + `"file_size": 5, "ack": 1}`, CodeBadHeader, "ack must be true or false, not a number (1)"},
		{`{` + name + `"file_size": 5, "ack": "true"}`, CodeBadHeader, "ack must be true or false"},
		{`{` + name + `"file_size": 5, "ack": null}`, CodeBadHeader, "ack must be true or false, not null"},
		{`{` + name + `"file_size": 5, "resume": "yes"}`, CodeBadHeader, "resume must be true or false"},
		{`{` + name + `"file_size": 5, "token": 5}`, CodeBadHeader, "token must be a string"},
		{`{` + name + `"file_size": 5, "resume": true, "ack": true}`, CodeBadHeader, "resume needs sha256"},
		{`{` + name + `"file_size": 5, "resume": true, "sha256": "` + helloHex + `"}`, CodeBadHeader, "resume needs sha256"},
		{`{` + name + `"file_size": 5, "resume": true, "sha256": "` + helloHex + `", "ack": false}`, CodeBadHeader, "resume needs"},
	} {
		h, err := ParseHeader([]byte(tc.in))
		var e *Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("ParseHeader(%q) = %v, %v; want a %s error", tc.in, h, err, tc.code)
			continue
		}
		if !strings.Contains(e.Message, tc.reason) {
			t.Errorf("ParseHeader(%q): %q does not say %q", tc.in, e.Message, tc.reason)
		}
	}
}

func TestParseHeaderDeepNesting(t *testing.T) {
	// An ignored key may hold anything, but not a stack-sized pile of it.
	deep := `{"file_name": "a", "file_size": 1, "x": ` + strings.Repeat("[", MaxHeaderLen/2) + strings.Repeat("]", MaxHeaderLen/2) + `}`
	if _, err := ParseHeader([]byte(deep)); err == nil {
		t.Error("a 32768-deep array was accepted")
	}
}

func TestHeaderStringRedactsToken(t *testing.T) {
	h := Header{FileName: "a.txt", FileSize: 5, SHA256: helloSum[:], Ack: true, Token: "s3cret"}
	for _, s := range []string{h.String(), fmt.Sprint(h), fmt.Sprintf("%+v", h)} {
		if strings.Contains(s, "s3cret") || !strings.Contains(s, "[redacted]") || !strings.Contains(s, helloHex) {
			t.Errorf("%s", s)
		}
	}
}

// TestPythonSeedHeaders reads headers made by Python the way the seed
// client makes them, plus the big-endian and unescaped variants other
// clients use and one with every extension.
func TestPythonSeedHeaders(t *testing.T) {
	py := testenv.Python(t)

	// The seed's own line, as the brief for this package gives it.
	cmd := exec.Command(py, "-c", `import json,struct,sys; h=json.dumps({"file_name": sys.argv[1], "file_size": 5}).encode(); sys.stdout.buffer.write(struct.pack("i", len(h)) + h)`, "澳门.mp4")
	cmd.Env = append(os.Environ(), "PYTHONUTF8=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if !bytes.Contains(out, []byte(`"\u6fb3\u95e8.mp4"`)) {
		t.Fatalf("python3 did not escape the name: %q", out)
	}
	r := bytes.NewReader(out)
	checkNextHeader(t, r, false, Header{FileName: "澳门.mp4", FileSize: 5})
	if r.Len() != 0 {
		t.Fatalf("%d bytes left over", r.Len())
	}

	const script = `
import hashlib, json, struct, sys
out = sys.stdout.buffer
def send(order, d, **kw):
    h = json.dumps(d, **kw).encode()
    out.write(struct.pack(order, len(h)) + h)
for name in sys.argv[1:]:
    send("i", {"file_name": name, "file_size": 5})
    send("!i", {"file_name": name, "file_size": 5})
    send("<i", {"file_name": name, "file_size": 5}, ensure_ascii=False)
    send("!i", {"file_name": name, "file_size": 5}, ensure_ascii=False, separators=(",", ":"))
send("i", {"file_name": "a", "file_size": 5, "sha256": hashlib.sha256(b"hello").hexdigest().upper(),
           "ack": True, "resume": True, "token": "s3cret", "mtime": 1.5e9, "mode": None})
send("!i", {"file_name": "a" * 223, "file_size": 5})  # 256 bytes: read as 65536 little-endian
`
	names := []string{"澳门最大线上赌场开业啦.mp4", "10 解决粘包问题终极版.mp4", "😀 a b.png", ".bashrc", `q"uote\back`, "x" + strings.Repeat("é", 100)}
	cmd = exec.Command(py, append([]string{"-c", script}, names...)...)
	cmd.Env = append(os.Environ(), "PYTHONUTF8=1")
	if out, err = cmd.Output(); err != nil {
		t.Fatalf("python3: %v", err)
	}
	r = bytes.NewReader(out)
	for _, name := range names {
		want := Header{FileName: name, FileSize: 5}
		for _, be := range []bool{false, true, false, true} {
			checkNextHeader(t, r, be, want)
		}
	}
	checkNextHeader(t, r, false, Header{FileName: "a", FileSize: 5, SHA256: helloSum[:], Ack: true, Resume: true, Token: "s3cret"})

	// A 256-byte big-endian header: 65536 little-endian is over the limit,
	// so the two byte orders never compete.
	var lb [4]byte
	io.ReadFull(r, lb[:])
	if n, be, err := HeaderLength(lb); lb != [4]byte{0, 0, 1, 0} || n != 256 || !be || err != nil {
		t.Errorf("big-endian 256: % x read as %d, %v, %v", lb, n, be, err)
	}
	if r.Len() != 256 {
		t.Errorf("%d bytes left over, want the 256-byte header", r.Len())
	}
}

func checkNextHeader(t *testing.T, r io.Reader, bigEndian bool, want Header) {
	t.Helper()
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		t.Fatalf("length of %v: %v", want, err)
	}
	n, be, err := HeaderLength(lb)
	if err != nil || be != bigEndian {
		t.Fatalf("HeaderLength(% x) = %d, %v, %v; want big-endian %v", lb, n, be, err, bigEndian)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("%d-byte header of %v: %v", n, want, err)
	}
	h, err := ParseHeader(b)
	if err != nil || !reflect.DeepEqual(h, want) {
		t.Errorf("ParseHeader(%s)\n = %v, %v\nwant %v", b, h, err, want)
	}
}

func ExampleParseHeader() {
	// What the seed client sends after its 4-byte length.
	h, err := ParseHeader([]byte(`{"file_name": "\u6fb3\u95e8.mp4", "file_size": 1234}`))
	fmt.Println(h.FileName, h.FileSize, err, ValidName(h.FileName))

	_, err = ParseHeader([]byte(`{"file_name": "a.mp4", "file_size": 1.5}`))
	fmt.Println(err)

	h, _ = ParseHeader([]byte(`{"file_name": "../../etc/passwd", "file_size": 5}`))
	fmt.Println(ValidName(h.FileName))
	// Output:
	// 澳门.mp4 1234 <nil> <nil>
	// filerecv: bad_size: file_size must be written as a whole number, not 1.5
	// filerecv: bad_name: file name "../../etc/passwd" holds the path separator '/' at byte 2: send a name, not a path
}
