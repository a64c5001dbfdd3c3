package udpguard

// Verdict is what the guard says about one datagram.
type Verdict uint8

const (
	// Reply means the datagram may be answered.
	Reply Verdict = iota
	// DenySourcePort means the source port belongs to a service that could
	// answer back, so replying could start a loop or a reflection.
	DenySourcePort
	// DenyRate means the source has used up its reply budget.
	DenyRate
)

func (v Verdict) String() string {
	switch v {
	case Reply:
		return "reply"
	case DenySourcePort:
		return "source_port"
	case DenyRate:
		return "rate_limit"
	}
	return "unknown"
}
