package health

// ClockSync is the kernel's view of the system clock. A board without a
// real-time clock boots in the past and is only right once a time daemon
// has synchronised it; logs and file times from before are suspect.
type ClockSync struct {
	// Synchronised as the agent's SNTP server judges it: the kernel
	// reports no TIME_ERROR, STA_UNSYNC is clear and the maximum error is
	// under 16 s.
	Synchronised bool `json:"synchronised"`
	// MaxErrorMicros bounds the clock's error; the kernel lets it grow by
	// 500 µs per second between updates from the time daemon.
	MaxErrorMicros int64 `json:"max_error_us"`
	// EstErrorMicros is the time daemon's estimate of the error.
	EstErrorMicros int64 `json:"est_error_us"`
}

// ClockSource reports the kernel clock's state.
type ClockSource interface {
	ClockSync() (ClockSync, error)
}

// unsyncMaxErrorMicros is the maximum error, 16 s, at which the kernel
// itself gives up on the clock (NTP_PHASE_LIMIT).
const unsyncMaxErrorMicros = 16_000_000
