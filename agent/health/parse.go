package health

import (
	"bytes"
	"math"
	"strconv"
)

// parseNonNegative reads a finite decimal number of zero or more, as the
// kernel prints them: no sign, no exponent, no hexadecimal, no "NaN".
func parseNonNegative(s []byte) (float64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	dot := false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// firstLine is b up to its first newline.
func firstLine(b []byte) []byte {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	return line
}

// round1 rounds a percentage to one decimal: finer is noise in a
// dashboard and bytes in every retained message.
func round1(v float64) float64 { return math.Round(v*10) / 10 }
