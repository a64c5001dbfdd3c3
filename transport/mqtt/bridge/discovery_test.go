package bridge

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// fullSource is a Source with the optional buttons and device info.
type fullSource struct {
	fakeSource
	buttons []Button
}

func (f *fullSource) Buttons() []Button {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Button(nil), f.buttons...)
}

func (f *fullSource) DeviceInfo() DeviceInfo {
	return DeviceInfo{Model: "Test board", SWVersion: "v9.9.9"}
}

// haShared are the shared options of a device message.
type haShared struct {
	StateTopic          string `json:"state_topic"`
	AvailabilityTopic   string `json:"availability_topic"`
	PayloadAvailable    string `json:"payload_available"`
	PayloadNotAvailable string `json:"payload_not_available"`
}

// components returns the raw components of a device message.
func components(t testing.TB, payload []byte) map[string]json.RawMessage {
	t.Helper()
	var msg struct {
		Cmps map[string]json.RawMessage `json:"cmps"`
	}
	if err := json.Unmarshal(payload, &msg); err != nil {
		t.Fatalf("device message %s: %v", payload, err)
	}
	return msg.Cmps
}

// componentIs reports whether the device message has component key and
// its JSON, as published, contains want.
func componentIs(t testing.TB, m paho.Message, key, want string) bool {
	t.Helper()
	c, ok := components(t, m.Payload())[key]
	return ok && strings.Contains(string(c), want)
}

// runStoppable starts a bridge and returns a stop that waits for Run.
func runStoppable(t *testing.T, cfg Config, src Source) (*Bridge, func()) {
	t.Helper()
	b, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	return b, testenv.Run(t, b.Run)
}

func TestEntitySlug(t *testing.T) {
	for in, want := range map[string]string{
		"kitchen_load_1": "kitchen_load_1", "pi-1_load_1": "pi_1_load_1", "Kitchen-Pi_3_uptime": "kitchen_pi_3_uptime",
		"a__b": "a_b", "-x-": "x", "": "", "__": "",
	} {
		if got := entitySlug(in); got != want {
			t.Errorf("entitySlug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSensorValidate(t *testing.T) {
	ok := Sensor{Key: "load_1", Name: "Load", Template: "{{ value_json.load_1 }}"}
	install := Install{Command: "cmd/update", Payload: "install", LatestTopic: "update/offer", LatestTemplate: "{{ value_json.version }}"}
	for _, tc := range []struct {
		name  string
		edit  func(*Sensor)
		valid bool
	}{
		{"plain", func(*Sensor) {}, true},
		{"diagnostic", func(s *Sensor) { s.EntityCategory = "diagnostic" }, true},
		{"binary", func(s *Sensor) { s.Platform, s.DeviceClass = PlatformBinarySensor, "problem" }, true},
		{"config category", func(s *Sensor) { s.EntityCategory = "config" }, false},
		{"binary with unit", func(s *Sensor) { s.Platform, s.Unit = PlatformBinarySensor, "%" }, false},
		{"binary with state class", func(s *Sensor) { s.Platform, s.StateClass = PlatformBinarySensor, "measurement" }, false},
		{"button platform", func(s *Sensor) { s.Platform = PlatformButton }, false},
		{"update", func(s *Sensor) { s.Platform, s.DeviceClass, s.EntityCategory = PlatformUpdate, "firmware", "config" }, true},
		{"update with unit", func(s *Sensor) { s.Platform, s.Unit = PlatformUpdate, "s" }, false},
		{"update of another class", func(s *Sensor) { s.Platform, s.DeviceClass = PlatformUpdate, "problem" }, false},
		{"update with install", func(s *Sensor) { s.Platform, s.Install = PlatformUpdate, &install }, true},
		{"install on a sensor", func(s *Sensor) { s.Install = &install }, false},
		{"install with a wildcard", func(s *Sensor) {
			s.Platform, s.Install = PlatformUpdate, &Install{Command: "cmd/+", Payload: "install", LatestTopic: "update/offer", LatestTemplate: "{{ value }}"}
		}, false},
		{"install without payload", func(s *Sensor) {
			s.Platform, s.Install = PlatformUpdate, &Install{Command: "cmd/update", LatestTopic: "update/offer", LatestTemplate: "{{ value }}"}
		}, false},
		{"empty key", func(s *Sensor) { s.Key = "" }, false},
		{"space in key", func(s *Sensor) { s.Key = "load 1" }, false},
		{"slash in key", func(s *Sensor) { s.Key = "a/b" }, false},
		{"long key", func(s *Sensor) { s.Key = strings.Repeat("k", 65) }, false},
		{"no name", func(s *Sensor) { s.Name = "" }, false},
		{"no template", func(s *Sensor) { s.Template = "" }, false},
	} {
		s := ok
		tc.edit(&s)
		err := s.Validate()
		if (err == nil) != tc.valid || err != nil && !errors.Is(err, ErrComponent) {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestButtonValidate(t *testing.T) {
	ok := Button{Key: "reboot", Name: "Reboot", Command: "cmd/reboot"}
	for _, tc := range []struct {
		name  string
		edit  func(*Button)
		valid bool
	}{
		{"plain", func(*Button) {}, true},
		{"restart class, config", func(b *Button) { b.DeviceClass, b.EntityCategory = "restart", "config" }, true},
		{"script", func(b *Button) { b.Key, b.Command = "script_backup", "cmd/script:backup" }, true},
		{"unknown class", func(b *Button) { b.DeviceClass = "explode" }, false},
		{"unknown category", func(b *Button) { b.EntityCategory = "system" }, false},
		{"wildcard", func(b *Button) { b.Command = "cmd/+" }, false},
		{"hash", func(b *Button) { b.Command = "cmd/#" }, false},
		{"leading slash", func(b *Button) { b.Command = "/cmd/reboot" }, false},
		{"trailing slash", func(b *Button) { b.Command = "cmd/reboot/" }, false},
		{"empty level", func(b *Button) { b.Command = "cmd//reboot" }, false},
		{"no command", func(b *Button) { b.Command = "" }, false},
		{"bad key", func(b *Button) { b.Key = "re boot" }, false},
		{"no name", func(b *Button) { b.Name = "" }, false},
	} {
		b := ok
		tc.edit(&b)
		if err := b.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

// The device message's fields, component by component, as built.
func TestDeviceConfigFields(t *testing.T) {
	src := &fullSource{fakeSource: fakeSource{sensors: []Sensor{
		{Key: "uptime", Name: "Uptime", Template: "{{ value_json.uptime_s | int }}", Unit: "s", DeviceClass: "duration", StateClass: "measurement", EntityCategory: "diagnostic"},
		{Key: "clock_problem", Platform: PlatformBinarySensor, Name: "Clock not synchronised", Template: "{{ 'OFF' if value_json.clock.synchronised else 'ON' }}", DeviceClass: "problem"},
		{Key: "bad key", Name: "Left out", Template: "{{ 1 }}"},
		{Key: "uptime", Name: "Twice", Template: "{{ 2 }}"},
	}}, buttons: []Button{
		{Key: "reboot", Name: "Reboot", Command: "cmd/reboot", DeviceClass: "restart", EntityCategory: "config"},
		{Key: "clock_problem", Name: "Same key as a sensor", Command: "cmd/x"},
	}}
	b, err := New(Config{Brokers: []string{"tcp://127.0.0.1:1"}, DeviceID: "Kitchen-Pi"}, src)
	if err != nil {
		t.Fatal(err)
	}
	msg := b.deviceConfig(b.components(), map[string]string{"under_voltage": PlatformSensor})
	want := map[string]haComponent{
		"uptime": {Platform: "sensor", Name: "Uptime", UniqueID: "Kitchen-Pi_uptime", DefaultEntityID: "sensor.kitchen_pi_uptime",
			ValueTemplate: "{{ value_json.uptime_s | int }}", Unit: "s", DeviceClass: "duration", StateClass: "measurement", EntityCategory: "diagnostic"},
		"clock_problem": {Platform: "binary_sensor", Name: "Clock not synchronised", UniqueID: "Kitchen-Pi_clock_problem",
			DefaultEntityID: "binary_sensor.kitchen_pi_clock_problem", ValueTemplate: "{{ 'OFF' if value_json.clock.synchronised else 'ON' }}", DeviceClass: "problem"},
		"reboot": {Platform: "button", Name: "Reboot", UniqueID: "Kitchen-Pi_reboot", DefaultEntityID: "button.kitchen_pi_reboot",
			CommandTopic: "edge/Kitchen-Pi/cmd/reboot", PayloadPress: "PRESS", QoS: 1, DeviceClass: "restart", EntityCategory: "config"},
		"under_voltage": {Platform: "sensor"},
	}
	if !reflect.DeepEqual(msg.Components, want) {
		t.Errorf("components\n got %+v\nwant %+v", msg.Components, want)
	}
	if msg.Origin != (haOrigin{Name: "edge-agent", SWVersion: "v9.9.9"}) {
		t.Errorf("origin %+v", msg.Origin)
	}
	if !reflect.DeepEqual(msg.Device, haDevice{Identifiers: []string{"edge-agent-Kitchen-Pi"}, Name: "Kitchen-Pi", Manufacturer: "edge-agent", Model: "Test board", SWVersion: "v9.9.9"}) {
		t.Errorf("device %+v", msg.Device)
	}
	if msg.StateTopic != "edge/Kitchen-Pi/state" || msg.AvailabilityTopic != "edge/Kitchen-Pi/availability" ||
		msg.PayloadAvailable != "online" || msg.PayloadNotAvailable != "offline" {
		t.Errorf("shared options %+v", msg)
	}
	raw, err := json.Marshal(msg.Components["under_voltage"])
	if err != nil || string(raw) != `{"p":"sensor"}` {
		t.Errorf("removal entry %s, %v", raw, err)
	}
}
