package health

import (
	"bytes"
	"net/netip"
	"strconv"
)

// Interface is one network interface's traffic since boot and its
// addresses. A consumer taking differences between snapshots must expect
// a counter to go down: it resets when the interface is re-created, and
// on a 32-bit board a driver that keeps its counters in a C long wraps
// them at 4 GiB.
type Interface struct {
	Name      string `json:"name"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
	// Addresses with their prefix length ("192.168.1.20/24"), IPv4 first,
	// in the kernel's order; never null in JSON.
	Addresses []netip.Prefix `json:"addresses"`
}

// Columns of an interface's line in /proc/net/dev after "name:": eight
// receive counters, then eight transmit counters.
const (
	colRxBytes   = 0
	colRxPackets = 1
	colRxErrors  = 2
	colTxBytes   = 8
	colTxPackets = 9
	colTxErrors  = 10
	netDevCols   = 16
)

// parseNetDev reads /proc/net/dev, leaving out the loopback interface,
// whose traffic is the agent talking to itself. A line that does not have
// at least the sixteen counters is skipped: if the layout ever changes, no
// figure should land in the wrong column.
func parseNetDev(b []byte) []Interface {
	ifs := make([]Interface, 0, 4)
	for line := range bytes.Lines(b) {
		// Interface names cannot contain ':' (dev_valid_name), and the
		// two header lines have none.
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if len(name) == 0 || string(name) == "lo" {
			continue
		}
		var cols [netDevCols]uint64
		n := 0
		for f := range bytes.FieldsSeq(rest) {
			if n == netDevCols {
				break
			}
			v, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				break
			}
			cols[n] = v
			n++
		}
		if n != netDevCols {
			continue
		}
		ifs = append(ifs, Interface{
			Name:      string(name),
			RxBytes:   cols[colRxBytes],
			RxPackets: cols[colRxPackets],
			RxErrors:  cols[colRxErrors],
			TxBytes:   cols[colTxBytes],
			TxPackets: cols[colTxPackets],
			TxErrors:  cols[colTxErrors],
			Addresses: []netip.Prefix{},
		})
	}
	return ifs
}
