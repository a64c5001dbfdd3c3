package broker

import (
	"crypto/subtle"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"edge-agent/transport/peer"
)

// Agent is the agent's own client of the broker. Its client id and its
// credential belong to it alone: no other client may take the id (and
// with it the agent's session), and the credential is good for no other
// id. Clients without a user name may not publish to Protected topics.
type Agent struct {
	ClientID string
	// Username and Password are the credential the agent generates at
	// start-up and passes to its bridge in-process; no one else knows it.
	Username, Password string
	// Protected are topic filters (+ and # allowed) anonymous clients
	// may not publish to: the device's own topics.
	Protected []string
}

// role is what an authenticated client may do.
type role uint8

const (
	roleAnonymous role = iota // may read, and write outside Agent.Protected
	roleOperator              // a user of the password file: may write anywhere
	roleAgent                 // the agent's bridge
)

// maxConnectSize bounds a CONNECT packet, whose will and properties a
// persistent session keeps for as long as it lives.
const maxConnectSize = 16 << 10

// authTimeout bounds the wait for the one password check that runs at a
// time; a login that waits longer is refused as busy.
const authTimeout = 5 * time.Second

// authHook admits clients: it checks credentials, reserves the agent's
// client id, refuses a will on a topic the client may not publish to,
// keeps a session's client id to the identity that made it, and caps the
// number of sessions. All of it happens in OnConnect, which can answer
// with a reason code; OnConnectAuthenticate then only reports the result.
type authHook struct {
	mochi.HookBase
	srv         *Server
	b           *mochi.Server
	q           *queue
	maxSessions int

	roles   sync.Map // *mochi.Client → role, while connected
	lock    *peer.Lockout
	checker chan struct{} // one password check at a time
}

func newAuthHook(srv *Server, b *mochi.Server, maxSessions int) *authHook {
	return &authHook{srv: srv, b: b, maxSessions: maxSessions, lock: newLockout(), checker: make(chan struct{}, 1)}
}

func (h *authHook) ID() string { return "edge-agent-auth" }

func (h *authHook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnDisconnect, mochi.OnPacketEncode:
		return true
	}
	return false
}

func (h *authHook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	st := &h.srv.stats
	if pk.FixedHeader.Remaining > maxConnectSize {
		st.rejectConnectSize.Add(1)
		return h.refuse(cl, packets.ErrPacketTooLarge)
	}
	r, code := h.authenticate(cl, pk)
	if code != packets.CodeSuccess {
		return h.refuse(cl, code)
	}
	if a := h.srv.Agent; a != nil && (cl.ID == a.ClientID) != (r == roleAgent) {
		st.rejectClientID.Add(1)
		return h.refuse(cl, packets.ErrClientIdentifierNotValid)
	}
	if owner, ok := h.q.sessionOwner(cl.ID); ok && owner != "" && owner != ownerOf(r, pk.Connect.Username) {
		// Taking over another user's session would hand over its
		// subscriptions and messages, and cut the owner off. An
		// anonymous session may be taken by anyone, so that an anonymous
		// client cannot squat on the id an operator's client uses.
		st.rejectClientID.Add(1)
		return h.refuse(cl, packets.ErrClientIdentifierNotValid)
	}
	if pk.Connect.WillFlag && !h.mayPublish(r, pk.Connect.WillTopic) {
		st.rejectACL.Add(1)
		return h.refuse(cl, packets.ErrNotAuthorized)
	}
	if !h.roomForSession(cl.ID) {
		st.rejectSessions.Add(1)
		return h.refuse(cl, packets.ErrServerBusy)
	}
	// Outbound topic aliases would keep up to 65,535 topic strings per
	// client; the broker does not offer them.
	cl.Properties.Props.TopicAliasMaximum = 0
	cl.State.TopicAliases.Outbound = mochi.NewOutboundTopicAliases(0)
	h.roles.Store(cl, r)
	return nil
}

func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, _ packets.Packet) bool {
	_, ok := h.roles.Load(cl)
	return ok
}

func (h *authHook) OnDisconnect(cl *mochi.Client, _ error, _ bool) { h.roles.Delete(cl) }

// OnPacketEncode tells MQTT 5 clients the largest packet the broker
// reads, so a well-behaved one never sends it.
func (h *authHook) OnPacketEncode(_ *mochi.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && pk.ReasonCode == 0 {
		pk.Properties.MaximumPacketSize = uint32(h.srv.maxPacketSize())
	}
	return pk
}

// authenticate returns the client's role, or the reason it is refused.
func (h *authHook) authenticate(cl *mochi.Client, pk packets.Packet) (role, packets.Code) {
	st := &h.srv.stats
	user, pass := string(pk.Connect.Username), pk.Connect.Password
	if a := h.srv.Agent; a != nil && a.Username != "" && user == a.Username {
		// A random secret: there is nothing to slow down.
		if subtle.ConstantTimeCompare(pass, []byte(a.Password)) == 1 {
			return roleAgent, packets.CodeSuccess
		}
		st.rejectAuth.Add(1)
		return 0, packets.ErrBadUsernameOrPassword
	}
	users := h.srv.Users
	if users == nil {
		// Without a password file there is no one to be but anonymous,
		// whatever user name a client sends (as mosquitto does).
		return roleAnonymous, packets.CodeSuccess
	}
	if user == "" && !pk.Connect.PasswordFlag {
		if h.srv.Anonymous {
			return roleAnonymous, packets.CodeSuccess
		}
		st.rejectAnonymous.Add(1)
		return 0, packets.ErrNotAuthorized
	}
	key := peer.KeyOfAddr(cl.Net.Conn.RemoteAddr())
	if h.lock.Locked(key) {
		st.rejectAuthLocked.Add(1)
		return 0, packets.ErrBadUsernameOrPassword
	}
	t := time.NewTimer(authTimeout)
	select {
	case h.checker <- struct{}{}:
		t.Stop()
	case <-t.C:
		st.rejectAuthBusy.Add(1)
		return 0, packets.ErrServerBusy
	}
	ok := users.Check(user, pass)
	<-h.checker
	if !ok {
		if h.lock.Fail(key) > 0 {
			st.lockouts.Add(1)
		}
		st.rejectAuth.Add(1)
		return 0, packets.ErrBadUsernameOrPassword
	}
	h.lock.Forgive(key)
	return roleOperator, packets.CodeSuccess
}

// refuse answers CONNECT with code (its MQTT 3.1.1 equivalent for older
// clients) and ends the connection.
func (h *authHook) refuse(cl *mochi.Client, code packets.Code) error {
	if cl.Properties.ProtocolVersion < 5 {
		switch code {
		case packets.ErrNotAuthorized, packets.ErrBadUsernameOrPassword:
			code = packets.ErrBadUsernameOrPassword // 3.1.1: 5, not authorized
		case packets.ErrServerBusy, packets.ErrPacketTooLarge:
			code = packets.ErrServerUnavailable
		}
	}
	_ = h.b.SendConnack(cl, code, false, nil)
	return code
}

// mayPublish reports whether a client of role r may publish to topic.
func (h *authHook) mayPublish(r role, topic string) bool {
	if r != roleAnonymous || h.srv.Agent == nil {
		return true
	}
	for _, f := range h.srv.Agent.Protected {
		if matchTopic(f, topic) {
			return false
		}
	}
	return true
}

// roleOf returns a connected client's role.
func (h *authHook) roleOf(cl *mochi.Client) (role, bool) {
	r, ok := h.roles.Load(cl)
	if !ok {
		return 0, false
	}
	return r.(role), true
}

// ownerOf names the identity a session is kept for: anyone may take over
// an anonymous session (as MQTT intends), a user only its own.
func ownerOf(r role, username []byte) string {
	switch r {
	case roleOperator:
		return "user:" + string(username)
	case roleAgent:
		return "agent"
	}
	return ""
}

// roomForSession makes room for one more session when id has none:
// sessions of clients that are away are dropped, the one away longest
// first, once connected and away together reach the cap.
func (h *authHook) roomForSession(id string) bool {
	if _, ok := h.b.Clients.Get(id); ok {
		return true
	}
	if h.b.Clients.Len() < h.maxSessions {
		return true
	}
	oldest := h.q.longestAway()
	if oldest == nil {
		return false
	}
	h.q.dropSession(oldest)
	return true
}
