package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// testActions stands for the agent's actions: names starting "act-" are
// actions, "act-ok" and the "act-hold-*" ones allowed. A held action
// runs until release is closed or its context ends.
type testActions struct {
	release  chan struct{}
	running  atomic.Int32
	runs     atomic.Int32
	retained atomic.Int32
	ended    chan string // a held action returned, after its context ended
}

func newTestActions() *testActions {
	return &testActions{release: make(chan struct{}), ended: make(chan string, 64)}
}

func (a *testActions) IsAction(name string) bool { return strings.HasPrefix(name, "act-") }
func (a *testActions) Allowed() []string         { return []string{"act-hold-*", "act-ok"} }

func (a *testActions) Describe(action string, payload []byte) any {
	return map[string]string{"action": action, "claims": string(payload)}
}

func (a *testActions) Handle(ctx context.Context, action string, payload []byte, retained bool) (any, error) {
	if retained {
		a.retained.Add(1)
		return map[string]string{"claims": string(payload)}, &ActionError{Code: "retained", Err: errors.New("a retained message is state, never a command")}
	}
	switch {
	case action == "act-ok":
		a.runs.Add(1)
		return map[string]string{"output": "done " + string(payload)}, nil
	case action == "act-fail":
		return nil, errors.New("it broke")
	case strings.HasPrefix(action, "act-hold-"):
		a.runs.Add(1)
		a.running.Add(1)
		defer a.running.Add(-1)
		select {
		case <-a.release:
			return "released", nil
		case <-ctx.Done():
			// Stopping takes a moment, as killing a script does.
			time.Sleep(50 * time.Millisecond)
			a.ended <- action
			return nil, &ActionError{Code: "failed", Err: fmt.Errorf("%s: the agent is stopping", action)}
		}
	}
	return nil, &ActionError{Code: "not_allowed", Err: fmt.Errorf("%s is not allowed", action)}
}

type actionReplyDoc struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Result  any    `json:"result"`
	Error   string `json:"error"`
	Hint    string `json:"hint"`
}

func decodeReply(t *testing.T, m paho.Message) actionReplyDoc {
	t.Helper()
	var r actionReplyDoc
	if err := json.Unmarshal(m.Payload(), &r); err != nil {
		t.Fatalf("reply %s: %v", m.Payload(), err)
	}
	return r
}

// Replies to actions carry the code of the error and what Handle
// returned; the built-in commands and unknown names answer as before,
// the unknown-command reply naming the allowed actions.
func TestActionRepliesCarryCodes(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		acts := newTestActions()
		b := run(t, Config{Brokers: []string{url}, DeviceID: "pi-a", DiscoveryPrefix: "off", Interval: time.Hour, Actions: acts}, &fakeSource{})
		w := watch(t, url, "edge/pi-a/availability", "edge/pi-a/cmd/+/reply")
		w.next(t, "edge/pi-a/availability", payloadIs("online"))
		for _, tc := range []struct {
			name string
			want actionReplyDoc
		}{
			{"act-ok", actionReplyDoc{Command: "act-ok", OK: true, Result: map[string]any{"output": "done {}"}}},
			{"act-fail", actionReplyDoc{Command: "act-fail", Code: "failed", Error: "it broke"}},
			{"act-nope", actionReplyDoc{Command: "act-nope", Code: "not_allowed", Error: "act-nope is not allowed"}},
			{"ping", actionReplyDoc{Command: "ping", OK: true, Result: "pong"}},
			{"reboot", actionReplyDoc{Command: "reboot", Error: "unknown command; known: ping, refresh; allowed actions: act-hold-*, act-ok"}},
		} {
			got := decodeReply(t, w.ask(t, "edge/pi-a/cmd/"+tc.name))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: reply %+v, want %+v", tc.name, got, tc.want)
			}
		}
		if c := b.Counters(); c["action_requests"] != 3 || c["actions_busy"] != 0 {
			t.Errorf("counters %v", c)
		}
	})
}

// field returns a string field of a reply's result object.
func (r actionReplyDoc) field(key string) string {
	m, _ := r.Result.(map[string]any)
	s, _ := m[key].(string)
	return s
}

// A retained request on an action topic, set before the bridge starts
// and delivered again at every subscription, never runs: each delivery
// gets a reply with code retained and the command that clears it, and is
// counted as retained_dropped. A retained built-in command is still
// dropped without a reply.
func TestRetainedActionIsRefusedWithAHint(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		w := watch(t, url, "edge/pi-r2/cmd/+/reply", "edge/pi-r2/availability", "sync")
		w.publish(t, "edge/pi-r2/cmd/act-ok", true, "signed-long-ago")
		w.publish(t, "edge/pi-r2/cmd/ping", true, "old")
		// The embedded broker acknowledges a publish before it passes it
		// on: a round trip makes sure the bridge, subscribing next, finds
		// them retained rather than in flight.
		w.publish(t, "sync", false, "")
		w.next(t, "sync", nil)
		acts := newTestActions()
		b := run(t, Config{Brokers: []string{url}, DeviceID: "pi-r2", DiscoveryPrefix: "off", Interval: time.Hour, Actions: acts}, &fakeSource{})
		r := decodeReply(t, w.next(t, "edge/pi-r2/cmd/act-ok/reply", nil))
		if r.OK || r.Code != "retained" || r.Hint != "mosquitto_pub -r -n -t 'edge/pi-r2/cmd/act-ok'" || r.field("claims") != "signed-long-ago" {
			t.Errorf("reply %+v", r)
		}
		testenv.WaitFor(t, "two retained messages counted", func() bool { return b.Counters()["retained_dropped"] == 2 })
		// Live, it runs, once; the retained ping was never answered.
		if r := decodeReply(t, w.ask(t, "edge/pi-r2/cmd/act-ok")); !r.OK {
			t.Errorf("live request: %+v", r)
		}
		// Clearing the retained request, as the hint says, reaches the
		// bridge as an empty live message: not a request (in broker mode
		// it would press the button).
		w.publish(t, "edge/pi-r2/cmd/act-ok", true, "")
		w.ask(t, "edge/pi-r2/cmd/ping")
		if acts.runs.Load() != 1 || acts.retained.Load() != 1 {
			t.Errorf("%d runs, %d retained handed on; want 1 and 1", acts.runs.Load(), acts.retained.Load())
		}
		for _, m := range w.seen {
			if m.Topic() == "edge/pi-r2/cmd/ping/reply" || m.Topic() == "edge/pi-r2/cmd/act-ok/reply" {
				t.Errorf("an unexpected reply: %s", m.Payload())
			}
		}
	})
}

// One run of an action at a time, maxActionsRunning in all: a request
// beyond is answered busy at once, with what it claims, while the others
// run off the run loop (a ping is answered meanwhile).
func TestActionsBusy(t *testing.T) {
	m := testenv.StartMosquitto(t)
	acts := newTestActions()
	b := run(t, Config{Brokers: []string{m.URL}, DeviceID: "pi-b2", DiscoveryPrefix: "off", Interval: time.Hour, Actions: acts}, &fakeSource{})
	w := watch(t, m.URL, "edge/pi-b2/availability", "edge/pi-b2/cmd/+/reply")
	w.next(t, "edge/pi-b2/availability", payloadIs("online"))

	w.publish(t, "edge/pi-b2/cmd/act-hold-0", false, "first")
	testenv.WaitFor(t, "the first run", func() bool { return acts.running.Load() == 1 })
	r := decodeReply(t, w.ask(t, "edge/pi-b2/cmd/act-hold-0"))
	if r.Code != "busy" || r.field("action") != "act-hold-0" || r.field("claims") != "{}" {
		t.Errorf("second request of a running action: %+v", r)
	}
	for i := 1; i < maxActionsRunning; i++ {
		w.publish(t, fmt.Sprintf("edge/pi-b2/cmd/act-hold-%d", i), false, "go")
	}
	testenv.WaitFor(t, "every slot taken", func() bool { return acts.running.Load() == maxActionsRunning })
	if r := decodeReply(t, w.ask(t, "edge/pi-b2/cmd/act-hold-x")); r.Code != "busy" {
		t.Errorf("a request beyond %d running: %+v", maxActionsRunning, r)
	}
	if r := decodeReply(t, w.ask(t, "edge/pi-b2/cmd/ping")); !r.OK {
		t.Errorf("ping while actions run: %+v", r)
	}
	close(acts.release)
	for i := range maxActionsRunning {
		topic := fmt.Sprintf("edge/pi-b2/cmd/act-hold-%d/reply", i)
		if r := decodeReply(t, w.next(t, topic, func(m paho.Message) bool { return strings.Contains(string(m.Payload()), `"ok":true`) })); r.Command != fmt.Sprintf("act-hold-%d", i) {
			t.Errorf("%s: %+v", topic, r)
		}
	}
	testenv.WaitFor(t, "the slots free", func() bool { return acts.running.Load() == 0 })
	if r := decodeReply(t, w.ask(t, "edge/pi-b2/cmd/act-hold-x")); r.Code == "busy" {
		t.Errorf("busy after every run ended: %+v", r)
	}
	if c := b.Counters(); c["actions_busy"] != 2 {
		t.Errorf("actions_busy %d, want 2", c["actions_busy"])
	}
}

// When Run's context ends, the actions running see theirs end, and Run
// waits for them: their replies go out before "offline", and Run returns
// only after every one returned.
func TestRunWaitsForActions(t *testing.T) {
	m := testenv.StartMosquitto(t)
	acts := newTestActions()
	b, err := New(Config{Brokers: []string{m.URL}, DeviceID: "pi-w", DiscoveryPrefix: "off", Interval: time.Hour, Actions: acts}, &fakeSource{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	w := watch(t, m.URL, "edge/pi-w/availability", "edge/pi-w/cmd/+/reply")
	w.next(t, "edge/pi-w/availability", payloadIs("online"))
	for i := range 3 {
		w.publish(t, fmt.Sprintf("edge/pi-w/cmd/act-hold-%d", i), false, "go")
	}
	testenv.WaitFor(t, "three actions running", func() bool { return acts.running.Load() == 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := len(acts.ended); n != 3 || acts.running.Load() != 0 {
		t.Fatalf("Run returned with %d actions ended, %d running", n, acts.running.Load())
	}
	// In the order the broker got them: the three replies, then offline.
	var order []string
	for len(order) < 4 {
		select {
		case msg := <-w.msgs:
			if strings.HasSuffix(msg.Topic(), "/reply") || string(msg.Payload()) == "offline" {
				order = append(order, msg.Topic())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %v, want three replies and offline", order)
		}
	}
	if order[3] != "edge/pi-w/availability" {
		t.Errorf("order %v: offline before a reply", order)
	}
}

// One slot per action name, maxActionsRunning in all; a freed slot can
// be taken again.
func TestActionSlotsBound(t *testing.T) {
	var s actionSlots
	for i := range maxActionsRunning {
		if !s.claim(fmt.Sprint(i)) {
			t.Fatalf("slot %d refused", i)
		}
	}
	if s.claim("one more") || s.claim("0") {
		t.Fatal("a slot beyond the bound, or a second run of one action")
	}
	s.release("3")
	if !s.claim("3") {
		t.Fatal("a freed slot is refused")
	}
}
