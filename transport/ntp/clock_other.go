//go:build !linux

package ntp

// KernelClock reports an unsynchronised clock where adjtimex is missing:
// without the kernel's word the server must not claim good time.
type KernelClock struct{}

// ClockState implements ClockSource.
func (KernelClock) ClockState() (ClockState, error) {
	return ClockState{MaxError: unsyncThreshold}, nil
}
