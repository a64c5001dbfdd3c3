//go:build !linux

package health

// KernelClock reports an unsynchronised clock where adjtimex is missing:
// without the kernel's word the agent must not claim good time.
type KernelClock struct{}

// ClockSync implements ClockSource.
func (KernelClock) ClockSync() (ClockSync, error) {
	return ClockSync{MaxErrorMicros: unsyncMaxErrorMicros}, nil
}
