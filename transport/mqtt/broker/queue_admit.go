package broker

import (
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// admit decides on one copy of cost bytes about to be queued for cl, and
// counts it. It runs on the publisher's goroutine, or on cl's own during
// the retained scan of its SUBSCRIBE, and never blocks.
func (q *queue) admit(cl *mochi.Client, cost int64) bool {
	if cl.Closed() {
		// A session kept for a client that is away: a QoS 0 copy is
		// dropped by the library, a QoS 1 or 2 one waits in the session
		// and is counted in OnQosPublish. Only room is checked here.
		q.mu.Lock()
		full := q.total+cost > q.max
		q.mu.Unlock()
		if full {
			q.stats.droppedAway.Add(1)
			return false
		}
		return true
	}
	if cl.State.Inflight.Len() >= q.maxInflight {
		// The library would drop the copy without telling anyone.
		q.slow(cl)
		return false
	}
	if limit := cl.Properties.Props.MaximumPacketSize; limit > 0 && cost-msgOverhead > int64(limit) {
		return false // an MQTT 5 client that cannot take it; the library would drop it
	}
	q.mu.Lock()
	s := q.lookup(cl)
	if s == nil {
		q.mu.Unlock()
		return true
	}
	s.pending += cost
	q.total += cost
	var victim *session
	if q.total > q.max {
		victim = q.largest()
		if victim == s {
			q.pay(s, cost)
		}
	}
	q.mu.Unlock()
	if victim == nil {
		return true
	}
	q.evict(victim)
	return victim != s
}

// largest returns the session holding the most. Called with mu held.
func (q *queue) largest() *session {
	var big *session
	for _, s := range q.sessions {
		if big == nil || s.pending > big.pending {
			big = s
		}
	}
	return big
}

// evict frees what s holds: a connected client is disconnected (its
// session, if it asked for one to be kept, is then dropped by the next
// eviction that picks it); a session whose client is away is dropped.
func (q *queue) evict(s *session) {
	if !s.cl.Closed() {
		q.slow(s.cl)
		return
	}
	q.dropSession(s.cl)
}

// slow disconnects a client that is not taking its messages. The
// connection is closed under it: a DISCONNECT would wait behind the
// writes it does not read.
func (q *queue) slow(cl *mochi.Client) {
	if !cl.Closed() {
		q.stats.disconnectedSlow.Add(1)
		cl.Stop(errSlow)
	}
}

// dropSession deletes the session of a client that is away, as its
// expiry would.
func (q *queue) dropSession(cl *mochi.Client) {
	q.stats.sessionsDropped.Add(1)
	if cur, ok := q.b.Clients.Get(cl.ID); ok && cur == cl {
		q.b.Clients.Delete(cl.ID)
	}
	q.remove(cl)
	q.b.UnsubscribeClient(cl)
	cl.ClearInflights()
}

// OnQosPublish records a QoS 1 or 2 copy as unacknowledged. A connected
// client's copy was counted when admitted; a copy for a session whose
// client is away, and the copies a session brings to a new connection
// (sent again, marked DUP), are counted here.
func (q *queue) OnQosPublish(cl *mochi.Client, pk packets.Packet, _ int64, _ int) {
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.lookup(cl)
	if s == nil {
		return
	}
	if _, again := s.inflight[pk.PacketID]; again {
		return
	}
	c := msgCost(&pk)
	if pk.FixedHeader.Dup || cl.Closed() {
		s.pending += c
		q.total += c
	}
	s.inflight[pk.PacketID] = c
}

func (q *queue) OnQosComplete(cl *mochi.Client, pk packets.Packet) { q.acked(cl, pk.PacketID) }
func (q *queue) OnQosDropped(cl *mochi.Client, pk packets.Packet)  { q.acked(cl, pk.PacketID) }

func (q *queue) acked(cl *mochi.Client, id uint16) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.lookup(cl)
	if s == nil {
		return
	}
	if c, ok := s.inflight[id]; ok {
		delete(s.inflight, id)
		q.pay(s, c)
	}
}

// OnPacketSent pays for a QoS 0 copy once written; a QoS 1 or 2 copy is
// held until acknowledged.
func (q *queue) OnPacketSent(cl *mochi.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos != 0 {
		return
	}
	c := msgCost(&pk)
	q.mu.Lock()
	q.pay(q.lookup(cl), c)
	q.mu.Unlock()
}

// OnPublishDropped is a copy that did not fit cl's write queue: cl is not
// reading fast enough, and is disconnected.
func (q *queue) OnPublishDropped(cl *mochi.Client, pk packets.Packet) {
	c := msgCost(&pk)
	q.mu.Lock()
	if s := q.lookup(cl); s != nil {
		q.pay(s, c)
		// The library took a QoS 1/2 copy back out of the client's
		// unacknowledged ones without a hook; forget it too.
		for id := range s.inflight {
			if _, ok := cl.State.Inflight.Get(id); !ok {
				delete(s.inflight, id)
			}
		}
	}
	q.mu.Unlock()
	q.slow(cl)
}

func (q *queue) OnPacketIDExhausted(cl *mochi.Client, pk packets.Packet) {
	c := msgCost(&pk)
	q.mu.Lock()
	q.pay(q.lookup(cl), c)
	q.mu.Unlock()
	q.slow(cl)
}

// queued returns the bytes held for subscribers.
func (q *queue) queued() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}
