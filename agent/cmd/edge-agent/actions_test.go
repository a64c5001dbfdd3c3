package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/internal/dbustest"
	"edge-agent/transport/testenv"
)

// The whole of signed mode against the built agent, on mosquitto and on
// the embedded broker (where the operator logs in: anonymous clients may
// not publish under the device's topics): a script signed by ssh-keygen
// runs and its output comes back in the reply, named by key and
// counter, and is published as an event; each wrong request is refused
// with its code and counted.
func TestActionsSigned(t *testing.T) {
	for _, broker := range []string{"mosquitto", "embedded"} {
		t.Run(broker, func(t *testing.T) {
			s := newActionsSetup(t)
			const dev = "pi-act"
			env := append(s.env("script:hello,reboot"), "EDGE_DEVICE_ID="+dev)
			var url, user, pw string
			topics := []string{"edge/" + dev + "/cmd/+/reply", "edge/" + dev + "/events/action", "edge/" + dev + "/state", "edge/" + dev + "/availability"}
			var op *operator
			var retainedCounter uint64
			if broker == "mosquitto" {
				url = testenv.StartMosquitto(t).URL
				op = newOperator(t, url, "", "", topics...)
				// Set before the agent starts: the broker hands it over
				// retained at the agent's subscription.
				payload, c := signed(t, s.key, dev, "script:hello", "retained")
				retainedCounter = c
				op.publish(t, "edge/"+dev+"/cmd/script:hello", true, payload)
				startActionsAgent(t, append(env, "EDGE_MQTT_URL="+url)...)
			} else {
				user, pw = "op", "secret"
				p := startActionsAgent(t, append(env, "EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0",
					"EDGE_MQTT_EMBEDDED_PASSWORD_FILE="+passwordFile(t, user, pw))...)
				url = "tcp://" + p.addr(t, "mqtt-broker")
				op = newOperator(t, url, user, pw, topics...)
			}
			op.next(t, "edge/"+dev+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "online" })

			if broker == "mosquitto" {
				r := op.replyTo(t, dev, "script:hello", retainedCounter)
				if r.OK || r.Code != "retained" || r.Hint != "mosquitto_pub -r -n -t 'edge/"+dev+"/cmd/script:hello'" || r.Result.Output != "" {
					t.Errorf("retained request: %+v", r)
				}
				op.publish(t, "edge/"+dev+"/cmd/script:hello", true, nil)
			}

			payload, c := signed(t, s.key, dev, "script:hello", "world")
			r := op.ask(t, dev, "script:hello", payload, c)
			if !r.OK || r.Code != "" || r.Result.Output != "hello world\n" || r.Result.By != s.fp || r.Result.Key != "op@laptop" || r.Result.ExitCode != 0 {
				t.Errorf("signed script: %+v", r)
			}
			ev := op.next(t, "edge/"+dev+"/events/action", nil)
			var event struct {
				Kind string `json:"kind"`
				Data struct {
					Action  string `json:"action"`
					OK      bool   `json:"ok"`
					By      string `json:"by"`
					Counter uint64 `json:"counter"`
				} `json:"data"`
			}
			if json.Unmarshal(ev.Payload(), &event); event.Kind != "action" || event.Data.Action != "script:hello" || !event.Data.OK || event.Data.By != s.fp || event.Data.Counter != c {
				t.Errorf("event %s", ev.Payload())
			}

			other, _ := signed(t, s.key, "pi-other", "script:hello")
			stranger, _ := signed(t, s.stranger, dev, "script:hello")
			poweroff, _ := signed(t, s.key, dev, "poweroff")
			for _, tc := range []struct {
				name, action string
				payload      []byte
				code         string
			}{
				{"unsigned", "script:hello", []byte("PRESS"), "malformed"},
				{"an unlisted key", "script:hello", stranger, "unknown_key"},
				{"a replay", "script:hello", payload, "replay"},
				{"another device", "script:hello", other, "wrong_device"},
				{"not in the allow-list", "poweroff", poweroff, "not_allowed"},
			} {
				r := op.ask(t, dev, tc.action, tc.payload, 0)
				if r.OK || r.Code != tc.code || r.Error == "" || r.Result.Output != "" {
					t.Errorf("%s: %+v, want code %s", tc.name, r, tc.code)
				}
			}
			retained := uint64(0)
			if broker == "mosquitto" {
				retained = 1
			}
			op.counters(t, dev, "actions", func(c map[string]uint64) bool {
				return c["runs"] == 1 && c["refused_malformed"] == 1 && c["refused_unknown_key"] == 1 && c["refused_replay"] == 1 &&
					c["refused_wrong_device"] == 1 && c["refused_not_allowed"] == 1 && c["refused_retained"] == retained
			})
		})
	}
}

// reboot and poweroff go to systemd-logind over D-Bus (here a dbus-daemon
// of the test's and a stand-in for logind, found through
// DBUS_SYSTEM_BUS_ADDRESS as the system bus is), never interactively;
// polkit refusing, and no bus at all, come back as codes.
func TestActionsRebootThroughLogind(t *testing.T) {
	bus := dbustest.StartBus(t)
	logind := dbustest.StartLogind(t, bus)
	m := testenv.StartMosquitto(t)
	s := newActionsSetup(t)
	const dev = "pi-power"
	op := newOperator(t, m.URL, "", "", "edge/"+dev+"/cmd/+/reply", "edge/"+dev+"/availability")
	startActionsAgent(t, append(s.env("reboot,poweroff"), "EDGE_DEVICE_ID="+dev, "EDGE_MQTT_URL="+m.URL, "DBUS_SYSTEM_BUS_ADDRESS="+bus)...)
	op.next(t, "edge/"+dev+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "online" })

	payload, c := signed(t, s.key, dev, "reboot")
	if r := op.ask(t, dev, "reboot", payload, c); !r.OK || r.Result.By != s.fp {
		t.Errorf("reboot: %+v", r)
	}
	if calls := logind.Calls(); len(calls) != 1 || calls[0].Method != "Reboot" || calls[0].Interactive {
		t.Errorf("logind got %+v, want one non-interactive Reboot", calls)
	}
	logind.Fail("org.freedesktop.DBus.Error.AccessDenied", "Permission denied")
	payload, c = signed(t, s.key, dev, "poweroff")
	if r := op.ask(t, dev, "poweroff", payload, c); r.OK || r.Code != "failed" || !strings.Contains(r.Error, "org.freedesktop.login1.power-off") {
		t.Errorf("poweroff refused by polkit: %+v", r)
	}

	// Without a bus the device cannot do it at all.
	const dev2 = "pi-nobus"
	op2 := newOperator(t, m.URL, "", "", "edge/"+dev2+"/cmd/+/reply", "edge/"+dev2+"/availability")
	startActionsAgent(t, append(s.env("reboot"), "EDGE_DEVICE_ID="+dev2, "EDGE_MQTT_URL="+m.URL,
		"DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "none"))...)
	op2.next(t, "edge/"+dev2+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "online" })
	payload, c = signed(t, s.key, dev2, "reboot")
	if r := op2.ask(t, dev2, "reboot", payload, c); r.OK || r.Code != "unsupported" {
		t.Errorf("reboot without a bus: %+v", r)
	}
}

// restart stops the agent cleanly and starts the same binary again in
// the same process: the reply comes first, then offline and online again
// from the same PID, which still answers, still refuses the same request
// (the counter is on disk) and still stops cleanly on SIGTERM.
func TestActionsRestartReExecs(t *testing.T) {
	m := testenv.StartMosquitto(t)
	s := newActionsSetup(t)
	const dev = "pi-re"
	op := newOperator(t, m.URL, "", "", "edge/"+dev+"/cmd/+/reply", "edge/"+dev+"/availability")
	p := startActionsAgent(t, append(s.env("restart,script:hello"), "EDGE_DEVICE_ID="+dev, "EDGE_MQTT_URL="+m.URL)...)
	online := func(m paho.Message) bool { return string(m.Payload()) == "online" }
	op.next(t, "edge/"+dev+"/availability", online)
	pid := p.cmd.Process.Pid
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")

	payload, c := signed(t, s.key, dev, "restart")
	asked := time.Now()
	if r := op.ask(t, dev, "restart", payload, c); !r.OK || r.Result.By != s.fp {
		t.Fatalf("restart: %+v", r)
	}
	op.next(t, "edge/"+dev+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "offline" })
	op.next(t, "edge/"+dev+"/availability", online)
	t.Logf("restart asked to online again: %v", time.Since(asked).Round(time.Millisecond))
	select {
	case <-p.exited:
		t.Fatalf("the agent exited: %v", p.cmd.ProcessState)
	default:
	}
	if n := strings.Count(p.log.String(), "msg=\"edge-agent started\""); n != 2 {
		t.Errorf("started %d times, want 2 (one re-exec)", n)
	}
	if again, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); again != exe || exe == "" {
		t.Errorf("pid %d runs %q, was %q", pid, again, exe)
	}
	if r := op.ask(t, dev, "restart", payload, c); r.Code != "replay" {
		t.Errorf("the restart request again, after the restart: %+v", r)
	}
	hello, c := signed(t, s.key, dev, "script:hello", "again")
	if r := op.ask(t, dev, "script:hello", hello, c); !r.OK || r.Result.Output != "hello again\n" {
		t.Errorf("after the restart: %+v", r)
	}
	p.stop(t)
}

// Broker mode trusts the broker's ACLs: with the embedded broker only a
// user of its password file may press (an anonymous client's publish is
// refused), a press runs with by "broker", and each allowed action is a
// Home Assistant button.
func TestActionsBrokerModeOnTheEmbeddedBroker(t *testing.T) {
	s := newActionsSetup(t)
	const dev = "pi-btn"
	p := startActionsAgent(t, "EDGE_ACTIONS=script:hello", "EDGE_ACTIONS_AUTH=broker", "EDGE_ACTIONS_DIR="+s.scripts, "EDGE_DEVICE_ID="+dev,
		"EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0", "EDGE_MQTT_EMBEDDED_ANONYMOUS=true",
		"EDGE_MQTT_EMBEDDED_PASSWORD_FILE="+passwordFile(t, "op", "pw"))
	url := "tcp://" + p.addr(t, "mqtt-broker")
	op := newOperator(t, url, "op", "pw", "edge/"+dev+"/cmd/+/reply", "edge/"+dev+"/availability", "edge/"+dev+"/state", "homeassistant/device/"+dev+"/config")
	op.next(t, "edge/"+dev+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "online" })
	disc := op.next(t, "homeassistant/device/"+dev+"/config", nil)
	var cfg struct {
		Cmps map[string]map[string]any `json:"cmps"`
	}
	json.Unmarshal(disc.Payload(), &cfg)
	if b := cfg.Cmps["script_hello"]; b["p"] != "button" || b["command_topic"] != "edge/"+dev+"/cmd/script:hello" || b["payload_press"] != "PRESS" {
		t.Errorf("button %v in %s", b, disc.Payload())
	}

	anon := newOperator(t, url, "", "")
	anon.c.Publish("edge/"+dev+"/cmd/script:hello", 0, false, "PRESS").WaitTimeout(5 * time.Second)
	r := op.ask(t, dev, "script:hello", []byte("PRESS"), 0)
	if !r.OK || r.Result.By != "broker" || r.Result.Output != "hello \n" {
		t.Errorf("press: %+v", r)
	}
	// The anonymous publish was refused by the broker, and nothing but the
	// operator's press ran.
	op.counters(t, dev, "mqtt-broker", func(c map[string]uint64) bool { return c["rejected_acl"] == 1 })
	op.counters(t, dev, "actions", func(c map[string]uint64) bool { return c["runs"] == 1 })
	for _, m := range op.seen {
		if strings.HasSuffix(m.Topic(), "/reply") {
			t.Errorf("a second reply: the anonymous press ran? %s", m.Payload())
		}
	}
}

// With signed actions on and no key to sign them, the agent does not
// start: the message names the file and what to put in it.
func TestActionsWithoutKeysDoNotStart(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "authorized_keys")
	os.WriteFile(empty, []byte("# nobody yet\n"), 0o644)
	for _, file := range []string{empty, filepath.Join(t.TempDir(), "missing")} {
		cmd := command(context.Background(), []string{"EDGE_ACTIONS=reboot", "EDGE_ACTIONS_AUTHORIZED_KEYS=" + file,
			"EDGE_MQTT_URL=tcp://127.0.0.1:1", "EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
		code, out := runBinary(t, cmd)
		if code != exitConfig || !containsAll(out, "EDGE_ACTIONS_AUTHORIZED_KEYS", file, "ssh-ed25519 AAAA... user@host") {
			t.Errorf("%s: exit %d\n%s", file, code, out)
		}
	}
}

// With the embedded broker, which stops and starts with the agent, the
// reply to restart still reaches the operator before the broker goes,
// and the broker comes back on its address with the agent.
func TestActionsRestartWithTheEmbeddedBroker(t *testing.T) {
	s := newActionsSetup(t)
	const dev = "pi-re2"
	addr, _ := freeAddr(t)
	url := "tcp://" + addr
	p := startActionsAgent(t, append(s.env("restart,script:hello"), "EDGE_DEVICE_ID="+dev, "EDGE_MQTT_URL=",
		"EDGE_MQTT_EMBEDDED_ADDR="+addr, "EDGE_MQTT_EMBEDDED_PASSWORD_FILE="+passwordFile(t, "op", "pw"))...)
	p.addr(t, "mqtt-broker")
	op := newOperator(t, url, "op", "pw", "edge/"+dev+"/cmd/+/reply", "edge/"+dev+"/availability")
	op.next(t, "edge/"+dev+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "online" })
	payload, c := signed(t, s.key, dev, "restart")
	if r := op.ask(t, dev, "restart", payload, c); !r.OK {
		t.Fatalf("restart: %+v", r)
	}
	testenv.WaitFor(t, "the second start", func() bool { return strings.Count(p.log.String(), "msg=\"edge-agent started\"") == 2 })
	testenv.WaitFor(t, "the embedded broker back", func() bool {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetUsername("op").SetPassword("pw").SetAutoReconnect(false))
		tok := c.Connect()
		ok := tok.WaitTimeout(2*time.Second) && tok.Error() == nil
		c.Disconnect(0)
		return ok
	})
	op2 := newOperator(t, url, "op", "pw", "edge/"+dev+"/cmd/+/reply", "edge/"+dev+"/availability")
	op2.next(t, "edge/"+dev+"/availability", func(m paho.Message) bool { return string(m.Payload()) == "online" })
	hello, c := signed(t, s.key, dev, "script:hello", "back")
	if r := op2.ask(t, dev, "script:hello", hello, c); !r.OK || r.Result.Output != "hello back\n" {
		t.Errorf("after the restart: %+v", r)
	}
	p.stop(t)
}
