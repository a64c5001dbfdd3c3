//go:build linux

package health

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// KernelClock reads the clock's state with adjtimex(2) in read-only mode
// (no mode bits set), which needs no privilege.
type KernelClock struct{}

// ClockSync implements ClockSource.
func (KernelClock) ClockSync() (ClockSync, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return ClockSync{}, fmt.Errorf("health: adjtimex: %w", err)
	}
	// Maxerror and Esterror are a C long: 32 bits on arm.
	maxErr, estErr := int64(tx.Maxerror), int64(tx.Esterror)
	return ClockSync{
		Synchronised:   state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0 && maxErr < unsyncMaxErrorMicros,
		MaxErrorMicros: maxErr,
		EstErrorMicros: estErr,
	}, nil
}
