package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// standIn publishes on a broker what devices would: retained state and
// availability, replies and events. The device side is a separate
// program; this is what the operator's side reads of it.
type standIn struct {
	t *testing.T
	c paho.Client

	mu       sync.Mutex
	commands []string // device ids, in the order their commands came
}

func newStandIn(t *testing.T, url string, onCommand func(s *standIn, id string, cmd testCommand)) *standIn {
	t.Helper()
	s := &standIn{t: t}
	s.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("devices-%d", time.Now().UnixNano())).SetOrderMatters(false))
	if tok := s.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(100) })
	tok := s.c.Subscribe("edge/+/cmd/update", 1, func(_ paho.Client, m paho.Message) {
		id := strings.Split(m.Topic(), "/")[1]
		var cmd testCommand
		json.Unmarshal(m.Payload(), &cmd)
		s.mu.Lock()
		s.commands = append(s.commands, id)
		s.mu.Unlock()
		if onCommand != nil {
			onCommand(s, id, cmd)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return s
}

// testCommand is the payload testOptions' Command gives: a stand-in for
// the signed command, naming what the reply must.
type testCommand struct {
	Counter uint64 `json:"counter"`
	By      string `json:"by"`
}

func (s *standIn) pub(topic string, retain bool, v any) {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	// From a paho handler too: wait for the broker without failing the
	// test off its goroutine.
	s.c.Publish(topic, 1, retain, b).WaitTimeout(10 * time.Second)
}

func (s *standIn) state(id string, doc map[string]any) { s.pub("edge/"+id+"/state", true, doc) }
func (s *standIn) online(id string, on bool) {
	s.pub("edge/"+id+"/availability", true, map[bool]string{true: "online", false: "offline"}[on])
}

func (s *standIn) reply(id string, cmd testCommand, ok bool, code, msg string) {
	s.pub("edge/"+id+"/cmd/update/reply", false, map[string]any{"command": "update", "ok": ok, "code": code, "error": msg,
		"result": map[string]any{"by": cmd.By, "counter": cmd.Counter}})
}

func (s *standIn) event(id, kind string, tm time.Time, data map[string]any) {
	s.pub("edge/"+id+"/events/"+kind, false, map[string]any{"time": tm, "kind": kind, "data": data})
}

func (s *standIn) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// deviceState is a state document as an agent with updates publishes it.
func deviceState(version, goarch string, tm time.Time, uptime float64, update map[string]any) map[string]any {
	doc := map[string]any{"time": tm, "version": version, "goos": "linux", "goarch": goarch, "agent_uptime_s": uptime}
	if goarch == "arm" {
		doc["goarm"] = "6"
	}
	if update != nil {
		doc["update"] = update
	}
	return doc
}

func updates(last map[string]any) map[string]any {
	u := map[string]any{"enabled": true, "slot": "a", "trial": false}
	if last != nil {
		u["last"] = last
	}
	return u
}

func outcome(from, to, result, reason string) map[string]any {
	return map[string]any{"from": from, "to": to, "result": result, "reason": reason}
}

// healthy plays a device that updates to v2 and commits it.
func healthy(s *standIn, id string, cmd testCommand) {
	s.reply(id, cmd, true, "", "")
	now := time.Now()
	s.event(id, EventUpdate, now, map[string]any{"phase": PhaseDownloading, "version": "v2"})
	s.event(id, EventUpdate, now, map[string]any{"phase": PhaseVerifying, "version": "v2"})
	s.event(id, EventUpdate, now, map[string]any{"phase": PhaseRestarting, "version": "v2"})
	s.online(id, false)
	s.online(id, true)
	s.state(id, deviceState("v2", "arm64", now.Add(time.Second), 0.2, updates(outcome("v1", "v2", OutcomeCommitted, ""))))
}

func watchBroker(t *testing.T, url string) *Watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Watch(ctx, Options{Broker: url, Prefix: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	// Watch returns before its subscriptions are made (on connection,
	// in paho's goroutine); a retained probe device listed means they are.
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("probe"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Publish("edge/probe/availability", 1, true, "online").WaitTimeout(10 * time.Second)
	testenv.WaitFor(t, "the watcher's subscriptions", func() bool {
		return slices.ContainsFunc(w.Devices(), func(d Device) bool { return d.ID == "probe" })
	})
	return w
}

// testOptions updates devices to v2; the command is a stand-in whose
// counter is the device's place in line plus 100. A device on arm (the
// GOARM=6 target) has no binary.
func testOptions(devices ...string) UpdateOptions {
	n := uint64(100)
	return UpdateOptions{
		Devices: devices, Version: "v2", Timeout: 10 * time.Second, StateWait: 5 * time.Second,
		Command: func(id string, st UpdateState) (Request, error) {
			if st.GOARCH == "arm" {
				return Request{}, fmt.Errorf("no binary for %s/%s GOARM=%s", st.GOOS, st.GOARCH, st.GOARM)
			}
			n++
			b, _ := json.Marshal(testCommand{Counter: n, By: "SHA256:me"})
			return Request{Device: id, Payload: b, Counter: n, By: "SHA256:me"}, nil
		},
	}
}

func byDevice(t *testing.T, res UpdateResult) map[string]UpdateStatus {
	t.Helper()
	m := map[string]UpdateStatus{}
	for _, s := range res.Statuses {
		m[s.Device] = s
	}
	return m
}

func wantState(t *testing.T, got map[string]UpdateStatus, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if s := got[id].State(); s != w {
			t.Errorf("%s: %q, want %q", id, s, w)
		}
	}
}

// One update over devices that end every way a device can end before
// or without a timeout; each device's line is its own.
func TestUpdateEndings(t *testing.T) {
	m := testenv.StartMosquitto(t)
	old := time.Now().Add(-time.Hour)
	s := newStandIn(t, m.URL, func(s *standIn, id string, cmd testCommand) {
		switch id {
		case "ok":
			healthy(s, id, cmd)
		case "busy":
			s.reply(id, cmd, false, "busy", "v1.9 is on trial: it must commit or roll back first\nsecond line")
		case "bad-hash":
			s.reply(id, cmd, true, "", "")
			s.event(id, EventUpdate, time.Now(), map[string]any{"phase": PhaseDownloading, "version": "v2"})
			s.event(id, EventUpdateFailed, time.Now(), map[string]any{"from": "v1", "to": "v2", "reason": "checksum: sha256 differs"})
		case "unhealthy":
			// The new version does not come up; the launcher runs the
			// old one again, which says so in its state.
			s.reply(id, cmd, true, "", "")
			s.online(id, false)
			s.state(id, deviceState("v1", "amd64", time.Now(), 0, updates(outcome("v1", "v2", OutcomeRolledBack, "health: the broker was not reached within 60s"))))
			s.online(id, true)
		}
	})
	for id, st := range map[string]map[string]any{
		"ok":        deviceState("v1", "arm64", old, 3600, updates(nil)),
		"busy":      deviceState("v1", "arm64", old, 3600, updates(nil)),
		"bad-hash":  deviceState("v1", "arm64", old, 3600, updates(nil)),
		"unhealthy": deviceState("v1", "amd64", old, 3600, updates(nil)),
		"current":   deviceState("v2", "arm64", old, 3600, updates(nil)),
		"zero":      deviceState("v1", "arm", old, 3600, updates(nil)),
		"off":       deviceState("v1", "arm64", old, 3600, map[string]any{"enabled": false}),
		"ancient":   deviceState("v0.9", "", old, 3600, nil),
		"away":      deviceState("v1", "arm64", old, 3600, updates(nil)),
	} {
		s.state(id, st)
		s.online(id, id != "away")
	}
	w := watchBroker(t, m.URL)
	res, err := w.Update(context.Background(), testOptions("ok", "busy", "bad-hash", "unhealthy", "current", "zero", "off", "ancient", "away", "ghost"))
	if err != nil {
		t.Fatal(err)
	}
	got := byDevice(t, res)
	wantState(t, got, map[string]string{
		"ok":        "healthy",
		"busy":      "refused: busy: v1.9 is on trial: it must commit or roll back first",
		"bad-hash":  "rolled back: checksum: sha256 differs",
		"unhealthy": "rolled back: health: the broker was not reached within 60s",
		"current":   "already on v2",
		"zero":      "no binary for linux/arm GOARM=6",
		"off":       "updates off on the device (EDGE_UPDATE=on)",
		"ancient":   "its agent does not offer updates: install this version by hand",
		"away":      "offline: not sent",
		"ghost":     "no state on the broker: not an edge-agent, or it never connected",
	})
	if got["ok"].From != "v1" || got["ok"].To != "v2" || got["ok"].Sent.IsZero() || !got["ok"].OK() || !got["current"].OK() || got["busy"].OK() {
		t.Errorf("statuses: %+v", res.Statuses)
	}
	sent := s.received()
	slices.Sort(sent)
	if want := []string{"bad-hash", "busy", "ok", "unhealthy"}; !slices.Equal(sent, want) {
		t.Errorf("commands went to %v, want %v", sent, want)
	}
}

// A device whose last update to the same version rolled back keeps
// saying so in every state it publishes until it updates again: neither
// that retained state nor a periodic one from the same agent process
// ends the new attempt, nor does an update_failed event from before the
// command (by the device's clock) that arrives after it. The attempt times out in the
// phase it reached.
func TestUpdateIgnoresAnEarlierAttempt(t *testing.T) {
	m := testenv.StartMosquitto(t)
	base := time.Now().Add(-time.Minute)
	failed := updates(outcome("v1", "v2", OutcomeRolledBack, "an earlier attempt"))
	s := newStandIn(t, m.URL, func(s *standIn, id string, cmd testCommand) {
		s.event(id, EventUpdateFailed, base.Add(-time.Second), map[string]any{"from": "v1", "to": "v2", "reason": "in flight from before"})
		s.reply(id, cmd, true, "", "")
		// The periodic state of the same process: its uptime began
		// before the command.
		s.state(id, deviceState("v1", "arm64", time.Now(), 3700, failed))
		s.event(id, EventUpdate, time.Now(), map[string]any{"phase": PhaseDownloading, "version": "v2"})
	})
	s.state("pi", deviceState("v1", "arm64", base, 3600, failed))
	s.online("pi", true)
	w := watchBroker(t, m.URL)
	opt := testOptions("pi")
	opt.Timeout = time.Second
	res, err := w.Update(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, byDevice(t, res), map[string]string{"pi": "timed out in downloading"})
	if d := res.Statuses[0].Elapsed(time.Now()); d < time.Second || d > 3*time.Second {
		t.Errorf("timed out after %v, want about 1s", d)
	}
}

// With a canary, the others wait for it; when it does not end healthy
// they are skipped and never sent anything.
func TestUpdateCanaryStops(t *testing.T) {
	m := testenv.StartMosquitto(t)
	var aFails atomic.Bool
	aFails.Store(true)
	s := newStandIn(t, m.URL, func(s *standIn, id string, cmd testCommand) {
		if id == "a" && aFails.Load() {
			s.reply(id, cmd, true, "", "")
			s.event(id, EventUpdateFailed, time.Now(), map[string]any{"from": "v1", "to": "v2", "reason": "the new version crashed twice"})
			return
		}
		healthy(s, id, cmd)
	})
	for _, id := range []string{"a", "b", "c", "z"} {
		s.state(id, deviceState("v1", "arm64", time.Now(), 10, updates(nil)))
	}
	w := watchBroker(t, m.URL)
	opt := testOptions("z", "c", "b", "a")
	opt.Canary = 1
	res, err := w.Update(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, byDevice(t, res), map[string]string{"a": "rolled back: the new version crashed twice",
		"b": "skipped: canary failed", "c": "skipped: canary failed", "z": "skipped: canary failed"})
	if got := s.received(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("commands went to %v, want only the canary a", got)
	}

	// The canaries are the first by id not on the version already; when
	// they end healthy, the rest go.
	aFails.Store(false)
	s.state("b", deviceState("v2", "arm64", time.Now(), 10, updates(nil)))
	opt.Canary = 2
	res, err = w.Update(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	got := byDevice(t, res)
	wantState(t, got, map[string]string{"a": "healthy", "b": "already on v2", "c": "healthy", "z": "healthy"})
	if !got["z"].Sent.After(got["a"].Changed) || !got["z"].Sent.After(got["c"].Changed) {
		t.Errorf("z was sent before the canaries a and c ended: %+v", res.Statuses)
	}
}
