package health

import (
	"net/netip"
	"reflect"
	"testing"
)

const netDevHeader = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

func TestParseNetDev(t *testing.T) {
	eth0 := Interface{Name: "eth0", RxBytes: 1, RxPackets: 2, RxErrors: 3, TxBytes: 9, TxPackets: 10, TxErrors: 11, Addresses: []netip.Prefix{}}
	for _, tt := range []struct {
		name string
		in   string
		want []Interface
	}{
		{name: "kernel layout",
			in:   netDevHeader + "    lo: 5 5 0 0 0 0 0 0 5 5 0 0 0 0 0 0\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
			want: []Interface{eth0}},
		{name: "no space after colon",
			in:   "eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
			want: []Interface{eth0}},
		{name: "counters past 32 bits",
			in: "wlan0: 18446744073709551615 2 0 0 0 0 0 0 4294967296 10 0 0 0 0 0 0\n",
			want: []Interface{{Name: "wlan0", RxBytes: 18446744073709551615, RxPackets: 2, TxBytes: 4294967296, TxPackets: 10,
				Addresses: []netip.Prefix{}}}},
		{name: "extra columns of a later kernel",
			in:   "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n",
			want: []Interface{eth0}},
		{name: "truncated line skipped",
			in:   "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nwlan0: 1 2 3 4 5\n",
			want: []Interface{eth0}},
		{name: "non-numeric counter skipped",
			in:   "wlan0: 1 2 3 4 5 6 7 8 x 10 11 12 13 14 15 16\neth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
			want: []Interface{eth0}},
		{name: "negative counter skipped",
			in:   "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -15 16\n",
			want: []Interface{}},
		{name: "counter over 64 bits skipped",
			in:   "eth0: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
			want: []Interface{}},
		{name: "no name", in: ": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", want: []Interface{}},
		{name: "only lo", in: netDevHeader + "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", want: []Interface{}},
		{name: "header only", in: netDevHeader, want: []Interface{}},
		{name: "empty", in: "", want: []Interface{}},
		{name: "garbage", in: "\x00\xff:\n:::\n", want: []Interface{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseNetDev([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseNetDev(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}
