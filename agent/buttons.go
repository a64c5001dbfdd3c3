package agent

import (
	"strings"

	"edge-agent/agent/actions"
	"edge-agent/transport/mqtt/bridge"
)

// Buttons are the allowed actions, as Home Assistant buttons, in broker
// mode only: a button publishes "PRESS", which a signed-mode agent would
// refuse as malformed. The broker's ACLs decide who may press.
func (m *mqttSource) Buttons() []bridge.Button {
	c := m.a.cfg.ActionsConfig
	if c.ActionsAuth != actions.Broker {
		return nil
	}
	var out []bridge.Button
	for _, a := range c.Actions.List() {
		out = append(out, actionButton(a))
	}
	return out
}

// actionButton is the button of one action. Its key is the action with
// the characters Home Assistant does not take in a key (':', '.') as '_':
// script:backup is script_backup.
func actionButton(action string) bridge.Button {
	b := bridge.Button{
		Key:            strings.NewReplacer(":", "_", ".", "_").Replace(action),
		Command:        "cmd/" + action,
		EntityCategory: "config",
	}
	switch action {
	case actions.Restart:
		b.Name, b.DeviceClass, b.Icon = "Restart agent", "restart", "mdi:restart"
	case actions.Reboot:
		b.Name, b.DeviceClass = "Reboot", "restart"
	case actions.PowerOff:
		b.Name, b.Icon = "Power off", "mdi:power"
	default:
		b.Name, b.Icon = "Run "+strings.TrimPrefix(action, actions.ScriptPrefix), "mdi:script-text-play"
		b.EntityCategory = ""
	}
	return b
}
