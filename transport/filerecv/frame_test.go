package filerecv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestHeaderLength(t *testing.T) {
	for _, tc := range []struct {
		in     [4]byte
		n      int
		be     bool
		reason string // empty when the length is accepted
	}{
		{[4]byte{0x2d, 0, 0, 0}, 45, false, ""}, // struct.pack('i', 45)
		{[4]byte{0, 0, 0, 0x2d}, 45, true, ""},  // struct.pack('!i', 45)
		{[4]byte{1, 0, 0, 0}, 1, false, ""},     // shortest
		{[4]byte{0, 0, 0, 1}, 1, true, ""},
		{[4]byte{0xff, 0xff, 0, 0}, 65535, false, ""},
		{[4]byte{0, 0, 0xff, 0xff}, 65535, true, ""},
		{[4]byte{0, 0, 1, 0}, 256, true, ""},         // 65536 little-endian is one over the limit
		{[4]byte{0, 1, 0, 0}, 256, false, ""},        // 65536 big-endian is one over the limit
		{[4]byte{0x00, 0x10, 0, 0}, 4096, false, ""}, // 1 MiB big-endian is implausible
		{[4]byte{0, 0, 0x10, 0x00}, 4096, true, ""},
		{[4]byte{0, 0, 0, 0}, 0, false, "read as 0 little-endian and 0 big-endian"},
		{[4]byte{0xff, 0xff, 0xff, 0xff}, 0, false, "ff ff ff ff read as -1 little-endian and -1 big-endian"},
		{[4]byte{1, 0, 1, 0}, 0, false, "65537 little-endian and 16777472 big-endian"},
		{[4]byte{0, 1, 0, 1}, 0, false, "16777472 little-endian and 65537 big-endian"},
		{[4]byte{0xff, 0xff, 0xff, 0x7f}, 0, false, "2147483647 little-endian"},
		{[4]byte{0, 0, 0, 0x80}, 128, true, ""},  // negative little-endian
		{[4]byte{0x80, 0, 0, 0}, 128, false, ""}, // negative big-endian
		{[4]byte{1, 0, 0, 0x80}, 0, false, "-2147483647 little-endian and 16777344 big-endian"},
		{[4]byte{0x7b, 0x22, 0x66, 0x69}, 0, false, "7b 22 66 69"}, // `{"fi`: a header sent without its length
		{[4]byte{'G', 'E', 'T', ' '}, 0, false, "47 45 54 20"},     // an HTTP client on the wrong port
	} {
		n, be, err := HeaderLength(tc.in)
		if tc.reason == "" {
			if n != tc.n || be != tc.be || err != nil {
				t.Errorf("HeaderLength(% x) = %d, %v, %v; want %d, %v", tc.in, n, be, err, tc.n, tc.be)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBadHeader || n != 0 {
			t.Errorf("HeaderLength(% x) = %d, %v, %v; want a bad_header error", tc.in, n, be, err)
		} else if !strings.Contains(e.Message, tc.reason) {
			t.Errorf("HeaderLength(% x): %q does not say %q", tc.in, e.Message, tc.reason)
		}
	}
}

func TestWriteHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{
		{FileName: "澳门最大线上赌场开业啦.mp4", FileSize: 1234},
		{FileName: "a", FileSize: 0},
		{FileName: "<a&b>\u2028\"\\\t", FileSize: 1<<63 - 1},
		{FileName: "a", FileSize: 5, SHA256: helloSum[:], Ack: true, Resume: true, Token: "s3cret"},
		{FileName: "a", FileSize: 5, Ack: true},
		{FileName: "\ufffd", FileSize: 5, Token: "é"},        // ValidName refuses it; WriteHeader sends it faithfully
		{FileName: strings.Repeat("n", 256-30), FileSize: 5}, // a 256-byte header
		{FileName: strings.Repeat("n", 255-30), FileSize: 5},
		{FileName: strings.Repeat("n", 257-30), FileSize: 5},
		{FileName: strings.Repeat("n", MaxHeaderLen-31), FileSize: 5}, // the longest big-endian
		{FileName: strings.Repeat("n", MaxHeaderLen-30), FileSize: 5}, // the longest little-endian
	} {
		for _, bigEndian := range []bool{false, true} {
			if bigEndian && len(h.FileName) == MaxHeaderLen-30 {
				continue // TestWriteHeaderRefuses
			}
			var buf bytes.Buffer
			if err := WriteHeader(&buf, h, bigEndian); err != nil {
				t.Errorf("WriteHeader(%.60v, %v): %v", h, bigEndian, err)
				continue
			}
			b := buf.Bytes()
			n, be, err := HeaderLength([4]byte(b))
			if err != nil || n != len(b)-4 || be != bigEndian {
				t.Errorf("WriteHeader(%.60v, %v) wrote length % x: %d, %v, %v", h, bigEndian, b[:4], n, be, err)
				continue
			}
			if got, err := ParseHeader(b[4:]); err != nil || !reflect.DeepEqual(got, h) {
				t.Errorf("round trip of %.60v (big-endian %v): %.60v, %v", h, bigEndian, got, err)
			}
		}
	}
}

func TestWriteHeaderLegacyShape(t *testing.T) {
	// Without extensions the header is the seed's: two keys, in its order.
	var buf bytes.Buffer
	if err := WriteHeader(&buf, Header{FileName: "澳门.mp4", FileSize: 5}, false); err != nil {
		t.Fatal(err)
	}
	want := `{"file_name":"澳门.mp4","file_size":5}`
	want = string(binary.LittleEndian.AppendUint32(nil, uint32(len(want)))) + want
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWriteHeaderRefuses(t *testing.T) {
	for _, tc := range []struct {
		h    Header
		code Code
	}{
		{Header{FileName: "a\xff", FileSize: 1}, CodeBadName},
		{Header{FileName: "a", FileSize: 1, Token: "\xff"}, CodeBadHeader},
		{Header{FileName: "a", FileSize: -1}, CodeBadSize},
		{Header{FileName: "a", FileSize: 1, SHA256: helloSum[:31]}, CodeBadChecksum},
		{Header{FileName: "a", FileSize: 1, Resume: true, Ack: true}, CodeBadHeader},
		{Header{FileName: "a", FileSize: 1, Resume: true, SHA256: helloSum[:]}, CodeBadHeader},
		{Header{FileName: strings.Repeat("n", MaxHeaderLen-29), FileSize: 5}, CodeBadHeader},
		{Header{FileName: strings.Repeat("\x01", MaxHeaderLen/6), FileSize: 5}, CodeBadHeader}, // escaping grows it
	} {
		var buf bytes.Buffer
		err := WriteHeader(&buf, tc.h, false)
		if !errors.Is(err, &Error{Code: tc.code}) || buf.Len() != 0 {
			t.Errorf("WriteHeader(%.40v) = %v and %d bytes, want a %s error and nothing", tc.h, err, buf.Len(), tc.code)
		}
	}
	err := WriteHeader(failWriter{}, Header{FileName: "a"}, false)
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("a failed write gave %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

type reply struct {
	Status  string `json:"status"`
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Offset  int64  `json:"offset"`
}

func TestFrameRoundTrip(t *testing.T) {
	in := []reply{{Status: "ready", Offset: 1 << 40}, {Status: "error", Code: CodeBusy, Message: "\"澳门.mp4\" <busy>"}, {Status: "ok"}}
	var b []byte
	for _, r := range in {
		var err error
		if b, err = AppendFrame(b, r); err != nil {
			t.Fatal(err)
		}
	}
	if n := binary.LittleEndian.Uint32(b); int(n) != bytes.IndexByte(b[4:], '}')+1 {
		t.Fatalf("first frame: length %d in % x", n, b[:8])
	}
	r := bytes.NewReader(b)
	for _, want := range in {
		var got reply
		if err := ReadFrame(r, &got); err != nil || got != want {
			t.Errorf("ReadFrame = %+v, %v; want %+v", got, err, want)
		}
	}
	if err := ReadFrame(r, new(reply)); !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	// Into a map, as a client that does not know every reply might.
	b, _ = AppendFrame(nil, map[string]any{"status": "ok", "size": 5})
	var m map[string]any
	if err := ReadFrame(bytes.NewReader(b), &m); err != nil || m["status"] != "ok" || m["size"] != 5.0 {
		t.Errorf("into a map: %v, %v", m, err)
	}
}

func TestAppendFrameRefuses(t *testing.T) {
	for _, v := range []any{nil, (*reply)(nil), "ok", 5, []int{1}, map[string]any{"x": strings.Repeat("x", MaxHeaderLen)}, make(chan int)} {
		dst := []byte("keep")
		out, err := AppendFrame(dst, v)
		if err == nil || string(out) != "keep" {
			t.Errorf("AppendFrame(%.20v) = %q, %v; want an error and dst unchanged", v, out, err)
		}
	}
}

func TestReadFrameRefuses(t *testing.T) {
	frame := func(lenLE uint32, body string) string {
		return string(binary.LittleEndian.AppendUint32(nil, lenLE)) + body
	}
	for _, tc := range []struct {
		in      string
		code    Code  // for an *Error
		wrapped error // otherwise
	}{
		{"", "", io.EOF},
		{"\x05\x00", "", io.ErrUnexpectedEOF},
		{frame(5, ""), "", io.ErrUnexpectedEOF},
		{frame(5, "{}"), "", io.ErrUnexpectedEOF},
		{frame(0, ""), CodeBadHeader, nil},
		{frame(0xffffffff, "{}"), CodeBadHeader, nil},
		{frame(MaxHeaderLen+1, "{}"), CodeBadHeader, nil},
		{"\x00\x00\x00\x02{}", CodeBadHeader, nil}, // big-endian: replies are little-endian only
		{frame(4, "null"), CodeBadHeader, nil},
		{frame(3, "[1]"), CodeBadHeader, nil},
		{frame(4, `"ok"`), CodeBadHeader, nil},
		{frame(2, "{]"), CodeBadHeader, nil},
		{frame(4, "{}{}"), CodeBadHeader, nil},
		{frame(12, "{\"status\":1}"), CodeBadHeader, nil}, // does not fit the struct
		{frame(7, "{\"s\":\"\xff\"}"), CodeBadHeader, nil},
	} {
		var v reply
		err := ReadFrame(strings.NewReader(tc.in), &v)
		if tc.code != "" && !errors.Is(err, &Error{Code: tc.code}) || tc.wrapped != nil && !errors.Is(err, tc.wrapped) {
			t.Errorf("ReadFrame(%q) = %v", tc.in, err)
		}
	}
	if err := ReadFrame(strings.NewReader(frame(2, "{}")), reply{}); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("a non-pointer target gave %v, want a plain error", err)
	}
}
