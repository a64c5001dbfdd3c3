package echo

import "fmt"

// Mode says how the echo service transforms what it sends back.
type Mode uint8

const (
	// Upper returns the data with ASCII a-z upper-cased and every other
	// byte untouched, like Python's bytes.upper() in the seed servers.
	// It is the zero value and the default.
	Upper Mode = iota
	// Plain returns the data unchanged (RFC 862).
	Plain
)

func (m Mode) String() string {
	switch m {
	case Upper:
		return "upper"
	case Plain:
		return "plain"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// UnmarshalText accepts "upper" or "plain".
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "upper":
		*m = Upper
	case "plain":
		*m = Plain
	default:
		return fmt.Errorf("echo: mode %q: accepted: upper, plain", b)
	}
	return nil
}

// MarshalText is the inverse of UnmarshalText.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Apply transforms p in place.
func (m Mode) Apply(p []byte) {
	if m == Upper {
		upper(p)
	}
}

// upper changes only a-z. UTF-8 multibyte sequences use bytes 0x80 and up
// only, so they pass through unchanged, as they do in bytes.upper().
func upper(p []byte) {
	for i, b := range p {
		if b-'a' < 26 {
			p[i] = b - ('a' - 'A')
		}
	}
}
