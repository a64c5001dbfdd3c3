package health

import (
	"strings"
	"testing"
)

func TestParseLoadavg(t *testing.T) {
	for _, tt := range []struct {
		in          string
		l1, l5, l15 float64
		err         bool
	}{
		{in: "0.52 0.58 0.59 1/389 12345\n", l1: 0.52, l5: 0.58, l15: 0.59},
		{in: "12.00 8.50 4.25 9/1000 1", l1: 12, l5: 8.5, l15: 4.25},
		{in: "0.00 0.00 0.00", l1: 0, l5: 0, l15: 0},
		{in: "1 2 3 x y\nsecond line", l1: 1, l5: 2, l15: 3},
		{in: "", err: true},
		{in: "\n0.1 0.2 0.3\n", err: true},
		{in: "0.52 0.58", err: true},
		{in: "0.52 abc 0.59 1/389 12345", err: true},
		{in: "-0.52 0.58 0.59", err: true},
		{in: "0.52 NaN 0.59", err: true},
		{in: "0.52 Inf 0.59", err: true},
		{in: "1e3 0.58 0.59", err: true},
		{in: "0x1p3 0.58 0.59", err: true},
		{in: "0.5.2 0.58 0.59", err: true},
		{in: ". 0.58 0.59", err: true},
		{in: "0.52\x000.58 0.59", err: true},
		{in: strings.Repeat("9", 400) + " 1 1", err: true}, // beyond float64
	} {
		l1, l5, l15, err := parseLoadavg([]byte(tt.in))
		if (err != nil) != tt.err || l1 != tt.l1 || l5 != tt.l5 || l15 != tt.l15 {
			t.Errorf("parseLoadavg(%q) = %v %v %v, %v; want %v %v %v, error %v", tt.in, l1, l5, l15, err, tt.l1, tt.l5, tt.l15, tt.err)
		}
	}
}
