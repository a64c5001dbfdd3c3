package health

import (
	"reflect"
	"testing"
)

func TestParseThrottled(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want *Throttled
	}{
		{"0\n", &Throttled{Raw: "0x0", Source: "firmware"}},
		{"50005\n", &Throttled{Raw: "0x50005", Source: "firmware", UnderVoltageNow: true, ThrottledNow: true,
			UnderVoltageOccurred: true, ThrottledOccurred: true}},
		{"0x50000", &Throttled{Raw: "0x50000", Source: "firmware", UnderVoltageOccurred: true, ThrottledOccurred: true}},
		{"f000f\n", &Throttled{Raw: "0xf000f", Source: "firmware",
			UnderVoltageNow: true, FreqCappedNow: true, ThrottledNow: true, SoftTempLimitNow: true,
			UnderVoltageOccurred: true, FreqCappedOccurred: true, ThrottledOccurred: true, SoftTempLimitOccurred: true}},
		{"E0008", &Throttled{Raw: "0xe0008", Source: "firmware", SoftTempLimitNow: true,
			FreqCappedOccurred: true, ThrottledOccurred: true, SoftTempLimitOccurred: true}},
		{"00000002", &Throttled{Raw: "0x2", Source: "firmware", FreqCappedNow: true}},
		{"fff0fff0", &Throttled{Raw: "0xfff0fff0", Source: "firmware"}}, // undocumented bits only
		{"", nil},
		{"\n", nil},
		{"0x", nil},
		{"throttled=0x50005", nil},
		{"5000g", nil},
		{"-5", nil},
		{"+5", nil},
		{"5_0005", nil},
		{"100000000", nil}, // beyond 32 bits
		{"5 0005", nil},
		{"0x0x5", nil},
	} {
		got, err := parseThrottled([]byte(tt.in))
		if (err != nil) != (tt.want == nil) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseThrottled(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestThrottledSources(t *testing.T) {
	const (
		fw    = getThrottledPath
		hwmon = "class/hwmon/hwmon"
	)
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  *Throttled
	}{
		{name: "firmware file wins over hwmon",
			files: map[string]string{fw: "0\n", hwmon + "0/name": "rpi_volt\n", hwmon + "0/in0_lcrit_alarm": "1\n"},
			want:  &Throttled{Raw: "0x0", Source: "firmware"}},
		{name: "hwmon alarm only",
			files: map[string]string{hwmon + "0/name": "cpu_thermal\n", hwmon + "1/name": "rpi_volt\n", hwmon + "1/in0_lcrit_alarm": "1\n"},
			want:  &Throttled{Source: "hwmon", UnderVoltageNow: true}},
		{name: "hwmon no alarm",
			files: map[string]string{hwmon + "0/name": "rpi_volt\n", hwmon + "0/in0_lcrit_alarm": "0\n"},
			want:  &Throttled{Source: "hwmon"}},
		{name: "malformed firmware file falls back to hwmon",
			files: map[string]string{fw: "garbage\n", hwmon + "0/name": "rpi_volt\n", hwmon + "0/in0_lcrit_alarm": "0\n"},
			want:  &Throttled{Source: "hwmon"}},
		{name: "malformed alarm",
			files: map[string]string{hwmon + "0/name": "rpi_volt\n", hwmon + "0/in0_lcrit_alarm": "yes\n"}},
		{name: "rpi_volt without alarm file",
			files: map[string]string{hwmon + "0/name": "rpi_volt\n"}},
		{name: "other board",
			files: map[string]string{hwmon + "0/name": "coretemp\n", hwmon + "0/in0_lcrit_alarm": "1\n"}},
		{name: "nothing", files: map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := throttled(writeTree(t, tt.files)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("throttled = %+v, want %+v", got, tt.want)
			}
		})
	}
}
