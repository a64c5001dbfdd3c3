package broker

import (
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// handoverWait bounds how long a new connection waits for the broker to
// be done with the previous connection under its client id.
const handoverWait = 2 * time.Second

// handoverHook makes a connection that comes in under a client id whose
// previous connection had a session ending with it (a clean session, or
// MQTT 5 without session expiry) wait until the library has cleaned that
// session up. The library (v2.7.9) does that after the connection ended,
// by client id: a new connection registered meanwhile lost its place in
// the client list and its fresh subscriptions to it, so a bridge or a
// dashboard that reconnected at once got no more messages. The old
// connection, if still open (a half-open link the broker has not noticed),
// is taken over as the library would. The wait is the new connection's
// own, on its goroutine; persistent sessions are carried over by the
// library and not waited for.
type handoverHook struct {
	mochi.HookBase
	b *mochi.Server
}

func (h *handoverHook) ID() string { return "edge-agent-handover" }

func (h *handoverHook) Provides(b byte) bool { return b == mochi.OnSessionEstablish }

// OnSessionEstablish runs once the new connection is authenticated and
// allowed its client id, before the library looks for a session to take
// over.
func (h *handoverHook) OnSessionEstablish(cl *mochi.Client, _ packets.Packet) {
	old, ok := h.b.Clients.Get(cl.ID)
	if !ok || old == cl || !sessionEnds(old) {
		return
	}
	if !old.Closed() {
		_ = h.b.DisconnectClient(old, packets.ErrSessionTakenOver)
	}
	deadline := time.Now().Add(handoverWait)
	for time.Now().Before(deadline) {
		if cur, ok := h.b.Clients.Get(cl.ID); !ok || cur != old {
			return
		}
		// The clean-up follows the end of the old connection's read
		// loop within microseconds; no event marks it.
		time.Sleep(time.Millisecond)
	}
}

// sessionEnds reports whether cl's session ends with its connection, as
// the library decides it. It reads only what CONNECT set: the library
// writes other properties (the will) as the connection ends.
func sessionEnds(cl *mochi.Client) bool {
	v := cl.Properties.ProtocolVersion
	return (v == 5 && cl.Properties.Props.SessionExpiryInterval == 0) || (v < 5 && cl.Properties.Clean)
}
