package agent

import (
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"edge-agent/firmware-bridge"
	"edge-agent/transport/echo"
)

// clearEnv unsets every EDGE_ variable for the test.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, Prefix+"_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Log:  LogConfig{Level: slog.LevelInfo, Format: LogText},
		Echo: EchoConfig{Addr: ":8081", Mode: echo.Upper, MaxConns: 10000, MaxConnsPerSource: 64, MaxPending: 16 << 20, IdleTimeout: 5 * time.Minute, UDPRateLimit: 50},
		NTP:  NTPConfig{Addr: ":123", Stratum: 3, RateLimit: 4, KissOfDeath: true},
		Time: TimeConfig{Addr: ":8080", RateLimit: 10},
		File: FileConfig{Addr: ":8080", Dir: "received", MaxSize: 1 << 30, MinFree: 64 << 20, MaxConns: 32, MaxConnsPerSource: 4,
			HeaderTimeout: 30 * time.Second, IdleTimeout: time.Minute, PartialTTL: 24 * time.Hour},
		MQTT: MQTTConfig{Prefix: "edge", DiscoveryPrefix: "homeassistant", Interval: 30 * time.Second, DiskFullPercent: 90, EmbeddedAddr: "127.0.0.1:1883",
			EmbeddedMaxPacket: 256 << 10, EmbeddedMaxRetained: 1000, EmbeddedMaxRetainedSize: 4 << 20, EmbeddedMaxQueued: 8 << 20, EmbeddedMaxClients: 64},
		Console:       ConsoleConfig{Baud: 115200, Echo: true},
		Firmware:      FirmwareConfig{Baud: 115200, Framing: firmwarebridge.FramingLines, MaxFrame: 1024},
		ActionsConfig: defaultActions,
		UpdateConfig:  defaultUpdate,
	}
	if c != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadReadsVariables(t *testing.T) {
	clearEnv(t)
	t.Setenv("EDGE_ECHO_ADDR", "127.0.0.1:9000")
	t.Setenv("EDGE_ECHO_MODE", "plain")
	t.Setenv("EDGE_ECHO_MAX_CONNS", "7")
	t.Setenv("EDGE_ECHO_IDLE_TIMEOUT", "90s")
	t.Setenv("EDGE_ECHO_UDP_RATE_LIMIT", "0")
	t.Setenv("EDGE_LOG_LEVEL", "debug")
	t.Setenv("EDGE_LOG_FORMAT", "json")
	t.Setenv("EDGE_NTP_ADDR", "off")
	t.Setenv("EDGE_NTP_STRATUM", "2")
	t.Setenv("EDGE_NTP_FALLBACK_STRATUM", "11")
	t.Setenv("EDGE_NTP_RATE_LIMIT", "0.5")
	t.Setenv("EDGE_NTP_KISS_OF_DEATH", "false")
	t.Setenv("EDGE_TIME_ADDR", "[::1]:8080")
	t.Setenv("EDGE_TIME_RATE_LIMIT", "0")
	t.Setenv("EDGE_FILE_ADDR", "127.0.0.1:9")
	t.Setenv("EDGE_FILE_DIR", "/var/lib/edge-agent/received")
	t.Setenv("EDGE_FILE_MAX_SIZE", "2GiB")
	t.Setenv("EDGE_FILE_MIN_FREE", "100MB")
	t.Setenv("EDGE_FILE_MAX_CONNS", "5")
	t.Setenv("EDGE_FILE_MAX_CONNS_PER_SOURCE", "2")
	t.Setenv("EDGE_FILE_TOKEN", "s3cret")
	t.Setenv("EDGE_FILE_HEADER_TIMEOUT", "5s")
	t.Setenv("EDGE_FILE_IDLE_TIMEOUT", "2m")
	t.Setenv("EDGE_FILE_PARTIAL_TTL", "1h")
	t.Setenv("EDGE_MQTT_URL", "tcp://10.0.0.2:1883,ssl://b:8883")
	t.Setenv("EDGE_MQTT_USERNAME", "u")
	t.Setenv("EDGE_MQTT_PASSWORD_FILE", "/etc/pw")
	t.Setenv("EDGE_MQTT_PREFIX", "lab")
	t.Setenv("EDGE_MQTT_DISCOVERY_PREFIX", "off")
	t.Setenv("EDGE_MQTT_INTERVAL", "1m")
	t.Setenv("EDGE_DEVICE_ID", "pi-7")
	t.Setenv("EDGE_CONSOLE_PORT", "/dev/ttyGS0")
	t.Setenv("EDGE_CONSOLE_BAUD", "9600")
	t.Setenv("EDGE_CONSOLE_PASSWORD", "pw")
	t.Setenv("EDGE_CONSOLE_ECHO", "false")
	t.Setenv("EDGE_FIRMWARE_PORT", "/dev/ttyACM0")
	t.Setenv("EDGE_FIRMWARE_BAUD", "57600")
	t.Setenv("EDGE_FIRMWARE_FRAMING", "COBS")
	t.Setenv("EDGE_FIRMWARE_MAX_FRAME", "256")
	t.Setenv("EDGE_FIRMWARE_DTR", "true")
	t.Setenv("EDGE_FIRMWARE_RTS", "true")
	// Bare names must not leak in (envconfig's fallback for tagged fields).
	t.Setenv("MODE", "upper")
	t.Setenv("LEVEL", "error")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Log:  LogConfig{Level: slog.LevelDebug, Format: LogJSON},
		Echo: EchoConfig{Addr: "127.0.0.1:9000", Mode: echo.Plain, MaxConns: 7, MaxConnsPerSource: 64, MaxPending: 16 << 20, IdleTimeout: 90 * time.Second},
		NTP:  NTPConfig{Addr: "off", Stratum: 2, FallbackStratum: 11, RateLimit: 0.5},
		Time: TimeConfig{Addr: "[::1]:8080"},
		File: FileConfig{Addr: "127.0.0.1:9", Dir: "/var/lib/edge-agent/received", MaxSize: 2 << 30, MinFree: 100e6, MaxConns: 5, MaxConnsPerSource: 2,
			Token: "s3cret", HeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute, PartialTTL: time.Hour},
		MQTT: MQTTConfig{URL: "tcp://10.0.0.2:1883,ssl://b:8883", Username: "u", PasswordFile: "/etc/pw", Prefix: "lab",
			DiscoveryPrefix: "off", Interval: time.Minute, DiskFullPercent: 90, EmbeddedAddr: "127.0.0.1:1883",
			EmbeddedMaxPacket: 256 << 10, EmbeddedMaxRetained: 1000, EmbeddedMaxRetainedSize: 4 << 20, EmbeddedMaxQueued: 8 << 20, EmbeddedMaxClients: 64},
		Console:       ConsoleConfig{Port: "/dev/ttyGS0", Baud: 9600, Password: "pw", Echo: false},
		Firmware:      FirmwareConfig{Port: "/dev/ttyACM0", Baud: 57600, Framing: firmwarebridge.FramingCOBS, MaxFrame: 256, DTR: true, RTS: true},
		ActionsConfig: defaultActions,
		UpdateConfig:  defaultUpdate,
		DeviceID:      "pi-7",
	}
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestLoadRejectsWithActionableMessage(t *testing.T) {
	for _, tc := range []struct {
		name, value, accepted string
	}{
		{"EDGE_ECHO_MODE", "loud", "upper, plain"},
		{"EDGE_ECHO_MODE", "", "upper, plain"},
		{"EDGE_ECHO_ADDR", "8081", "host:port"},
		{"EDGE_ECHO_ADDR", ":http", "port number"},
		{"EDGE_ECHO_ADDR", ":65536", "port number"},
		{"EDGE_ECHO_ADDR", ":-1", "port number"},
		{"EDGE_ECHO_ADDR", "a b:1", "without spaces"},
		{"EDGE_ECHO_ADDR", "", "host:port"},
		{"EDGE_ECHO_MAX_CONNS", "0", "at least 1"},
		{"EDGE_ECHO_MAX_CONNS", "many", "whole number"},
		{"EDGE_ECHO_MAX_CONNS", "1.5", "whole number"},
		{"EDGE_ECHO_IDLE_TIMEOUT", "5", "duration"},
		{"EDGE_ECHO_IDLE_TIMEOUT", "-1s", "positive duration"},
		{"EDGE_ECHO_IDLE_TIMEOUT", "0s", "positive duration"},
		{"EDGE_ECHO_UDP_RATE_LIMIT", "-1", "0 for unlimited"},
		{"EDGE_ECHO_UDP_RATE_LIMIT", "NaN", "0 for unlimited"},
		{"EDGE_ECHO_UDP_RATE_LIMIT", "fast", "a number"},
		{"EDGE_LOG_LEVEL", "loud", "debug, info, warn, error"},
		{"EDGE_LOG_FORMAT", "xml", "text"},
		{"EDGE_NTP_ADDR", "123", "host:port"},
		{"EDGE_NTP_STRATUM", "0", "1 to 15"},
		{"EDGE_NTP_STRATUM", "16", "1 to 15"},
		{"EDGE_NTP_STRATUM", "300", "1 to 15"},
		{"EDGE_NTP_STRATUM", "-1", "1 to 15"},
		{"EDGE_NTP_FALLBACK_STRATUM", "16", "1 to 15"},
		{"EDGE_NTP_FALLBACK_STRATUM", "x", "0 to 15"},
		{"EDGE_NTP_RATE_LIMIT", "-4", "0 for unlimited"},
		{"EDGE_NTP_KISS_OF_DEATH", "maybe", "true or false"},
		{"EDGE_TIME_ADDR", "localhost", "host:port"},
		{"EDGE_TIME_RATE_LIMIT", "-0.5", "0 for unlimited"},
		{"EDGE_FILE_ADDR", "8080", "host:port"},
		{"EDGE_FILE_DIR", " ", "a directory path"},
		{"EDGE_FILE_MAX_SIZE", "big", "64MiB"},
		{"EDGE_FILE_MAX_SIZE", "1.5GiB", "64MiB"},
		{"EDGE_FILE_MAX_SIZE", "0", "at least 1 byte"},
		{"EDGE_FILE_MAX_SIZE", "-1", "64MiB"},
		{"EDGE_FILE_MIN_FREE", "10 parsecs", "64MiB"},
		{"EDGE_FILE_MAX_CONNS", "0", "at least 1"},
		{"EDGE_FILE_MAX_CONNS_PER_SOURCE", "0", "at least 1"},
		{"EDGE_FILE_HEADER_TIMEOUT", "0s", "positive duration"},
		{"EDGE_FILE_IDLE_TIMEOUT", "soon", "duration"},
		{"EDGE_FILE_PARTIAL_TTL", "-1h", "positive duration"},
		{"EDGE_MQTT_URL", "broker:1883", "tcp://"},
		{"EDGE_MQTT_URL", "http://broker", "scheme"},
		{"EDGE_MQTT_EMBEDDED_ADDR", "1883", "127.0.0.1:1883"},
		{"EDGE_MQTT_PREFIX", "a/b", "topic level"},
		{"EDGE_MQTT_PREFIX", "#", "topic level"},
		{"EDGE_MQTT_DISCOVERY_PREFIX", "ha+", "topic level"},
		{"EDGE_MQTT_INTERVAL", "100ms", "at least 1s"},
		{"EDGE_MQTT_KEY_FILE", "/k.pem", "EDGE_MQTT_CERT_FILE"},
		{"EDGE_DEVICE_ID", "pi 7", "letters, digits"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := Load()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load() = %v, want a *ConfigError", err)
			}
			if ce.Var != tc.name || !strings.Contains(ce.Accepted, tc.accepted) {
				t.Fatalf("error %q: want variable %s and %q in what is accepted", err, tc.name, tc.accepted)
			}
			if !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("message %q does not name %s", err, tc.name)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{Echo: EchoConfig{Addr: "nope", MaxConns: 0, IdleTimeout: 0, UDPRateLimit: -2}}
	err := c.Validate()
	for _, v := range []string{"EDGE_ECHO_ADDR", "EDGE_ECHO_MAX_CONNS", "EDGE_ECHO_IDLE_TIMEOUT", "EDGE_ECHO_UDP_RATE_LIMIT"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("Validate() = %v; want %s named", err, v)
		}
	}
}

func TestValidateSerial(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // the variable named, or "" for valid
	}{
		{map[string]string{"EDGE_CONSOLE_PORT": "/dev/ttyAMA0", "EDGE_FIRMWARE_PORT": "/dev/ttyUSB0"}, ""},
		{map[string]string{"EDGE_CONSOLE_PORT": "off", "EDGE_FIRMWARE_PORT": "off", "EDGE_MQTT_URL": "off"}, ""},
		{map[string]string{"EDGE_CONSOLE_PORT": "ttyAMA0"}, "EDGE_CONSOLE_PORT"},
		{map[string]string{"EDGE_CONSOLE_PORT": "/dev/ttyAMA0", "EDGE_CONSOLE_BAUD": "0"}, "EDGE_CONSOLE_BAUD"},
		{map[string]string{"EDGE_FIRMWARE_PORT": "/dev/ttyUSB0", "EDGE_FIRMWARE_BAUD": "5000000"}, "EDGE_FIRMWARE_BAUD"},
		{map[string]string{"EDGE_FIRMWARE_PORT": "/dev/ttyUSB0", "EDGE_CONSOLE_PORT": "/dev/ttyUSB0"}, "EDGE_FIRMWARE_PORT"},
		{map[string]string{"EDGE_FIRMWARE_PORT": "/dev/ttyUSB0", "EDGE_MQTT_URL": "off"}, "EDGE_FIRMWARE_PORT"},
		{map[string]string{"EDGE_FIRMWARE_PORT": "/dev/ttyUSB0", "EDGE_FIRMWARE_MAX_FRAME": "0"}, "EDGE_FIRMWARE_MAX_FRAME"},
		{map[string]string{"EDGE_FIRMWARE_FRAMING": "slip"}, "EDGE_FIRMWARE_FRAMING"},
		{map[string]string{"EDGE_CONSOLE_ECHO": "maybe"}, "EDGE_CONSOLE_ECHO"},
	} {
		clearEnv(t)
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		_, err := Load()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %s named", tc.env, err, tc.want)
		}
	}
}

func TestOffIsAValidAddress(t *testing.T) {
	clearEnv(t)
	t.Setenv("EDGE_ECHO_ADDR", "off")
	if _, err := Load(); err != nil {
		t.Fatal(err)
	}
}

func TestVariablesDescribeEveryField(t *testing.T) {
	clearEnv(t)
	t.Setenv("EDGE_ECHO_MODE", "plain")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^EDGE_[A-Z0-9_]+$`)
	seen := map[string]bool{}
	for _, v := range Variables(c) {
		if !name.MatchString(v.Name) || seen[v.Name] {
			t.Errorf("bad or repeated name %q", v.Name)
		}
		seen[v.Name] = true
		if v.Meaning == "" || v.Accepts == "" {
			t.Errorf("%s has no meaning or accepted values", v.Name)
		}
		if v.Default == "" && !v.Secret && !v.Optional {
			t.Errorf("%s has no default", v.Name)
		}
		if v.Name == "EDGE_ECHO_MODE" && v.Value != "plain" {
			t.Errorf("current value of EDGE_ECHO_MODE = %q, want plain", v.Value)
		}
	}
	if !seen["EDGE_ECHO_UDP_RATE_LIMIT"] || !seen["EDGE_ECHO_IDLE_TIMEOUT"] || !seen["EDGE_FILE_MAX_CONNS_PER_SOURCE"] {
		t.Errorf("multi-word names not as documented: %v", seen)
	}
}

// The README's configuration table is generated from Config; this keeps
// the two from drifting apart.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config:begin -->\n", "<!-- config:end -->"
	_, rest, ok1 := strings.Cut(string(readme), begin)
	table, _, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no %q ... %q section", begin, end)
	}
	var want strings.Builder
	MarkdownVariables(&want, Variables(Config{}))
	if table != want.String() {
		t.Errorf("README configuration table is stale; regenerate it with `make readme-config`.\nwant:\n%s", want.String())
	}
}
