package health

import (
	"bytes"
	"errors"
)

var errLoadavg = errors.New("health: loadavg: malformed")

// parseLoadavg reads the three load averages at the start of
// /proc/loadavg ("0.52 0.58 0.59 1/389 12345"). All three or none: a
// dashboard that showed a real 1-minute figure beside a made-up 0 for the
// others would mislead.
func parseLoadavg(b []byte) (l1, l5, l15 float64, err error) {
	f := bytes.Fields(firstLine(b))
	if len(f) < 3 {
		return 0, 0, 0, errLoadavg
	}
	var v [3]float64
	for i := range v {
		var ok bool
		if v[i], ok = parseNonNegative(f[i]); !ok {
			return 0, 0, 0, errLoadavg
		}
	}
	return v[0], v[1], v[2], nil
}
