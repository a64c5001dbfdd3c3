package bridge

import (
	"regexp"
	"strings"
)

// topics names every topic of one device.
type topics struct {
	base, discovery string
}

func (t topics) availability() string { return t.base + "/availability" }
func (t topics) state() string        { return t.base + "/state" }
func (t topics) event(kind string) string {
	return t.base + "/events/" + kind
}
func (t topics) commands() string        { return t.base + "/cmd/+" }
func (t topics) reply(cmd string) string { return t.base + "/cmd/" + cmd + "/reply" }
func (t topics) haStatus() string        { return t.discovery + "/status" }

// command returns the command name of a cmd/<name> topic.
func (t topics) command(topic string) (string, bool) {
	name, ok := strings.CutPrefix(topic, t.base+"/cmd/")
	return name, ok && name != "" && !strings.Contains(name, "/")
}

var notIDChar = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// SanitizeID makes a device id out of anything (a hostname): only
// [a-zA-Z0-9_-] survive, runs of others become one underscore, since MQTT
// wildcards and Home Assistant ids break on the rest.
func SanitizeID(s string) string {
	id := strings.Trim(notIDChar.ReplaceAllString(s, "_"), "_")
	if id == "" {
		return "device"
	}
	return id
}
