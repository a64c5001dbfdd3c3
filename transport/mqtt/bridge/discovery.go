package bridge

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Home Assistant platforms the bridge announces. A component key belongs
// to one platform for good: Home Assistant identifies a discovered
// component by (platform, "<device> <key>"), so a key that moved to
// another platform would leave the old entity behind. A value that
// changes platform gets a new key.
const (
	PlatformSensor       = "sensor"
	PlatformBinarySensor = "binary_sensor"
	PlatformButton       = "button"
	// PlatformUpdate is Home Assistant's update entity: Template renders
	// the JSON object {"installed_version": ..., "latest_version": ...}.
	PlatformUpdate = "update"
)

// Sensor is one value Home Assistant shows for the device, read from the
// retained state document.
type Sensor struct {
	Key  string // unique within the device (buttons included); part of the unique_id
	Name string
	// Platform is PlatformSensor (the default when empty) or
	// PlatformBinarySensor, whose Template must give ON or OFF.
	Platform string
	Template string // a value_template over the state JSON, e.g. {{ value_json.load_1 }}
	// Unit and StateClass are for PlatformSensor only.
	Unit        string
	DeviceClass string
	StateClass  string
	Icon        string
	// EntityCategory is "" for what the device is for, or "diagnostic"
	// for what describes the device itself (load, temperatures, uptime).
	// Home Assistant refuses "config" on sensors and binary sensors.
	EntityCategory string
	// Install, for PlatformUpdate only, makes the update installable
	// from Home Assistant.
	Install *Install
}

// Install is how Home Assistant installs an update: it shows the latest
// version from a topic and publishes Payload on Command to install it.
type Install struct {
	Command        string // topic under <prefix>/<device>/, e.g. "cmd/update"
	Payload        string
	LatestTopic    string // topic under <prefix>/<device>/ of the latest version
	LatestTemplate string // value template over LatestTopic's messages
}

// Button is a Home Assistant button: pressing it publishes "PRESS", not
// retained, on a topic under the device's base, such as cmd/reboot.
type Button struct {
	Key     string // unique within the device (sensors included); part of the unique_id
	Name    string
	Command string // topic under <prefix>/<device>/, e.g. "cmd/reboot"
	Icon    string
	// DeviceClass is "restart", "identify", "update" or empty.
	DeviceClass string
	// EntityCategory is "", "config" or "diagnostic".
	EntityCategory string
}

// DeviceInfo describes the device to Home Assistant.
type DeviceInfo struct {
	Model, SWVersion string
}

// Optional interfaces of a Source, looked up at every announcement.
type (
	deviceInfoSource interface{ DeviceInfo() DeviceInfo }
	buttonSource     interface{ Buttons() []Button }
)

// ErrComponent is wrapped by the errors of Sensor.Validate and
// Button.Validate.
var ErrComponent = errors.New("bridge: Home Assistant component")

// Component keys become the object id of Home Assistant's discovery id
// ("<device> <key>"), which Home Assistant splits at spaces and whose
// topic form it restricts to these characters (discovery.py TOPIC_MATCHER).
var validKey = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Validate reports a sensor Home Assistant would refuse or misread; the
// bridge leaves such a sensor out of the announcement and logs why.
func (s Sensor) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrComponent, s.Key, why) }
	switch {
	case !validKey.MatchString(s.Key):
		return bad("key must be 1 to 64 of [a-zA-Z0-9_-]")
	case s.Name == "" || s.Template == "":
		return bad("name and template are required")
	case s.EntityCategory != "" && s.EntityCategory != "diagnostic" && !(s.Platform == PlatformUpdate && s.EntityCategory == "config"):
		return bad(`entity category must be empty or "diagnostic" ("config" too for an update)`)
	}
	if s.Install != nil && s.platform() != PlatformUpdate {
		return bad("only an update has an install")
	}
	switch s.platform() {
	case PlatformSensor:
	case PlatformUpdate:
		// update.py has no unit_of_measurement nor state_class, and
		// firmware as its only device class.
		if s.Unit != "" || s.StateClass != "" || (s.DeviceClass != "" && s.DeviceClass != "firmware") {
			return bad("an update has no unit or state class, and firmware or no device class")
		}
		if i := s.Install; i != nil && (!underBase(i.Command) || !underBase(i.LatestTopic) || i.Payload == "" || i.LatestTemplate == "") {
			return bad("an install needs command and latest topics under the device's base, a payload and a template")
		}
	case PlatformBinarySensor:
		// binary_sensor.py has no unit_of_measurement nor state_class.
		if s.Unit != "" || s.StateClass != "" {
			return bad("a binary sensor has no unit or state class")
		}
	default:
		return bad("platform must be sensor, binary_sensor or update")
	}
	return nil
}

// underBase reports whether topic is a plain topic that can follow
// <prefix>/<device>/: no wildcards, no empty level.
func underBase(topic string) bool {
	return topic != "" && !strings.ContainsAny(topic, "+#\x00") && !strings.HasPrefix(topic, "/") &&
		!strings.HasSuffix(topic, "/") && !strings.Contains(topic, "//")
}

func (s Sensor) platform() string {
	if s.Platform == "" {
		return PlatformSensor
	}
	return s.Platform
}

// Validate reports a button Home Assistant would refuse, or whose command
// topic is not a plain topic under the device's base.
func (b Button) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrComponent, b.Key, why) }
	switch {
	case !validKey.MatchString(b.Key):
		return bad("key must be 1 to 64 of [a-zA-Z0-9_-]")
	case b.Name == "":
		return bad("name is required")
	case !underBase(b.Command):
		return bad("command must be a topic under the device's base, such as cmd/reboot")
	case b.EntityCategory != "" && b.EntityCategory != "config" && b.EntityCategory != "diagnostic":
		return bad(`entity category must be empty, "config" or "diagnostic"`)
	}
	switch b.DeviceClass {
	case "", "identify", "restart", "update":
	default:
		return bad("device class must be identify, restart, update or empty")
	}
	return nil
}

// The device discovery message (schemas.py DEVICE_DISCOVERY_SCHEMA). Its
// top level is validated strictly by Home Assistant: an unknown key there
// refuses the whole message, while unknown keys in a component are only
// dropped. Abbreviations are those of abbreviations.py.
type haDeviceConfig struct {
	Device     haDevice               `json:"dev"`
	Origin     haOrigin               `json:"o"`
	Components map[string]haComponent `json:"cmps"`
	// Shared options: discovery.py _merge_common_device_options copies
	// these into every component that does not set them itself
	// (schemas.py SHARED_OPTIONS), so the state topic and availability
	// are written once. A button gets state_topic too, and its schema
	// drops it (button.py: extra=REMOVE_EXTRA).
	StateTopic          string `json:"state_topic"`
	AvailabilityTopic   string `json:"availability_topic"`
	PayloadAvailable    string `json:"payload_available"`
	PayloadNotAvailable string `json:"payload_not_available"`
}

type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model,omitempty"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// haOrigin is required in a device discovery message; name is its only
// required key (schemas.py MQTT_ORIGIN_INFO_SCHEMA).
type haOrigin struct {
	Name      string `json:"name"`
	SWVersion string `json:"sw,omitempty"`
}

// haComponent is one entry of cmps. A component with only its platform
// set removes that component (discovery.py: an empty config after the
// platform is popped is a removal).
type haComponent struct {
	Platform string `json:"p"`
	Name     string `json:"name,omitempty"`
	// unique_id is required for entity platforms when the component has
	// more than its platform (schemas.py check_unique_id).
	UniqueID string `json:"unique_id,omitempty"`
	// default_entity_id replaced object_id (deprecated in 2025.10, gone
	// in 2026.4). entity.py keeps what follows the first "." and
	// slugifies it; the platform part must be there or the id comes out
	// as unnamed_device.
	DefaultEntityID       string `json:"default_entity_id,omitempty"`
	ValueTemplate         string `json:"value_template,omitempty"`
	CommandTopic          string `json:"command_topic,omitempty"`
	PayloadPress          string `json:"payload_press,omitempty"`
	PayloadInstall        string `json:"payload_install,omitempty"`
	LatestVersionTopic    string `json:"latest_version_topic,omitempty"`
	LatestVersionTemplate string `json:"latest_version_template,omitempty"`
	QoS                   int    `json:"qos,omitempty"`
	Unit                  string `json:"unit_of_measurement,omitempty"`
	DeviceClass           string `json:"device_class,omitempty"`
	StateClass            string `json:"state_class,omitempty"`
	EntityCategory        string `json:"entity_category,omitempty"`
	Icon                  string `json:"icon,omitempty"`
}

// migratePayload is what Home Assistant's discovery.py takes, on a
// per-entity discovery topic, as the hand-over of that entity to device
// discovery: the entity is unloaded and its registry entry (entity id,
// history, customisations) kept for the device discovery message that
// names the same component with the same unique_id.
const migratePayload = `{"migrate_discovery": true}`

// entitySlug is what Home Assistant makes of an object id (util.slugify
// for the ASCII the bridge allows): lower case, runs of anything but
// letters and digits turned into one underscore, none at either end.
func entitySlug(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
			continue
		}
		sep = true
	}
	return b.String()
}

// sensorComponent builds a sensor's or binary sensor's entry.
func (b *Bridge) sensorComponent(s Sensor) haComponent {
	c := b.entity(s.platform(), s.Key, s.Name)
	c.ValueTemplate, c.DeviceClass, c.Icon, c.EntityCategory = s.Template, s.DeviceClass, s.Icon, s.EntityCategory
	if s.platform() == PlatformSensor {
		c.Unit, c.StateClass = s.Unit, s.StateClass
	}
	if i := s.Install; i != nil {
		c.CommandTopic, c.PayloadInstall, c.QoS = b.topics.base+"/"+i.Command, i.Payload, 1
		c.LatestVersionTopic, c.LatestVersionTemplate = b.topics.base+"/"+i.LatestTopic, i.LatestTemplate
	}
	return c
}

// buttonComponent builds a button's entry. QoS 1 so a press is not lost
// on a busy link; retain stays false (Home Assistant's default), since
// the bridge never runs a retained command.
func (b *Bridge) buttonComponent(bt Button) haComponent {
	c := b.entity(PlatformButton, bt.Key, bt.Name)
	c.CommandTopic = b.topics.base + "/" + bt.Command
	c.PayloadPress, c.QoS = "PRESS", 1
	c.DeviceClass, c.Icon, c.EntityCategory = bt.DeviceClass, bt.Icon, bt.EntityCategory
	return c
}

// entity fills what every entity has: the unique_id of the per-entity
// discovery this replaces (<device>_<key>), so Home Assistant keeps its
// registry entries, and a default entity id from the same words.
func (b *Bridge) entity(platform, key, name string) haComponent {
	id := b.cfg.DeviceID + "_" + key
	return haComponent{Platform: platform, Name: name, UniqueID: id, DefaultEntityID: platform + "." + entitySlug(id)}
}

// components lists what the source offers now, keyed by component key.
// Invalid or duplicate ones are left out and logged: an announcement
// Home Assistant refuses would take every entity of the device with it.
func (b *Bridge) components() map[string]haComponent {
	out := map[string]haComponent{}
	add := func(key string, err error, c func() haComponent) {
		if err == nil {
			if _, dup := out[key]; dup {
				err = fmt.Errorf("%w %q: key used twice", ErrComponent, key)
			}
		}
		if err != nil {
			b.log.Error("leaving a component out of Home Assistant discovery", "err", err)
			return
		}
		out[key] = c()
	}
	for _, s := range b.src.Sensors() {
		add(s.Key, s.Validate(), func() haComponent { return b.sensorComponent(s) })
	}
	if bs, ok := b.src.(buttonSource); ok {
		for _, bt := range bs.Buttons() {
			add(bt.Key, bt.Validate(), func() haComponent { return b.buttonComponent(bt) })
		}
	}
	return out
}

// deviceConfig is the device discovery message for comps, plus a
// removal entry for each key of removed (key → platform).
func (b *Bridge) deviceConfig(comps map[string]haComponent, removed map[string]string) haDeviceConfig {
	info := DeviceInfo{}
	if d, ok := b.src.(deviceInfoSource); ok {
		info = d.DeviceInfo()
	}
	all := make(map[string]haComponent, len(comps)+len(removed))
	for k, p := range removed {
		all[k] = haComponent{Platform: p}
	}
	for k, c := range comps {
		all[k] = c
	}
	return haDeviceConfig{
		Device: haDevice{
			Identifiers: []string{"edge-agent-" + b.cfg.DeviceID}, Name: b.cfg.DeviceID,
			Manufacturer: "edge-agent", Model: info.Model, SWVersion: info.SWVersion,
		},
		Origin:     haOrigin{Name: "edge-agent", SWVersion: info.SWVersion},
		Components: all,
		StateTopic: b.topics.state(), AvailabilityTopic: b.topics.availability(),
		PayloadAvailable: "online", PayloadNotAvailable: "offline",
	}
}
