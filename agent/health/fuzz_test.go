package health

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// addTestdata seeds f with the file at rel in each fake tree.
func addTestdata(f *testing.F, rel string) {
	f.Helper()
	for _, tree := range []string{"rpi4", "amd64"} {
		b, err := os.ReadFile(filepath.Join("testdata", tree, rel))
		if err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseMeminfo: no input panics, and accepted figures are whole KiB,
// available never exceeds total and the used share is a percentage.
func FuzzParseMeminfo(f *testing.F) {
	addTestdata(f, "proc/meminfo")
	for _, s := range []string{
		"MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n",
		"MemTotal: 18014398509481983 kB\nMemAvailable: 18014398509481984 kB\n",
		"MemTotal:\nMemTotal: 5 kB", "MemTotal: 1 kB\nMemTotal: x kB", ":", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parseMeminfo(in)
		if err != nil {
			if m != (memInfo{}) {
				t.Fatalf("parseMeminfo(%q) = %+v with error %v", in, m, err)
			}
			return
		}
		for _, v := range []uint64{m.Total, m.Available, m.SwapTotal, m.SwapFree} {
			if v%1024 != 0 {
				t.Fatalf("parseMeminfo(%q) = %+v: not whole KiB", in, m)
			}
		}
		if m.Available > m.Total || m.SwapFree > m.SwapTotal {
			t.Fatalf("parseMeminfo(%q) = %+v", in, m)
		}
		if p := usedPercent(m.Total, m.Available); p < 0 || p > 100 {
			t.Fatalf("usedPercent of %+v = %v", m, p)
		}
	})
}

// FuzzParseNetDev: no input panics; every interface has a name the kernel
// could have given, is not loopback, and comes from a line of its own.
func FuzzParseNetDev(f *testing.F) {
	addTestdata(f, "proc/net/dev")
	for _, s := range []string{
		"eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
		"a: b: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n lo : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
		"eth0: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", "::\n:", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ifs := parseNetDev(in)
		if ifs == nil || len(ifs) > bytes.Count(in, []byte{':'}) {
			t.Fatalf("parseNetDev(%q) = %+v", in, ifs)
		}
		for _, ifi := range ifs {
			if ifi.Name == "" || ifi.Name == "lo" || strings.ContainsAny(ifi.Name, ":\n") ||
				strings.TrimSpace(ifi.Name) != ifi.Name || ifi.Addresses == nil || len(ifi.Addresses) != 0 {
				t.Fatalf("parseNetDev(%q) gave %+v", in, ifi)
			}
			if !bytes.Contains(in, []byte(ifi.Name)) || !bytes.Contains(in, []byte(strconv.FormatUint(ifi.TxErrors, 10))) {
				t.Fatalf("parseNetDev(%q) made up %+v", in, ifi)
			}
		}
	})
}

// FuzzParseLoadavg: no input panics; accepted averages are finite, not
// negative, and printed back they parse to the same values.
func FuzzParseLoadavg(f *testing.F) {
	addTestdata(f, "proc/loadavg")
	for _, s := range []string{"0.52 0.58 0.59 1/389 12345\n", "1 2", "1e3 1 1", "Inf 0 0", "0x1p1 0 0", "1_0 0 0", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		l1, l5, l15, err := parseLoadavg(in)
		if err != nil {
			if l1 != 0 || l5 != 0 || l15 != 0 {
				t.Fatalf("parseLoadavg(%q) = %v %v %v with error %v", in, l1, l5, l15, err)
			}
			return
		}
		for _, v := range []float64{l1, l5, l15} {
			if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				t.Fatalf("parseLoadavg(%q) = %v %v %v", in, l1, l5, l15)
			}
		}
		again := strconv.FormatFloat(l1, 'f', -1, 64) + " " + strconv.FormatFloat(l5, 'f', -1, 64) + " " + strconv.FormatFloat(l15, 'f', -1, 64)
		a1, a5, a15, err := parseLoadavg([]byte(again))
		if err != nil || a1 != l1 || a5 != l5 || a15 != l15 {
			t.Fatalf("parseLoadavg(%q) = %v %v %v, but of %q: %v %v %v, %v", in, l1, l5, l15, again, a1, a5, a15, err)
		}
	})
}

// FuzzParseThrottled: no input panics; an accepted bitmask's Raw parses
// to the same flags, and each flag is its bit.
func FuzzParseThrottled(f *testing.F) {
	f.Add([]byte("50005\n"))
	for _, s := range []string{"0", "0x50005", "f000f", "FFFFFFFF", "100000000", "-1", "+1", "1_0", "0x", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		th, err := parseThrottled(in)
		if err != nil {
			if th != nil {
				t.Fatalf("parseThrottled(%q) = %+v with error %v", in, th, err)
			}
			return
		}
		again, err := parseThrottled([]byte(th.Raw))
		if err != nil || !reflect.DeepEqual(again, th) {
			t.Fatalf("parseThrottled(%q) = %+v, but of its Raw: %+v, %v", in, th, again, err)
		}
		v, _ := strconv.ParseUint(strings.TrimPrefix(th.Raw, "0x"), 16, 32)
		if th.UnderVoltageNow != (v&1 != 0) || th.SoftTempLimitOccurred != (v&(1<<19) != 0) || th.Source != "firmware" {
			t.Fatalf("parseThrottled(%q) = %+v", in, th)
		}
	})
}

// FuzzParseUptime: no input panics; uptime is finite and not negative.
func FuzzParseUptime(f *testing.F) {
	addTestdata(f, "proc/uptime")
	for _, s := range []string{"1e9 0", "NaN", "-1", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := parseUptime(in)
		if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || err != nil && v != 0 {
			t.Fatalf("parseUptime(%q) = %v, %v", in, v, err)
		}
	})
}

// FuzzParseBootTime: no input panics; an accepted boot time is in UTC and
// fits in JSON.
func FuzzParseBootTime(f *testing.F) {
	addTestdata(f, "proc/stat")
	for _, s := range []string{"btime 253402300800", "btime -1", "btime\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		bt, err := parseBootTime(in)
		if err != nil {
			if !bt.IsZero() {
				t.Fatalf("parseBootTime(%q) = %v with error %v", in, bt, err)
			}
			return
		}
		if _, err := bt.MarshalJSON(); err != nil || bt.Location().String() != "UTC" {
			t.Fatalf("parseBootTime(%q) = %v: %v", in, bt, err)
		}
	})
}

// FuzzParseCPUModel: no input panics, and nothing unprintable reaches the
// state message.
func FuzzParseCPUModel(f *testing.F) {
	addTestdata(f, "proc/cpuinfo")
	for _, s := range []string{"Model\t: \x00Pi", "model name:\x1b[2J", ":", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m := parseCPUModel(in)
		if strings.TrimSpace(m) != m || strings.IndexFunc(m, unicode.IsControl) >= 0 {
			t.Fatalf("parseCPUModel(%q) = %q", in, m)
		}
	})
}
