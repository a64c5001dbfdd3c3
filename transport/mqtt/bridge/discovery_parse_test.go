package bridge

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseDeviceComponents(t *testing.T) {
	many := `{"cmps":{` + strings.Repeat(`"k":{"p":"sensor","name":"K"},`, 3) + `"z":{"p":"sensor","name":"Z"}}}`
	var tooMany strings.Builder
	tooMany.WriteString(`{"cmps":{`)
	for i := range maxDeviceComponents + 1 {
		if i > 0 {
			tooMany.WriteString(",")
		}
		fmt.Fprintf(&tooMany, `"k%d":{"p":"sensor","n":1}`, i)
	}
	tooMany.WriteString(`}}`)
	for _, tc := range []struct {
		name, in string
		want     map[string]string
	}{
		{"abbreviated", `{"dev":{"ids":["x"]},"o":{"name":"edge-agent"},"cmps":{"a":{"p":"sensor","unique_id":"x_a"},"b":{"p":"binary_sensor","name":"B"},"c":{"p":"button","name":"C"}}}`,
			map[string]string{"a": "sensor", "b": "binary_sensor", "c": "button"}},
		{"removals left out", `{"cmps":{"a":{"p":"sensor","name":"A"},"gone":{"p":"sensor"},"gone2":{"platform":"button"}}}`, map[string]string{"a": "sensor"}},
		{"full names", `{"components":{"a":{"platform":"sensor","name":"A"}}}`, map[string]string{"a": "sensor"}},
		{"both spellings: cmps wins", `{"cmps":{"a":{"p":"sensor","name":"A"}},"components":{"b":{"p":"sensor","name":"B"}}}`, map[string]string{"a": "sensor"}},
		{"duplicate keys in JSON", many, map[string]string{"k": "sensor", "z": "sensor"}},
		{"other platforms left out", `{"cmps":{"a":{"p":"light","n":1},"b":{"p":"device_automation","n":1},"c":{"p":"","n":1},"d":{"n":1},"e":{}}}`, map[string]string{}},
		{"bad keys left out", `{"cmps":{"a b":{"p":"sensor","n":1},"a/b":{"p":"sensor","n":1},"":{"p":"sensor","n":1},"ok":{"p":"sensor","n":1}}}`, map[string]string{"ok": "sensor"}},
		{"component not an object", `{"cmps":{"a":"sensor","b":["p"],"c":{"p":7,"n":1},"d":{"p":null,"n":1},"ok":{"p":"button","n":1}}}`, map[string]string{"ok": "button"}},
		{"cmps not an object", `{"cmps":["a"]}`, map[string]string{}},
		{"not JSON", `{"cmps":`, map[string]string{}},
		{"empty", ``, map[string]string{}},
		{"migration message", `{"migrate_discovery": true}`, map[string]string{}},
		{"null", `null`, map[string]string{}},
		{"too many components", tooMany.String(), map[string]string{}},
		{"too large", `{"cmps":{"a":{"p":"sensor","x":"` + strings.Repeat("x", maxDeviceConfig) + `"}}}`, map[string]string{}},
	} {
		if got := parseDeviceComponents([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzParseDeviceComponents(f *testing.F) {
	for _, seed := range []string{
		`{"dev":{"ids":["x"]},"o":{"name":"edge-agent"},"cmps":{"a":{"p":"sensor","unique_id":"x_a"},"b":{"p":"button"}}}`,
		`{"components":{"a":{"platform":"binary_sensor","name":"A"}}}`,
		`{"migrate_discovery": true}`, ``, `null`, `{"cmps":{"a":"b"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got := parseDeviceComponents(payload)
		if len(got) > maxDeviceComponents {
			t.Fatalf("%d components", len(got))
		}
		for k, p := range got {
			if !validKey.MatchString(k) {
				t.Fatalf("key %q kept", k)
			}
			switch p {
			case PlatformSensor, PlatformBinarySensor, PlatformButton:
			default:
				t.Fatalf("platform %q kept", p)
			}
		}
	})
}
