package health

import "testing"

func TestParseCPUModel(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"raspberry pi 64-bit", "processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n", "Raspberry Pi 4 Model B Rev 1.4"},
		{"raspberry pi 32-bit: Model over model name", "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\n\nModel\t\t: Raspberry Pi 3 Model B Plus Rev 1.3\n", "Raspberry Pi 3 Model B Plus Rev 1.3"},
		{"x86: first model name", "processor\t: 0\nmodel name\t: Intel(R) Celeron(R) J4125 CPU @ 2.00GHz\nprocessor\t: 1\nmodel name\t: other\n", "Intel(R) Celeron(R) J4125 CPU @ 2.00GHz"},
		{"arm64 server: neither", "processor\t: 0\nBogoMIPS\t: 243.75\nCPU part\t: 0xd0c\n", ""},
		{"empty Model ignored", "Model\t:\nmodel name\t: ARMv6-compatible processor rev 7 (v6l)\n", "ARMv6-compatible processor rev 7 (v6l)"},
		{"model is not model name", "model\t\t: 122\n", ""},
		{"colon in value", "model name\t: AMD Ryzen 5: 5600G\n", "AMD Ryzen 5: 5600G"},
		{"control characters dropped", "Model\t: Pi\x1b[31m 4\n", "Pi[31m 4"},
		{"truncated", "model na", ""},
		{"empty", "", ""},
	} {
		if got := parseCPUModel([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: parseCPUModel(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestBoardModel(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"procfs", map[string]string{"proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\x00"}, "Raspberry Pi 4 Model B Rev 1.4"},
		{"sysfs", map[string]string{"sys/firmware/devicetree/base/model": "Raspberry Pi Zero W Rev 1.1\x00"}, "Raspberry Pi Zero W Rev 1.1"},
		{"procfs first", map[string]string{
			"proc/device-tree/model":             "Raspberry Pi 5 Model B Rev 1.0\x00",
			"sys/firmware/devicetree/base/model": "other\x00",
		}, "Raspberry Pi 5 Model B Rev 1.0"},
		{"empty procfs model", map[string]string{
			"proc/device-tree/model":             "\x00",
			"sys/firmware/devicetree/base/model": "Raspberry Pi 3 Model B Rev 1.2\x00",
		}, "Raspberry Pi 3 Model B Rev 1.2"},
		{"no NUL", map[string]string{"proc/device-tree/model": "Pine64 RockPro64 v2.1\n"}, "Pine64 RockPro64 v2.1"},
		{"only up to the first NUL", map[string]string{"proc/device-tree/model": "Board A\x00Board B\x00"}, "Board A"},
		{"none", map[string]string{}, ""},
	} {
		root := writeTree(t, tt.files)
		if got := boardModel(root+"/proc", root+"/sys"); got != tt.want {
			t.Errorf("%s: boardModel = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"raspberrypi\n":      "raspberrypi",
		"  pi  \n":           "pi",
		"pi\x00junk":         "pi",
		"pi\nsecond line":    "pi",
		"a\tb\x7fc\u0085d":   "abcd",
		"":                   "",
		"\x00":               "",
		"tête-à-tête":        "tête-à-tête",
		"bad \xff utf-8":     "bad \ufffd utf-8",
		"\x1b[2Jclear":       "[2Jclear",
		" leading and tail ": "leading and tail",
	} {
		if got := cleanText([]byte(in)); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
