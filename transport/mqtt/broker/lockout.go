package broker

import (
	"time"

	"edge-agent/transport/peer"
)

// Password guessing is slowed per source (peer.Key: an IPv4 address, an
// IPv6 /64): freeFailures wrong logins in a row are free, each further
// one locks the source out for twice as long as the one before, from
// lockFirst up to lockMax. A locked-out login is refused without a
// check, so a guesser gets one guess per lockout. A source that stays
// quiet for lockForget starts afresh; a correct login clears it.
const (
	freeFailures = 3
	lockFirst    = time.Second
	lockMax      = time.Minute
	lockForget   = 10 * time.Minute
	// maxLockSources bounds the table; past it the source that failed
	// longest ago is forgotten.
	maxLockSources = 1024
)

// newLockout returns the table of failed logins with the numbers above.
func newLockout() *peer.Lockout {
	return &peer.Lockout{
		Threshold: freeFailures + 1,
		First:     lockFirst,
		Max:       lockMax,
		Forget:    lockForget,
		Sources:   maxLockSources,
	}
}
