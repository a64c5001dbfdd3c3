package firmwarebridge_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	fb "edge-agent/firmware-bridge"
)

// framesCollect feeds each chunk in turn and returns copies of what was
// emitted, since emit's slice is only valid during the call.
func framesCollect[T string | []byte](f fb.Framer, chunks ...T) []string {
	var got []string
	for _, c := range chunks {
		f.Feed([]byte(c), func(msg []byte) { got = append(got, string(msg)) })
	}
	return got
}

// framesBytewise splits p into one-byte chunks, the worst a serial read can do.
func framesBytewise(p []byte) [][]byte {
	var chunks [][]byte
	for i := range p {
		chunks = append(chunks, p[i:i+1])
	}
	return chunks
}

// framesCOBS builds a COBS frame by hand so that a test can give it a wrong CRC.
func framesCOBS(payload []byte, crc uint16) []byte {
	raw := append(append([]byte(nil), payload...), byte(crc>>8), byte(crc))
	return append(fb.AppendCOBS(nil, raw), 0)
}

func framesEncode(t testing.TB, f fb.Framer, payloads ...string) []byte {
	t.Helper()
	var out []byte
	for _, p := range payloads {
		var err error
		if out, err = f.Encode(out, []byte(p)); err != nil {
			t.Fatalf("Encode(%q): %v", p, err)
		}
	}
	return out
}

func TestCRC16(t *testing.T) {
	if got := fb.CRC16([]byte("123456789")); got != 0x29b1 {
		t.Errorf("CRC16(123456789) = %#04x, want 0x29b1", got)
	}
	if got := fb.CRC16(nil); got != 0xffff {
		t.Errorf("CRC16(nil) = %#04x, want 0xffff", got)
	}
}

func TestCOBSVectors(t *testing.T) {
	seq := func(from, to int) []byte {
		var b []byte
		for i := from; i <= to; i++ {
			b = append(b, byte(i))
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	b := func(s ...byte) []byte { return s }
	tests := []struct {
		name      string
		raw, cobs []byte
	}{
		{"empty", nil, b(0x01)},
		{"one zero", b(0x00), b(0x01, 0x01)},
		{"two zeros", b(0x00, 0x00), b(0x01, 0x01, 0x01)},
		{"zero around", b(0x00, 0x11, 0x00), b(0x01, 0x02, 0x11, 0x01)},
		{"zero inside", b(0x11, 0x22, 0x00, 0x33), b(0x03, 0x11, 0x22, 0x02, 0x33)},
		{"no zero", b(0x11, 0x22, 0x33, 0x44), b(0x05, 0x11, 0x22, 0x33, 0x44)},
		{"trailing zeros", b(0x11, 0x00, 0x00, 0x00), b(0x02, 0x11, 0x01, 0x01, 0x01)},
		{"254 non-zero", seq(0x01, 0xfe), cat(b(0xff), seq(0x01, 0xfe))},
		{"zero then 254", seq(0x00, 0xfe), cat(b(0x01, 0xff), seq(0x01, 0xfe))},
		{"255 non-zero", seq(0x01, 0xff), cat(b(0xff), seq(0x01, 0xfe), b(0x02, 0xff))},
		{"254 then zero", cat(seq(0x02, 0xff), b(0x00)), cat(b(0xff), seq(0x02, 0xff), b(0x01, 0x01))},
		{"253 zero one", cat(seq(0x03, 0xff), b(0x00, 0x01)), cat(b(0xfe), seq(0x03, 0xff), b(0x02, 0x01))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fb.AppendCOBS([]byte("x"), tt.raw); !bytes.Equal(got[1:], tt.cobs) || got[0] != 'x' {
				t.Errorf("AppendCOBS = % x, want x + % x", got, tt.cobs)
			}
			got, err := fb.DecodeCOBS([]byte("x"), tt.cobs)
			if err != nil || !bytes.Equal(got[1:], tt.raw) {
				t.Errorf("DecodeCOBS = % x, %v; want x + % x", got, err, tt.raw)
			}
		})
	}
}

func TestDecodeCOBSBad(t *testing.T) {
	for _, in := range []string{"\x05\x11\x22", "\x02", "\x00", "\x03\x11\x00", "\xff\x01"} {
		got, err := fb.DecodeCOBS([]byte("x"), []byte(in))
		if !errors.Is(err, fb.ErrBadCOBS) || string(got) != "x" {
			t.Errorf("DecodeCOBS(% x) = %q, %v; want x, ErrBadCOBS", in, got, err)
		}
	}
}

func TestFramerFeed(t *testing.T) {
	const lines, cobs = fb.FramingLines, fb.FramingCOBS
	good := func(p string) string { return string(framesEncode(t, &fb.COBSFramer{}, p)) }
	long := strings.Repeat("\x01", 5000)
	tests := []struct {
		framing fb.Framing
		name    string
		max     int
		chunks  []string
		want    []string
		stats   fb.FrameStats
	}{
		{lines, "boot garbage", 0, []string{"\xff\xfe\x00\x12\r\nready\r\n\x1b[0mok\n"}, []string{"ready"}, fb.FrameStats{Messages: 1, Garbage: 2}},
		{lines, "bad utf-8", 0, []string{"\xc3\nok\n"}, []string{"ok"}, fb.FrameStats{Messages: 1, Garbage: 1}},
		{lines, "DEL", 0, []string{"a\x7fb\n"}, nil, fb.FrameStats{Garbage: 1}},
		{lines, "tab kept", 0, []string{"a\tb\n"}, []string{"a\tb"}, fb.FrameStats{Messages: 1}},
		{lines, "rune across feeds", 0, []string{"a\xc3", "\xb1\n"}, []string{"añ"}, fb.FrameStats{Messages: 1}},
		{lines, "overlong then good", 8, []string{"0123456789abc\nok\n"}, []string{"ok"}, fb.FrameStats{Messages: 1, Overlong: 1}},
		{lines, "overlong across feeds", 8, []string{"01234", "56789", "abc\r", "\nok\r\n"}, []string{"ok"}, fb.FrameStats{Messages: 1, Overlong: 1}},
		{lines, "overlong unended", 4, []string{"abcdefgh", "ijkl"}, nil, fb.FrameStats{Overlong: 1}},
		{lines, "exactly max", 8, []string{"01234567\n"}, []string{"01234567"}, fb.FrameStats{Messages: 1}},
		{lines, "CRLF split", 0, []string{"a\r", "\nb\r", "\n"}, []string{"a", "b"}, fb.FrameStats{Messages: 2}},
		{lines, "CR only", 0, []string{"a\rb\rc\r"}, []string{"a", "b", "c"}, fb.FrameStats{Messages: 3}},
		{lines, "LF LF", 0, []string{"a\n\nb\n"}, []string{"a", "b"}, fb.FrameStats{Messages: 2, Empty: 1}},
		{lines, "CR CR", 0, []string{"a\r\rb"}, []string{"a"}, fb.FrameStats{Messages: 1, Empty: 1}},
		{lines, "LF CR", 0, []string{"a\n\rb\n"}, []string{"a", "b"}, fb.FrameStats{Messages: 2, Empty: 1}},
		{lines, "unended", 0, []string{"abc"}, nil, fb.FrameStats{}},
		{cobs, "bad CRC between good", 0, []string{good("one") + string(framesCOBS([]byte("two"), 0x1234)) + good("three")}, []string{"one", "three"}, fb.FrameStats{Messages: 2, BadCRC: 1}},
		{cobs, "truncated code", 0, []string{"\x05\x11\x22\x00" + good("ok")}, []string{"ok"}, fb.FrameStats{Messages: 1, Garbage: 1}},
		{cobs, "resync after noise", 0, []string{"\x11\x22\x33", "\x00" + good("ok")}, []string{"ok"}, fb.FrameStats{Messages: 1, Garbage: 1}},
		{cobs, "shorter than CRC", 0, []string{"\x02\x11\x00\x01\x00"}, nil, fb.FrameStats{Garbage: 2}},
		{cobs, "empty frames", 0, []string{"\x00\x00" + good("a") + "\x00"}, []string{"a"}, fb.FrameStats{Messages: 1, Empty: 3}},
		{cobs, "empty payload", 0, []string{good("")}, nil, fb.FrameStats{Empty: 1}},
		{cobs, "empty payload bad CRC", 0, []string{"\x01\x01\x01\x00"}, nil, fb.FrameStats{BadCRC: 1}},
		{cobs, "over max", 4, []string{good("0123456789") + good("ok")}, []string{"ok"}, fb.FrameStats{Messages: 1, Overlong: 1}},
		{cobs, "over max by one", 4, []string{good("01234") + good("0123")}, []string{"0123"}, fb.FrameStats{Messages: 1, Overlong: 1}},
		{cobs, "far over max", 0, []string{long, long, "\x00" + good("ok")}, []string{"ok"}, fb.FrameStats{Messages: 1, Overlong: 1}},
		{cobs, "zeros in payload", 0, []string{good("\x00a\x00\x00")}, []string{"\x00a\x00\x00"}, fb.FrameStats{Messages: 1}},
		{cobs, "split frame", 0, []string{good("hello")[:3], good("hello")[3:]}, []string{"hello"}, fb.FrameStats{Messages: 1}},
		{cobs, "unended", 0, []string{strings.TrimSuffix(good("hello"), "\x00")}, nil, fb.FrameStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.framing.String()+"/"+tt.name, func(t *testing.T) {
			f := fb.NewFramer(tt.framing, tt.max)
			if got := framesCollect(f, tt.chunks...); !slices.Equal(got, tt.want) {
				t.Errorf("emitted %q, want %q", got, tt.want)
			}
			if got := f.Stats(); got != tt.stats {
				t.Errorf("Stats = %+v, want %+v", got, tt.stats)
			}
		})
	}
}

func TestFramerRoundTrip(t *testing.T) {
	tests := []struct {
		framing  fb.Framing
		payloads []string
	}{
		{fb.FramingLines, []string{"ready", "temp=21.5\tC", "añ€", strings.Repeat("x", 16)}},
		{fb.FramingCOBS, []string{"ready", "\x00", "\x00\x00\xff", string(make([]byte, 16)), "\x01\x02"}},
	}
	for _, tt := range tests {
		t.Run(tt.framing.String(), func(t *testing.T) {
			enc := framesEncode(t, fb.NewFramer(tt.framing, 16), tt.payloads...)

			all := fb.NewFramer(tt.framing, 16)
			if got := framesCollect(all, enc); !slices.Equal(got, tt.payloads) {
				t.Errorf("all at once: %q, want %q", got, tt.payloads)
			}
			one := fb.NewFramer(tt.framing, 16)
			if got := framesCollect(one, framesBytewise(enc)...); !slices.Equal(got, tt.payloads) {
				t.Errorf("byte at a time: %q, want %q", got, tt.payloads)
			}
			want := fb.FrameStats{Messages: uint64(len(tt.payloads))}
			if all.Stats() != want || one.Stats() != want {
				t.Errorf("Stats = %+v and %+v, want %+v", all.Stats(), one.Stats(), want)
			}
		})
	}
}

func TestFramerReset(t *testing.T) {
	tests := []struct {
		framing      fb.Framing
		before, want string
		empty        uint64 // empty lines the reset leads to
	}{
		{fb.FramingLines, "partial", "ok\n", 0},
		{fb.FramingLines, "0123456789abcdefghij", "ok\n", 0}, // overlong
		{fb.FramingLines, "\r", "\nok\n", 1},                 // a CR before the reset does not eat this LF
		{fb.FramingCOBS, "\x05\x11", "", 0},
		{fb.FramingCOBS, strings.Repeat("\x01", 100), "", 0}, // overlong
	}
	for _, tt := range tests {
		f := fb.NewFramer(tt.framing, 16)
		want := tt.want
		if tt.framing == fb.FramingCOBS {
			want = string(framesEncode(t, f, "ok"))
		}
		f.Feed([]byte(tt.before), func(msg []byte) { t.Errorf("emitted %q before the reset", msg) })
		before := f.Stats()
		f.Reset()
		if got := framesCollect(f, []byte(want)); !slices.Equal(got, []string{"ok"}) {
			t.Errorf("%v after %q: emitted %q, want ok", tt.framing, tt.before, got)
		}
		after := f.Stats()
		if after.Messages != before.Messages+1 || after.Empty != before.Empty+tt.empty || after.Overlong != before.Overlong {
			t.Errorf("%v after %q: Stats %+v then %+v", tt.framing, tt.before, before, after)
		}
	}
}

func TestLineFramerEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ok", "ok\n"},
		{"ok\n", "ok\n"},
		{"ok\r\n", "ok\n"},
		{"ok\n\n", "ok\n\n"},
		{"a\rb", "a\rb\n"},
		{"", "\n"},
		{"12345678\r\n", "12345678\n"},
	}
	for _, tt := range tests {
		got, err := (&fb.LineFramer{Max: 8}).Encode([]byte(">"), []byte(tt.in))
		if err != nil || string(got) != ">"+tt.want {
			t.Errorf("Encode(%q) = %q, %v; want %q", tt.in, got, err, ">"+tt.want)
		}
	}
}

func TestEncodeTooBig(t *testing.T) {
	tests := []struct {
		f fb.Framer
		n int // first size refused
	}{
		{&fb.LineFramer{Max: 8}, 9},
		{&fb.COBSFramer{Max: 8}, 9},
		{fb.NewFramer(fb.FramingLines, 0), fb.DefaultMaxFrame + 1},
		{fb.NewFramer(fb.FramingCOBS, -1), fb.DefaultMaxFrame + 1},
	}
	for _, tt := range tests {
		f, n := tt.f, tt.n
		got, err := f.Encode([]byte("x"), bytes.Repeat([]byte("a"), n))
		if !errors.Is(err, fb.ErrFrameTooBig) || string(got) != "x" {
			t.Errorf("%T Encode(%d bytes) = %q, %v; want x, ErrFrameTooBig", f, n, got, err)
		}
		if _, err := f.Encode(nil, bytes.Repeat([]byte("a"), n-1)); err != nil {
			t.Errorf("%T Encode(%d bytes): %v", f, n-1, err)
		}
	}
}

func TestFramingText(t *testing.T) {
	for in, want := range map[string]fb.Framing{"lines": fb.FramingLines, "cobs": fb.FramingCOBS, "COBS": fb.FramingCOBS, "Lines": fb.FramingLines} {
		var got fb.Framing
		if err := got.UnmarshalText([]byte(in)); err != nil || got != want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", in, got, err, want)
		}
		if text, err := want.MarshalText(); err != nil || !strings.EqualFold(string(text), in) {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", want, text, err, strings.ToLower(in))
		}
	}
	for _, bad := range []string{"", "slip", "line", " cobs"} {
		var f fb.Framing
		err := f.UnmarshalText([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), "lines, cobs") || errors.Unwrap(err) != nil {
			t.Errorf("UnmarshalText(%q) = %v; want an error listing lines, cobs", bad, err)
		}
	}
	if _, err := fb.Framing(7).MarshalText(); err == nil || fb.Framing(7).String() != "Framing(7)" {
		t.Errorf("Framing(7): MarshalText error %v, String %q", err, fb.Framing(7).String())
	}
}

func TestNewFramer(t *testing.T) {
	_, cobs := fb.NewFramer(fb.FramingCOBS, 0).(*fb.COBSFramer)
	_, lines := fb.NewFramer(fb.FramingLines, 0).(*fb.LineFramer)
	_, unknown := fb.NewFramer(fb.Framing(9), 0).(*fb.LineFramer)
	if !cobs || !lines || !unknown {
		t.Errorf("COBSFramer %v, LineFramer %v, LineFramer for an unknown framing %v", cobs, lines, unknown)
	}
}

// TestStatsWhileFeeding is for the race detector: Stats is read by a
// status reporter while the serial reader feeds.
func TestStatsWhileFeeding(t *testing.T) {
	f := &fb.COBSFramer{}
	enc := framesEncode(t, f, "a", "b", "c")
	const rounds = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range rounds {
			f.Feed(enc, func([]byte) {})
		}
	}()
	for last, running := uint64(0), true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		n := f.Stats().Messages
		if n < last || (!running && n != 3*rounds) {
			t.Fatalf("Messages %d after %d, want up to %d", n, last, 3*rounds)
		}
		last = n
	}
}
