package bridge

import (
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Sensor is one value Home Assistant shows for the device.
type Sensor struct {
	Key         string // unique within the device; part of the unique_id
	Name        string
	Template    string // a value_template over the state JSON, e.g. {{ value_json.load_1 }}
	Unit        string
	DeviceClass string
	StateClass  string
	Icon        string
}

// DeviceInfo describes the device to Home Assistant.
type DeviceInfo struct {
	Model, SWVersion string
}

type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model,omitempty"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

type haSensor struct {
	Name                string   `json:"name"`
	UniqueID            string   `json:"unique_id"`
	ObjectID            string   `json:"object_id"`
	StateTopic          string   `json:"state_topic"`
	ValueTemplate       string   `json:"value_template"`
	AvailabilityTopic   string   `json:"availability_topic"`
	PayloadAvailable    string   `json:"payload_available"`
	PayloadNotAvailable string   `json:"payload_not_available"`
	Unit                string   `json:"unit_of_measurement,omitempty"`
	DeviceClass         string   `json:"device_class,omitempty"`
	StateClass          string   `json:"state_class,omitempty"`
	Icon                string   `json:"icon,omitempty"`
	Device              haDevice `json:"device"`
}

func (b *Bridge) discoveryTopic(key string) string {
	return b.cfg.DiscoveryPrefix + "/sensor/" + b.cfg.DeviceID + "/" + key + "/config"
}

// discovery announces the device's sensors, retained, with ids that stay
// the same across restarts; sensors announced before and gone now get an
// empty retained config, which removes them from Home Assistant.
func (b *Bridge) discovery(c paho.Client) {
	if b.cfg.DiscoveryPrefix == "off" {
		return
	}
	info := DeviceInfo{}
	if d, ok := b.src.(interface{ DeviceInfo() DeviceInfo }); ok {
		info = d.DeviceInfo()
	}
	dev := haDevice{
		Identifiers:  []string{"edge-agent-" + b.cfg.DeviceID},
		Name:         b.cfg.DeviceID,
		Manufacturer: "edge-agent",
		Model:        info.Model,
		SWVersion:    info.SWVersion,
	}
	current := map[string]bool{}
	for _, s := range b.src.Sensors() {
		current[s.Key] = true
		b.publishJSON(c, b.discoveryTopic(s.Key), true, haSensor{
			Name: s.Name, UniqueID: b.cfg.DeviceID + "_" + s.Key, ObjectID: b.cfg.DeviceID + "_" + s.Key,
			StateTopic: b.topics.state(), ValueTemplate: s.Template,
			AvailabilityTopic: b.topics.availability(), PayloadAvailable: "online", PayloadNotAvailable: "offline",
			Unit: s.Unit, DeviceClass: s.DeviceClass, StateClass: s.StateClass, Icon: s.Icon, Device: dev,
		})
	}
	for key := range b.announced {
		if !current[key] {
			b.publish(c, b.discoveryTopic(key), true, nil)
		}
	}
	b.announced = current
	for key := range b.pending {
		b.removeStale(c, key)
	}
	b.pending = nil
}

// discoveryKey returns the sensor key of one of this device's discovery
// config topics.
func (b *Bridge) discoveryKey(topic string) (string, bool) {
	prefix := b.cfg.DiscoveryPrefix + "/sensor/" + b.cfg.DeviceID + "/"
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return "", false
	}
	key, ok := strings.CutSuffix(rest, "/config")
	return key, ok && key != "" && !strings.Contains(key, "/")
}

// removeStale clears a config the broker still holds from an earlier run
// for a sensor this one does not have.
func (b *Bridge) removeStale(c paho.Client, key string) {
	if b.announced == nil {
		// Not announced yet on this run: decide once it is.
		if b.pending == nil {
			b.pending = map[string]bool{}
		}
		b.pending[key] = true
		return
	}
	if b.announced[key] {
		return
	}
	b.publish(c, b.discoveryTopic(key), true, nil)
}
