package bridge

import (
	"context"
	"sort"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// reply is the answer on cmd/<name>/reply. Code, set on an action's
// error, is what a program tests (replay, busy, not_allowed ...); Error is
// for a person; Hint, for a retained request, is the command that clears
// it. An action's Result names the key and counter of the request it
// answers, so that a sender can tell its reply from others'.
type reply struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"`
	Result  any    `json:"result,omitempty"`
	Error   string `json:"error,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Time    string `json:"time"`
}

func newReply(name string) reply {
	return reply{Command: name, Time: time.Now().UTC().Format(time.RFC3339Nano)}
}

// command answers one cmd/<name> message. Only commands that observe are
// built in; anything that changes the device has to be given in
// Config.Commands or Config.Actions by the operator's configuration.
// Actions run off the run loop (see action); ctx is Run's.
func (b *Bridge) command(ctx context.Context, c paho.Client, m message) {
	name, ok := b.topics.command(m.topic)
	if !ok {
		return
	}
	b.stats.commands.Add(1)
	if b.isAction(name) {
		b.action(ctx, c, name, m)
		return
	}
	r := newReply(name)
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
	s := strings.Join(names, ", ")
	if b.cfg.Actions != nil {
		if allowed := b.cfg.Actions.Allowed(); len(allowed) > 0 {
			s += "; allowed actions: " + strings.Join(allowed, ", ")
		}
	}
	return s
}
