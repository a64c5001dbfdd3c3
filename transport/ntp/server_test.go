package ntp

import (
	"testing"
	"time"

	"edge-agent/transport/ntp/protocol"
	"edge-agent/transport/testenv"
	"edge-agent/transport/udpguard"
)

func TestAnswersAClientRequest(t *testing.T) {
	s := &Server{Clock: &fakeClock{st: synced}}
	c := dial(t, start(t, s))
	const xmt = 0xe9f46c3d11112222
	before := time.Now()
	b := exchange(t, c, request(0x23, xmt), 5*time.Second) // v4, mode 3
	after := time.Now()
	if len(b) != protocol.PacketSize {
		t.Fatalf("reply of %d bytes", len(b))
	}
	var p protocol.Packet
	p.Unmarshal(b)
	if p.Leap != protocol.LeapNone || p.Version != 4 || p.Mode != protocol.ModeServer || p.Stratum != DefaultStratum ||
		p.Poll != 6 || p.Precision != precision || p.ReferenceID != protocol.RefID("EDGE") {
		t.Errorf("header %+v", p)
	}
	if p.OriginTime != xmt {
		t.Errorf("origin %#x, want the request's transmit %#x", p.OriginTime, uint64(xmt))
	}
	rx, tx := p.ReceiveTime.Time(), p.TransmitTime.Time()
	if rx.Before(before.Add(-time.Millisecond)) || tx.After(after.Add(time.Millisecond)) || tx.Before(rx) {
		t.Errorf("receive %v transmit %v outside [%v, %v] or out of order", rx, tx, before, after)
	}
	if d := p.RootDispersion.Duration(); d < 4*time.Millisecond || d > 6*time.Millisecond {
		t.Errorf("root dispersion %v, want the kernel's maxerror 5ms", d)
	}
	if p.ReferenceTime.Time().After(rx) {
		t.Errorf("reference time %v after receive %v", p.ReferenceTime.Time(), rx)
	}
	testenv.WaitFor(t, "counters", func() bool { return s.Counters()["replies"] == 1 })
	if c := s.Counters(); c["kernel_rx_timestamps"] != 1 || c["clock_synchronised"] != 1 || c["stratum_served"] != DefaultStratum {
		t.Errorf("counters %v", c)
	}
}

func TestDropsWhatIsNotAClientRequest(t *testing.T) {
	s := &Server{Clock: &fakeClock{st: synced}}
	c := dial(t, start(t, s))
	for _, tc := range []struct {
		name    string
		req     []byte
		counter string
	}{
		{"empty", []byte{}, "dropped_short"},
		{"47 bytes", request(0x23, 1)[:47], "dropped_short"},
		{"mode 0", request(0x20, 1), "dropped_mode"},
		{"symmetric active", request(0x21, 1), "dropped_mode"},
		{"mode 2", request(0x22, 1), "dropped_mode"},
		{"server reply", request(0x24, 1), "dropped_mode"},
		{"broadcast", request(0x25, 1), "dropped_mode"},
		{"control", request(0x26, 1), "dropped_mode"},
		{"private", request(0x27, 1), "dropped_mode"},
		{"version 0", request(0x03, 1), "dropped_version"},
		{"version 5", request(0x2b, 1), "dropped_version"},
		{"version 7", request(0x3b, 1), "dropped_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Counters()[tc.counter]
			if b := exchange(t, c, tc.req, 100*time.Millisecond); b != nil {
				t.Fatalf("answered with %d bytes", len(b))
			}
			testenv.WaitFor(t, tc.counter, func() bool { return s.Counters()[tc.counter] == before+1 })
		})
	}
	if got := s.Counters()["replies"]; got != 0 {
		t.Errorf("replies = %d", got)
	}
}

func TestEchoesVersionAndNeverAnswersLonger(t *testing.T) {
	s := &Server{Clock: &fakeClock{st: synced}}
	c := dial(t, start(t, s))
	for v := byte(1); v <= 4; v++ {
		b := exchange(t, c, request(v<<3|3, 7), 5*time.Second)
		if len(b) != 48 || (b[0]>>3)&7 != v {
			t.Errorf("version %d: reply %x", v, b)
		}
	}
	// A request with a MAC (68 bytes) gets the 48-byte header back.
	long := append(request(0x23, 7), make([]byte, 20)...)
	if b := exchange(t, c, long, 5*time.Second); len(b) != 48 {
		t.Errorf("68-byte request: %d-byte reply", len(b))
	}
}

func TestUnsynchronisedClockIsNotFollowed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback uint8
		leap     protocol.Leap
		stratum  uint8
		refID    uint32
	}{
		{"no fallback", 0, protocol.LeapNotInSync, 0, 0},
		{"fallback stratum 10", 10, protocol.LeapNone, 10, 0x7f7f0101},
		{"fallback stratum 1", 1, protocol.LeapNone, 1, protocol.RefID("LOCL")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Clock: &fakeClock{st: unsynced}, FallbackStratum: tc.fallback}
			c := dial(t, start(t, s))
			b := exchange(t, c, request(0x23, 9), 5*time.Second)
			var p protocol.Packet
			if err := p.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			if p.Leap != tc.leap || p.Stratum != tc.stratum || p.ReferenceID != tc.refID || p.OriginTime != 9 {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestRateLimitWithKissOfDeath(t *testing.T) {
	s := &Server{Clock: &fakeClock{st: synced}, Limiter: udpguard.NewLimiter(0.001, 2, 0), KissOfDeath: true}
	c := dial(t, start(t, s))
	var kinds []string
	for i := range 5 {
		b := exchange(t, c, request(0x23, uint64(100+i)), 300*time.Millisecond)
		var p protocol.Packet
		switch {
		case b == nil:
			kinds = append(kinds, "none")
		case p.Unmarshal(b) == nil && p.Stratum == 0 && p.ReferenceID == protocol.RefID("RATE") && p.Leap == protocol.LeapNotInSync && p.OriginTime == protocol.Timestamp(100+i):
			kinds = append(kinds, "kiss")
		default:
			kinds = append(kinds, "time")
		}
	}
	want := []string{"time", "time", "kiss", "none", "none"}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] || kinds[3] != want[3] || kinds[4] != want[4] {
		t.Fatalf("replies %v, want %v", kinds, want)
	}
	if got := s.Counters(); got["rate_limited"] != 3 || got["kiss_of_death_sent"] != 1 {
		t.Errorf("counters %v", got)
	}
}

func TestTrackerMapsClockState(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		fallback uint8
		st       ClockState
		want     reply
	}{
		{"synchronised", 0, ClockState{Synchronised: true, MaxError: 100 * time.Millisecond},
			reply{leap: protocol.LeapNone, stratum: 3, refID: protocol.RefID("EDGE"), synced: true, dispersion: protocol.ShortFromDuration(100 * time.Millisecond),
				refTime: protocol.TimestampFromTime(now.Add(-200 * time.Second))}},
		{"leap second ahead", 0, ClockState{Synchronised: true, Leap: protocol.LeapInsert, MaxError: 0},
			reply{leap: protocol.LeapInsert, stratum: 3, refID: protocol.RefID("EDGE"), synced: true, refTime: protocol.TimestampFromTime(now)}},
		{"maxerror at 16s", 0, ClockState{Synchronised: true, MaxError: 16 * time.Second},
			reply{leap: protocol.LeapNotInSync}},
		{"unsynchronised", 0, ClockState{MaxError: time.Millisecond},
			reply{leap: protocol.LeapNotInSync}},
		{"unsynchronised with fallback", 12, ClockState{MaxError: 16 * time.Second},
			reply{leap: protocol.LeapNone, stratum: 12, refID: 0x7f7f0101, refTime: protocol.TimestampFromTime(now), dispersion: protocol.ShortFromDuration(fallbackDispersion)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tracker{stratum: 3, fallback: tc.fallback}
			if got := tr.reply(tc.st, now); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// A shrinking error bound is an update: the reference time moves to it.
	tr := tracker{stratum: 2}
	tr.reply(ClockState{Synchronised: true, MaxError: 50 * time.Millisecond}, now)
	later := now.Add(10 * time.Second)
	if got := tr.reply(ClockState{Synchronised: true, MaxError: 60 * time.Millisecond}, later); got.refTime.Time().After(now) {
		t.Errorf("a growing bound moved the reference time to %v", got.refTime.Time())
	}
	if got := tr.reply(ClockState{Synchronised: true, MaxError: time.Millisecond}, later); !got.refTime.Time().Equal(later) {
		t.Errorf("after an update the reference time is %v, want %v", got.refTime.Time(), later)
	}
}
