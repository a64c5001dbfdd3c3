package health

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
)

// Throttled is what a Raspberry Pi's firmware says about power and heat.
// An under-voltage flag is the usual cause of SD-card corruption and
// random resets on a Pi, so it is worth an alert of its own.
type Throttled struct {
	// Raw is the firmware's bitmask as vcgencmd get_throttled prints it
	// ("0x50005"); empty when only the under-voltage alarm is known.
	Raw string `json:"raw,omitempty"`
	// Source is "firmware" (get_throttled: every flag) or "hwmon" (the
	// rpi_volt sensor: under-voltage only).
	Source string `json:"source"`

	UnderVoltageNow  bool `json:"under_voltage_now"`
	FreqCappedNow    bool `json:"freq_capped_now"`
	ThrottledNow     bool `json:"throttled_now"`
	SoftTempLimitNow bool `json:"soft_temp_limit_now"`

	// Since boot; but where the rpi_volt hwmon driver is loaded it asks
	// the firmware to clear them every two seconds, so there they mean
	// little more than the "now" flags.
	UnderVoltageOccurred  bool `json:"under_voltage_occurred"`
	FreqCappedOccurred    bool `json:"freq_capped_occurred"`
	ThrottledOccurred     bool `json:"throttled_occurred"`
	SoftTempLimitOccurred bool `json:"soft_temp_limit_occurred"`
}

// Bits of get_throttled, from the Raspberry Pi documentation.
const (
	bitUnderVoltage  = 1 << 0
	bitFreqCapped    = 1 << 1
	bitThrottled     = 1 << 2
	bitSoftTempLimit = 1 << 3
	occurredShift    = 16
)

// Where the firmware driver and the hwmon driver publish their flags.
const (
	getThrottledPath = "devices/platform/soc/soc:firmware/get_throttled"
	hwmonGlob        = "class/hwmon/hwmon*"
	rpiVoltName      = "rpi_volt"
)

var errThrottled = errors.New("health: get_throttled: malformed")

// parseThrottled reads get_throttled, which the driver writes as bare
// hexadecimal ("50005\n"); a 0x prefix, as vcgencmd prints it, is
// accepted too.
func parseThrottled(b []byte) (*Throttled, error) {
	s := bytes.TrimSpace(b)
	if t, ok := bytes.CutPrefix(s, []byte("0x")); ok {
		s = t
	}
	// ParseUint would take a sign or underscores; the driver writes
	// neither.
	for _, c := range s {
		if !isHexDigit(c) {
			return nil, errThrottled
		}
	}
	v, err := strconv.ParseUint(string(s), 16, 32)
	if err != nil {
		return nil, errThrottled
	}
	return throttledFromBits(uint32(v)), nil
}

func throttledFromBits(v uint32) *Throttled {
	now := func(bit uint32) bool { return v&bit != 0 }
	past := func(bit uint32) bool { return v&(bit<<occurredShift) != 0 }
	return &Throttled{
		Raw:                   "0x" + strconv.FormatUint(uint64(v), 16),
		Source:                "firmware",
		UnderVoltageNow:       now(bitUnderVoltage),
		FreqCappedNow:         now(bitFreqCapped),
		ThrottledNow:          now(bitThrottled),
		SoftTempLimitNow:      now(bitSoftTempLimit),
		UnderVoltageOccurred:  past(bitUnderVoltage),
		FreqCappedOccurred:    past(bitFreqCapped),
		ThrottledOccurred:     past(bitThrottled),
		SoftTempLimitOccurred: past(bitSoftTempLimit),
	}
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// throttled reads the firmware's flags, or, where the kernel has only the
// upstream rpi_volt hwmon driver, its under-voltage alarm. That driver
// polls the firmware every two seconds and clears the sticky bit each
// time, so its alarm means under-voltage seen in the last poll: "now".
// nil on boards with neither, which is every board but a Pi.
func throttled(sys string) *Throttled {
	if b, err := os.ReadFile(filepath.Join(sys, getThrottledPath)); err == nil {
		if t, err := parseThrottled(b); err == nil {
			return t
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(sys, hwmonGlob))
	for _, d := range dirs {
		name, err := os.ReadFile(filepath.Join(d, "name"))
		if err != nil || string(bytes.TrimSpace(name)) != rpiVoltName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "in0_lcrit_alarm"))
		if err != nil {
			continue
		}
		switch string(bytes.TrimSpace(b)) {
		case "0":
			return &Throttled{Source: "hwmon"}
		case "1":
			return &Throttled{Source: "hwmon", UnderVoltageNow: true}
		}
	}
	return nil
}
