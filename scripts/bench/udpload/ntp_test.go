package main

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// reply builds the server's answer to req the way an SNTP server must.
func reply(req []byte, mode byte, stratum byte, processing time.Duration) []byte {
	r := make([]byte, ntpPacketLen)
	r[0] = ntpVersion<<3 | mode
	r[1] = stratum
	copy(r[24:32], req[40:48])
	t2 := ntpTimestamp(time.Date(2036, 2, 7, 6, 28, 15, 999_000_000, time.UTC))
	binary.BigEndian.PutUint64(r[32:40], t2)
	binary.BigEndian.PutUint64(r[40:48], t2+uint64(processing.Seconds()*(1<<32)))
	return r
}

// ntpTimestamp wraps at the NTP era boundary (2036-02-07T06:28:16Z), which
// the reply above straddles on purpose.
func ntpTimestamp(t time.Time) uint64 {
	sec := uint64(t.Unix()+ntpUnixOffset) & 0xffffffff
	return sec<<32 | uint64(float64(t.Nanosecond())*(1<<32)/1e9)
}

func TestNTPJudge(t *testing.T) {
	c := newNTPClient(1)
	old := append([]byte(nil), c.request(make([]byte, 0, 64))...)
	req := c.request(make([]byte, 0, 64))
	if req[0] != 0x23 || len(req) != ntpPacketLen {
		t.Fatalf("request header %#x, length %d; want 0x23, 48", req[0], len(req))
	}
	if string(old[40:]) == string(req[40:]) {
		t.Fatal("two requests carry the same transmit timestamp")
	}

	v := c.judge(reply(req, ntpModeSrv, 10, 1500*time.Microsecond))
	if v.outcome != answered || !v.hasProcessing {
		t.Fatalf("good reply judged %+v", v)
	}
	if d := v.processing - 1500*time.Microsecond; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("processing %v across the era boundary, want 1.5ms", v.processing)
	}

	for name, tc := range map[string]struct {
		r    []byte
		want outcome
		why  string
	}{
		"late reply":    {reply(old, ntpModeSrv, 10, 0), stale, ""},
		"short":         {reply(req, ntpModeSrv, 10, 0)[:47], bad, "short"},
		"client mode":   {reply(req, ntpModeCli, 10, 0), bad, "mode 3"},
		"kiss-o'-death": {reply(req, ntpModeSrv, 0, 0), bad, "kiss"},
	} {
		v := c.judge(tc.r)
		if v.outcome != tc.want || !strings.Contains(v.reason, tc.why) {
			t.Errorf("%s: judged %+v, want outcome %d with %q", name, v, tc.want, tc.why)
		}
	}
}
