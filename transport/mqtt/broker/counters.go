package broker

import (
	"sync/atomic"
)

// stats are the counters the broker does not keep itself.
type stats struct {
	clientsTotal        atomic.Uint64
	rejectConnLimit     atomic.Uint64
	rejectAcceptErr     atomic.Uint64
	rejectPacketSize    atomic.Uint64
	rejectConnectSize   atomic.Uint64
	rejectAuth          atomic.Uint64
	rejectAuthLocked    atomic.Uint64
	lockouts            atomic.Uint64
	rejectAuthBusy      atomic.Uint64
	rejectAnonymous     atomic.Uint64
	rejectClientID      atomic.Uint64
	rejectSessions      atomic.Uint64
	rejectACL           atomic.Uint64
	rejectRetainedCount atomic.Uint64
	rejectRetainedBytes atomic.Uint64
	rejectRetainedWill  atomic.Uint64
	rejectSubscription  atomic.Uint64
	disconnectedSlow    atomic.Uint64
	droppedAway         atomic.Uint64
	sessionsDropped     atomic.Uint64
}

// Counters returns the broker's counters:
//
//   - clients_connected, clients_total (sessions established since
//     start), messages_received and messages_sent (PUBLISH packets),
//     subscriptions;
//   - retained (messages held, the broker's own $SYS topics left out) and
//     retained_bytes (their cost), queued_bytes (held for subscribers);
//   - connections refused: rejected_conn_limit, rejected_accept_error,
//     rejected_packet_size (a packet over the maximum; the connection is
//     closed), rejected_connect_size, rejected_auth (wrong user name or
//     password), rejected_auth_locked (a login from a source locked out
//     after wrong passwords), lockouts (lockouts begun), rejected_auth_busy, rejected_anonymous,
//     rejected_client_id (the agent's id, or a session of another user),
//     rejected_sessions (no room for another session);
//   - refused within a connection: rejected_acl (a publish or will on a
//     topic the client may not publish to), rejected_retained_count and
//     rejected_retained_bytes (a retained publish over the bounds),
//     rejected_retained_will (a will published but not retained),
//     rejected_subscription (over the subscriptions' bound);
//   - disconnected_slow (subscribers cut off for not taking their
//     messages), dropped_away (messages not kept for a session whose
//     client is away, for want of room) and sessions_dropped.
func (s *Server) Counters() map[string]uint64 {
	st := &s.stats
	m := map[string]uint64{
		"clients_connected":       0,
		"clients_total":           st.clientsTotal.Load(),
		"messages_received":       0,
		"messages_sent":           0,
		"retained":                0,
		"retained_bytes":          0,
		"queued_bytes":            0,
		"subscriptions":           0,
		"rejected_conn_limit":     st.rejectConnLimit.Load(),
		"rejected_accept_error":   st.rejectAcceptErr.Load(),
		"rejected_packet_size":    st.rejectPacketSize.Load(),
		"rejected_connect_size":   st.rejectConnectSize.Load(),
		"rejected_auth":           st.rejectAuth.Load(),
		"rejected_auth_locked":    st.rejectAuthLocked.Load(),
		"lockouts":                st.lockouts.Load(),
		"rejected_auth_busy":      st.rejectAuthBusy.Load(),
		"rejected_anonymous":      st.rejectAnonymous.Load(),
		"rejected_client_id":      st.rejectClientID.Load(),
		"rejected_sessions":       st.rejectSessions.Load(),
		"rejected_acl":            st.rejectACL.Load(),
		"rejected_retained_count": st.rejectRetainedCount.Load(),
		"rejected_retained_bytes": st.rejectRetainedBytes.Load(),
		"rejected_retained_will":  st.rejectRetainedWill.Load(),
		"rejected_subscription":   st.rejectSubscription.Load(),
		"disconnected_slow":       st.disconnectedSlow.Load(),
		"dropped_away":            st.droppedAway.Load(),
		"sessions_dropped":        st.sessionsDropped.Load(),
	}
	if g := s.retain.Load(); g != nil {
		n, bytes := g.usage()
		m["retained"], m["retained_bytes"] = uint64(n), nonNegative(bytes)
	}
	if q := s.queue.Load(); q != nil {
		m["queued_bytes"] = nonNegative(q.queued())
	}
	b := s.broker.Load()
	if b == nil {
		return m
	}
	info := b.Info.Clone()
	m["clients_connected"] = nonNegative(info.ClientsConnected)
	m["messages_received"] = nonNegative(info.MessagesReceived)
	m["messages_sent"] = nonNegative(info.MessagesSent)
	m["subscriptions"] = nonNegative(info.Subscriptions)
	return m
}

func nonNegative(v int64) uint64 { return uint64(max(v, 0)) }

// count returns the number of users, 0 for none.
func (u *Users) count() int {
	if u == nil {
		return 0
	}
	return u.Len()
}
