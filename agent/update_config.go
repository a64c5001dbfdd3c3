package agent

import (
	"fmt"
	"strings"
	"time"

	"edge-agent/agent/actions"
)

// UpdateConfig configures signed updates of the agent itself (package
// update). Embedded, so that the switch is EDGE_UPDATE itself.
type UpdateConfig struct {
	Update                Switch        `default:"off" desc:"on: accept update commands (cmd/update: signed, as edge-agent fleet update sends; in broker mode the retained update/offer) that install a new agent binary signed by a key of EDGE_ACTIONS_AUTHORIZED_KEYS into the state directory and start it on trial" accepts:"on, off"`
	UpdateHealthWindow    time.Duration `split_words:"true" default:"60s" desc:"a new version must bind every service and reach the broker within this long of its start, else it is rolled back" accepts:"a duration from 5s to 30m"`
	UpdateDownloadTimeout time.Duration `split_words:"true" default:"5m" desc:"the download of a new binary and its signature must end within this long" accepts:"a duration from 5s to 1h"`
	UpdateMaxSize         ByteSize      `split_words:"true" default:"64MiB" desc:"largest binary an update may announce" accepts:"a size from 1MiB to 256MiB"`
}

// Switch is on or off.
type Switch bool

func (s Switch) String() string {
	if s {
		return "on"
	}
	return Off
}

// MarshalText is the inverse of UnmarshalText.
func (s Switch) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts on or off (and true or false).
func (s *Switch) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "on", "true":
		*s = true
	case Off, "false":
		*s = false
	default:
		return fmt.Errorf("agent: %q: accepted: on, off", b)
	}
	return nil
}

func (c Config) validateUpdate() []error {
	u := c.UpdateConfig
	var errs []error
	bad := func(name, value, accepted string) {
		errs = append(errs, &ConfigError{Var: Prefix + "_" + name, Value: value, Accepted: accepted})
	}
	if u.UpdateHealthWindow < 5*time.Second || u.UpdateHealthWindow > 30*time.Minute {
		bad("UPDATE_HEALTH_WINDOW", formatDuration(u.UpdateHealthWindow), "a duration from 5s to 30m, e.g. 60s")
	}
	if u.UpdateDownloadTimeout < 5*time.Second || u.UpdateDownloadTimeout > time.Hour {
		bad("UPDATE_DOWNLOAD_TIMEOUT", formatDuration(u.UpdateDownloadTimeout), "a duration from 5s to 1h, e.g. 5m")
	}
	if u.UpdateMaxSize < 1<<20 || u.UpdateMaxSize > 256<<20 {
		bad("UPDATE_MAX_SIZE", u.UpdateMaxSize.String(), "a size from 1MiB to 256MiB, e.g. 64MiB")
	}
	for _, a := range c.Actions.List() {
		if a == actions.Update {
			bad("ACTIONS", string(c.Actions), "restart, reboot, poweroff, script:NAME: updates are turned on with EDGE_UPDATE=on")
		}
	}
	if !u.Update {
		return errs
	}
	if c.MQTT.URL == Off {
		bad("UPDATE", u.Update.String(), "off while EDGE_MQTT_URL=off: updates are asked for over MQTT")
	} else if err := checkAuthorizedKeys(c.ActionsAuthorizedKeys); err != nil {
		// In broker mode too: every binary is signed.
		bad("ACTIONS_AUTHORIZED_KEYS", c.ActionsAuthorizedKeys, err.Error()+" (EDGE_UPDATE=on: the keys sign the binaries)")
	}
	return errs
}

// allowedActions is the runner's allow-list: EDGE_ACTIONS, and update
// when EDGE_UPDATE is on.
func (c Config) allowedActions() []string {
	list := c.Actions.List()
	if c.Update {
		list = append(list, actions.Update)
	}
	return list
}
