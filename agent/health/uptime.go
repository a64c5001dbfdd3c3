package health

import (
	"bytes"
	"errors"
	"strconv"
	"time"
)

var (
	errUptime = errors.New("health: uptime: malformed")
	errBtime  = errors.New("health: stat: no btime")
)

// parseUptime reads the seconds since boot, the first field of
// /proc/uptime ("12345.67 45678.90"); the second, idle time summed over
// CPUs, means little on its own.
func parseUptime(b []byte) (float64, error) {
	f := bytes.Fields(firstLine(b))
	if len(f) == 0 {
		return 0, errUptime
	}
	v, ok := parseNonNegative(f[0])
	if !ok {
		return 0, errUptime
	}
	return v, nil
}

// parseBootTime reads the "btime" line of /proc/stat. The kernel works it
// out from the current wall clock at each read, so on a board without a
// real-time clock it is right once the clock has been set, whatever the
// clock said at boot.
func parseBootTime(b []byte) (time.Time, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("btime "))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 1 {
			break
		}
		// time.Unix accepts any int64, but JSON (RFC 3339) only years 0
		// to 9999.
		sec, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || sec < 0 || sec > maxUnixSeconds {
			break
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Time{}, errBtime
}

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last instant JSON can hold.
const maxUnixSeconds = 253402300799
