// Package fleet lists the devices one broker knows, from the retained
// availability and state messages every agent publishes: how a user with
// fifty devices on one broker, or one broker cluster, sees them all.
// WriteTable and WriteJSON show them; every string in a listing came from
// a device and is escaped before it reaches a terminal. Watcher.Run asks
// devices to run an action with requests signed by the caller, and
// matches each device's reply to its request (run.go).
package fleet

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Device is one agent as its retained messages describe it.
type Device struct {
	ID        string    `json:"id"`
	Online    bool      `json:"online"`
	Version   string    `json:"version,omitempty"`
	UptimeS   float64   `json:"uptime_s,omitempty"`
	IP        string    `json:"ip,omitempty"`
	CPUTempC  *float64  `json:"cpu_temp_c,omitempty"`
	LastState time.Time `json:"last_state,omitzero"`
}

// state is the part of the state message the listing shows.
type state struct {
	Time     time.Time `json:"time"`
	Version  string    `json:"version"`
	UptimeS  float64   `json:"uptime_s"`
	CPUTempC *float64  `json:"cpu_temp_c"`
	Network  []struct {
		Name      string   `json:"name"`
		Addresses []string `json:"addresses"`
	} `json:"network"`
}

// MaxDevices bounds what a Watcher keeps: the devices come from whatever
// retained messages a broker holds, and anyone who may publish there can
// make up ids. Ids beyond it are counted (Ignored), not kept.
const MaxDevices = 10000

// Watcher follows the devices under one prefix.
type Watcher struct {
	c      paho.Client
	prefix string

	mu      sync.Mutex
	devices map[string]*Device
	ignored map[string]bool // ids over MaxDevices, up to MaxDevices of them
	changed chan struct{}
	// replies are the subscriptions Run adds, redone on every connection
	// as the listing's are (the session is clean).
	replies map[string]paho.MessageHandler
}

// Options say which broker to ask and how to log in to it.
type Options struct {
	Broker   string // URL: tcp://, ssl://, ws:// or wss://
	Prefix   string // first topic level the agents publish under
	Username string
	Password string
	// TLS configures ssl:// and wss:// connections; nil uses the
	// system's roots and no client certificate.
	TLS *tls.Config
}

// ErrRefused is a broker that refused the user name or password (or
// their absence).
var ErrRefused = errors.New("the broker refused the login")

// Watch connects to the broker and subscribes to every device's
// availability and state under the prefix.
func Watch(ctx context.Context, opt Options) (*Watcher, error) {
	prefix, url := opt.Prefix, opt.Broker
	w := &Watcher{prefix: prefix, devices: map[string]*Device{}, ignored: map[string]bool{}, changed: make(chan struct{}, 1)}
	o := paho.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("edge-agent-fleet-%d", time.Now().UnixNano())).
		SetUsername(opt.Username).SetPassword(opt.Password).
		SetOrderMatters(false).SetConnectTimeout(10 * time.Second).SetAutoReconnect(true).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe(prefix+"/+/availability", 1, w.onMessage).WaitTimeout(10 * time.Second)
			c.Subscribe(prefix+"/+/state", 1, w.onMessage).WaitTimeout(10 * time.Second)
			w.mu.Lock()
			replies := maps.Clone(w.replies)
			w.mu.Unlock()
			for filter, h := range replies {
				c.Subscribe(filter, 1, h).WaitTimeout(10 * time.Second)
			}
		})
	if opt.TLS != nil {
		o.SetTLSConfig(opt.TLS)
	}
	w.c = paho.NewClient(o)
	tok := w.c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, fmt.Errorf("fleet: connecting to %s: %w", url, ctx.Err())
	}
	err := tok.Error()
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) || errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return nil, fmt.Errorf("fleet: connecting to %s: %w (%w)", url, ErrRefused, err)
	case err != nil:
		return nil, fmt.Errorf("fleet: connecting to %s: %w", url, err)
	}
	return w, nil
}

// Close disconnects.
func (w *Watcher) Close() { w.c.Disconnect(100) }

// Changed is signalled after any device changes.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

func (w *Watcher) onMessage(_ paho.Client, m paho.Message) {
	rest, ok := strings.CutPrefix(m.Topic(), w.prefix+"/")
	if !ok {
		return
	}
	id, kind, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return
	}
	w.mu.Lock()
	d := w.devices[id]
	if d == nil {
		if len(w.devices) >= MaxDevices {
			if len(w.ignored) < MaxDevices {
				w.ignored[id] = true
			}
			w.mu.Unlock()
			return
		}
		d = &Device{ID: id}
		w.devices[id] = d
	}
	switch kind {
	case "availability":
		d.Online = string(m.Payload()) == "online"
	case "state":
		var st state
		if json.Unmarshal(m.Payload(), &st) == nil {
			d.Version, d.UptimeS, d.CPUTempC, d.LastState = st.Version, st.UptimeS, st.CPUTempC, st.Time
			d.IP = firstAddress(st)
		}
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// firstAddress picks the address a person would reach the device at: the
// first IPv4 one, else the first of any kind.
func firstAddress(st state) string {
	var any string
	for _, n := range st.Network {
		for _, a := range n.Addresses {
			a, _, _ = strings.Cut(a, "/")
			if !strings.Contains(a, ":") {
				return a
			}
			if any == "" {
				any = a
			}
		}
	}
	return any
}

// Devices returns the devices seen so far, by id.
func (w *Watcher) Devices() []Device {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Device, 0, len(w.devices))
	for _, d := range w.devices {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Ignored returns how many device ids were seen beyond MaxDevices (at
// most MaxDevices are counted).
func (w *Watcher) Ignored() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ignored)
}

// Settle waits until no message has arrived for quiet (the retained ones
// come in a burst after subscribing), or ctx ends.
func (w *Watcher) Settle(ctx context.Context, quiet time.Duration) {
	t := time.NewTimer(quiet)
	defer t.Stop()
	for {
		select {
		case <-w.changed:
			t.Reset(quiet)
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
