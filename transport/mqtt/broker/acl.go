package broker

import (
	"strings"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Subscriptions cost memory in the topic tree (cost.go); a client's may
// cost maxSubscriptionBytes, all clients' (sessions of clients that are
// away included) maxSubscriptionTotal. A filter over either is refused
// in the SUBACK.
const (
	maxSubscriptionBytes = 512 << 10
	maxSubscriptionTotal = 4 << 20
)

// aclHook is the broker's one access check (the library lets a topic
// through if any hook allows it, so there is exactly one): publishing is
// up to the client's role, reading is open to all, within the bounds of
// the queue and of the subscriptions.
type aclHook struct {
	mochi.HookBase
	auth  *authHook
	q     *queue
	b     *mochi.Server
	stats *stats

	budgets sync.Map // *mochi.Client → *subBudget, during its SUBSCRIBE
}

// subBudget is what the subscriptions cost, the client's own and all,
// added up once per SUBSCRIBE: one packet may carry thousands of filters.
type subBudget struct{ own, total int64 }

func (h *aclHook) ID() string { return "edge-agent-acl" }

func (h *aclHook) Provides(b byte) bool {
	return b == mochi.OnACLCheck || b == mochi.OnSubscribe || b == mochi.OnSubscribed
}

func (h *aclHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if write {
		r, ok := h.auth.roleOf(cl)
		if !ok || !h.auth.mayPublish(r, topic) {
			h.stats.rejectACL.Add(1)
			return false
		}
		return true
	}
	switch kind, cost := h.q.classify(cl, topic); kind {
	case checkDelivery:
		return h.q.admit(cl, cost)
	case checkSubscription:
		return h.subscriptionFits(cl, topic)
	}
	return true
}

func (h *aclHook) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	own := subscriptionsCost(cl.State.Subscriptions.GetAll())
	total := own
	for _, o := range h.b.Clients.GetAll() {
		if o != cl {
			total += subscriptionsCost(o.State.Subscriptions.GetAll())
		}
	}
	h.budgets.Store(cl, &subBudget{own: own, total: total})
	return pk
}

func (h *aclHook) OnSubscribed(cl *mochi.Client, _ packets.Packet, _ []byte) { h.budgets.Delete(cl) }

// subscriptionFits reports whether cl may add filter within the bounds
// of the subscriptions, and counts it.
func (h *aclHook) subscriptionFits(cl *mochi.Client, filter string) bool {
	if _, again := cl.State.Subscriptions.Get(filter); again {
		return true // replaces the one it has
	}
	v, ok := h.budgets.Load(cl)
	if !ok {
		return true // not a SUBSCRIBE after all
	}
	b := v.(*subBudget)
	c := topicCost(filter) + subscriptionCost
	if b.own+c > maxSubscriptionBytes || b.total+c > maxSubscriptionTotal {
		h.stats.rejectSubscription.Add(1)
		return false
	}
	b.own += c
	b.total += c
	return true
}

func subscriptionsCost[V any](subs map[string]V) int64 {
	var n int64
	for f := range subs {
		n += topicCost(f) + subscriptionCost
	}
	return n
}

// matchTopic reports whether topic matches filter, + and # as MQTT has
// them. A filter starting with a wildcard does not match a $ topic.
func matchTopic(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		f, fRest, fMore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, tRest, tMore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fMore || !tMore {
			// filter/# also matches filter itself.
			return fMore == tMore || (fMore && fRest == "#")
		}
		filter, topic = fRest, tRest
	}
}
