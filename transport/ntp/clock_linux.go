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
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return ClockState{}, fmt.Errorf("ntp: adjtimex: %w", err)
	}
	st := ClockState{
		Synchronised: state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0,
		MaxError:     time.Duration(tx.Maxerror) * time.Microsecond,
		EstError:     time.Duration(tx.Esterror) * time.Microsecond,
	}
	switch {
	case tx.Status&unix.STA_INS != 0:
		st.Leap = protocol.LeapInsert
	case tx.Status&unix.STA_DEL != 0:
		st.Leap = protocol.LeapDelete
	}
	return st, nil
}
