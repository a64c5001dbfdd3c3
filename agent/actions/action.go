package actions

import (
	"fmt"
	"strings"
)

// The actions a device can be allowed to run.
const (
	// Restart stops the agent cleanly and starts it again.
	Restart = "restart"
	// Reboot reboots the device through systemd-logind.
	Reboot = "reboot"
	// PowerOff powers the device off through systemd-logind.
	PowerOff = "poweroff"
	// Update installs a new agent binary announced by the signed
	// command's args and restarts into it (see Config.Update).
	Update = "update"
	// ScriptPrefix starts script:NAME, which runs the program NAME from
	// the actions directory.
	ScriptPrefix = "script:"
)

// MaxScriptName is the longest script name.
const MaxScriptName = 64

// ParseAction checks an action name, from an allow-list or a topic:
// restart, reboot, poweroff, or script:NAME with a valid NAME. For a
// script it returns NAME.
func ParseAction(action string) (script string, err error) {
	switch action {
	case Restart, Reboot, PowerOff, Update:
		return "", nil
	}
	name, ok := strings.CutPrefix(action, ScriptPrefix)
	if !ok {
		return "", fmt.Errorf("actions: %q is not an action: restart, reboot, poweroff or script:NAME", action)
	}
	if !ValidScriptName(name) {
		return "", fmt.Errorf("actions: %q: a script name is 1 to %d of A-Z a-z 0-9 _ . -, not starting with '.'", action, MaxScriptName)
	}
	return name, nil
}

// ValidScriptName reports whether name may name a script: 1 to 64 of
// [A-Za-z0-9_.-], not starting with '.', so it is one file in the
// actions directory, never a hidden one, "..", or a path.
func ValidScriptName(name string) bool {
	if name == "" || len(name) > MaxScriptName || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Auth is how an action is authorised.
type Auth uint8

const (
	// Signed: the payload must be a command signed by a key in
	// authorized_keys, with a fresh counter. The zero value and the
	// default.
	Signed Auth = iota
	// Broker: whoever may publish on the topic may run the action; the
	// payload is ignored (a Home Assistant button sends "PRESS"). For
	// brokers whose ACLs say who may publish on cmd/.
	Broker
)

func (a Auth) String() string {
	switch a {
	case Signed:
		return "signed"
	case Broker:
		return "broker"
	}
	return fmt.Sprintf("Auth(%d)", uint8(a))
}

// UnmarshalText accepts "signed" or "broker".
func (a *Auth) UnmarshalText(b []byte) error {
	switch string(b) {
	case "signed":
		*a = Signed
	case "broker":
		*a = Broker
	default:
		return fmt.Errorf("actions: auth %q: accepted: signed, broker", b)
	}
	return nil
}

// MarshalText writes the name, as UnmarshalText reads it.
func (a Auth) MarshalText() ([]byte, error) {
	if a > Broker {
		return nil, fmt.Errorf("actions: %v", a)
	}
	return []byte(a.String()), nil
}
