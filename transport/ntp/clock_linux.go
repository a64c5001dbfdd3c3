//go:build linux

package ntp

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"edge-agent/transport/ntp/protocol"
)

// KernelClock reads the clock state with adjtimex(2) in read-only mode,
// which needs no privilege.
type KernelClock struct{}

// ClockState implements ClockSource.
func (KernelClock) ClockState() (ClockState, error) {
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		return ClockState{}, fmt.Errorf("ntp: adjtimex: %w", err)
	}
	return clockStateOf(&tx), nil
}

// clockStateOf reads what the kernel says. STA_UNSYNC is not read (nor
// the TIME_ERROR return it causes): chronyd without rtcsync keeps it set
// while it disciplines the clock, only so that the kernel leaves the RTC
// alone. The maximum error tells instead, as systemd's timedatectl reads
// it: settimeofday and boot set it to 16 s, the kernel grows it by
// 500 µs a second, and only a time daemon brings it down.
func clockStateOf(tx *unix.Timex) ClockState {
	st := ClockState{
		Synchronised: !clockFault(tx.Status),
		MaxError:     time.Duration(tx.Maxerror) * time.Microsecond,
		EstError:     time.Duration(tx.Esterror) * time.Microsecond,
	}
	switch {
	case tx.Status&unix.STA_INS != 0:
		st.Leap = protocol.LeapInsert
	case tx.Status&unix.STA_DEL != 0:
		st.Leap = protocol.LeapDelete
	}
	return st
}

// clockFault is the kernel's TIME_ERROR condition (kernel/time/ntp.c)
// less STA_UNSYNC: a clock hardware fault, or a PPS discipline without
// its signal or out of its bounds.
func clockFault(status int32) bool {
	switch {
	case status&unix.STA_CLOCKERR != 0:
	case status&(unix.STA_PPSFREQ|unix.STA_PPSTIME) != 0 && status&unix.STA_PPSSIGNAL == 0:
	case status&unix.STA_PPSTIME != 0 && status&unix.STA_PPSJITTER != 0:
	case status&unix.STA_PPSFREQ != 0 && status&(unix.STA_PPSWANDER|unix.STA_PPSERROR) != 0:
	default:
		return false
	}
	return true
}
