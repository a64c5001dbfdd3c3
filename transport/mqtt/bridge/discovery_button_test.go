package bridge

import (
	"encoding/json"
	"strings"
	"testing"
)

// Buttons a Source offers appear in the device message with their
// command topic under the device's base and "PRESS", in a form Home
// Assistant's button schema accepts; what a press publishes reaches the
// command.
func TestButtonsInDeviceDiscovery(t *testing.T) {
	s := loadHASchema(t)
	brokers(t, func(t *testing.T, url string) {
		src := &fullSource{buttons: []Button{
			{Key: "reboot", Name: "Reboot", Command: "cmd/reboot", DeviceClass: "restart", EntityCategory: "config", Icon: "mdi:restart"},
			{Key: "script_backup", Name: "Run backup", Command: "cmd/script:backup", Icon: "mdi:script-text"},
		}}
		pressed := make(chan string, 1)
		cfg := Config{Brokers: []string{url}, DeviceID: "pi-b", Commands: map[string]Command{
			"reboot": func(p []byte) (any, error) { pressed <- string(p); return "rebooting", nil },
		}}
		w := watch(t, url, "homeassistant/device/pi-b/config", "edge/pi-b/cmd/+/reply")
		run(t, cfg, src)
		msg := w.next(t, "homeassistant/device/pi-b/config", nil)
		if p := s.validate(msg.Payload()); len(p) != 0 {
			t.Errorf("device message %s:\n%s", msg.Payload(), strings.Join(p, "\n"))
		}
		comps := components(t, msg.Payload())
		want := map[string]map[string]any{
			"reboot": {"p": "button", "command_topic": "edge/pi-b/cmd/reboot", "payload_press": "PRESS", "unique_id": "pi-b_reboot",
				"default_entity_id": "button.pi_b_reboot", "device_class": "restart", "entity_category": "config"},
			"script_backup": {"p": "button", "command_topic": "edge/pi-b/cmd/script:backup", "payload_press": "PRESS", "unique_id": "pi-b_script_backup",
				"default_entity_id": "button.pi_b_script_backup"},
		}
		if len(comps) != len(want) {
			t.Fatalf("components %s", msg.Payload())
		}
		var press map[string]any
		for key, fields := range want {
			var got map[string]any
			if err := json.Unmarshal(comps[key], &got); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			for k, v := range fields {
				if got[k] != v {
					t.Errorf("%s: %s = %v, want %v", key, k, got[k], v)
				}
			}
			if _, ok := got["retain"]; ok {
				t.Errorf("%s sets retain: a retained command is never run", key)
			}
			if key == "reboot" {
				press = got
			}
		}
		// What Home Assistant publishes when the button is pressed.
		w.publish(t, press["command_topic"].(string), false, press["payload_press"].(string))
		if p := <-pressed; p != "PRESS" {
			t.Errorf("the command got %q", p)
		}
		if r := w.next(t, "edge/pi-b/cmd/reboot/reply", nil); !strings.Contains(string(r.Payload()), `"ok":true`) {
			t.Errorf("reply %s", r.Payload())
		}
	})
}
