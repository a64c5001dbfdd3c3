package bridge

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Home Assistant discovery at run time. The bridge announces one retained
// device discovery message on <discovery prefix>/device/<device>/config.
// Before that it learns, from the retained messages the broker holds,
// what an earlier run left:
//
//   - per-entity configs on <discovery prefix>/sensor/<device>/<key>/config,
//     from versions before device discovery. Each is handed over in the
//     order Home Assistant's discovery.py needs: {"migrate_discovery": true}
//     on the old topic (the entity is unloaded, its registry entry kept),
//     then the device message with the same component key and unique_id
//     (the entity is loaded again from it: same entity id, same history),
//     then an empty retained message on the old topic, which Home
//     Assistant ignores for a migrated entity. Clearing first would delete
//     the entity and its history; a device message first is refused as a
//     conflict with the entity discovered on the old topic.
//   - the device message of the last run: a component it has and this run
//     does not is sent once as a removal ({"p": platform}); discovery.py
//     removes nothing that is merely left out of the message.
//
// The retained messages arrive after the subscription, in no announced
// number, so each connection ends its subscriptions with a sync message
// the bridge publishes to itself: the broker queues it after the retained
// ones and paho's router (order matters) hands it over after them too.

// syncWait bounds the wait for the sync message, should the broker drop
// it (an ACL): discovery then goes out without it.
const syncWait = 2 * time.Second

// discoveryEvents bounds what the discovery subscriptions queue for Run;
// the last few places are kept for the connection's own events.
// maxLegacy bounds the per-entity configs handed over at one connection:
// an earlier version left about a dozen, and anyone who may publish under
// the device's discovery topics could leave many more; the rest are taken
// at the next connection.
const (
	discoveryEvents  = 256
	discoveryReserve = 8
	maxLegacy        = 64
)

type discoveryEventKind int

const (
	evConnect    discoveryEventKind = iota // a new connection: forget what the last one learned
	evSubscribed                           // subscriptions made: send the sync message
	evLegacy                               // a retained per-entity config
	evDevice                               // the retained device message
	evSync                                 // the sync message came back
)

type discoveryEvent struct {
	kind  discoveryEventKind
	conn  uint64            // evConnect, evSubscribed, evSync
	key   string            // evLegacy
	comps map[string]string // evDevice: component key → platform
}

// discoveryState is owned by Run.
type discoveryState struct {
	conn   uint64 // the connection being synced; connections are counted from 1
	synced bool   // the sync message (or syncWait) came: announcements may go out
	timer  *time.Timer
	wait   <-chan time.Time // syncWait running; nil otherwise
	// legacy holds the per-entity config keys the broker still has.
	legacy map[string]bool
	// held is what the retained device message has (key → platform):
	// learnt from the broker, then what the bridge last sent.
	held map[string]string
}

func (t topics) device(id string) string { return t.discovery + "/device/" + id + "/config" }
func (t topics) sync() string            { return t.base + "/discovery/sync" }
func (t topics) legacy(id, key string) string {
	return t.discovery + "/sensor/" + id + "/" + key + "/config"
}

// legacyKey returns the key of one of this device's per-entity config
// topics.
func (b *Bridge) legacyKey(topic string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, b.cfg.DiscoveryPrefix+"/sensor/"+b.cfg.DeviceID+"/")
	if !ok {
		return "", false
	}
	key, ok := strings.CutSuffix(rest, "/config")
	return key, ok && validKey.MatchString(key)
}

// subscribeDiscovery runs in OnConnect: it subscribes to what the broker
// holds for this device and to the sync topic. The handlers only queue
// events, in the order paho's router delivers the messages.
func (b *Bridge) subscribeDiscovery(c paho.Client) {
	if b.cfg.DiscoveryPrefix == "off" {
		return
	}
	conn := b.discConns.Add(1)
	b.queueDiscovery(discoveryEvent{kind: evConnect, conn: conn}, true)
	c.Subscribe(b.topics.haStatus(), 1, b.onHAStatus).WaitTimeout(5 * time.Second)
	c.Subscribe(b.topics.legacy(b.cfg.DeviceID, "+"), 1, b.onLegacyConfig).WaitTimeout(5 * time.Second)
	c.Subscribe(b.topics.device(b.cfg.DeviceID), 1, b.onDeviceConfig).WaitTimeout(5 * time.Second)
	c.Subscribe(b.topics.sync(), 1, b.onSync).WaitTimeout(5 * time.Second)
	b.queueDiscovery(discoveryEvent{kind: evSubscribed, conn: conn}, true)
}

// queueDiscovery never blocks a paho goroutine. What the broker sends
// leaves the last places to the connection's own events; a retained
// message that finds no room is seen again at the next connection.
func (b *Bridge) queueDiscovery(ev discoveryEvent, own bool) {
	if !own && len(b.discq) >= cap(b.discq)-discoveryReserve {
		return
	}
	select {
	case b.discq <- ev:
	default:
	}
}

// onLegacyConfig takes retained per-entity configs only: live messages on
// those topics are the bridge's own migration messages coming back.
func (b *Bridge) onLegacyConfig(_ paho.Client, m paho.Message) {
	if !m.Retained() || len(m.Payload()) == 0 {
		return
	}
	if key, ok := b.legacyKey(m.Topic()); ok {
		b.queueDiscovery(discoveryEvent{kind: evLegacy, key: key}, false)
	}
}

// onDeviceConfig takes the retained device message only; an empty or
// unreadable one holds nothing.
func (b *Bridge) onDeviceConfig(_ paho.Client, m paho.Message) {
	if !m.Retained() {
		return
	}
	b.queueDiscovery(discoveryEvent{kind: evDevice, comps: parseDeviceComponents(m.Payload())}, false)
}

func (b *Bridge) onSync(_ paho.Client, m paho.Message) {
	conn, err := strconv.ParseUint(string(m.Payload()), 10, 64)
	if err == nil {
		b.queueDiscovery(discoveryEvent{kind: evSync, conn: conn}, true)
	}
}

// onDiscoveryEvent runs on Run's goroutine.
func (b *Bridge) onDiscoveryEvent(c paho.Client, ev discoveryEvent) {
	d := &b.disc
	switch ev.kind {
	case evConnect:
		d.stopWait()
		*d = discoveryState{conn: ev.conn, legacy: map[string]bool{}, held: d.held}
	case evSubscribed:
		if ev.conn != d.conn {
			return
		}
		if b.publish(c, b.topics.sync(), false, []byte(strconv.FormatUint(ev.conn, 10))) {
			d.timer = time.NewTimer(syncWait)
			d.wait = d.timer.C
		}
	case evLegacy:
		if len(d.legacy) >= maxLegacy {
			return
		}
		d.legacy[ev.key] = true
		if d.synced {
			// Came after the sync (it was late): hand it over now.
			b.discovery(c)
		}
	case evDevice:
		if !d.synced {
			d.held = ev.comps
		}
	case evSync:
		if ev.conn == d.conn && !d.synced {
			b.discoverySynced(c)
		}
	}
}

// discoverySynced announces once the retained messages are in (or
// syncWait is over).
func (b *Bridge) discoverySynced(c paho.Client) {
	b.disc.stopWait()
	b.disc.synced = true
	b.discovery(c)
}

func (d *discoveryState) stopWait() {
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timer, d.wait = nil, nil
}

// discovery announces the device: migration messages for the per-entity
// configs the broker still has, the device message, then the clearing of
// those configs. It waits for the connection's sync; Home Assistant
// coming online before that is answered by the sync's announcement.
func (b *Bridge) discovery(c paho.Client) {
	d := &b.disc
	if b.cfg.DiscoveryPrefix == "off" || !d.synced {
		return
	}
	comps := b.components()
	legacy := slices.Sorted(maps.Keys(d.legacy))
	for _, key := range legacy {
		// Only a key still offered on the same platform can be handed
		// over; any other old entity is simply removed by the clearing.
		if comp, ok := comps[key]; ok && comp.Platform == PlatformSensor {
			if !b.publish(c, b.topics.legacy(b.cfg.DeviceID, key), true, []byte(migratePayload)) {
				return // not connected, or the queue is full: the next announcement retries
			}
		}
	}
	removed := map[string]string{}
	for key, platform := range d.held {
		if _, ok := comps[key]; !ok {
			removed[key] = platform
		}
	}
	msg, err := encodeDeviceConfig(b.deviceConfig(comps, removed))
	if err != nil {
		b.log.Error("encoding the Home Assistant device message", "err", err)
		return
	}
	if !b.publish(c, b.topics.device(b.cfg.DeviceID), true, msg) {
		return
	}
	for _, key := range legacy {
		if !b.publish(c, b.topics.legacy(b.cfg.DeviceID, key), true, nil) {
			return
		}
		delete(d.legacy, key)
	}
	// A removal is sent once: the next message leaves the component out,
	// as Home Assistant's documentation asks.
	d.held = map[string]string{}
	for key, comp := range comps {
		d.held[key] = comp.Platform
	}
}

// encodeDeviceConfig writes templates as they are (">=", not "\u003e="),
// for whoever reads the message with an MQTT client.
func encodeDeviceConfig(msg haDeviceConfig) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
