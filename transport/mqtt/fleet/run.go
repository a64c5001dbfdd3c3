package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Request asks one device to run an action: Payload goes to its
// cmd/<action> topic. Counter and By (the SHA256 fingerprint of the key
// that signed the payload) are what the device's reply names: a reply
// naming others answers someone else's request.
type Request struct {
	Device  string
	Payload []byte
	Counter uint64
	By      string
}

// Answer is a device's reply to a Request, or its absence.
type Answer struct {
	Device   string `json:"device"`
	Answered bool   `json:"answered"`
	OK       bool   `json:"ok"`
	// Code says why an action was refused or failed: malformed,
	// unknown_key, bad_signature, replay, wrong_device, wrong_action,
	// not_allowed, retained, busy, failed, unsupported.
	Code     string `json:"code,omitempty"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code"`
	// FirstLine is the first line of a script's output, at most
	// MaxFirstLine bytes: only that is kept, so that a run over many
	// devices holds little whatever they print.
	FirstLine string `json:"first_line,omitempty"`
}

// MaxFirstLine bounds Answer.FirstLine.
const MaxFirstLine = 1024

// ByBroker is the key a device names in its reply when it runs actions
// on the broker's word (EDGE_ACTIONS_AUTH=broker) rather than a signature.
const ByBroker = "broker"

// actionReply is the part of a device's reply Run reads.
type actionReply struct {
	OK     bool   `json:"ok"`
	Code   string `json:"code"`
	Error  string `json:"error"`
	Result struct {
		By       string `json:"by"`
		Counter  uint64 `json:"counter"`
		Output   string `json:"output"`
		ExitCode int    `json:"exit_code"`
	} `json:"result"`
}

// ErrSubscribe is a broker that refused to let Run read the replies.
var ErrSubscribe = errors.New("fleet: the broker refused the subscription to the replies")

// Run publishes each request to <prefix>/<device>/cmd/<action> (QoS 1, not
// retained) and waits until every device answered its request or ctx
// ends. The answers are in the order of reqs; a device that did not
// answer has Answered false (and Error set if its request could not be
// sent). Run subscribes to the replies before it publishes anything.
func (w *Watcher) Run(ctx context.Context, action string, reqs []Request) ([]Answer, error) {
	answers := make([]Answer, len(reqs))
	pending := map[string]int{}
	for i, r := range reqs {
		answers[i].Device = r.Device
		pending[r.Device] = i
	}
	var mu sync.Mutex
	done := make(chan struct{})
	left := len(reqs)
	if left == 0 {
		close(done)
	}
	suffix := "/cmd/" + action + "/reply"
	handler := func(_ paho.Client, m paho.Message) {
		rest, ok := strings.CutPrefix(m.Topic(), w.prefix+"/")
		device, ok2 := strings.CutSuffix(rest, suffix)
		if !ok || !ok2 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		i, ok := pending[device]
		if !ok {
			return
		}
		a, ok := answerOf(reqs[i], m.Payload())
		if !ok {
			return
		}
		delete(pending, device)
		answers[i] = a
		if left--; left == 0 {
			close(done)
		}
	}
	filter := w.prefix + "/+" + suffix
	w.mu.Lock()
	w.replies = map[string]paho.MessageHandler{filter: handler}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.replies = nil
		w.mu.Unlock()
		w.c.Unsubscribe(filter).WaitTimeout(time.Second)
	}()
	tok := w.c.Subscribe(filter, 1, handler)
	if err := wait(ctx, tok); err != nil {
		return answers, fmt.Errorf("fleet: subscribing to %s: %w", filter, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok && st.Result()[filter] == 0x80 {
		return answers, fmt.Errorf("%w %s", ErrSubscribe, filter)
	}
	for i, r := range reqs {
		if err := wait(ctx, w.c.Publish(w.prefix+"/"+r.Device+"/cmd/"+action, 1, false, r.Payload)); err != nil {
			mu.Lock()
			if _, ok := pending[r.Device]; ok {
				answers[i].Error = "not sent: " + err.Error()
			}
			mu.Unlock()
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]Answer(nil), answers...), nil
}

// answerOf reads a device's reply and reports whether it answers req: it
// names req's counter, and req's key or the broker (a device in broker
// mode runs actions on the broker's word). Anything else, a reply to
// another request or a message that is not a reply, is not its answer.
func answerOf(req Request, payload []byte) (Answer, bool) {
	var rep actionReply
	if json.Unmarshal(payload, &rep) != nil {
		return Answer{}, false
	}
	if rep.Result.Counter != req.Counter || rep.Result.By != req.By && rep.Result.By != ByBroker {
		return Answer{}, false
	}
	return Answer{Device: req.Device, Answered: true, OK: rep.OK, Code: rep.Code, Error: rep.Error,
		ExitCode: rep.Result.ExitCode, FirstLine: firstLine(rep.Result.Output)}, true
}

// wait waits for a paho token until ctx ends.
func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// firstLine returns the first line of s, at most MaxFirstLine bytes.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > MaxFirstLine {
		s = s[:MaxFirstLine]
	}
	return strings.TrimSuffix(s, "\r")
}
