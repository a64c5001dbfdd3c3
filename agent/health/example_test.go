package health_test

import (
	"fmt"
	"net/netip"

	"edge-agent/agent/health"
)

// The zero Collector reads the running system; this one reads the fake
// Raspberry Pi 4 in testdata, with a clock and interface addresses fixed
// so the output is the same everywhere.
func ExampleCollector_Collect() {
	c := &health.Collector{
		Proc:  "testdata/rpi4/proc",
		Sys:   "testdata/rpi4/sys",
		Clock: fixedClock{},
		Addrs: func() (map[string][]netip.Prefix, error) {
			return map[string][]netip.Prefix{"eth0": {netip.MustParsePrefix("192.168.1.20/24")}}, nil
		},
	}
	s, err := c.Collect()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s (%s), up %.0f s, load %.2f\n", s.Hostname, s.Board, s.UptimeSeconds, s.Load1)
	fmt.Printf("CPU %.1f °C, memory %.1f%% used\n", *s.CPUTempC, s.MemUsedPercent)
	if t := s.Throttled; t != nil && t.UnderVoltageNow {
		fmt.Printf("under-voltage (%s): check the power supply\n", t.Raw)
	}
	for _, ifi := range s.Network {
		fmt.Println(ifi.Name, ifi.Addresses, ifi.RxBytes)
	}
	fmt.Println("clock synchronised:", s.Clock.Synchronised)
	// Output:
	// raspberrypi (Raspberry Pi 4 Model B Rev 1.4), up 93784 s, load 0.08
	// CPU 48.3 °C, memory 13.1% used
	// under-voltage (0x50005): check the power supply
	// eth0 [192.168.1.20/24] 183495821
	// wlan0 [] 1048576
	// clock synchronised: true
}

type fixedClock struct{}

func (fixedClock) ClockSync() (health.ClockSync, error) {
	return health.ClockSync{Synchronised: true, MaxErrorMicros: 12_500, EstErrorMicros: 310}, nil
}
