//go:build linux

package ntp

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"edge-agent/transport/ntp/protocol"
)

// The kernel states a time daemon leaves behind, as adjtimex reports them.
func TestClockStateOf(t *testing.T) {
	const ms = 1000 // µs
	tests := []struct {
		name     string
		status   int32
		maxError int64 // µs
		synced   bool  // what the server then serves (ClockState and the 16 s bound)
		leap     protocol.Leap
	}{
		{"systemd-timesyncd, ntpd, chronyd with rtcsync", unix.STA_PLL, 20 * ms, true, protocol.LeapNone},
		// chronyd without rtcsync (with rtcfile, or neither) keeps
		// STA_UNSYNC set so the kernel does not write the RTC; adjtimex
		// then returns TIME_ERROR although the clock is disciplined.
		{"chronyd without rtcsync", unix.STA_UNSYNC, 20 * ms, true, protocol.LeapNone},
		{"boot or settimeofday", unix.STA_UNSYNC, 16_000 * ms, false, protocol.LeapNone},
		{"daemon gone, bound grown past 16 s", unix.STA_PLL, 16_000*ms + 1, false, protocol.LeapNone},
		{"clock hardware fault", unix.STA_PLL | unix.STA_CLOCKERR, 20 * ms, false, protocol.LeapNone},
		{"PPS discipline without its signal", unix.STA_PLL | unix.STA_PPSTIME, 20 * ms, false, protocol.LeapNone},
		{"PPS discipline with its signal", unix.STA_PLL | unix.STA_PPSTIME | unix.STA_PPSSIGNAL, 20 * ms, true, protocol.LeapNone},
		{"PPS time with jitter", unix.STA_PPSTIME | unix.STA_PPSSIGNAL | unix.STA_PPSJITTER, 20 * ms, false, protocol.LeapNone},
		{"PPS frequency wandering", unix.STA_PPSFREQ | unix.STA_PPSSIGNAL | unix.STA_PPSWANDER, 20 * ms, false, protocol.LeapNone},
		{"leap second announced", unix.STA_PLL | unix.STA_INS, 20 * ms, true, protocol.LeapInsert},
		{"leap second removed", unix.STA_UNSYNC | unix.STA_DEL, 20 * ms, true, protocol.LeapDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := clockStateOf(&unix.Timex{Status: tc.status, Maxerror: tc.maxError, Esterror: tc.maxError / 4})
			if st.MaxError != time.Duration(tc.maxError)*time.Microsecond || st.Leap != tc.leap {
				t.Errorf("state %+v, want max error %d µs, leap %v", st, tc.maxError, tc.leap)
			}
			tr := tracker{stratum: 3}
			r := tr.reply(st, time.Now())
			if r.synced != tc.synced {
				t.Errorf("served as synchronised: %v, want %v (state %+v)", r.synced, tc.synced, st)
			}
		})
	}
}
