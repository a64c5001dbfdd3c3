package bridge

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// recorder keeps every message of its subscription in arrival order
// (paho's router delivers in order), retained ones flagged. It subscribes
// at QoS 0, so the broker sends each message once: a QoS 1 subscriber may
// get a copy again, which would blur what was published how often.
type recorder struct {
	mu   sync.Mutex
	msgs []recorded
}

type recorded struct {
	topic, payload string
	retained       bool
}

func recordAll(t *testing.T, url, filter string) *recorder {
	t.Helper()
	r := &recorder{}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("recorder-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("recorder connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(filter, 0, func(_ paho.Client, m paho.Message) {
		r.mu.Lock()
		r.msgs = append(r.msgs, recorded{m.Topic(), string(m.Payload()), m.Retained()})
		r.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("recorder subscribe: %v", tok.Error())
	}
	return r
}

// live returns the messages published while the recorder listened, on
// topics other than Home Assistant's status.
func (r *recorder) live() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, m := range r.msgs {
		if !m.retained && !strings.HasSuffix(m.topic, "/status") {
			out = append(out, m)
		}
	}
	return out
}

func (r *recorder) count(topic string, payload func(string) bool) int {
	n := 0
	for _, m := range r.live() {
		if m.topic == topic && payload(m.payload) {
			n++
		}
	}
	return n
}

func nonEmpty(p string) bool { return p != "" }
func empty(p string) bool    { return p == "" }

// retainedUnder returns what the broker holds under filter (topic →
// payload). A probe published after the subscription comes back after
// the retained messages: the broker queues them at the subscription, and
// paho hands messages over in order.
func retainedUnder(t *testing.T, url, filter string) map[string]string {
	t.Helper()
	probe := fmt.Sprintf("test/probe/%d", time.Now().UnixNano())
	held := map[string]string{}
	var mu sync.Mutex
	done := make(chan struct{})
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("probe-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("probe connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for _, f := range []string{filter, probe} {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			if m.Topic() == probe {
				close(done)
				return
			}
			if m.Retained() {
				mu.Lock()
				held[m.Topic()] = string(m.Payload())
				mu.Unlock()
			}
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("probe subscribe: %v", tok.Error())
		}
	}
	c.Publish(probe, 1, false, "x")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the probe did not come back")
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(held)
}

// legacyConfig is a per-entity config as versions before device
// discovery published it.
func legacyConfig(id, key string) string {
	return fmt.Sprintf(`{"name":%q,"unique_id":"%s_%s","object_id":"%s_%s","state_topic":"edge/%s/state","value_template":"{{ value_json.%s }}",`+
		`"availability_topic":"edge/%s/availability","payload_available":"online","payload_not_available":"offline",`+
		`"device":{"identifiers":["edge-agent-%s"],"name":%q,"manufacturer":"edge-agent"}}`, key, id, key, id, key, id, key, id, id, id)
}

func migrationSource() *fullSource {
	return &fullSource{fakeSource: fakeSource{sensors: []Sensor{
		{Key: "load_1", Name: "Load (1 min)", Template: "{{ value_json.load_1 }}", StateClass: "measurement", EntityCategory: "diagnostic"},
		{Key: "uptime", Name: "Uptime", Template: "{{ value_json.uptime_s | int }}", Unit: "s", DeviceClass: "duration", StateClass: "measurement", EntityCategory: "diagnostic"},
		{Key: "mem_used", Name: "Memory used", Template: "{{ value_json.mem_used_percent }}", Unit: "%", StateClass: "measurement", EntityCategory: "diagnostic"},
		// under_voltage was a text sensor; its binary sensor has a key
		// of its own, and the old entity is removed, not migrated.
		{Key: "under_voltage_problem", Platform: PlatformBinarySensor, Name: "Under-voltage", Template: "{{ 'ON' if value_json.n else 'OFF' }}", DeviceClass: "problem"},
	}}}
}

// An install with per-entity configs from an earlier version is handed
// over to device discovery in the order discovery.py needs: the migration
// message on each old topic that names a component still offered, then
// the device message (same keys, same unique ids), then the old topics
// cleared. An old entity no longer offered is cleared only. Another
// device's configs are left alone. A restart after that only sends the
// device message again.
func TestMigrationFromPerEntityDiscovery(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		const id = "pi-m"
		legacy := map[string]bool{"load_1": true, "uptime": true, "under_voltage": false, "mem_used": true} // key → migrated
		seed := watch(t, url)
		for key := range legacy {
			payload := legacyConfig(id, key)
			if key == "mem_used" {
				// A migration that stopped half-way (a power cut) left
				// its retained migration message: it is taken up again.
				payload = migratePayload
			}
			seed.publish(t, "homeassistant/sensor/"+id+"/"+key+"/config", true, payload)
		}
		seed.publish(t, "homeassistant/sensor/pi-x/load_1/config", true, legacyConfig("pi-x", "load_1"))

		rec := recordAll(t, url, "homeassistant/#")
		src := migrationSource()
		_, stop := runStoppable(t, Config{Brokers: []string{url}, DeviceID: id}, src)
		device := "homeassistant/device/" + id + "/config"
		testenv.WaitFor(t, "the old topics cleared", func() bool {
			for key := range legacy {
				if rec.count("homeassistant/sensor/"+id+"/"+key+"/config", empty) == 0 {
					return false
				}
			}
			return true
		})

		log := rec.live()
		at := func(topic string, payload func(string) bool) []int {
			var idx []int
			for i, m := range log {
				if m.topic == topic && payload(m.payload) {
					idx = append(idx, i)
				}
			}
			return idx
		}
		devices := at(device, nonEmpty)
		if len(devices) != 1 {
			t.Fatalf("%d device messages, want 1: %v", len(devices), log)
		}
		for key, migrated := range legacy {
			topic := "homeassistant/sensor/" + id + "/" + key + "/config"
			migrations := at(topic, func(p string) bool { return p == migratePayload })
			clears := at(topic, empty)
			if len(clears) != 1 || clears[0] < devices[0] {
				t.Errorf("%s: cleared at %v, device message at %d: %v", key, clears, devices[0], log)
			}
			switch {
			case migrated && (len(migrations) != 1 || migrations[0] > devices[0]):
				t.Errorf("%s: migration message at %v, device message at %d: %v", key, migrations, devices[0], log)
			case !migrated && len(migrations) != 0:
				t.Errorf("%s is no longer offered, yet was migrated: %v", key, log)
			}
			if n := len(at(topic, func(string) bool { return true })); n != len(migrations)+len(clears) {
				t.Errorf("%s: %d messages, want only the migration and the clearing: %v", key, n, log)
			}
		}
		comps := components(t, []byte(log[devices[0]].payload))
		for _, key := range []string{"load_1", "uptime", "mem_used", "under_voltage_problem"} {
			if !strings.Contains(string(comps[key]), fmt.Sprintf(`"unique_id":"%s_%s"`, id, key)) {
				t.Errorf("component %s: %s", key, comps[key])
			}
		}
		if len(comps) != 4 {
			t.Errorf("components %v", slices.Sorted(maps.Keys(comps)))
		}
		if held := retainedUnder(t, url, "homeassistant/sensor/"+id+"/+/config"); len(held) != 0 {
			t.Errorf("old topics still hold %v", held)
		}
		if held := retainedUnder(t, url, "homeassistant/sensor/pi-x/+/config"); len(held) != 1 {
			t.Errorf("another device's configs: %v", held)
		}
		if held := retainedUnder(t, url, device); held[device] != log[devices[0]].payload {
			t.Errorf("retained device message %q", held[device])
		}

		// Restart: the device message again, nothing else.
		stop()
		rec = recordAll(t, url, "homeassistant/#")
		runStoppable(t, Config{Brokers: []string{url}, DeviceID: id}, src)
		announcedTwice(t, url, rec, device)
	})
}

// A fresh install (nothing retained) publishes the device message and no
// migration or clearing.
func TestFreshInstallPublishesNoMigration(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		rec := recordAll(t, url, "homeassistant/#")
		runStoppable(t, Config{Brokers: []string{url}, DeviceID: "pi-f"}, migrationSource())
		announcedTwice(t, url, rec, "homeassistant/device/pi-f/config")
	})
}

// announcedTwice waits for the device message, has Home Assistant come
// online for a second one (anything the bridge sent after the first went
// out before the second, on the same connection), and checks nothing
// else was published on discovery topics and no component is a removal.
func announcedTwice(t *testing.T, url string, rec *recorder, device string) {
	t.Helper()
	testenv.WaitFor(t, "the device message", func() bool { return rec.count(device, nonEmpty) >= 1 })
	w := watch(t, url)
	w.publish(t, "homeassistant/status", false, "online")
	testenv.WaitFor(t, "the device message again", func() bool { return rec.count(device, nonEmpty) >= 2 })
	log := rec.live()
	for _, m := range log {
		if m.topic != device {
			t.Errorf("published %s %q besides the device message", m.topic, m.payload)
			continue
		}
		for key, c := range components(t, []byte(m.payload)) {
			if !strings.Contains(string(c), `"unique_id"`) {
				t.Errorf("component %s is a removal: %s", key, c)
			}
		}
	}
}
