package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
)

// replyOverhead bounds what an action's reply carries besides the
// script's output: the fields, the key's comment, an error message.
const replyOverhead = 16 << 10

// validateActions checks the EDGE_ACTIONS_ variables. With actions on in
// signed mode it reads the authorized_keys file: an agent that started
// with actions on and no key to sign them would refuse every request, so
// that is a configuration error, as a bad value is.
func (c Config) validateActions() []error {
	var errs []error
	bad := func(name, value, accepted string) {
		errs = append(errs, &ConfigError{Var: Prefix + "_" + name, Value: value, Accepted: accepted})
	}
	a := c.ActionsConfig
	list := a.Actions.List()
	scripts := false
	for _, name := range list {
		script, err := actions.ParseAction(name)
		if err != nil {
			bad("ACTIONS", name, "restart, reboot, poweroff or script:NAME (NAME: 1 to 64 of A-Z a-z 0-9 _ . -, not starting with a dot), comma-separated; empty for none")
		}
		scripts = scripts || script != ""
	}
	if len(list) > actions.MaxAllowed {
		bad("ACTIONS", string(a.Actions), "at most "+strconv.Itoa(actions.MaxAllowed)+" actions")
	}
	if a.ActionsScriptTimeout <= 0 {
		bad("ACTIONS_SCRIPT_TIMEOUT", formatDuration(a.ActionsScriptTimeout), "a positive duration such as 60s or 5m")
	}
	if a.ActionsMaxOutput < 1 || a.ActionsMaxOutput > actions.MaxMaxOutput {
		bad("ACTIONS_MAX_OUTPUT", a.ActionsMaxOutput.String(), "a size from 1 byte to 1MiB, e.g. 64KiB: the output goes out in one MQTT reply")
	} else if c.MQTT.URL == "" && len(list) > 0 && int64(a.ActionsMaxOutput)+replyOverhead > int64(c.MQTT.EmbeddedMaxPacket) {
		bad("ACTIONS_MAX_OUTPUT", a.ActionsMaxOutput.String(), "at most EDGE_MQTT_EMBEDDED_MAX_PACKET ("+c.MQTT.EmbeddedMaxPacket.String()+
			") less 16KiB: a reply carries the output, and the embedded broker disconnects a client that sends a larger packet")
	}
	if len(list) == 0 {
		return errs
	}
	if c.MQTT.URL == Off {
		bad("ACTIONS", string(a.Actions), "empty while EDGE_MQTT_URL=off: actions are asked for over MQTT")
	}
	if scripts && !filepath.IsAbs(a.ActionsDir) {
		bad("ACTIONS_DIR", a.ActionsDir, "an absolute directory path, such as /etc/edge-agent/actions.d")
	}
	if a.ActionsAuth == actions.Signed {
		if err := checkAuthorizedKeys(a.ActionsAuthorizedKeys); err != nil {
			bad("ACTIONS_AUTHORIZED_KEYS", a.ActionsAuthorizedKeys, err.Error())
		}
	}
	return errs
}

// checkAuthorizedKeys says what is wrong with an authorized_keys file for
// signed actions, and what to put there.
func checkAuthorizedKeys(path string) error {
	const what = "the public keys of those who may sign actions, one per line as in ~/.ssh/id_ed25519.pub (ssh-ed25519 AAAA... user@host), readable by the agent"
	if !filepath.IsAbs(path) {
		return errors.New("an absolute path to a file holding " + what)
	}
	keys, err := authz.LoadAuthorizedKeys(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("an existing file: create it with " + what + "; or empty EDGE_ACTIONS")
	case err != nil:
		return errors.New("a file holding " + what + "; reading it gave: " + strings.TrimPrefix(err.Error(), "authz: "))
	case keys.Len() == 0:
		return errors.New("a file with at least one key (it has none, so no one could sign an action): " + what)
	}
	return nil
}
