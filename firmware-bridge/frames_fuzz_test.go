package firmwarebridge_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	fb "edge-agent/firmware-bridge"
)

func FuzzCOBSRoundTrip(f *testing.F) {
	// The fuzzer minimizes each new input in time quadratic in its length,
	// so long payloads are a short unit repeated; bytes past the unit's
	// cap are ignored so that minimizing cuts them first. Max is past one
	// full COBS block.
	const limit, unitCap = 300, 64
	f.Add([]byte(""), uint8(0))
	f.Add([]byte("\x00"), uint8(0))
	f.Add([]byte("hello"), uint8(0))
	f.Add([]byte("\x01"), uint8(253))
	f.Add([]byte("\xff\x00"), uint8(149))
	f.Add([]byte("\x02\x03"), uint8(200))
	f.Fuzz(func(t *testing.T, unit []byte, repeat uint8) {
		unit = unit[:min(len(unit), unitCap)]
		var payload []byte
		for range 1 + int(repeat) {
			if len(payload) > 2*limit {
				break // long enough to be refused; more only slows the fuzzer
			}
			payload = append(payload, unit...)
		}
		if got, err := fb.DecodeCOBS(nil, fb.AppendCOBS(nil, payload)); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("DecodeCOBS(AppendCOBS(% x)) = % x, %v", payload, got, err)
		}
		enc, err := (&fb.COBSFramer{Max: limit}).Encode(nil, payload)
		if len(payload) > limit {
			if !errors.Is(err, fb.ErrFrameTooBig) {
				t.Fatalf("Encode(%d bytes): %v, want ErrFrameTooBig", len(payload), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if i := bytes.IndexByte(enc, 0); i != len(enc)-1 {
			t.Fatalf("0x00 at %d of %d in % x", i, len(enc), enc)
		}
		var want []string
		if len(payload) > 0 {
			want = []string{string(payload)}
		}
		if got := framesCollect(&fb.COBSFramer{Max: limit}, enc); !slices.Equal(got, want) {
			t.Fatalf("all at once: %q, want %q", got, want)
		}
		if got := framesCollect(&fb.COBSFramer{Max: limit}, framesBytewise(enc)...); !slices.Equal(got, want) {
			t.Fatalf("byte at a time: %q, want %q", got, want)
		}
	})
}

func FuzzCOBSFramerFeed(f *testing.F) {
	f.Add([]byte("\x05\x11\x22\x00\x00"), uint8(0), uint16(2))
	f.Add(framesEncode(f, &fb.COBSFramer{}, "hello", "\x00"), uint8(4), uint16(5))
	f.Add([]byte("\x01\x01\x01\x00\x03\xff\xff\x00"), uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, max uint8, split uint16) {
		limit := int(max%32) + 1
		fr := &fb.COBSFramer{Max: limit}
		at := int(split) % (len(data) + 1)
		got := framesCollect(fr, data[:at], data[at:])
		if all := framesCollect(&fb.COBSFramer{Max: limit}, data); !slices.Equal(got, all) {
			t.Fatalf("split at %d: %q, all at once: %q", at, got, all)
		}
		for _, msg := range got {
			if len(msg) > limit {
				t.Fatalf("%d-byte message over Max %d", len(msg), limit)
			}
			enc := framesEncode(t, &fb.COBSFramer{Max: limit}, msg)
			if again := framesCollect(&fb.COBSFramer{Max: limit}, enc); !slices.Equal(again, []string{msg}) {
				t.Fatalf("re-encoded %q came back as %q", msg, again)
			}
		}
		if s := fr.Stats(); s.Messages != uint64(len(got)) {
			t.Fatalf("Messages = %d, emitted %d", s.Messages, len(got))
		}
	})
}

func FuzzLineFramerFeed(f *testing.F) {
	f.Add([]byte("\xff\xfe\x00\x12\r\nready\r\n"), uint16(7))
	f.Add([]byte("a\r\nb\rc\n\nañ\t\x7f\n"), uint16(2))
	f.Add([]byte("0123456789abcdefghij\nok\n"), uint16(12))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		const limit = 16
		fr := &fb.LineFramer{Max: limit}
		at := int(split) % (len(data) + 1)
		got := framesCollect(fr, data[:at], data[at:])
		all := &fb.LineFramer{Max: limit}
		if want := framesCollect(all, data); !slices.Equal(got, want) {
			t.Fatalf("split at %d: %q, all at once: %q", at, got, want)
		}
		if fr.Stats() != all.Stats() {
			t.Fatalf("split Stats %+v, all at once %+v", fr.Stats(), all.Stats())
		}
		for _, line := range got {
			if len(line) == 0 || len(line) > limit || !utf8.ValidString(line) {
				t.Fatalf("bad line %q", line)
			}
			for _, c := range []byte(line) {
				if (c < 0x20 && c != '\t') || c == 0x7f {
					t.Fatalf("control byte %#x in %q", c, line)
				}
			}
		}
	})
}
