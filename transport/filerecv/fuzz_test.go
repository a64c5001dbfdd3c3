package filerecv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseHeader: no input panics; a refusal is an *Error with one of the
// header codes; an accepted header keeps its invariants, survives
// WriteHeader and ParseHeader again unchanged in both byte orders, and,
// when ValidName passes its name, holds no separator or control character.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"file_name": "\u6fb3\u95e8.mp4", "file_size": 1234}`,
		`{"file_name": "a", "file_size": 5, "sha256": "` + helloHex + `", "ack": true, "resume": true, "token": "t"}`,
		`{"file_name": "\ud800", "file_size": 1}`,
		`{"file_name": "\ud83d\ude00", "file_size": 1e3}`,
		`{"file_name": "../a\u0000\u001b\u009b", "file_size": -0, "x": [1, {"y": null}]}`,
		`{"file_name": "a", "file_name": "b", "file_size": 1}`,
		`{"file_name": "a", "file_size": 1} `,
		`{"file_name": "a", "file_size": 1}{}`,
		`{"file_size": 99999999999999999999, "file_name": ""}`,
		`[1]`, `null`, `"x"`, ``, "{\"file_name\": \"\xff\"}",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, bigEndian bool) {
		h, err := ParseHeader(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != CodeBadHeader && e.Code != CodeBadSize && e.Code != CodeBadChecksum) {
				t.Fatalf("ParseHeader(%q): %v is not a header error", in, err)
			}
			return
		}
		switch {
		case h.FileSize < 0, h.SHA256 != nil && len(h.SHA256) != 32, h.Resume && (h.SHA256 == nil || !h.Ack),
			h.SHA256Follows && (h.SHA256 != nil || !h.Ack):
			t.Fatalf("ParseHeader(%q) = %v", in, h)
		case !utf8.ValidString(h.FileName) || !utf8.ValidString(h.Token):
			t.Fatalf("ParseHeader(%q) returned invalid UTF-8: %v", in, h)
		}

		var buf bytes.Buffer
		if err := WriteHeader(&buf, h, bigEndian); err != nil {
			// Only escaping, at worst six bytes for one, makes a header
			// grow.
			if len(in)*6 < MaxHeaderLen || !errors.Is(err, &Error{Code: CodeBadHeader}) {
				t.Fatalf("WriteHeader(%v) of ParseHeader(%q): %v", h, in, err)
			}
			return
		}
		b := buf.Bytes()
		n, be, err := HeaderLength([4]byte(b))
		if err != nil || n != len(b)-4 || be != bigEndian {
			t.Fatalf("WriteHeader(%v, %v) wrote % x for %d bytes: %d, %v, %v", h, bigEndian, b[:4], len(b)-4, n, be, err)
		}
		again, err := ParseHeader(b[4:])
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("ParseHeader(%q) = %v\nre-encoded %q\nparsed as %v, %v", in, h, b[4:], again, err)
		}

		if ValidName(h.FileName) == nil {
			checkStorable(t, h.FileName)
		}
	})
}

// FuzzHeaderLength: an accepted length is always from 1 to MaxHeaderLen and
// is the reading it says it is, and the two readings are never both
// plausible.
func FuzzHeaderLength(f *testing.F) {
	for _, v := range []uint32{0, 1, 45, 256, 65536, 65537, 0x01000000, 0x00010000, 0x00000100, 0xffffffff, 0x80000000, 0x7fffffff} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint32) {
		b := [4]byte(binary.LittleEndian.AppendUint32(nil, v))
		le := int64(int32(v))
		be := int64(int32(binary.BigEndian.Uint32(b[:])))
		n, bigEndian, err := HeaderLength(b)
		leOK := le >= 1 && le <= MaxHeaderLen
		beOK := be >= 1 && be <= MaxHeaderLen
		switch {
		case leOK && beOK:
			t.Fatalf("% x is plausible both ways: LE %d, BE %d", b, le, be)
		case err != nil:
			if leOK || beOK || n != 0 || !errors.Is(err, &Error{Code: CodeBadHeader}) {
				t.Fatalf("HeaderLength(% x) = %d, %v (LE %d, BE %d)", b, n, err, le, be)
			}
		case n < 1 || n > MaxHeaderLen:
			t.Fatalf("HeaderLength(% x) = %d", b, n)
		case leOK && (bigEndian || int64(n) != le):
			t.Fatalf("HeaderLength(% x) = %d, big-endian %v; little-endian %d is plausible", b, n, bigEndian, le)
		case !leOK && (!bigEndian || int64(n) != be):
			t.Fatalf("HeaderLength(% x) = %d, big-endian %v; want big-endian %d", b, n, bigEndian, be)
		}
	})
}

// FuzzValidName: a name ValidName accepts is one entry of a directory,
// stored and shown as it is.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{
		"澳门最大线上赌场开业啦.mp4", ".bashrc", "a b", ".", "..", "...", "a/b", `a\b`, "\x00", "\x1b[2J",
		"\u009b", "\ufffd", "\xff", ReservedPrefix + "x", ".edge", strings.Repeat("a", 255), strings.Repeat("é", 128),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidName(name)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadName || e.Message == "" {
				t.Fatalf("ValidName(%q) = %v", name, err)
			}
			return
		}
		checkStorable(t, name)
	})
}

func checkStorable(t *testing.T, name string) {
	t.Helper()
	switch {
	case name == "" || name == "." || name == ".." || len(name) > MaxNameLen:
		t.Fatalf("%q accepted", name)
	case !utf8.ValidString(name) || strings.ContainsRune(name, utf8.RuneError):
		t.Fatalf("%q accepted: not valid UTF-8", name)
	case strings.ContainsAny(name, `/\`):
		t.Fatalf("%q accepted: it holds a separator", name)
	case strings.HasPrefix(name, ReservedPrefix):
		t.Fatalf("%q accepted: reserved", name)
	case !filepath.IsLocal(name) || filepath.Base(name) != name || filepath.Clean(name) != name:
		t.Fatalf("%q accepted: not a plain local name", name)
	}
	for _, r := range name {
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			t.Fatalf("%q accepted: it holds the control character %U", name, r)
		}
	}
}
