package texttime

import (
	"net"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
	"edge-agent/transport/udpguard"
)

func fixedClock() time.Time { return berlinNov14 }

func TestServeFormatsTheClock(t *testing.T) {
	s := &Server{Location: berlinNov14.Location(), Now: fixedClock}
	c := dial(t, startUDP(t, s))
	var in, out uint64
	for _, f := range []string{"", "%c", "%5Y|%-d|%_d|%#b|%^a|%s|%z|%Z", "时间 %H:%M", "%G-W%V-%u", "%Q%", "%%"} {
		got := roundTrip(t, c, []byte(f))
		want := DefaultFormat
		if f != "" {
			want = f
		}
		if string(got) != string(AppendFormat(nil, want, berlinNov14)) {
			t.Errorf("%q: reply %q", f, got)
		}
		in += uint64(len(f))
		out += uint64(len(got))
	}
	testenv.WaitFor(t, "7 replies counted", func() bool { return counter(s, "replies")() == 7 })
	want := map[string]uint64{"requests": 7, "replies": 7, "bytes_in": in, "bytes_out": out}
	for k, v := range s.Counters() {
		if v != want[k] {
			t.Errorf("%s = %d, want %d", k, v, want[k])
		}
	}
}

func TestServeZoneFromLocation(t *testing.T) {
	s := &Server{Location: time.FixedZone("IST", 19800), Now: fixedClock}
	c := dial(t, startUDP(t, s))
	if got := string(roundTrip(t, c, []byte("%F %T %z %Z"))); got != "2023-11-15 03:43:20 +0530 IST" {
		t.Errorf("reply %q", got)
	}
}

func TestServeDefaultsToNowInLocalTime(t *testing.T) {
	s := &Server{}
	c := dial(t, startUDP(t, s))
	before := time.Now().Truncate(time.Second)
	got := roundTrip(t, c, nil)
	after := time.Now()
	at, err := time.ParseInLocation("2006-01-02-15:04:05", string(got), time.Local)
	if err != nil {
		t.Fatalf("reply %q: %v", got, err)
	}
	// A repeated hour at the end of summer time can parse an hour early.
	if at.After(after) || (at.Before(before) && before.Sub(at) != time.Hour) {
		t.Errorf("reply %q is not between %v and %v", got, before, after)
	}
}

func TestServeErrorReplies(t *testing.T) {
	s := &Server{Now: fixedClock}
	c := dial(t, startUDP(t, s))
	for _, tc := range []struct{ req, want string }{
		{"%H\xff", errUTF8},
		{"\xed\xa0\x80", errUTF8},
		{"%H\x00", errNUL},
		{"%1000Y", errTooLong + "88 bytes"},
		{strings.Repeat("%c", 300), errTooLong + "1024 bytes"},
	} {
		if got := string(roundTrip(t, c, []byte(tc.req))); got != tc.want {
			t.Errorf("%.20q: reply %q, want %q", tc.req, got, tc.want)
		}
	}
	testenv.WaitFor(t, "5 replies counted", func() bool { return counter(s, "replies")() == 5 })
	for k, want := range map[string]uint64{"errors_utf8": 2, "errors_nul": 1, "errors_too_long": 2, "requests": 5} {
		if got := counter(s, k)(); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
}

func TestServeLargestReplyArrivesWhole(t *testing.T) {
	s := &Server{Location: time.UTC, Now: fixedClock}
	c := dial(t, startUDP(t, s))
	req := strings.Repeat("-", 250) + "%774Y"
	got := roundTrip(t, c, []byte(req))
	if len(got) != MaxReply || !strings.HasSuffix(string(got), "02023") {
		t.Errorf("%d bytes: %.20q...", len(got), got)
	}
}

// sendFrom sends a format from from and reports whether s answered.
func sendFrom(t *testing.T, s *Server, srv *net.UDPAddr, from *net.UDPAddr) (replied bool) {
	t.Helper()
	return testenv.SendFrom(t, srv, from, []byte("%T"), func() uint64 {
		return counter(s, "rejected_source_port")() + counter(s, "rejected_rate_limit")()
	})
}

func TestServeRefusesServicePorts(t *testing.T) {
	s := &Server{Guard: &udpguard.Guard{}}
	srv := startUDP(t, s, func(port int) { s.Guard.OwnPorts = []uint16{uint16(port)} })

	testenv.CheckServicePorts(t, srv, func(from *net.UDPAddr) bool { return sendFrom(t, s, srv, from) })
	if got := counter(s, "rejected_source_port")(); got != 5 {
		t.Errorf("rejected_source_port = %d, want 5", got)
	}
}

func TestServeRateLimitPerSource(t *testing.T) {
	// A rate so low that no token comes back during the test.
	s := &Server{Guard: &udpguard.Guard{Limiter: udpguard.NewLimiter(0.001, 3, 0)}}
	c := dial(t, startUDP(t, s))
	for range 10 {
		if _, err := c.Write([]byte("%1000Y")); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, "10 datagrams read", func() bool { return counter(s, "requests")() == 10 })
	if got := counter(s, "replies")(); got != 3 {
		t.Errorf("replies = %d, want the burst of 3", got)
	}
	if got := counter(s, "rejected_rate_limit")(); got != 7 {
		t.Errorf("rejected_rate_limit = %d, want 7", got)
	}
	// Refused datagrams are not formatted at all.
	if got := counter(s, "errors_too_long")(); got != 3 {
		t.Errorf("errors_too_long = %d, want 3", got)
	}
	if !sendFrom(t, s, srv(c), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 4)}) {
		t.Error("a second source was limited by the first one's use")
	}
}

func srv(c *net.UDPConn) *net.UDPAddr { return c.RemoteAddr().(*net.UDPAddr) }

func TestServePacketNeedsUDP(t *testing.T) {
	pc, err := net.ListenPacket("unixgram", t.TempDir()+"/sock")
	if err != nil {
		t.Skip(err)
	}
	defer pc.Close()
	if err := (&Server{}).ServePacket(t.Context(), pc); err != ErrNotUDP {
		t.Fatalf("got %v, want ErrNotUDP", err)
	}
}
