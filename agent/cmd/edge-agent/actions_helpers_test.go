package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/crypto/ssh"

	"edge-agent/internal/sshtest"
	"edge-agent/transport/testenv"
)

// actionsSetup is what an operator prepares for signed actions: a key,
// the device's authorized_keys listing it, a scripts directory; and a
// key nobody listed.
type actionsSetup struct {
	key, stranger sshtest.Key
	fp            string // the key's SHA256 fingerprint
	keysFile      string
	scripts       string
}

var counterSeq atomic.Uint64

// nextCounter is a fresh counter: the Unix time in nanoseconds, as the
// convention has it, above every one given before.
func nextCounter() uint64 {
	for {
		last := counterSeq.Load()
		next := max(uint64(time.Now().UnixNano()), last+1)
		if counterSeq.CompareAndSwap(last, next) {
			return next
		}
	}
}

func newActionsSetup(t *testing.T) *actionsSetup {
	t.Helper()
	s := &actionsSetup{key: sshtest.NewKey(t, "ed25519", "op@laptop"), stranger: sshtest.NewKey(t, "ed25519", "mallory@elsewhere")}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.key.AuthorizedLine))
	if err != nil {
		t.Fatal(err)
	}
	s.fp = ssh.FingerprintSHA256(pub)
	etc := t.TempDir()
	s.keysFile = filepath.Join(etc, "authorized_keys")
	if err := os.WriteFile(s.keysFile, []byte("# operators\n"+s.key.AuthorizedLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.scripts = filepath.Join(etc, "actions.d")
	if err := os.Mkdir(s.scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	s.script(t, "hello", "#!/bin/sh\necho \"hello $1\"\n")
	return s
}

// script writes an executable script into the scripts directory.
func (s *actionsSetup) script(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.scripts, name), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// env is the agent's environment for signed actions.
func (s *actionsSetup) env(allowed string) []string {
	return []string{"EDGE_ACTIONS=" + allowed, "EDGE_ACTIONS_DIR=" + s.scripts, "EDGE_ACTIONS_AUTHORIZED_KEYS=" + s.keysFile}
}

// signed returns the payload asking device for action, signed by k with
// ssh-keygen -Y sign, as README tells an operator to do by hand, and the
// counter it carries.
func signed(t *testing.T, k sshtest.Key, device, action string, args ...string) ([]byte, uint64) {
	t.Helper()
	counter := nextCounter()
	text := fmt.Sprintf(`{"device":%q,"action":%q,"counter":%d}`, device, action, counter)
	if len(args) > 0 {
		a, _ := json.Marshal(args)
		text = fmt.Sprintf(`{"device":%q,"action":%q,"args":%s,"counter":%d}`, device, action, a, counter)
	}
	return sshtest.Payload(t, k, text), counter
}

// agentProc is an agent started by a test, its log kept.
type agentProc struct {
	cmd    *exec.Cmd
	log    *testenv.LockedBuffer
	exited chan struct{}
}

var listeningOn = regexp.MustCompile(`msg=listening service=(\S+) addr=(\S+)`)

// startActionsAgent starts the agent with only MQTT and actions (and
// env), its state directory a temporary one, until the test ends.
func startActionsAgent(t *testing.T, env ...string) *agentProc {
	t.Helper()
	base := []string{"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off", "EDGE_MQTT_INTERVAL=1s", "STATE_DIRECTORY=" + t.TempDir()}
	p := &agentProc{cmd: command(context.Background(), append(base, env...), "run"), log: &testenv.LockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("agent log:\n%s", p.log.String())
		}
	})
	return p
}

// addr waits for the agent to report service listening and returns its
// address.
func (p *agentProc) addr(t *testing.T, service string) string {
	t.Helper()
	var addr string
	testenv.WaitFor(t, service+" listening", func() bool {
		for _, m := range listeningOn.FindAllStringSubmatch(p.log.String(), -1) {
			if m[1] == service {
				addr = m[2]
				return true
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("the agent exited:\n%s", p.log.String())
		default:
		}
		return false
	})
	return addr
}

// stop sends SIGTERM and waits for a clean exit.
func (p *agentProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if !p.cmd.ProcessState.Success() {
			t.Errorf("exit %v after SIGTERM", p.cmd.ProcessState)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
}

// operator is an MQTT client of the test, with the messages of its
// subscriptions kept in arrival order.
type operator struct {
	c    paho.Client
	msgs chan paho.Message
	seen []paho.Message
}

func newOperator(t *testing.T, url, user, password string, topics ...string) *operator {
	t.Helper()
	o := &operator{msgs: make(chan paho.Message, 256)}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("op-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(password)
	o.c = paho.NewClient(opts)
	if tok := o.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("operator connect: %v", tok.Error())
	}
	t.Cleanup(func() { o.c.Disconnect(100) })
	for _, topic := range topics {
		if tok := o.c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { o.msgs <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, tok.Error())
		}
	}
	return o
}

func (o *operator) publish(t *testing.T, topic string, retained bool, payload []byte) {
	t.Helper()
	if tok := o.c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// next takes the first message on topic that satisfies ok, arrived or
// arriving within 15 s; others are kept for later calls.
func (o *operator) next(t *testing.T, topic string, ok func(paho.Message) bool) paho.Message {
	t.Helper()
	match := func(m paho.Message) bool { return m.Topic() == topic && (ok == nil || ok(m)) }
	for i, m := range o.seen {
		if match(m) {
			o.seen = append(o.seen[:i], o.seen[i+1:]...)
			return m
		}
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-o.msgs:
			if match(m) {
				return m
			}
			o.seen = append(o.seen, m)
		case <-deadline:
			t.Fatalf("no message on %s", topic)
			return nil
		}
	}
}

// actionReply is a device's reply to an action.
type actionReply struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Error   string `json:"error"`
	Hint    string `json:"hint"`
	Result  struct {
		Action   string `json:"action"`
		By       string `json:"by"`
		Key      string `json:"key"`
		Counter  uint64 `json:"counter"`
		Output   string `json:"output"`
		ExitCode int    `json:"exit_code"`
	} `json:"result"`
}

// ask publishes payload on the device's cmd/<action> and returns the
// reply naming counter (any reply when counter is 0).
func (o *operator) ask(t *testing.T, device, action string, payload []byte, counter uint64) actionReply {
	t.Helper()
	topic := "edge/" + device + "/cmd/" + action
	o.publish(t, topic, false, payload)
	return o.replyTo(t, device, action, counter)
}

func (o *operator) replyTo(t *testing.T, device, action string, counter uint64) actionReply {
	t.Helper()
	var r actionReply
	o.next(t, "edge/"+device+"/cmd/"+action+"/reply", func(m paho.Message) bool {
		r = actionReply{}
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			t.Fatalf("reply %s: %v", m.Payload(), err)
		}
		return counter == 0 || r.Result.Counter == counter
	})
	return r
}

// counters waits for a state document whose counters of service satisfy
// ok and returns them.
func (o *operator) counters(t *testing.T, device, service string, ok func(map[string]uint64) bool) map[string]uint64 {
	t.Helper()
	var c map[string]uint64
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := o.next(t, "edge/"+device+"/state", nil)
		var doc struct {
			Services map[string]struct {
				Counters map[string]uint64 `json:"counters"`
			} `json:"services"`
		}
		json.Unmarshal(m.Payload(), &doc)
		c = doc.Services[service].Counters
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s counters %v", service, c)
		}
	}
}
