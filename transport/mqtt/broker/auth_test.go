package broker

import (
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"edge-agent/transport/testenv"
)

const agentSecret = "in-process-secret"

// testAgent is the agent's side as agent/mqtt.go sets it up for device
// "dev" with the default prefixes.
func testAgent() *Agent {
	return &Agent{ClientID: "edge-agent-dev", Username: "edge-agent-dev", Password: agentSecret,
		Protected: []string{"edge/dev/#", "homeassistant/+/dev/#"}}
}

func testUsers(t *testing.T) *Users {
	t.Helper()
	u, err := ParseUsers(strings.NewReader(aliceLine + "\n" + carolLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tryConnect connects a paho client (MQTT 3.1.1 only: by default paho
// tries 3.1 after a refusal, which would count twice) and returns the
// error the broker's CONNACK made, or the connected client.
func tryConnect(t *testing.T, addr, id, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s: no answer within 10s", id)
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func TestPasswordUsers(t *testing.T) {
	s := &Server{Users: testUsers(t), Agent: testAgent()}
	addr, _ := start(t, s)
	for _, tc := range []struct {
		name, id, user, pass string
		want                 string // in the connect error; empty for success
		counter              string
	}{
		{"anonymous refused", "anon", "", "", "not Authorized", "rejected_anonymous"},
		{"wrong password", "a1", "alice", "Secret", "not Authorized", "rejected_auth"},
		{"unknown user", "m1", "mallory", "secret", "not Authorized", "rejected_auth"},
		{"operator", "a2", "alice", "secret", "", ""},
		{"old sha512 hash", "c1", "carol", "hunter2", "", ""},
		{"operator taking the agent's id", "edge-agent-dev", "alice", "secret", "identifier rejected", "rejected_client_id"},
		{"agent credential under another id", "other", "edge-agent-dev", agentSecret, "identifier rejected", "rejected_client_id"},
		{"agent credential, wrong password", "edge-agent-dev", "edge-agent-dev", "guess", "not Authorized", "rejected_auth"},
		{"the agent", "edge-agent-dev", "edge-agent-dev", agentSecret, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Counters()[tc.counter]
			_, err := tryConnect(t, addr, tc.id, tc.user, tc.pass)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("connect error %v, want %q", err, tc.want)
			}
			if tc.counter != "" && s.Counters()[tc.counter] != before+1 {
				t.Errorf("%s = %d, want %d", tc.counter, s.Counters()[tc.counter], before+1)
			}
		})
	}
}

// Anonymous clients read everything but publish nothing under the
// device's topics; operators may; the will is checked like a publish.
func TestAnonymousMayNotWriteTheDevicesTopics(t *testing.T) {
	s := &Server{Users: testUsers(t), Anonymous: true, Agent: testAgent()}
	addr, _ := start(t, s)
	agent, err := tryConnect(t, addr, "edge-agent-dev", "edge-agent-dev", agentSecret)
	if err != nil {
		t.Fatal(err)
	}
	cmds := subscribe(t, agent, "#")
	anon, err := tryConnect(t, addr, "anon", "", "")
	if err != nil {
		t.Fatalf("anonymous refused with EDGE_MQTT_EMBEDDED_ANONYMOUS: %v", err)
	}
	seen := subscribe(t, anon, "edge/dev/#")
	wait(t, "agent state", agent.Publish("edge/dev/state", 1, true, "{}"))
	if m := receive(t, seen, "state"); m.Topic() != "edge/dev/state" {
		t.Fatalf("anonymous read %q", m.Topic())
	}
	receive(t, cmds, "own state")

	for _, topic := range []string{"edge/dev/cmd/ping", "edge/dev/firmware/tx", "edge/dev/availability", "homeassistant/sensor/dev/x/config"} {
		anon.Publish(topic, 0, false, "from anonymous") // QoS 0: dropped silently
	}
	wait(t, "allowed", anon.Publish("homeassistant/status", 0, false, "online"))
	if m := receive(t, cmds, "homeassistant/status"); m.Topic() != "homeassistant/status" {
		t.Fatalf("the agent got %q %q from an anonymous client", m.Topic(), m.Payload())
	}
	if got := s.Counters()["rejected_acl"]; got != 4 {
		t.Errorf("rejected_acl = %d, want 4", got)
	}
	// At QoS 1, 3.1.1 can only say no by closing the connection.
	if tok := anon.Publish("edge/dev/cmd/ping", 1, false, "x"); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		testenv.WaitFor(t, "the anonymous client disconnected", func() bool { return !anon.IsConnectionOpen() })
	}

	op, err := tryConnect(t, addr, "ops", "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, "operator command", op.Publish("edge/dev/cmd/ping", 1, false, "from alice"))
	if m := receive(t, cmds, "the operator's command"); m.Topic() != "edge/dev/cmd/ping" || string(m.Payload()) != "from alice" {
		t.Fatalf("the agent got %q %q", m.Topic(), m.Payload())
	}

	o := paho.NewClientOptions().AddBroker("tcp://"+addr).SetClientID("willful").SetProtocolVersion(4).SetAutoReconnect(false).
		SetWill("edge/dev/availability", "online", 1, true)
	tok := paho.NewClient(o).Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() == nil || !strings.Contains(tok.Error().Error(), "not Authorized") {
		t.Errorf("an anonymous will on the device's topic: %v", tok.Error())
	}
	// The agent's own id stays the agent's.
	if _, err := tryConnect(t, addr, "edge-agent-dev", "", ""); err == nil || !strings.Contains(err.Error(), "identifier rejected") {
		t.Errorf("anonymous client with the agent's id: %v", err)
	}
}

// Without a password file everyone is anonymous, whatever user name a
// client sends; the device's topics are still the agent's.
func TestNoPasswordFile(t *testing.T) {
	s := &Server{Agent: testAgent()}
	addr, _ := start(t, s)
	c, err := tryConnect(t, addr, "ha", "homeassistant", "whatever")
	if err != nil {
		t.Fatal(err)
	}
	c.Publish("edge/dev/cmd/ping", 0, false, "x")
	wait(t, "marker", c.Publish("other/topic", 1, false, "x"))
	if got := s.Counters()["rejected_acl"]; got != 1 {
		t.Errorf("rejected_acl = %d, want 1", got)
	}
}

// A session belongs to the user that made it: an anonymous client cannot
// take over an operator's client id and with it its subscriptions, nor
// can another operator; an anonymous session is anyone's to take.
func TestSessionTakeoverNeedsTheSameUser(t *testing.T) {
	s := &Server{Users: testUsers(t), Anonymous: true}
	addr, _ := start(t, s)
	if _, err := tryConnect(t, addr, "home-assistant", "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := tryConnect(t, addr, "home-assistant", "", ""); err == nil || !strings.Contains(err.Error(), "identifier rejected") {
		t.Errorf("anonymous takeover: %v", err)
	}
	if _, err := tryConnect(t, addr, "home-assistant", "carol", "hunter2"); err == nil || !strings.Contains(err.Error(), "identifier rejected") {
		t.Errorf("another user's takeover: %v", err)
	}
	if _, err := tryConnect(t, addr, "home-assistant", "alice", "secret"); err != nil {
		t.Errorf("the same user reconnecting: %v", err)
	}
	if got := s.Counters()["rejected_client_id"]; got != 2 {
		t.Errorf("rejected_client_id = %d, want 2", got)
	}
	if _, err := tryConnect(t, addr, "squatted", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tryConnect(t, addr, "squatted", "alice", "secret"); err != nil {
		t.Errorf("an operator taking over an anonymous session: %v", err)
	}
}

// Wrong passwords from one source lock it out, doubling; the agent's own
// credential is not subject to it, and a right password after the lock
// clears the record.
func TestWrongPasswordsLockTheSourceOut(t *testing.T) {
	s := &Server{Users: testUsers(t), Agent: testAgent()}
	addr, _ := start(t, s)
	for i := range freeFailures + 1 {
		if _, err := tryConnect(t, addr, "guess", "alice", "guess"); err == nil {
			t.Fatalf("guess %d accepted", i)
		}
	}
	if got := s.Counters()["rejected_auth"]; got != freeFailures+1 {
		t.Fatalf("rejected_auth = %d, want %d", got, freeFailures+1)
	}
	if got := s.Counters()["lockouts"]; got != 1 {
		t.Fatalf("lockouts = %d, want 1", got)
	}
	if _, err := tryConnect(t, addr, "right", "alice", "secret"); err == nil {
		t.Fatal("the right password went through a lock-out")
	}
	if s.Counters()["rejected_auth_locked"] != 1 || s.Counters()["rejected_auth"] != freeFailures+1 {
		t.Fatalf("counters %v: want the locked attempt refused without a check", s.Counters())
	}
	if _, err := tryConnect(t, addr, "edge-agent-dev", "edge-agent-dev", agentSecret); err != nil {
		t.Fatalf("the agent locked out with its source: %v", err)
	}
	began := time.Now()
	testenv.WaitFor(t, "the lock-out to end", func() bool {
		_, err := tryConnect(t, addr, "right", "alice", "secret")
		return err == nil
	})
	if waited := time.Since(began); waited > lockFirst+2*time.Second {
		t.Errorf("locked out for %v after the first lock-out, want about %v", waited, lockFirst)
	}
}

// MQTT 5 clients get the reason codes of their own protocol version.
func TestMQTT5ReasonCodes(t *testing.T) {
	s := &Server{Users: testUsers(t), Agent: testAgent()}
	addr, _ := start(t, s)
	for _, tc := range []struct {
		id, user, pass string
		want           byte
	}{
		{"a", "", "", packets.ErrNotAuthorized.Code},
		{"b", "alice", "nope", packets.ErrBadUsernameOrPassword.Code},
		{"edge-agent-dev", "alice", "secret", packets.ErrClientIdentifierNotValid.Code},
		{"c", "alice", "secret", packets.CodeSuccess.Code},
	} {
		rc := dialRaw(t, addr, 0)
		rc.v5 = true
		if got := rc.connect(tc.id, tc.user, tc.pass, true); got != tc.want {
			t.Errorf("%s/%s: CONNACK reason %#x, want %#x", tc.id, tc.user, got, tc.want)
		}
	}
}

func TestMatchTopic(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"edge/dev/#", "edge/dev/cmd/ping", true},
		{"edge/dev/#", "edge/dev", true},
		{"edge/dev/#", "edge/devx/cmd", false},
		{"edge/dev/#", "edge", false},
		{"homeassistant/+/dev/#", "homeassistant/sensor/dev/x/config", true},
		{"homeassistant/+/dev/#", "homeassistant/sensor/other/x/config", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a", false},
		{"a/+/c", "a//c", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/", false},
	} {
		if got := matchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}
