package udpguard

import (
	"net/netip"
	"slices"
	"time"
)

// Guard combines the source-port policy and the per-source limiter.
// The zero value refuses service ports and limits nothing.
type Guard struct {
	// Limiter limits replies per source; nil means unlimited.
	Limiter *Limiter
	// OwnPorts are the agent's own UDP service ports. A datagram from one
	// of them may be another agent's reply, and answering it would start a
	// loop between the two.
	OwnPorts []uint16
}

// Check says whether src may be answered now. A source that is refused
// for its port does not use up its rate budget.
func (g *Guard) Check(src netip.AddrPort, now time.Time) Verdict {
	p := src.Port()
	if ServicePort(p) || slices.Contains(g.OwnPorts, p) {
		return DenySourcePort
	}
	if !g.Limiter.Allow(src.Addr(), now) {
		return DenyRate
	}
	return Reply
}
