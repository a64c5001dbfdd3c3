package protocol

import (
	"math"
	"time"
)

// Timestamp is the 64-bit NTP timestamp: seconds since 1900 in the high
// 32 bits, the fraction of a second in the low 32.
type Timestamp uint64

// Short is the 32-bit NTP short format, 16.16 fixed-point seconds, used for
// root delay and root dispersion.
type Short uint32

const (
	// ntpEpochOffset is the number of seconds from 1900 to 1970.
	ntpEpochOffset = 2208988800
	eraSeconds     = 1 << 32
)

// TimestampFromTime converts t; times outside era 0 and 1 wrap, as the
// format does.
func TimestampFromTime(t time.Time) Timestamp {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return Timestamp(secs<<32 | frac)
}

// Time converts ts to a time between 1968 and 2104: a timestamp whose top
// bit is clear is taken to be in era 1 (after 2036-02-07), the RFC 4330
// rule every SNTP client uses.
func (ts Timestamp) Time() time.Time {
	secs := int64(ts >> 32)
	if secs&(1<<31) == 0 {
		secs += eraSeconds
	}
	nsec := (int64(uint32(ts)) * 1e9) >> 32
	return time.Unix(secs-ntpEpochOffset, nsec)
}

// IsZero reports whether ts is the zero timestamp, which RFC 5905 uses
// for "unknown".
func (ts Timestamp) IsZero() bool { return ts == 0 }

// ShortFromDuration converts d, saturating at the largest value the format
// holds (about 18.2 hours) and at zero.
func ShortFromDuration(d time.Duration) Short {
	if d <= 0 {
		return 0
	}
	v := d.Seconds() * (1 << 16)
	if v >= math.MaxUint32 {
		return math.MaxUint32
	}
	return Short(v)
}

// Duration converts s.
func (s Short) Duration() time.Duration {
	return time.Duration(float64(s) / (1 << 16) * float64(time.Second))
}
