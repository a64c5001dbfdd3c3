package bridge

import (
	"sort"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// reply is the answer on cmd/<name>/reply.
type reply struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Result  any    `json:"result,omitempty"`
	Error   string `json:"error,omitempty"`
	Time    string `json:"time"`
}

// command answers one cmd/<name> message. Only commands that observe are
// built in; anything that changes the device has to be given in
// Config.Commands by the operator's configuration.
func (b *Bridge) command(c paho.Client, m message) {
	name, ok := b.topics.command(m.topic)
	if !ok {
		return
	}
	b.stats.commands.Add(1)
	r := reply{Command: name, Time: time.Now().UTC().Format(time.RFC3339Nano)}
	switch name {
	case "ping":
		r.OK, r.Result = true, "pong"
	case "refresh":
		b.publishState(c)
		r.OK, r.Result = true, "state published"
	default:
		cmd, known := b.cfg.Commands[name]
		if !known {
			r.Error = "unknown command; known: " + b.commandNames()
			break
		}
		res, err := cmd(m.payload)
		if err != nil {
			r.Error = err.Error()
			break
		}
		r.OK, r.Result = true, res
	}
	b.publishJSON(c, b.topics.reply(name), false, r)
}

func (b *Bridge) commandNames() string {
	names := []string{"ping", "refresh"}
	for n := range b.cfg.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
