package fleet

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"v0.3.0", "v0.3.0"},
		{"küche 厨房 °C", "küche 厨房 °C"},
		{"\x1b]0;x\x07", `\x1b]0;x\x07`},
		{"\x1b[2J", `\x1b[2J`},
		{"a\tb\nc\rd\x00", `a\x09b\x0ac\x0dd\x00`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"\u202eevil", `\u202eevil`},
		{"\u2066\u2067\u2068\u2069\u200e\u200f\u061c", `\u2066\u2067\u2068\u2069\u200e\u200f\u061c`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"bad\xff\xfe", `bad\xff\xfe`},
		{"cut\xe2\x82", `cut\xe2\x82`},
		{"surrogate\xed\xa0\x80", `surrogate\xed\xa0\x80`},
		{`C:\x1b`, `C:\\x1b`},
		{"\ufffd", "\ufffd"},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Printable(tc.in); !safeForTerminal(got) {
			t.Errorf("Printable(%q) = %q is not safe", tc.in, got)
		}
	}
}

// safeForTerminal: valid UTF-8 without a character a terminal acts on.
func safeForTerminal(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unsafeRune(r) {
			return false
		}
	}
	return true
}

// unprintable undoes Printable, so tests can check no two strings are
// shown alike.
func unprintable(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			t.Fatalf("dangling backslash in %q", s)
		}
		digits := map[byte]int{'\\': 0, 'x': 2, 'u': 4, 'U': 8}[s[i+1]]
		if s[i+1] == '\\' {
			b.WriteByte('\\')
			i++
			continue
		}
		if digits == 0 || i+2+digits > len(s) {
			t.Fatalf("bad escape at %d in %q", i, s)
		}
		v, err := strconv.ParseUint(s[i+2:i+2+digits], 16, 32)
		if err != nil {
			t.Fatalf("bad escape at %d in %q: %v", i, s, err)
		}
		if s[i+1] == 'x' {
			b.WriteByte(byte(v))
		} else {
			b.WriteRune(rune(v))
		}
		i += 1 + digits
	}
	return b.String()
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "v1", "\x1b]0;x\x07", "\u202e", "\xff", `\x1b`, "\U000E0041", "a\u009bb", "厨房"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Printable(s)
		if !safeForTerminal(p) {
			t.Fatalf("Printable(%q) = %q: not safe for a terminal", s, p)
		}
		if back := unprintable(t, p); back != s {
			t.Fatalf("Printable(%q) = %q, which reads back as %q", s, p, back)
		}
		if safeForTerminal(s) && !strings.Contains(s, `\`) && p != s {
			t.Fatalf("Printable(%q) = %q changed a safe string", s, p)
		}
		// The same string as a device's version in the JSON listing:
		// valid JSON, nothing raw, the same value back.
		var b bytes.Buffer
		if err := WriteJSON(&b, []Device{{ID: "d", Version: s}}); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b.Bytes()) || !safeForTerminal(strings.TrimSuffix(b.String(), "\n")) {
			t.Fatalf("WriteJSON with version %q: %q", s, b.String())
		}
		var back []Device
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 {
			t.Fatalf("WriteJSON with version %q: %q does not decode: %v", s, b.String(), err)
		}
		if utf8.ValidString(s) && back[0].Version != s {
			t.Fatalf("WriteJSON version %q came back as %q", s, back[0].Version)
		}
	})
}

func TestWriteTableEscapesDeviceStrings(t *testing.T) {
	temp := 48.3
	devices := []Device{
		{ID: "kitchen", Online: true, Version: "v0.3.0", UptimeS: 3725, IP: "192.168.1.31", CPUTempC: &temp,
			LastState: time.Date(2026, 11, 23, 9, 20, 1, 0, time.Local)},
		{ID: "evil\u202e", Version: "\x1b]0;x\x07", IP: "10.0.0.1\t\x1b[2J"},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, devices); err != nil {
		t.Fatal(err)
	}
	want := "DEVICE      STATUS   VERSION       UPTIME  IP                   CPU TEMP  LAST STATE\n" +
		"kitchen     online   v0.3.0        1h2m5s  192.168.1.31         48.3 °C   2026-11-23 09:20:01\n" +
		`evil\u202e  offline  \x1b]0;x\x07  0s      10.0.0.1\x09\x1b[2J  -         -` + "\n"
	if b.String() != want {
		t.Errorf("WriteTable:\n%s\nwant:\n%s", b.String(), want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !safeForTerminal(line) {
			t.Errorf("line %q reaches the terminal raw", line)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, nil); err != nil || b.String() != "[]\n" {
		t.Errorf("no devices: %q %v, want []", b.String(), err)
	}
	b.Reset()
	in := []Device{{ID: "evil\u202e", Version: "\x1b]0;x\x07\x7f\u009b", IP: "\U000E0041\u2028"}}
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"evil\u202e","online":false,"version":"\u001b]0;x\u0007\u007f\u009b","ip":"\udb40\udc41\u2028"}]` + "\n"
	if b.String() != want {
		t.Errorf("WriteJSON = %s, want %s", b.String(), want)
	}
	var back []Device
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back[0].ID != in[0].ID || back[0].Version != in[0].Version || back[0].IP != in[0].IP {
		t.Errorf("decoded %+v, want %+v", back[0], in[0])
	}
}
