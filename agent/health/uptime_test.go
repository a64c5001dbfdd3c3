package health

import (
	"testing"
	"time"
)

func TestParseUptime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		err  bool
	}{
		{in: "93784.21 369012.55\n", want: 93784.21},
		{in: "0.50 0.10", want: 0.5},
		{in: "12", want: 12},
		{in: "", err: true},
		{in: "\n", err: true},
		{in: "abc 1.0\n", err: true},
		{in: "-5.0 1.0\n", err: true},
		{in: "1e5 1.0\n", err: true},
		{in: "NaN", err: true},
		{in: "1..2", err: true},
	} {
		got, err := parseUptime([]byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseUptime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseBootTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "cpu  1 2 3\nbtime 1732339200\nprocesses 5\n", want: time.Unix(1732339200, 0).UTC()},
		{in: "btime 0", want: time.Unix(0, 0).UTC()},
		{in: "btime 253402300799\n", want: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{in: "", err: true},
		{in: "cpu 1 2 3\nctxt 5\n", err: true},
		{in: "btime\n", err: true},
		{in: "btime \n", err: true},
		{in: "btime soon\n", err: true},
		{in: "btime -1\n", err: true},
		{in: "btime 253402300800\n", err: true},
		{in: "btime 99999999999999999999\n", err: true},
		{in: "btime 1 2\n", err: true},
		{in: "btime 1.5\n", err: true},
		{in: "xbtime 1732339200\n", err: true},
	} {
		got, err := parseBootTime([]byte(tt.in))
		if (err != nil) != tt.err || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("parseBootTime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
