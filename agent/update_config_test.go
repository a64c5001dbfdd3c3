package agent

import (
	"testing"
	"time"

	"edge-agent/agent/actions"
)

// defaultUpdate is UpdateConfig with its defaults: updates off.
var defaultUpdate = UpdateConfig{UpdateHealthWindow: time.Minute, UpdateDownloadTimeout: 5 * time.Minute, UpdateMaxSize: 64 << 20}

// Updates need signed commands and keys; each problem names what to do.
func TestValidateUpdate(t *testing.T) {
	good := writeKeys(t, 1)
	base := func() Config {
		c, err := loadDefaults(t)
		if err != nil {
			t.Fatal(err)
		}
		c.ActionsAuthorizedKeys = good
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"off", func(c *Config) { c.ActionsAuthorizedKeys = "/nonexistent" }, nil},
		{"on with a key", func(c *Config) { c.Update = true }, nil},
		{"on with actions", func(c *Config) { c.Update, c.Actions = true, "restart" }, nil},
		{"on without keys", func(c *Config) { c.Update, c.ActionsAuthorizedKeys = true, "/nonexistent/keys" },
			[]string{"EDGE_ACTIONS_AUTHORIZED_KEYS", "EDGE_UPDATE=on"}},
		{"on in broker mode", func(c *Config) { c.Update, c.ActionsAuth = true, actions.Broker }, nil},
		{"on in broker mode without keys", func(c *Config) {
			c.Update, c.ActionsAuth, c.ActionsAuthorizedKeys = true, actions.Broker, "/nonexistent/keys"
		},
			[]string{"EDGE_ACTIONS_AUTHORIZED_KEYS", "sign the binaries"}},
		{"on without MQTT", func(c *Config) { c.Update, c.MQTT.URL = true, Off }, []string{"EDGE_UPDATE=\"on\"", "EDGE_MQTT_URL=off"}},
		{"update listed as an action", func(c *Config) { c.Actions = "restart,update" }, []string{"EDGE_ACTIONS", "EDGE_UPDATE=on"}},
		{"window too short", func(c *Config) { c.UpdateHealthWindow = time.Second }, []string{"EDGE_UPDATE_HEALTH_WINDOW=\"1s\"", "5s to 30m"}},
		{"download timeout too long", func(c *Config) { c.UpdateDownloadTimeout = 2 * time.Hour }, []string{"EDGE_UPDATE_DOWNLOAD_TIMEOUT", "5s to 1h"}},
		{"size too small", func(c *Config) { c.UpdateMaxSize = 1000 }, []string{"EDGE_UPDATE_MAX_SIZE", "1MiB to 256MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkValidate(t, base(), tc.edit, tc.want) })
	}
}

func TestSwitchText(t *testing.T) {
	for in, want := range map[string]Switch{"on": true, "ON": true, "true": true, "off": false, "false": false, " on ": true} {
		var s Switch
		if err := s.UnmarshalText([]byte(in)); err != nil || s != want {
			t.Errorf("%q: %v %v, want %v", in, s, err, want)
		}
	}
	for _, in := range []string{"", "yes", "1", "onn"} {
		var s Switch
		if err := s.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %v", in, s)
		}
	}
}
