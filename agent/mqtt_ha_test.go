package agent

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edge-agent/agent/health"
	"edge-agent/transport/mqtt/bridge"
	"edge-agent/transport/testenv"
)

func TestDiskFullPercentVariable(t *testing.T) {
	clearEnv(t)
	c, err := Load()
	if err != nil || c.MQTT.DiskFullPercent != 90 {
		t.Fatalf("default: %d, %v", c.MQTT.DiskFullPercent, err)
	}
	for _, ok := range []string{"1", "75", "100"} {
		t.Setenv("EDGE_MQTT_DISK_FULL_PERCENT", ok)
		if _, err := Load(); err != nil {
			t.Errorf("EDGE_MQTT_DISK_FULL_PERCENT=%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0", "101", "-5", "ninety", "90%"} {
		t.Setenv("EDGE_MQTT_DISK_FULL_PERCENT", bad)
		_, err := Load()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Var != "EDGE_MQTT_DISK_FULL_PERCENT" {
			t.Errorf("EDGE_MQTT_DISK_FULL_PERCENT=%s: %v, want a *ConfigError naming it", bad, err)
		}
	}
	t.Setenv("EDGE_MQTT_DISK_FULL_PERCENT", "0")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "1 to 100") {
		t.Errorf("message %v does not say what is accepted", err)
	}
}

// haSource is the agent's MQTT source with a Raspberry Pi's firmware
// flags (under-voltage now) in a fake /sys, and the console on when
// console is set.
func haSource(t *testing.T, console bool) *mqttSource {
	t.Helper()
	sys := t.TempDir()
	fw := filepath.Join(sys, "devices/platform/soc/soc:firmware")
	if err := os.MkdirAll(fw, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fw, "get_throttled"), []byte("50005\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testConfig(t)
	c.MQTT.DiskFullPercent = 75
	c.Update = true
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	if console {
		c.Console.Port = "/dev/ttyNOTHERE"
	}
	return &mqttSource{a: New(c, nil), health: &health.Collector{Sys: sys, DiskPath: c.File.Dir}}
}

// What Home Assistant gets: health as diagnostic sensors, alerts as
// binary sensors of class problem (under-voltage only where the firmware
// says, the disk at EDGE_MQTT_DISK_FULL_PERCENT, a service problem only
// with a serial service on), no text sensor for what became a binary
// one, and nothing the bridge would leave out.
func TestHomeAssistantSensors(t *testing.T) {
	sensors := map[string]bridge.Sensor{}
	for _, s := range haSource(t, true).Sensors() {
		if err := s.Validate(); err != nil {
			t.Errorf("%v", err)
		}
		sensors[s.Key] = s
	}
	for _, gone := range []string{"under_voltage", "clock_synchronised"} {
		if _, ok := sensors[gone]; ok {
			t.Errorf("%s is still offered: a key that changes platform must change", gone)
		}
	}
	for _, key := range []string{"under_voltage_problem", "clock_problem", "disk_full", "service_problem"} {
		s, ok := sensors[key]
		if !ok || s.Platform != bridge.PlatformBinarySensor || s.DeviceClass != "problem" {
			t.Errorf("%s: %+v, want a binary sensor of class problem", key, s)
		}
	}
	if !strings.Contains(sensors["disk_full"].Template, ">= 75") {
		t.Errorf("disk_full template %q does not use EDGE_MQTT_DISK_FULL_PERCENT", sensors["disk_full"].Template)
	}
	for _, key := range []string{"uptime", "load_1", "mem_used", "disk_used"} {
		if sensors[key].EntityCategory != "diagnostic" {
			t.Errorf("%s: entity category %q, want diagnostic", key, sensors[key].EntityCategory)
		}
	}
	if s := sensors["agent_update"]; s.Platform != bridge.PlatformUpdate || s.DeviceClass != "firmware" {
		t.Errorf("agent_update: %+v, want an update entity of class firmware", s)
	}
	for _, key := range []string{"files_received", "echo_conns", "ntp_replies", "time_replies"} {
		if s, ok := sensors[key]; !ok || s.EntityCategory != "" {
			t.Errorf("%s: %+v, want a primary sensor", key, s)
		}
	}
	for _, s := range haSource(t, false).Sensors() {
		if s.Key == "service_problem" {
			t.Error("service_problem offered without a serial service")
		}
	}
	plain := &mqttSource{a: New(testConfig(t), nil), health: &health.Collector{Sys: t.TempDir()}}
	for _, s := range plain.Sensors() {
		if s.Key == "under_voltage_problem" || s.Key == "disk_full" {
			t.Errorf("%s offered without its figures", s.Key)
		}
	}
}

// Every template renders, with Jinja2 as Home Assistant runs it (a
// sandboxed environment), against real state documents: binary sensors
// to ON or OFF and as the figures say, the others to a value.
func TestHomeAssistantTemplatesRender(t *testing.T) {
	py := testenv.Python(t)
	if err := exec.Command(py, "-c", "import jinja2").Run(); err != nil {
		msg := "needs Jinja2 (Debian package python3-jinja2; make test installs it)"
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	src := haSource(t, true)
	var doc map[string]any
	raw, err := json.Marshal(src.State())
	if err != nil || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("state document: %v", err)
	}
	// The state as it would be with every alert on, then every one off.
	services, _ := doc["services"].(map[string]any)
	set := func(under, synced bool, used float64, linkUp uint64) map[string]any {
		d := map[string]any{}
		for k, v := range doc {
			d[k] = v
		}
		d["throttled"] = map[string]any{"under_voltage_now": under}
		d["clock"] = map[string]any{"synchronised": synced}
		d["disk"] = map[string]any{"used_percent": used}
		svc := map[string]any{}
		for k, v := range services {
			svc[k] = v
		}
		svc["console"] = map[string]any{"addr": "/dev/ttyNOTHERE", "counters": map[string]any{"link_up": linkUp, "opens": 1}}
		d["services"] = svc
		d["version"] = "v2"
		if under {
			d["update"] = map[string]any{"enabled": true, "last": map[string]any{"from": "v2", "to": "v3", "result": "rolled_back", "reason": "did not commit"}}
		}
		return d
	}
	bad, good := set(true, false, 80, 0), set(false, true, 74.9, 1)
	var templates []string
	for _, s := range src.Sensors() {
		templates = append(templates, s.Template)
	}
	in, err := json.Marshal(map[string]any{"templates": templates, "docs": []any{bad, good}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", `
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2 import StrictUndefined
env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
req = json.load(sys.stdin)
print(json.dumps([[env.from_string(t).render(value_json=d).strip() for t in req["templates"]] for d in req["docs"]]))
`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jinja2: %v\n%s", err, out)
	}
	var rendered [2][]string
	if err := json.Unmarshal(out, &rendered); err != nil {
		t.Fatalf("jinja2 output %s: %v", out, err)
	}
	for i, s := range src.Sensors() {
		onBad, onGood := rendered[0][i], rendered[1][i]
		switch {
		case s.Platform == bridge.PlatformBinarySensor && (onBad != "ON" || onGood != "OFF"):
			t.Errorf("%s: %q with every alert on, %q with none; want ON and OFF", s.Key, onBad, onGood)
		case s.Platform == bridge.PlatformUpdate && (versions(onBad) != "v2 v3" || versions(onGood) != "v2 v2"):
			t.Errorf("%s: %q after a rollback, %q without; want v3 then v2 as the latest", s.Key, onBad, onGood)
		case onBad == "" || onGood == "":
			t.Errorf("%s: rendered empty (%q, %q)", s.Key, onBad, onGood)
		}
	}
}

// versions reads an update entity's rendered state as Home Assistant
// does: "installed latest".
func versions(rendered string) string {
	var v struct {
		Installed string `json:"installed_version"`
		Latest    string `json:"latest_version"`
	}
	if json.Unmarshal([]byte(rendered), &v) != nil {
		return "not JSON"
	}
	return v.Installed + " " + v.Latest
}
