package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Actions runs what the device may be asked to do on cmd/<action> topics
// (the agent's restart, reboot, poweroff and scripts). The bridge hands
// each message on an action topic to Handle on a goroutine of its own and
// publishes what Handle returns as the reply. Its methods are called from
// several goroutines at once.
type Actions interface {
	// IsAction reports whether cmd/<name> names an action, allowed or
	// not: its messages go to Handle, retained ones included (so that
	// they are refused with a code), and its replies carry a code.
	IsAction(name string) bool
	// Allowed lists the allowed actions, which the reply to an unknown
	// command names.
	Allowed() []string
	// Handle authorises and runs action. It may take as long as the
	// action runs and must return soon after ctx ends. result goes into
	// the reply, also with an error (a script that failed has output);
	// the reply's code is that of an *ActionError in err's chain, else
	// CodeFailed. With retained true it must refuse at once and run
	// nothing: a retained message is state, never a command.
	Handle(ctx context.Context, action string, payload []byte, retained bool) (result any, err error)
	// Describe returns what a request claims to be (the key that signed
	// it, its counter), unverified, for the reply to a request the
	// bridge refuses itself as busy, so that its sender can match the
	// reply; nil for nothing. It must return at once.
	Describe(action string, payload []byte) any
}

// ActionError is an action refused or failed, with the code its reply
// carries (malformed, replay, busy, failed ...).
type ActionError struct {
	Code string
	Err  error
}

func (e *ActionError) Error() string { return e.Err.Error() }
func (e *ActionError) Unwrap() error { return e.Err }

// Codes the bridge gives itself.
const (
	// CodeBusy: the action is running already, or too many are.
	CodeBusy = "busy"
	// CodeFailed: the code of an error that names none.
	CodeFailed = "failed"
	// codeRetained is the code of a retained request's reply, which
	// carries the command that clears it.
	codeRetained = "retained"
)

// maxActionsRunning bounds the actions running at once, each on a
// goroutine of the bridge; one run per action name at a time. A request
// beyond either is answered busy at once.
const maxActionsRunning = 8

// actionSlots are the bridge's action goroutines: at most one per action
// name and maxActionsRunning in all, waited for when Run ends.
type actionSlots struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[string]bool

	requests, busy atomic.Uint64
}

func (s *actionSlots) claim(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[name] || len(s.running) >= maxActionsRunning {
		return false
	}
	if s.running == nil {
		s.running = map[string]bool{}
	}
	s.running[name] = true
	return true
}

func (s *actionSlots) release(name string) {
	s.mu.Lock()
	delete(s.running, name)
	s.mu.Unlock()
}

// isAction reports whether cmd/<name> goes to Config.Actions: the built-in
// and configured commands keep their names.
func (b *Bridge) isAction(name string) bool {
	if b.cfg.Actions == nil || name == "ping" || name == "refresh" {
		return false
	}
	if _, ok := b.cfg.Commands[name]; ok {
		return false
	}
	return b.cfg.Actions.IsAction(name)
}

// liveCommands is live for cmd/+, except that a retained message on an
// action topic, dropped and counted all the same, is handed on marked
// retained: its sender is told why it did not run.
func (b *Bridge) liveCommands(h paho.MessageHandler) paho.MessageHandler {
	return func(c paho.Client, m paho.Message) {
		if m.Retained() {
			b.dropRetained(m.Topic())
			if name, ok := b.topics.command(m.Topic()); !ok || !b.isAction(name) {
				return
			}
		}
		h(c, m)
	}
}

// action answers a message on an action topic. A retained one is refused
// on the run loop (Handle refuses it at once); a live one runs on a
// goroutine of its own, within the bounds of actionSlots, with a context
// that ends with Run's.
func (b *Bridge) action(ctx context.Context, c paho.Client, name string, m message) {
	if len(m.payload) == 0 {
		// How a retained message is deleted (mosquitto_pub -r -n), which
		// the broker passes on to subscribers: not a request, and in
		// broker mode, where the payload is ignored, it must not press.
		return
	}
	acts := b.cfg.Actions
	b.acts.requests.Add(1)
	if m.retained {
		res, err := acts.Handle(ctx, name, m.payload, true)
		b.actionReply(c, name, res, err)
		return
	}
	if !b.acts.claim(name) {
		b.acts.busy.Add(1)
		b.actionReply(c, name, acts.Describe(name, m.payload), &ActionError{Code: CodeBusy,
			Err: fmt.Errorf("%s is running already, or %d actions are: ask again when it is done", name, maxActionsRunning)})
		return
	}
	b.acts.wg.Go(func() {
		res, err := acts.Handle(ctx, name, m.payload, false)
		// Free before the reply: whoever waits for it may ask again.
		b.acts.release(name)
		b.actionReply(c, name, res, err)
	})
}

// actionReply publishes an action's reply: the result, and for an error
// its code and message.
func (b *Bridge) actionReply(c paho.Client, name string, res any, err error) {
	r := newReply(name)
	r.OK, r.Result = err == nil, res
	if err != nil {
		r.Code = CodeFailed
		var ae *ActionError
		if errors.As(err, &ae) && ae.Code != "" {
			r.Code = ae.Code
		}
		r.Error = err.Error()
		if r.Code == codeRetained {
			r.Hint = "mosquitto_pub -r -n -t '" + b.topics.base + "/cmd/" + name + "'"
		}
	}
	b.publishJSON(c, b.topics.reply(name), false, r)
}

// waitActions waits for the actions running: their context has ended, so
// they are being stopped, and their replies go out before the goodbye.
func (b *Bridge) waitActions() { b.acts.wg.Wait() }
