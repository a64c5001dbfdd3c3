package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"edge-agent/agent/health"
	"edge-agent/agent/update"
	"edge-agent/transport/mqtt/bridge"
	"edge-agent/transport/mqtt/broker"
)

// mqttServices returns the embedded broker (when no URL is configured) and
// the status bridge, in the order they must start.
func (a *Agent) mqttServices() []*service {
	c := a.cfg.MQTT
	a.mqtt = &bridgeService{}
	if c.URL == Off {
		return []*service{{name: "mqtt", envVar: Prefix + "_MQTT_URL", addr: Off}}
	}
	var out []*service
	brokers := splitURLs(c.URL)
	var embeddedURL string
	// The embedded broker outlives the bridge at shutdown, so the bridge
	// can still say goodbye (events, then "offline") on a working link.
	bridgeDone := make(chan struct{})
	var agentCred *broker.Agent
	if c.URL == "" {
		b := a.embeddedBroker()
		agentCred = b.Agent
		out = append(out, &service{
			name: "mqtt-broker", envVar: Prefix + "_MQTT_EMBEDDED_ADDR", addr: c.EmbeddedAddr, counters: b,
			bind: func(addr string) (string, func(context.Context) error, error) {
				if f := c.EmbeddedPasswordFile; f != "" {
					users, err := broker.ReadUsers(f)
					if err != nil {
						return "", nil, &BindError{Service: "mqtt-broker", Action: "read", Addr: f, Var: Prefix + "_MQTT_EMBEDDED_PASSWORD_FILE", Err: err}
					}
					b.Users = users
				}
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return "", nil, fmt.Errorf("tcp: %w", unwrapOp(err))
				}
				embeddedURL = "tcp://" + ln.Addr().String()
				return ln.Addr().String(), func(ctx context.Context) error {
					bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
					defer cancel()
					stop := context.AfterFunc(ctx, func() {
						select {
						case <-bridgeDone:
						case <-time.After(bridgeGoodbye):
						}
						cancel()
					})
					defer stop()
					return b.Serve(bctx, ln)
				}, nil
			},
		})
	}
	src := &mqttSource{a: a, health: &health.Collector{DiskPath: a.cfg.File.Dir}}
	bs := a.mqtt
	out = append(out, &service{
		name: "mqtt", envVar: Prefix + "_MQTT_URL", addr: strings.Join(brokers, ","), counters: bs,
		bind: func(string) (string, func(context.Context) error, error) {
			cfg, err := a.bridgeConfig(brokers, embeddedURL)
			if err != nil {
				return "", nil, err
			}
			if agentCred != nil {
				// The embedded broker knows the agent by this credential
				// alone, made up at start-up and never written anywhere.
				cfg.Username, cfg.Password, cfg.TLS = agentCred.Username, agentCred.Password, nil
			}
			br, err := bridge.New(cfg, src)
			if err != nil {
				return "", nil, err
			}
			bs.b.Store(br)
			return strings.Join(cfg.Brokers, ","), func(ctx context.Context) error {
				defer close(bridgeDone)
				return br.Run(ctx)
			}, nil
		},
	})
	if c.URL == "" {
		out[len(out)-1].addr = "embedded"
	}
	return out
}

// embeddedBroker configures the embedded broker. The agent's bridge logs
// in with a password drawn at start-up and passed to it in-process; with
// it alone may a client take the bridge's client id, and only it and the
// users of the password file may publish under the device's topics and
// its Home Assistant discovery topics.
func (a *Agent) embeddedBroker() *broker.Server {
	c := a.cfg.MQTT
	id := a.deviceID()
	clientID := "edge-agent-" + id // the bridge's, see bridge options()
	protected := []string{c.Prefix + "/" + id + "/#"}
	if c.DiscoveryPrefix != Off {
		protected = append(protected, c.DiscoveryPrefix+"/+/"+id+"/#")
	}
	return &broker.Server{
		Logger:           a.log.With("service", "mqtt-broker"),
		MaxClients:       c.EmbeddedMaxClients,
		MaxPacketSize:    int(c.EmbeddedMaxPacket),
		MaxRetained:      c.EmbeddedMaxRetained,
		MaxRetainedBytes: int64(c.EmbeddedMaxRetainedSize),
		MaxQueuedBytes:   int64(c.EmbeddedMaxQueued),
		Anonymous:        c.EmbeddedAnonymous,
		Agent:            &broker.Agent{ClientID: clientID, Username: clientID, Password: rand.Text(), Protected: protected},
	}
}

// bridgeGoodbye bounds how long the embedded broker waits for the bridge
// at shutdown: its last publish waits a second, its disconnect a quarter.
const bridgeGoodbye = 1500 * time.Millisecond

// bridgeService lets the status model read the bridge's counters before
// it exists (a zero map) and after. The bridge is made while the services
// bind, and Status may be read from any goroutine meanwhile.
type bridgeService struct{ b atomic.Pointer[bridge.Bridge] }

// bridge is the status bridge, nil until the services are bound or when
// MQTT is off.
func (s *bridgeService) bridge() *bridge.Bridge { return s.b.Load() }

func (s *bridgeService) Counters() map[string]uint64 {
	b := s.bridge()
	if b == nil {
		return map[string]uint64{}
	}
	return b.Counters()
}

func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// bridgeConfig reads the secrets and certificates the bridge needs; a
// problem is reported at start-up like a port that cannot be bound.
func (a *Agent) bridgeConfig(brokers []string, embedded string) (bridge.Config, error) {
	c := a.cfg.MQTT
	if embedded != "" {
		brokers = []string{embedded}
	}
	cfg := bridge.Config{
		Brokers: brokers, Username: c.Username, Prefix: c.Prefix, DeviceID: a.deviceID(),
		DiscoveryPrefix: c.DiscoveryPrefix, Interval: c.Interval,
		Commands: map[string]bridge.Command{"services": func([]byte) (any, error) { return a.Status().Services, nil }},
		Logger:   a.log.With("service", "mqtt"),
		Actions:  a.actions,
	}
	if !serialOff(a.cfg.Firmware.Port) {
		cfg.Subscriptions = map[string]func([]byte){firmwareTx: func(p []byte) { a.firmware.Send(p) }}
	}
	if a.updates.store != nil && a.updates.broker {
		cfg.StateSubscriptions = map[string]func([]byte){offerTopic: a.updates.setOffer}
	}
	password, t, err := c.ClientFiles().Load()
	if err != nil {
		var fe *MQTTFileError
		if errors.As(err, &fe) {
			err = &BindError{Service: "mqtt", Action: fe.Action, Addr: fe.File.Path, Var: fe.File.Name, Err: fe.Err}
		}
		return cfg, err
	}
	cfg.Password, cfg.TLS = password, t
	return cfg, nil
}

// deviceID is EDGE_DEVICE_ID, or the hostname made fit for topics.
func (a *Agent) deviceID() string {
	if a.cfg.DeviceID != "" {
		return a.cfg.DeviceID
	}
	host, _ := os.Hostname()
	return bridge.SanitizeID(host)
}

// mqttSource is what the bridge publishes: the status model and the
// device's health.
type mqttSource struct {
	a      *Agent
	health *health.Collector
}

// stateDoc is the retained state message.
type stateDoc struct {
	Time         time.Time `json:"time"`
	DeviceID     string    `json:"device_id"`
	Version      string    `json:"version"`
	AgentUptimeS float64   `json:"agent_uptime_s"`
	// AgentGoroutines is the agent's goroutine count: it should fall back
	// once peers let go, which is how a leak shows from outside.
	AgentGoroutines int `json:"agent_goroutines"`
	health.Snapshot
	Services map[string]serviceState `json:"services"`
	// GOOS, GOARCH and GOARM are the binary's target: what an update
	// for this device must be built for.
	GOOS   string      `json:"goos"`
	GOARCH string      `json:"goarch"`
	GOARM  string      `json:"goarm,omitempty"`
	Update updateState `json:"update"`
}

type serviceState struct {
	Addr     string            `json:"addr"`
	Counters map[string]uint64 `json:"counters,omitempty"`
}

func (m *mqttSource) State() any {
	st := m.a.Status()
	snap, err := m.health.Collect()
	if err != nil {
		m.a.log.Warn("reading the device's health", "err", err)
	}
	doc := stateDoc{
		Time: time.Now().UTC(), DeviceID: m.a.deviceID(), Version: st.Version,
		AgentUptimeS: st.Uptime.Seconds(), AgentGoroutines: st.Goroutines, Snapshot: snap, Services: map[string]serviceState{},
		Update: m.a.updates.status(),
	}
	t := update.HostTarget()
	doc.GOOS, doc.GOARCH, doc.GOARM = t.GOOS, t.GOARCH, t.GOARM
	for _, s := range st.Services {
		doc.Services[s.Name] = serviceState{Addr: s.Addr, Counters: s.Counters}
	}
	return doc
}

func (m *mqttSource) Events(after uint64) ([]bridge.Event, uint64) {
	events, next := m.a.Events(after)
	out := make([]bridge.Event, len(events))
	for i, e := range events {
		out[i] = bridge.Event{Time: e.Time, Kind: e.Kind, Data: e.Data}
	}
	return out, next
}

func (m *mqttSource) DeviceInfo() bridge.DeviceInfo {
	b := Build()
	model := b.OS + "/" + b.Arch
	if snap, err := m.health.Collect(); err == nil && snap.Board != "" {
		model = snap.Board
	}
	return bridge.DeviceInfo{Model: model, SWVersion: b.Version}
}

// Sensors are the values Home Assistant shows: the device's health (for
// Home Assistant "diagnostic": it describes the device, it is not what
// the device is for), a counter or two of each service that is on, and
// binary sensors of class problem for what deserves an alert. A value
// that changes platform gets a new key (under_voltage and
// clock_synchronised were text sensors): the bridge removes the old
// entity rather than hand it to another platform.
func (m *mqttSource) Sensors() []bridge.Sensor {
	const diag = "diagnostic"
	s := []bridge.Sensor{
		{Key: "uptime", Name: "Uptime", Template: "{{ value_json.uptime_s | int }}", Unit: "s", DeviceClass: "duration", StateClass: "measurement", EntityCategory: diag},
		{Key: "load_1", Name: "Load (1 min)", Template: "{{ value_json.load_1 }}", StateClass: "measurement", Icon: "mdi:gauge", EntityCategory: diag},
		{Key: "mem_used", Name: "Memory used", Template: "{{ value_json.mem_used_percent | round(1) }}", Unit: "%", StateClass: "measurement", Icon: "mdi:memory", EntityCategory: diag},
		{Key: "clock_problem", Platform: bridge.PlatformBinarySensor, Name: "Clock not synchronised", DeviceClass: "problem", Icon: "mdi:clock-alert",
			Template: "{{ 'OFF' if value_json.clock.synchronised else 'ON' }}"},
	}
	snap, _ := m.health.Collect()
	if snap.CPUTempC != nil {
		s = append(s, bridge.Sensor{Key: "cpu_temp", Name: "CPU temperature", Template: "{{ value_json.cpu_temp_c }}", Unit: "°C", DeviceClass: "temperature", StateClass: "measurement", EntityCategory: diag})
	}
	if snap.Disk != nil {
		s = append(s,
			bridge.Sensor{Key: "disk_used", Name: "Disk used", Template: "{{ value_json.disk.used_percent | round(1) }}", Unit: "%", StateClass: "measurement", Icon: "mdi:harddisk", EntityCategory: diag},
			bridge.Sensor{Key: "disk_full", Platform: bridge.PlatformBinarySensor, Name: "Disk nearly full", DeviceClass: "problem", Icon: "mdi:harddisk-remove",
				Template: fmt.Sprintf("{{ 'ON' if value_json.disk.used_percent >= %d else 'OFF' }}", m.a.cfg.MQTT.DiskFullPercent)})
	}
	if snap.Throttled != nil {
		s = append(s, bridge.Sensor{Key: "under_voltage_problem", Platform: bridge.PlatformBinarySensor, Name: "Under-voltage", DeviceClass: "problem", Icon: "mdi:flash-alert",
			Template: "{{ 'ON' if value_json.throttled.under_voltage_now else 'OFF' }}"})
	}
	per := map[string]bridge.Sensor{
		"echo":     {Key: "echo_conns", Name: "Echo connections", Template: "{{ value_json.services.echo.counters.conns_active }}", StateClass: "measurement"},
		"ntp":      {Key: "ntp_replies", Name: "SNTP replies", Template: "{{ value_json.services.ntp.counters.replies }}", StateClass: "total_increasing"},
		"time":     {Key: "time_replies", Name: "Text time replies", Template: "{{ value_json.services.time.counters.replies }}", StateClass: "total_increasing"},
		"file":     {Key: "files_received", Name: "Files received", Template: "{{ value_json.services.file.counters.files }}", StateClass: "total_increasing", Icon: "mdi:file-download"},
		"firmware": {Key: "firmware_link", Name: "Firmware link", Template: "{{ 'up' if value_json.services.firmware.counters.link_up else 'down' }}", Icon: "mdi:serial-port", EntityCategory: diag},
	}
	var on []string
	linked := false
	for _, svc := range m.a.Status().Services {
		if svc.Addr == Off {
			continue
		}
		if _, ok := per[svc.Name]; ok {
			on = append(on, svc.Name)
		}
		linked = linked || svc.Name == "console" || svc.Name == "firmware"
	}
	sort.Strings(on)
	for _, name := range on {
		s = append(s, per[name])
	}
	if linked {
		s = append(s, serviceProblem)
	}
	if m.a.cfg.Update {
		u := agentUpdate
		if m.a.updates.broker {
			u = agentUpdateInstall
		}
		s = append(s, u)
	}
	return s
}

// agentUpdate shows the version running and, after an update that was
// rolled back, the version that was refused as the latest: Home
// Assistant then shows an update pending, which is what needs a look.
var agentUpdate = bridge.Sensor{
	Key: "agent_update", Platform: bridge.PlatformUpdate, Name: "Agent", DeviceClass: "firmware", EntityCategory: "config",
	// value_json['update'], not value_json.update: that is dict.update,
	// which a sandboxed template may not touch.
	Template: "{% set u = value_json['update'] %}{{ {'installed_version': value_json.version, 'title': 'edge-agent', 'latest_version':" +
		" u['last']['to'] if u['last'] is defined and u['last']['result'] == 'rolled_back' else value_json.version} | tojson }}",
}

// agentUpdateInstall is the update entity in broker mode: the latest
// version is the one on offer, and Install publishes "install" on
// cmd/update, which installs it.
var agentUpdateInstall = bridge.Sensor{
	Key: "agent_update", Platform: bridge.PlatformUpdate, Name: "Agent", DeviceClass: "firmware", EntityCategory: "config",
	Template: "{{ {'installed_version': value_json.version, 'title': 'edge-agent'} | tojson }}",
	Install:  &bridge.Install{Command: "cmd/update", Payload: "install", LatestTopic: offerTopic, LatestTemplate: "{{ value_json.version }}"},
}

// serviceProblem is on while a service that is on is not working. A
// network service that cannot bind stops the agent, and one that fails
// later stops it too (availability then says offline), so what the state
// document can show failing is a serial link: a service with a link_up
// counter at 0 (the console's or the firmware bridge's port unplugged or
// unreadable).
var serviceProblem = bridge.Sensor{
	Key: "service_problem", Platform: bridge.PlatformBinarySensor, Name: "Service problem", DeviceClass: "problem", Icon: "mdi:alert-circle",
	Template: "{{ 'ON' if value_json.services.values() | selectattr('counters', 'defined') | map(attribute='counters')" +
		" | selectattr('link_up', 'defined') | selectattr('link_up', 'eq', 0) | list | count > 0 else 'OFF' }}",
}
