package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"
)

// A reply captured from chronyd (stratum 2, version 4, server mode).
const chronyReply = "2402 06e8 0000 0010 0000 0027 c0a8 0101" +
	"e9f4 6c2b 7a1e 3b20 e9f4 6c3d 1111 2222" +
	"e9f4 6c3d 5a5b 5c5d e9f4 6c3d 5a60 0000"

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnmarshalKnownPacket(t *testing.T) {
	b := mustHex(t, chronyReply)
	var p Packet
	if err := p.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := Packet{
		Leap: LeapNone, Version: 4, Mode: ModeServer, Stratum: 2, Poll: 6, Precision: -24,
		RootDelay: 0x10, RootDispersion: 0x27, ReferenceID: 0xc0a80101,
		ReferenceTime: 0xe9f46c2b7a1e3b20, OriginTime: 0xe9f46c3d11112222,
		ReceiveTime: 0xe9f46c3d5a5b5c5d, TransmitTime: 0xe9f46c3d5a600000,
	}
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	out := make([]byte, PacketSize)
	p.Put(out)
	if !bytes.Equal(out, b) {
		t.Fatalf("Put does not reproduce the input:\n%x\n%x", out, b)
	}
	if got := RefIDString(p.ReferenceID, p.Stratum); got != "192.168.1.1" {
		t.Errorf("RefIDString = %q", got)
	}
}

func TestUnmarshalBadInput(t *testing.T) {
	for _, n := range []int{0, 1, 4, 47} {
		var p Packet
		if err := p.Unmarshal(make([]byte, n)); !errors.Is(err, ErrShort) {
			t.Errorf("%d bytes: %v, want ErrShort", n, err)
		}
	}
	// Longer input (extension fields, a MAC) decodes its header only.
	var p Packet
	b := append(mustHex(t, chronyReply), make([]byte, 20)...)
	if err := p.Unmarshal(b); err != nil || p.Stratum != 2 {
		t.Errorf("68 bytes: %v %+v", err, p)
	}
	// Every bit pattern of the first byte decodes to in-range fields.
	for first := range 256 {
		b := make([]byte, PacketSize)
		b[0] = byte(first)
		if err := p.Unmarshal(b); err != nil || p.Leap > 3 || p.Version > 7 || p.Mode > 7 {
			t.Fatalf("first byte %#x: %v %+v", first, err, p)
		}
	}
}

func TestTimestampConversions(t *testing.T) {
	for _, tc := range []struct {
		time time.Time
		ts   Timestamp
	}{
		{time.Unix(0, 0), Timestamp(ntpEpochOffset) << 32},
		{time.Unix(0, 500_000_000), Timestamp(ntpEpochOffset)<<32 | 1<<31},
		{time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Timestamp(4_004_380_800) << 32},
		// The era boundary: 2036-02-07T06:28:16Z is second 0 of era 1.
		{time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), 0},
		{time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC), 1 << 32},
	} {
		if got := TimestampFromTime(tc.time); got != tc.ts {
			t.Errorf("TimestampFromTime(%v) = %#x, want %#x", tc.time, got, tc.ts)
		}
		if got := tc.ts.Time(); !got.Equal(tc.time) {
			t.Errorf("%#x.Time() = %v, want %v", tc.ts, got, tc.time)
		}
	}
	// 1968-01-20, the start of the range that reads as era 0.
	if got := Timestamp(1 << 63).Time().Year(); got != 1968 {
		t.Errorf("top-bit timestamp reads as %d", got)
	}
}

func TestShortConversions(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want Short
	}{
		{0, 0}, {-time.Second, 0}, {time.Second, 1 << 16}, {500 * time.Millisecond, 1 << 15},
		{16 * time.Second, 16 << 16}, {1000 * time.Hour, 0xffffffff},
	} {
		if got := ShortFromDuration(tc.d); got != tc.want {
			t.Errorf("ShortFromDuration(%v) = %#x, want %#x", tc.d, got, tc.want)
		}
	}
	if d := Short(1 << 16).Duration(); d != time.Second {
		t.Errorf("Duration = %v", d)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{LeapNotInSync.String(), "unsynchronised"},
		{Leap(7).String(), "Leap(7)"},
		{ModeClient.String(), "client"},
		{ModeServer.String(), "server"},
		{Mode(9).String(), "Mode(9)"},
		{RefIDString(RefID("RATE"), 0), "RATE"},
		{RefIDString(RefID("GPS"), 1), "GPS"},
		{RefIDString(0x01020304, 0), "0x01020304"},
		{RefIDString(0x7f000001, 3), "127.0.0.1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// FuzzPacketRoundTrip: decoding then encoding any 48 bytes gives them back,
// and a timestamp survives conversion through time.Time to within the
// rounding of nanoseconds.
func FuzzPacketRoundTrip(f *testing.F) {
	f.Add(make([]byte, PacketSize))
	f.Add(bytes.Repeat([]byte{0xff}, 60))
	b, _ := hex.DecodeString(string(bytes.ReplaceAll([]byte(chronyReply), []byte(" "), nil)))
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var p Packet
		err := p.Unmarshal(in)
		if len(in) < PacketSize {
			if err == nil {
				t.Fatal("short input accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out, _ := p.MarshalBinary()
		if !bytes.Equal(out, in[:PacketSize]) {
			t.Fatalf("round trip:\n in %x\nout %x", in[:PacketSize], out)
		}
		for _, ts := range []Timestamp{p.ReferenceTime, p.OriginTime, p.ReceiveTime, p.TransmitTime} {
			back := TimestampFromTime(ts.Time())
			if diff := int64(back - ts); diff < -5 || diff > 5 {
				t.Fatalf("timestamp %#x came back as %#x", ts, back)
			}
		}
	})
}

func ExampleRefIDString() {
	fmt.Println(RefIDString(RefID("LOCL"), 1), RefIDString(0xc0a80001, 2))
	// Output: LOCL 192.168.0.1
}
