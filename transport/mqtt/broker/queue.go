package broker

import (
	"errors"
	"sync"
	"time"
	"unsafe"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// errSlow ends a subscriber that holds more than the broker can keep for it.
var errSlow = errors.New("broker: subscriber too slow: its queue is full")

// queue bounds the messages the broker holds for subscribers: copies
// waiting in a client's write queue, being written, or sent at QoS 1 or 2
// and not yet acknowledged, for connected clients and for persistent
// sessions of clients that are away. Together they may cost max bytes
// (cost.go); a delivery that would go over disconnects the connected
// client holding the most (a subscriber that stopped reading, as a rule),
// or drops the away session holding the most. A delivery to a client
// whose write queue is full, or that has as many messages unacknowledged
// as the broker allows, disconnects that client too. So a slow subscriber
// loses its connection, and with it whatever the broker held for it,
// instead of losing messages silently for as long as it stays.
//
// The library has no hook where it queues a copy, only the access check
// it makes just before (OnACLCheck, with the topic and the client), so
// the size of what is being delivered is found from the topic string: a
// live message's topic is registered in OnPublish, before delivery, under
// the address of its bytes; a retained message is delivered with the
// topic string of the stored message. The address tells these apart from
// each other and from the checks of a SUBSCRIBE, whose filters are
// strings of their own. A copy is paid back when written (QoS 0) or
// acknowledged (QoS 1 and 2), when dropped, or with its session.
type queue struct {
	mochi.HookBase
	b           *mochi.Server
	max         int64
	maxInflight int
	stats       *stats
	owner       func(*mochi.Client) string // the identity a session is kept for

	mu         sync.Mutex
	sessions   map[string]*session // by client id
	total      int64
	live       map[*byte]liveMsg
	publishing map[*mochi.Client]*byte // the live message each publisher is delivering
}

type session struct {
	cl          *mochi.Client
	owner       string
	pending     int64
	inflight    map[uint16]int64 // QoS 1/2 copies not yet acknowledged: packet id → cost
	subscribing bool             // between OnSubscribe and OnSubscribed
	away        time.Time        // when a kept session's client went away
}

type liveMsg struct {
	cost int64
	refs int
}

func newQueue(b *mochi.Server, max int64, maxInflight int, st *stats, owner func(*mochi.Client) string) *queue {
	return &queue{
		b: b, max: max, maxInflight: maxInflight, stats: st, owner: owner,
		sessions:   make(map[string]*session),
		live:       make(map[*byte]liveMsg),
		publishing: make(map[*mochi.Client]*byte),
	}
}

func (q *queue) ID() string { return "edge-agent-queue" }

func (q *queue) Provides(b byte) bool {
	switch b {
	case mochi.OnSessionEstablish, mochi.OnDisconnect, mochi.OnClientExpired,
		mochi.OnPublish, mochi.OnPacketProcessed, mochi.OnWill, mochi.OnWillSent,
		mochi.OnSubscribe, mochi.OnSubscribed, mochi.OnPacketSent,
		mochi.OnQosPublish, mochi.OnQosComplete, mochi.OnQosDropped,
		mochi.OnPublishDropped, mochi.OnPacketIDExhausted:
		return true
	}
	return false
}

// lookup returns cl's session; a hook call for a client whose session
// has since gone to another connection finds none. Called with mu held.
func (q *queue) lookup(cl *mochi.Client) *session {
	if s := q.sessions[cl.ID]; s != nil && s.cl == cl {
		return s
	}
	return nil
}

// pay gives back c of what s holds. Called with mu held.
func (q *queue) pay(s *session, c int64) {
	if s == nil {
		return
	}
	c = min(c, s.pending)
	s.pending -= c
	q.total -= c
}

func (q *queue) OnSessionEstablish(cl *mochi.Client, _ packets.Packet) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old := q.sessions[cl.ID]; old != nil {
		q.total -= old.pending
	}
	q.sessions[cl.ID] = &session{cl: cl, owner: q.owner(cl), inflight: make(map[uint16]int64)}
}

func (q *queue) OnDisconnect(cl *mochi.Client, _ error, expire bool) {
	if expire || cl.IsTakenOver() {
		q.remove(cl)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.lookup(cl); s != nil {
		s.away = time.Now()
	}
}

// longestAway returns the client of the session kept longest for a client
// that is away, if any.
func (q *queue) longestAway() *mochi.Client {
	q.mu.Lock()
	defer q.mu.Unlock()
	var oldest *session
	for _, s := range q.sessions {
		if !s.away.IsZero() && s.cl.Closed() && (oldest == nil || s.away.Before(oldest.away)) {
			oldest = s
		}
	}
	if oldest == nil {
		return nil
	}
	return oldest.cl
}

// OnClientExpired also takes the session's subscriptions out of the topic
// tree, which the library leaves there (v2.7.9) for the life of the
// broker.
func (q *queue) OnClientExpired(cl *mochi.Client) {
	q.remove(cl)
	q.b.UnsubscribeClient(cl)
	cl.ClearInflights()
}

func (q *queue) remove(cl *mochi.Client) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.lookup(cl); s != nil {
		q.total -= s.pending
		delete(q.sessions, cl.ID)
	}
}

// sessionOwner returns who the session of client id id is kept for, if
// there is one.
func (q *queue) sessionOwner(id string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.sessions[id]
	if s == nil {
		return "", false
	}
	return s.owner, true
}

// OnPublish registers a live message before it is delivered. It also
// drops subscription identifiers a client put in its PUBLISH (a protocol
// error the library keeps, and copies to every subscriber).
func (q *queue) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	pk.Properties.SubscriptionIdentifier = nil
	q.register(cl, pk.TopicName, msgCost(&pk))
	return pk, nil
}

func (q *queue) OnPacketProcessed(cl *mochi.Client, pk packets.Packet, _ error) {
	if pk.FixedHeader.Type == packets.Publish {
		q.unregister(cl)
	}
}

func (q *queue) OnWill(cl *mochi.Client, will mochi.Will) (mochi.Will, error) {
	if will.WillDelayInterval == 0 {
		pk := packets.Packet{TopicName: will.TopicName, Payload: will.Payload, Properties: packets.Properties{User: will.User}}
		q.register(cl, will.TopicName, msgCost(&pk))
	}
	return will, nil
}

func (q *queue) OnWillSent(cl *mochi.Client, _ packets.Packet) { q.unregister(cl) }

func (q *queue) register(cl *mochi.Client, topic string, cost int64) {
	key := unsafe.StringData(topic)
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.live[key]
	q.live[key] = liveMsg{cost: max(m.cost, cost), refs: m.refs + 1}
	q.publishing[cl] = key
}

func (q *queue) unregister(cl *mochi.Client) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key, ok := q.publishing[cl]
	if !ok {
		return
	}
	delete(q.publishing, cl)
	if m := q.live[key]; m.refs > 1 {
		q.live[key] = liveMsg{cost: m.cost, refs: m.refs - 1}
	} else {
		delete(q.live, key)
	}
}

func (q *queue) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	q.setSubscribing(cl, true)
	return pk
}

func (q *queue) OnSubscribed(cl *mochi.Client, _ packets.Packet, _ []byte) {
	q.setSubscribing(cl, false)
}

func (q *queue) setSubscribing(cl *mochi.Client, on bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.lookup(cl); s != nil {
		s.subscribing = on
	}
}

// checkKind is what an access check to read a topic is for.
type checkKind int

const (
	checkOther        checkKind = iota // a delivery of unknown size: $SYS, a delayed will
	checkDelivery                      // a message about to be queued for the client
	checkSubscription                  // a filter of the client's SUBSCRIBE
)

// classify tells what an access check to read topic is for and, for a
// delivery, what the copy will cost.
func (q *queue) classify(cl *mochi.Client, topic string) (checkKind, int64) {
	key := unsafe.StringData(topic)
	q.mu.Lock()
	m, live := q.live[key]
	s := q.lookup(cl)
	subscribing := s != nil && s.subscribing
	q.mu.Unlock()
	switch {
	case subscribing && len(topic) < 2:
		// The runtime keeps one copy of each one-byte string, so the
		// address cannot tell such a filter from a live topic.
		return checkSubscription, 0
	case live:
		return checkDelivery, m.cost
	case subscribing:
		return checkSubscription, 0
	}
	if pk, ok := q.b.Topics.Retained.Get(topic); ok && unsafe.StringData(pk.TopicName) == key {
		return checkDelivery, msgCost(&pk)
	}
	return checkOther, 0
}
