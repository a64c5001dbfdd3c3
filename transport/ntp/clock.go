package ntp

import (
	"time"

	"edge-agent/transport/ntp/protocol"
)

// ClockState is what the host says about its clock.
type ClockState struct {
	// Synchronised is true when a time daemon keeps the clock disciplined.
	Synchronised bool
	// Leap is a leap second the kernel has been told about.
	Leap protocol.Leap
	// MaxError bounds the clock's error; the kernel lets it grow by
	// 500 µs per second between updates.
	MaxError time.Duration
	// EstError is the estimated error.
	EstError time.Duration
}

// ClockSource reports the host clock's state.
type ClockSource interface {
	ClockState() (ClockState, error)
}

// unsyncThreshold is the maxerror at which the kernel itself declares the
// clock unsynchronised (NTP_PHASE_LIMIT-driven 16 s).
const unsyncThreshold = 16 * time.Second

// maxErrorGrowth is the kernel's tolerance: maxerror grows by this much
// per second without an update (MAXFREQ, 500 ppm).
const maxErrorGrowth = 500e-6

// fallbackDispersion is the root dispersion claimed when serving from an
// unsynchronised clock at the fallback stratum: what a good RTC holds over
// a short time, small enough that clients accept it.
const fallbackDispersion = 10 * time.Millisecond

// reply is the part of every reply that depends on the clock state; it is
// worked out at most once a second, not per request.
type reply struct {
	leap       protocol.Leap
	stratum    uint8
	refID      uint32
	refTime    protocol.Timestamp
	dispersion protocol.Short
	synced     bool
}

// tracker turns successive clock states into replies.
type tracker struct {
	stratum, fallback uint8
	lastMaxErr        time.Duration
	updated           time.Time // when the host's daemon last updated the clock, as far as seen
}

func (tr *tracker) reply(st ClockState, now time.Time) reply {
	synced := st.Synchronised && st.MaxError < unsyncThreshold
	if synced {
		switch {
		case tr.updated.IsZero():
			// The bound grows at a known rate from at least zero, so the
			// last update cannot be older than this.
			age := time.Duration(float64(st.MaxError) / maxErrorGrowth)
			tr.updated = now.Add(-age)
		case st.MaxError < tr.lastMaxErr:
			tr.updated = now
		}
		tr.lastMaxErr = st.MaxError
		return reply{
			leap:       st.Leap,
			stratum:    tr.stratum,
			refID:      protocol.RefID("EDGE"),
			refTime:    protocol.TimestampFromTime(tr.updated),
			dispersion: protocol.ShortFromDuration(st.MaxError),
			synced:     true,
		}
	}
	tr.updated = time.Time{}
	if tr.fallback > 0 {
		// The local clock's reference ID: the code LOCL at stratum 1,
		// where IDs are text, and 127.127.1.1, the address every NTP
		// implementation has used for it, above.
		ref := uint32(0x7f7f0101)
		if tr.fallback == 1 {
			ref = protocol.RefID("LOCL")
		}
		return reply{
			leap:       protocol.LeapNone,
			stratum:    tr.fallback,
			refID:      ref,
			refTime:    protocol.TimestampFromTime(now),
			dispersion: protocol.ShortFromDuration(fallbackDispersion),
		}
	}
	return reply{leap: protocol.LeapNotInSync, stratum: 0}
}
