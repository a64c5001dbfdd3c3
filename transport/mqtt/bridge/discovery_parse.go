package bridge

import "encoding/json"

// Bounds on a retained device message read back from the broker. Anyone
// who may publish there can put anything in it; the bridge's own message
// is a few kilobytes with a few dozen components.
const (
	maxDeviceConfig     = 256 << 10
	maxDeviceComponents = 256
)

// parseDeviceComponents reads the component keys and platforms of a
// retained device discovery message, in either spelling Home Assistant
// accepts (cmps/components, p/platform), leaving out removals (a platform
// and nothing else). Only keys the bridge could have sent and platforms
// it announces are kept: a removal entry for anything else could make
// Home Assistant refuse the whole message. Input that is not such a
// message, or is over the bounds, gives an empty map.
func parseDeviceComponents(payload []byte) map[string]string {
	out := map[string]string{}
	if len(payload) > maxDeviceConfig {
		return out
	}
	var msg struct {
		Cmps       map[string]json.RawMessage `json:"cmps"`
		Components map[string]json.RawMessage `json:"components"`
	}
	if json.Unmarshal(payload, &msg) != nil {
		return out
	}
	comps := msg.Cmps
	if comps == nil {
		comps = msg.Components
	}
	if len(comps) > maxDeviceComponents {
		return out
	}
	for key, raw := range comps {
		var c map[string]json.RawMessage
		if !validKey.MatchString(key) || json.Unmarshal(raw, &c) != nil || len(c) < 2 {
			// A component with nothing but its platform is a removal
			// already sent: nothing to remove again.
			continue
		}
		var p string
		if json.Unmarshal(c["p"], &p) != nil || p == "" {
			p = ""
			if json.Unmarshal(c["platform"], &p) != nil {
				continue
			}
		}
		switch p {
		case PlatformSensor, PlatformBinarySensor, PlatformButton, PlatformUpdate:
			out[key] = p
		}
	}
	return out
}
