package bridge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// haSchema is testdata/ha_mqtt_discovery_keys.txt: the keys Home
// Assistant accepts, per section, and its abbreviations.
type haSchema struct {
	keys map[string]map[string]bool   // section → key → required
	abbr map[string]map[string]string // section → short → full
}

func loadHASchema(t testing.TB) haSchema {
	t.Helper()
	f, err := os.Open("testdata/ha_mqtt_discovery_keys.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := haSchema{keys: map[string]map[string]bool{}, abbr: map[string]map[string]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
		case strings.HasPrefix(text, "["):
			section = strings.Trim(text, "[]")
		case strings.HasSuffix(section, "abbreviations"):
			short, full, ok := strings.Cut(text, " ")
			if !ok {
				t.Fatalf("testdata line %d: %q is not an abbreviation", line, text)
			}
			if s.abbr[section] == nil {
				s.abbr[section] = map[string]string{}
			}
			s.abbr[section][short] = full
		default:
			key, flag, _ := strings.Cut(text, " ")
			if s.keys[section] == nil {
				s.keys[section] = map[string]bool{}
			}
			s.keys[section][key] = flag == "required"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"device_discovery", "shared", "device", "origin", "entity_common", "component", "sensor", "binary_sensor", "button", "update", "removed"} {
		if len(s.keys[want]) == 0 {
			t.Fatalf("testdata has no [%s]", want)
		}
	}
	return s
}

// expand replaces abbreviations as discovery.py _replace_abbreviations does.
func expand(m map[string]any, abbr map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if full, ok := abbr[k]; ok {
			k = full
		}
		out[k] = v
	}
	return out
}

// check reports the keys of m that the sections do not accept, those
// Home Assistant removed, and the required ones missing.
func (s haSchema) check(where string, m map[string]any, sections ...string) []string {
	var problems []string
	for k := range m {
		accepted := false
		for _, sec := range sections {
			if _, ok := s.keys[sec][k]; ok {
				accepted = true
			}
		}
		_, removed := s.keys["removed"][k]
		switch {
		case removed:
			problems = append(problems, fmt.Sprintf("%s: %s is no longer read by Home Assistant", where, k))
		case !accepted:
			problems = append(problems, fmt.Sprintf("%s: unknown key %s", where, k))
		}
	}
	for _, sec := range sections {
		for k, required := range s.keys[sec] {
			if _, ok := m[k]; required && !ok && !(sec == "component" && k == "unique_id") {
				problems = append(problems, fmt.Sprintf("%s: required key %s missing", where, k))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// validate checks a device discovery message the way discovery.py reads
// it: abbreviations expanded, the top level, device and origin strictly,
// then each component with the shared options merged in, against the
// common entity keys and its platform's.
func (s haSchema) validate(payload []byte) []string {
	var top map[string]any
	if err := json.Unmarshal(payload, &top); err != nil {
		return []string{"not a JSON object: " + err.Error()}
	}
	top = expand(top, s.abbr["abbreviations"])
	problems := s.check("device message", top, "device_discovery")
	if dev, ok := top["device"].(map[string]any); ok {
		dev = expand(dev, s.abbr["device_abbreviations"])
		problems = append(problems, s.check("device", dev, "device")...)
		if ids, _ := dev["identifiers"].([]any); len(ids) == 0 && dev["connections"] == nil {
			problems = append(problems, "device: no identifiers")
		}
	}
	if o, ok := top["origin"].(map[string]any); ok {
		problems = append(problems, s.check("origin", expand(o, s.abbr["origin_abbreviations"]), "origin")...)
	}
	comps, _ := top["components"].(map[string]any)
	for key, raw := range comps {
		comp, ok := raw.(map[string]any)
		if !ok {
			problems = append(problems, key+": not an object")
			continue
		}
		comp = expand(comp, s.abbr["abbreviations"])
		platform, _ := comp["platform"].(string)
		if _, ok := s.keys[platform]; !ok || platform == "" {
			problems = append(problems, fmt.Sprintf("%s: platform %q unknown", key, platform))
			continue
		}
		if len(comp) == 1 {
			continue // a removal
		}
		if _, ok := comp["unique_id"]; !ok {
			problems = append(problems, key+": required key unique_id missing")
		}
		for opt := range s.keys["shared"] {
			if v, ok := top[opt]; ok {
				if _, set := comp[opt]; !set {
					comp[opt] = v
				}
			}
		}
		// What discovery.py merges in and a platform does not read
		// (a state topic for a button) its schema drops: not the
		// message's fault.
		for opt := range s.keys["shared"] {
			if _, own := raw.(map[string]any)[opt]; !own {
				_, platformReads := s.keys[platform][opt]
				_, commonReads := s.keys["entity_common"][opt]
				if !platformReads && !commonReads {
					delete(comp, opt)
				}
			}
		}
		problems = append(problems, s.check(key, comp, "component", "entity_common", platform)...)
	}
	return problems
}

// The validator finds what Home Assistant would refuse or ignore.
func TestHomeAssistantSchemaCheck(t *testing.T) {
	s := loadHASchema(t)
	good := `{"dev":{"ids":["x"],"name":"x"},"o":{"name":"edge-agent","sw":"1"},"state_topic":"e/x/state",
		"availability_topic":"e/x/availability","cmps":{
		"a":{"p":"sensor","unique_id":"x_a","default_entity_id":"sensor.x_a","value_template":"{{ 1 }}","unit_of_measurement":"s"},
		"b":{"p":"binary_sensor","uniq_id":"x_b","val_tpl":"{{ 'ON' }}","device_class":"problem"},
		"c":{"p":"button","unique_id":"x_c","command_topic":"e/x/cmd/reboot","payload_press":"PRESS"},
		"d":{"p":"sensor"}}}`
	if p := s.validate([]byte(good)); len(p) != 0 {
		t.Fatalf("a good message: %v", p)
	}
	for _, tc := range []struct{ name, payload, want string }{
		{"object_id", `{"dev":{"ids":["x"]},"o":{"name":"n"},"state_topic":"s","cmps":{"a":{"p":"sensor","unique_id":"u","object_id":"x_a"}}}`, "object_id is no longer read"},
		{"unknown component key", `{"dev":{"ids":["x"]},"o":{"name":"n"},"state_topic":"s","cmps":{"a":{"p":"sensor","unique_id":"u","colour":"red"}}}`, "unknown key colour"},
		{"unit on a binary sensor", `{"dev":{"ids":["x"]},"o":{"name":"n"},"state_topic":"s","cmps":{"a":{"p":"binary_sensor","unique_id":"u","unit_of_measurement":"%"}}}`, "unknown key unit_of_measurement"},
		{"no state topic anywhere", `{"dev":{"ids":["x"]},"o":{"name":"n"},"cmps":{"a":{"p":"sensor","unique_id":"u"}}}`, "required key state_topic missing"},
		{"button without command topic", `{"dev":{"ids":["x"]},"o":{"name":"n"},"state_topic":"s","cmps":{"a":{"p":"button","unique_id":"u"}}}`, "required key command_topic missing"},
		{"no unique id", `{"dev":{"ids":["x"]},"o":{"name":"n"},"state_topic":"s","cmps":{"a":{"p":"sensor","name":"A"}}}`, "required key unique_id missing"},
		{"no origin", `{"dev":{"ids":["x"]},"state_topic":"s","cmps":{}}`, "required key origin missing"},
		{"origin without name", `{"dev":{"ids":["x"]},"o":{"sw":"1"},"state_topic":"s","cmps":{}}`, "required key name missing"},
		{"unknown top-level key", `{"dev":{"ids":["x"]},"o":{"name":"n"},"cmps":{},"value_template":"x"}`, "unknown key value_template"},
		{"device without identifiers", `{"dev":{"name":"x"},"o":{"name":"n"},"cmps":{}}`, "no identifiers"},
		{"unknown device key", `{"dev":{"ids":["x"],"colour":"red"},"o":{"name":"n"},"cmps":{}}`, "device: unknown key colour"},
		{"unknown platform", `{"dev":{"ids":["x"]},"o":{"name":"n"},"cmps":{"a":{"p":"toaster"}}}`, "platform \"toaster\" unknown"},
	} {
		p := s.validate([]byte(tc.payload))
		if !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("%s: problems %q, want one with %q", tc.name, p, tc.want)
		}
	}
}

// Every device message the bridge publishes, taken from a broker, is one
// Home Assistant accepts key by key: a sensor, a diagnostic one, binary
// sensors, an update, buttons, and the removal of a component after a restart, sent
// once.
func TestDiscoveryMatchesHomeAssistantSchema(t *testing.T) {
	s := loadHASchema(t)
	brokers(t, func(t *testing.T, url string) {
		src := &fullSource{fakeSource: fakeSource{sensors: []Sensor{
			{Key: "uptime", Name: "Uptime", Template: "{{ value_json.uptime_s | int }}", Unit: "s", DeviceClass: "duration", StateClass: "measurement", EntityCategory: "diagnostic"},
			{Key: "files", Name: "Files received", Template: "{{ value_json.n }}", StateClass: "total_increasing", Icon: "mdi:file-download"},
			{Key: "under_voltage_problem", Platform: PlatformBinarySensor, Name: "Under-voltage", Template: "{{ 'ON' if value_json.n else 'OFF' }}", DeviceClass: "problem"},
			{Key: "agent_update", Platform: PlatformUpdate, Name: "Agent", Template: "{{ {'installed_version': value_json.version} | tojson }}", DeviceClass: "firmware", EntityCategory: "config",
				Install: &Install{Command: "cmd/update", Payload: "install", LatestTopic: "update/offer", LatestTemplate: "{{ value_json.version }}"}},
		}}, buttons: []Button{
			{Key: "reboot", Name: "Reboot", Command: "cmd/reboot", DeviceClass: "restart", EntityCategory: "config", Icon: "mdi:restart"},
			{Key: "script_backup", Name: "Backup", Command: "cmd/script:backup"},
		}}
		w := watch(t, url, "homeassistant/device/pi-s/config")
		_, stop := runStoppable(t, Config{Brokers: []string{url}, DeviceID: "pi-s"}, src)
		first := w.next(t, "homeassistant/device/pi-s/config", nil)
		if p := s.validate(first.Payload()); len(p) != 0 {
			t.Errorf("device message %s:\n%s", first.Payload(), strings.Join(p, "\n"))
		}
		stop()
		src.mu.Lock()
		src.sensors = src.sensors[:2]
		src.mu.Unlock()
		_, stop = runStoppable(t, Config{Brokers: []string{url}, DeviceID: "pi-s"}, src)
		// The second run's message removes what the first had and this
		// one has not (a copy of the first, which QoS 1 allows, is passed).
		second := w.next(t, "homeassistant/device/pi-s/config", func(m paho.Message) bool {
			return componentIs(t, m, "under_voltage_problem", `{"p":"binary_sensor"}`)
		})
		if p := s.validate(second.Payload()); len(p) != 0 {
			t.Errorf("device message %s:\n%s", second.Payload(), strings.Join(p, "\n"))
		}
		// A removal is sent once: the next run leaves the component out.
		stop()
		runStoppable(t, Config{Brokers: []string{url}, DeviceID: "pi-s"}, src)
		w.next(t, "homeassistant/device/pi-s/config", func(m paho.Message) bool {
			_, there := components(t, m.Payload())["under_voltage_problem"]
			return !m.Retained() && !there
		})
	})
}

// CheckHomeAssistantSchema is the schema check for the package's
// external tests, which run the agent itself.
func CheckHomeAssistantSchema(t testing.TB, payload []byte) []string {
	t.Helper()
	return loadHASchema(t).validate(payload)
}
