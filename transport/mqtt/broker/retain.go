package broker

import (
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// retainGuard works around a data race in the broker library (v2.7.9,
// mochi-mqtt/server issue 200): the scan for retained messages that match
// a new wildcard subscription reads the topic tree without the lock that
// storing a retained message takes. Home Assistant subscribing to
// homeassistant/# while agents publish their retained discovery and
// availability is exactly that. Scans share the guard; storing a retained
// message, from a PUBLISH or a Last Will, takes it alone.
//
// The library has no hook around either operation, so the guard is taken
// in the last hook before one and released in the first hook after it,
// all on the client's own goroutine:
//
//	scan:  OnPacketSent(SUBACK) … retained scan … OnPacketProcessed(SUBSCRIBE)
//	store: OnPublish(retain) or OnWill(retain) … store … OnRetainMessage
//
// Every path from the first hook of a pair reaches the second (the hooks
// here never fail a packet); held records what each client holds, so a
// second hook without a first (a failed SUBACK write, a delayed will) does
// nothing. Not covered: a delayed MQTT 5 will and the periodic $SYS
// refresh, which store retained messages with no hook before them.
type retainGuard struct {
	mochi.HookBase
	mu   sync.RWMutex
	held sync.Map // *mochi.Client → bool: true for the exclusive lock
}

func (g *retainGuard) ID() string { return "edge-agent-retain-guard" }

func (g *retainGuard) Provides(b byte) bool {
	switch b {
	case mochi.OnPacketSent, mochi.OnPacketProcessed, mochi.OnPublish, mochi.OnWill, mochi.OnRetainMessage:
		return true
	}
	return false
}

func (g *retainGuard) OnPacketSent(cl *mochi.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Suback {
		g.mu.RLock()
		g.held.Store(cl, false)
	}
}

func (g *retainGuard) OnPacketProcessed(cl *mochi.Client, pk packets.Packet, _ error) {
	if pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	if excl, ok := g.held.LoadAndDelete(cl); ok && !excl.(bool) {
		g.mu.RUnlock()
	}
}

func (g *retainGuard) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Retain {
		g.lock(cl)
	}
	return pk, nil
}

func (g *retainGuard) OnWill(cl *mochi.Client, will mochi.Will) (mochi.Will, error) {
	// A delayed will is stored later by the housekeeping loop, with no
	// hook before it.
	if will.Retain && will.WillDelayInterval == 0 {
		g.lock(cl)
	}
	return will, nil
}

func (g *retainGuard) OnRetainMessage(cl *mochi.Client, _ packets.Packet, _ int64) {
	if excl, ok := g.held.LoadAndDelete(cl); ok && excl.(bool) {
		g.mu.Unlock()
	}
}

func (g *retainGuard) lock(cl *mochi.Client) {
	g.mu.Lock()
	g.held.Store(cl, true)
}
